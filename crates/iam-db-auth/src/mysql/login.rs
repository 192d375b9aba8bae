//! What the plugin sends for a connection, decided without touching C memory: the password the
//! client was given, unchanged (so `mysql_clear_password` keeps working for non-IAM users,
//! LDAP via PAM for instance), or else an IAM token for the connection's host, port and user,
//! and only over TLS unless `IAM_DB_AUTH_ALLOW_CLEARTEXT` says otherwise.
//!
//! Before a token is made, the server must prove it is the endpoint the token is for: the
//! certificate chain it sent must verify against the CA the connection was given (`ssl-ca`,
//! `ssl-capath`), else the CA lookup's (`IAM_DB_AUTH_CA_FILE`, `ca update`'s copy, the
//! installed and the built-in RDS bundle; see `ca`), and be valid for the host the token is
//! signed for (or for the connect host, when the user listed it in `IAM_DB_AUTH_CONNECT_HOSTS`:
//! `ca::names_for`). `IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS=1` sends anyway, with a warning.
//!
//! The token request is the connection's host, port and user, completed by the step every
//! door takes, `EnvDefaults::apply` (`IAM_DB_AUTH_SIGNING_HOST`, `IAM_DB_AUTH_SIGNING_PORT`,
//! `IAM_DB_AUTH_PROFILE`, `IAM_DB_AUTH_CACHE`). The region comes from the endpoint name, else
//! the environment or profile (the engine's rules).

use super::connection::Connection;
use super::tls::Transport;
use crate::ca::{self, Bundle, Given, Rejection};
use crate::config::{self, EnvDefaults};
use crate::error::{Error, ErrorCode, Result};
use crate::log::{Level, log_at};
use crate::request::TokenRequest;
use crate::token::Token;
use rustls_pki_types::CertificateDer;
use std::borrow::Cow;
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::time::SystemTime;

/// What to send to the server.
pub(crate) enum Secret<'a> {
    /// The client's own password, as the stock plugin would send it.
    Password(&'a CStr),
    /// A token made for this connection.
    Token(Token),
}

/// What the certificate check needs from outside: the time, and the CA lookup.
pub(crate) struct Trust<'t> {
    /// Certificates are checked as of this time.
    pub now: SystemTime,
    /// The CA for a connection that was given `Some` CA (or none).
    pub load_ca: &'t dyn Fn(Option<Given<'_>>) -> Result<Bundle>,
}

impl Trust<'static> {
    /// Now, and the process's CA lookup.
    pub(crate) fn of_this_process() -> Self {
        Trust {
            now: SystemTime::now(),
            load_ca: &ca::load,
        }
    }
}

/// A connection string as UTF-8, or the error the C ABI gives for the same bytes.
fn utf8<'a>(text: &'a CStr, what: &str) -> Result<&'a str> {
    text.to_str().map_err(|e| {
        Error::new(
            ErrorCode::InvalidUtf8,
            format!(
                "{what} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Decides what to send for `conn`, making a token with `make_token` when one is needed.
pub(crate) fn secret_for<'a>(
    conn: &Connection<'a>,
    defaults: &EnvDefaults,
    trust: &Trust<'_>,
    make_token: impl FnOnce(&TokenRequest<'_>) -> Result<Token>,
) -> Result<Secret<'a>> {
    if let Some(password) = conn.password {
        return Ok(Secret::Password(password));
    }
    let target = describe(conn);
    check_transport(&conn.transport, defaults.allow_cleartext, &target)?;

    let host = conn.host.unwrap_or(c"");
    let host = signable_host(host);
    let port = u16::try_from(conn.port).map_err(|_| {
        Error::new(
            ErrorCode::InvalidPort,
            format!(
                "no token for {target}: port {} is not a TCP port",
                conn.port
            ),
        )
    })?;
    let user = conn.user.unwrap_or(c"");
    let context = |err: Error| {
        Error::new(
            err.code(),
            format!("no token for {target}: {}", err.message()),
        )
    };
    let request = TokenRequest::new(utf8(&host, "host")?, port, utf8(user, "user")?);
    let request = defaults.apply(request).map_err(context)?;
    if let Transport::Tls { chain } = &conn.transport {
        let names = ca::names_for(
            request.effective_signing_host(),
            request.host,
            &defaults.connect_hosts,
        );
        // The connect host, when the token is for another name and the user did not list it.
        let signed_elsewhere = (names.len() == 1
            && !request
                .effective_signing_host()
                .eq_ignore_ascii_case(request.host))
        .then_some(request.host);
        if let Err(refusal) = check_server(conn, chain, &names, signed_elsewhere, trust, &target) {
            if !defaults.allow_unverified_tls {
                return Err(refusal);
            }
            log_at!(
                Level::Warn,
                "sending the IAM token anyway ({}=1): {}",
                config::ALLOW_UNVERIFIED_TLS_ENV,
                refusal.message()
            );
        }
    }
    let token = make_token(&request).map_err(context)?;
    if token.expires_at() <= SystemTime::now() {
        // The engine hands out only live tokens; this guards the last step anyway, because
        // an expired token would be refused by the server with a bare "Access denied".
        return Err(Error::new(
            ErrorCode::CredentialsExpired,
            format!(
                "no token for {target}: the token made has already expired (its credentials \
                 expired); it was not sent; refresh the credentials"
            ),
        ));
    }
    Ok(Secret::Token(token))
}

/// Refuses a token over a connection without TLS, unless allowed.
fn check_transport(transport: &Transport, allow_cleartext: bool, target: &str) -> Result<()> {
    match transport {
        Transport::Tls { .. } => Ok(()),
        Transport::Plain if allow_cleartext => {
            log_at!(
                Level::Warn,
                "sending an IAM token for {target} without TLS ({}=1)",
                config::ALLOW_CLEARTEXT_ENV
            );
            Ok(())
        }
        Transport::Plain => Err(Error::new(
            ErrorCode::InsecureConnection,
            format!(
                "refused to send an IAM token for {target} over a connection without TLS; connect \
                 with TLS (mariadb --ssl, or ssl=on / ssl-ca=... under [client]; RDS requires it \
                 for IAM users) or set {}=1 to allow it. If default-auth=mysql_clear_password is \
                 set, remove it: the plugin would run before the TLS handshake, and the server \
                 asks for it by itself",
                config::ALLOW_CLEARTEXT_ENV
            ),
        )),
    }
}

/// Whether the server's chain verifies, for one of `names`, against the connection's CA (else
/// the lookup's); the refusal says what failed and how to give the CA.
fn check_server(
    conn: &Connection<'_>,
    chain: &std::result::Result<Vec<Vec<u8>>, String>,
    names: &[&str],
    signed_elsewhere: Option<&str>,
    trust: &Trust<'_>,
    target: &str,
) -> Result<()> {
    let refuse = |code: ErrorCode, why: String| {
        Error::new(
            code,
            format!("refused to send an IAM token for {target}: {why}"),
        )
    };
    let given = match (conn.ssl_ca, conn.ssl_capath) {
        (Some(file), _) => Some(Given {
            path: Path::new(OsStr::from_bytes(file.to_bytes())),
            by: "the connection's ssl-ca",
        }),
        (None, Some(dir)) => Some(Given {
            path: Path::new(OsStr::from_bytes(dir.to_bytes())),
            by: "the connection's ssl-capath",
        }),
        (None, None) => None,
    };
    let chain = chain.as_ref().map_err(|why| {
        refuse(
            ErrorCode::UntrustedServer,
            format!(
                "the server's TLS certificate cannot be read ({why}), so it cannot be verified"
            ),
        )
    })?;
    let bundle = (trust.load_ca)(given).map_err(|e| refuse(e.code(), e.message().to_string()))?;
    let chain: Vec<CertificateDer<'_>> = chain
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    match ca::verify_server(bundle.certificates(), &chain, names, trust.now) {
        Ok(_) => Ok(()),
        Err(rejection) => Err(refuse(
            ErrorCode::UntrustedServer,
            unverified(&rejection, names, signed_elsewhere, bundle.source()),
        )),
    }
}

/// The reason a server was not believed, and the ways out. `signed_elsewhere`: the connect
/// host, when the token is signed for another host (a signing host).
fn unverified(
    rejection: &Rejection,
    names: &[&str],
    signed_elsewhere: Option<&str>,
    source: &ca::Source,
) -> String {
    let name = names.first().copied().unwrap_or("");
    let mut text = format!("the server did not prove it is {name}: {rejection}");
    match (rejection, signed_elsewhere) {
        (Rejection::Untrusted(_), _) => {
            text.push_str(&format!(
                " (checked against {}). Give the CA that signed its certificate: --ssl-ca=FILE \
                 (ssl-ca= under [client] in my.cnf; MYSQL_OPT_SSL_CA; mysqlclient \
                 ssl={{'ca': FILE}}) or {}=FILE",
                source.describe(),
                config::CA_FILE_ENV
            ));
            if source.is_rds_bundle() {
                text.push_str(
                    "; with neither, the RDS CA bundle is used (iam-db-auth ca update refreshes it)",
                );
            }
        }
        (Rejection::WrongName { .. }, Some(connect_host)) => text.push_str(&format!(
            ". The token is for {name} ({}); if {connect_host} is a hop you trust to reach it, \
             list it in {}",
            config::SIGNING_HOST_ENV,
            config::CONNECT_HOSTS_ENV
        )),
        (Rejection::WrongName { .. }, None) => {
            text.push_str(". Connect with a host name its certificate is valid for")
        }
    }
    text.push_str(&format!(
        ". To send tokens without this check set {}=1 (a server posing as the endpoint would \
         get a token valid for it)",
        config::ALLOW_UNVERIFIED_TLS_ENV
    ));
    text
}

/// The host as a token is signed for it: an IPv6 literal gets the brackets a host header has.
fn signable_host(host: &CStr) -> Cow<'_, CStr> {
    match host.to_str() {
        Ok(text) if text.parse::<std::net::Ipv6Addr>().is_ok() => {
            Cow::Owned(CString::new(format!("[{text}]")).expect("an IPv6 address has no NUL"))
        }
        _ => Cow::Borrowed(host),
    }
}

/// "user 'u' at host:port", for messages (never the password).
fn describe(conn: &Connection<'_>) -> String {
    let text = |s: Option<&CStr>| {
        crate::endpoint::shorten(&s.map(|s| s.to_string_lossy()).unwrap_or_default()).to_string()
    };
    format!(
        "user '{}' at {}:{}",
        text(conn.user).escape_debug(),
        text(conn.host).escape_debug(),
        conn.port
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::Source;
    use crate::credentials::AwsCredentials;
    use std::path::PathBuf;
    use std::time::Duration;

    /// The names in tests/ca/server-chain.pem (made by tests/ca/make.sh).
    const RDS: &CStr = c"mydb.c9akciq32.us-east-1.rds.amazonaws.com";

    fn test_ca(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/ca")
            .join(name)
    }

    fn chain_of(name: &str) -> Transport {
        let pem = std::fs::read(test_ca(name)).unwrap();
        Transport::Tls {
            chain: Ok(ca::parse_pem(&pem)
                .unwrap()
                .iter()
                .map(|c| c.to_vec())
                .collect()),
        }
    }

    fn tls() -> Transport {
        chain_of("server-chain.pem")
    }

    fn conn<'a>(host: &'a CStr, user: &'a CStr, transport: Transport) -> Connection<'a> {
        Connection {
            host: Some(host),
            port: 3306,
            user: Some(user),
            password: None,
            transport,
            ssl_ca: None,
            ssl_capath: None,
        }
    }

    /// The test root CA stands in for the lookup's answer when the connection names none.
    fn lookup(given: Option<Given<'_>>) -> Result<Bundle> {
        match given {
            Some(given) => Bundle::load(Source::Given {
                path: given.path.into(),
                by: given.by.into(),
            }),
            None => Bundle::load(Source::Environment(test_ca("root.pem"))),
        }
    }

    /// 2027-01-01, inside the test certificates' validity.
    fn trust() -> Trust<'static> {
        Trust {
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_798_761_600),
            load_ca: &lookup,
        }
    }

    fn decide<'a>(
        c: &Connection<'a>,
        defaults: &EnvDefaults,
        make: impl FnOnce(&TokenRequest<'_>) -> Result<Token>,
    ) -> Result<Secret<'a>> {
        secret_for(c, defaults, &trust(), make)
    }

    fn sign(request: &TokenRequest<'_>) -> Result<Token> {
        let creds = AwsCredentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        crate::engine::token_with(request, "us-east-1", &creds, SystemTime::now())
    }

    fn no_token(_: &TokenRequest<'_>) -> Result<Token> {
        panic!("a token was made")
    }

    fn token_text(secret: Secret<'_>) -> String {
        match secret {
            Secret::Token(token) => token.as_str().to_string(),
            Secret::Password(_) => panic!("expected a token"),
        }
    }

    #[test]
    fn a_verified_server_gets_a_token_for_its_host_port_and_user() {
        let c = conn(RDS, c"app", tls());
        let text = token_text(decide(&c, &EnvDefaults::default(), sign).unwrap());
        assert!(
            text.starts_with(
                "mydb.c9akciq32.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=app&"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_given_password_is_sent_unchanged() {
        let mut c = conn(c"db.example.com", c"app", Transport::Plain);
        c.password = Some(c"secret");
        match decide(&c, &EnvDefaults::default(), no_token).unwrap() {
            Secret::Password(p) => assert_eq!(p, c"secret"),
            Secret::Token(_) => panic!("expected the password"),
        }
    }

    #[test]
    fn no_tls_is_refused_unless_allowed() {
        let c = conn(c"db.example.com", c"app", Transport::Plain);
        let err = decide(&c, &EnvDefaults::default(), no_token)
            .err()
            .expect("refused");
        assert_eq!(err.code(), ErrorCode::InsecureConnection);
        assert!(
            err.message().contains("IAM_DB_AUTH_ALLOW_CLEARTEXT=1"),
            "{err}"
        );
        assert!(
            err.message().contains("user 'app' at db.example.com:3306"),
            "{err}"
        );
        let allowed = EnvDefaults {
            allow_cleartext: true,
            ..EnvDefaults::default()
        };
        assert!(decide(&c, &allowed, sign).is_ok());
    }

    #[test]
    fn a_server_whose_chain_does_not_verify_gets_no_token_and_the_user_learns_how_to_give_the_ca() {
        for transport in [chain_of("self-signed.pem"), chain_of("expired.pem")] {
            let c = conn(RDS, c"app", transport);
            // Cleartext being allowed changes nothing for TLS that does not verify.
            let defaults = EnvDefaults {
                allow_cleartext: true,
                ..EnvDefaults::default()
            };
            let err = decide(&c, &defaults, no_token).err().expect("refused");
            assert_eq!(err.code(), ErrorCode::UntrustedServer);
            for hint in [
                "--ssl-ca=FILE",
                "IAM_DB_AUTH_CA_FILE=FILE",
                "IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS=1",
            ] {
                assert!(err.message().contains(hint), "{hint}: {err}");
            }
            assert!(
                err.message().contains("root.pem (IAM_DB_AUTH_CA_FILE)"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_connections_own_ca_comes_first() {
        // The chain is from root.pem; the connection names another CA: refused, whatever the
        // lookup would have said.
        let other = test_ca("other-root.pem");
        let other = CString::new(other.as_os_str().as_bytes()).unwrap();
        let c = Connection {
            ssl_ca: Some(&other),
            ..conn(RDS, c"app", tls())
        };
        let err = decide(&c, &EnvDefaults::default(), no_token)
            .err()
            .expect("refused");
        assert_eq!(err.code(), ErrorCode::UntrustedServer);
        assert!(err.message().contains("connection's ssl-ca"), "{err}");
        let root = CString::new(test_ca("root.pem").as_os_str().as_bytes()).unwrap();
        let c = Connection {
            ssl_ca: Some(&root),
            ..conn(RDS, c"app", tls())
        };
        assert!(decide(&c, &EnvDefaults::default(), sign).is_ok());
        let dir = CString::new(test_ca("").as_os_str().as_bytes()).unwrap();
        let c = Connection {
            ssl_capath: Some(&dir),
            ..conn(RDS, c"app", tls())
        };
        assert!(
            decide(&c, &EnvDefaults::default(), sign).is_ok(),
            "ssl-capath"
        );
    }

    #[test]
    fn an_unreadable_chain_or_ca_gets_no_token() {
        let c = conn(
            RDS,
            c"app",
            Transport::Tls {
                chain: Err("libmariadb uses GnuTLS".into()),
            },
        );
        let err = decide(&c, &EnvDefaults::default(), no_token)
            .err()
            .expect("refused");
        assert_eq!(err.code(), ErrorCode::UntrustedServer);
        assert!(err.message().contains("GnuTLS"), "{err}");
        let missing = c"/nonexistent/ca.pem";
        let c = Connection {
            ssl_ca: Some(missing),
            ..conn(RDS, c"app", tls())
        };
        let err = decide(&c, &EnvDefaults::default(), no_token)
            .err()
            .expect("refused");
        assert_eq!(err.code(), ErrorCode::CaUnavailable);
    }

    #[test]
    fn the_opt_out_sends_over_tls_that_does_not_verify() {
        let c = conn(RDS, c"app", chain_of("self-signed.pem"));
        let defaults = EnvDefaults {
            allow_unverified_tls: true,
            ..EnvDefaults::default()
        };
        assert!(decide(&c, &defaults, sign).is_ok());
    }

    #[test]
    fn ipv6_literals_are_signed_in_brackets_and_verified_as_addresses() {
        let c = conn(c"::1", c"app", tls());
        let text = token_text(decide(&c, &EnvDefaults::default(), sign).unwrap());
        assert!(text.starts_with("[::1]:3306/?"), "{text}");
    }

    #[test]
    fn a_signing_host_must_be_the_servers_name_unless_the_connect_host_is_listed() {
        // The test chain is valid for the RDS name and for 127.0.0.1.
        let signing = |host: &str, listed: &[&str]| EnvDefaults {
            signing_host: Some(host.into()),
            signing_port: Some(Ok(3306)),
            connect_hosts: listed.iter().map(|h| h.to_string()).collect(),
            ..EnvDefaults::default()
        };
        let mut c = conn(c"127.0.0.1", c"app", tls());
        c.port = 13306;
        // A tunnel to the real endpoint: its certificate names the signing host.
        let rds = RDS.to_str().unwrap();
        let text = token_text(decide(&c, &signing(rds, &[]), sign).unwrap());
        assert!(text.starts_with(&format!("{rds}:3306/?")), "{text}");
        // Another endpoint's name: the server proves only 127.0.0.1.
        let other = "other.c9akciq32.us-east-1.rds.amazonaws.com";
        let err = decide(&c, &signing(other, &[]), no_token)
            .err()
            .expect("refused");
        assert_eq!(err.code(), ErrorCode::UntrustedServer);
        assert!(err.message().contains("IAM_DB_AUTH_CONNECT_HOSTS"), "{err}");
        assert!(err.message().contains(rds), "the names it presented: {err}");
        // Listed by the user: a server proven to be 127.0.0.1 gets it.
        let text = token_text(decide(&c, &signing(other, &["127.0.0.1"]), sign).unwrap());
        assert!(text.starts_with(&format!("{other}:3306/?")), "{text}");
    }

    #[test]
    fn a_missing_user_or_bad_port_is_a_clear_error() {
        let c = Connection {
            user: None,
            ..conn(RDS, c"x", tls())
        };
        let err = decide(&c, &EnvDefaults::default(), sign)
            .err()
            .expect("no user");
        assert_eq!(err.code(), ErrorCode::InvalidUser);
        assert!(
            err.message().starts_with(
                "no token for user '' at mydb.c9akciq32.us-east-1.rds.amazonaws.com:3306: "
            ),
            "{err}"
        );
        let c = Connection {
            port: 70000,
            ..conn(RDS, c"app", tls())
        };
        let err = decide(&c, &EnvDefaults::default(), sign)
            .err()
            .expect("bad port");
        assert_eq!(err.code(), ErrorCode::InvalidPort);
    }

    #[test]
    fn an_expired_token_is_never_returned() {
        let c = conn(RDS, c"app", tls());
        let expired = |request: &TokenRequest<'_>| {
            let creds = AwsCredentials::new(
                "ASIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                Some("session".into()),
                Some(SystemTime::now() - std::time::Duration::from_secs(5)),
                "test",
            );
            crate::engine::token_with(
                request,
                "us-east-1",
                &creds,
                SystemTime::now() - std::time::Duration::from_secs(60),
            )
        };
        let err = decide(&c, &EnvDefaults::default(), expired)
            .err()
            .expect("expired");
        assert_eq!(err.code(), ErrorCode::CredentialsExpired);
        assert!(err.message().contains("not sent"), "{err}");
    }
}
