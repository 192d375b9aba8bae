//! What the plugin sends for a connection, decided without touching C memory: the password the
//! client was given, unchanged (so `mysql_clear_password` keeps working for non-IAM users,
//! LDAP via PAM for instance), or else an IAM token for the connection's host, port and user,
//! and only over TLS unless `IAM_DB_AUTH_ALLOW_CLEARTEXT` says otherwise.
//!
//! The token request is built exactly as the C ABI builds one: an `IamTokenOptions` filled from
//! the connection and turned into a request by `ffi::request_from_options`, which applies the
//! shared settings (`IAM_DB_AUTH_SIGNING_HOST`, `IAM_DB_AUTH_SIGNING_PORT`,
//! `IAM_DB_AUTH_PROFILE`, `IAM_DB_AUTH_CACHE`). The region comes from the endpoint name, else
//! the environment or profile (the engine's rules).

use super::connection::Connection;
use super::tls::Transport;
use crate::config::{self, EnvDefaults};
use crate::error::{Error, ErrorCode, Result};
use crate::ffi::{self, IamTokenOptions};
use crate::request::TokenRequest;
use crate::token::Token;
use std::borrow::Cow;
use std::ffi::{CStr, CString};
use std::time::SystemTime;

/// What to send to the server.
pub(crate) enum Secret<'a> {
    /// The client's own password, as the stock plugin would send it.
    Password(&'a CStr),
    /// A token made for this connection.
    Token(Token),
}

/// Decides what to send for `conn`, making a token with `make_token` when one is needed.
pub(crate) fn secret_for<'a>(
    conn: &Connection<'a>,
    defaults: &EnvDefaults,
    make_token: impl FnOnce(&TokenRequest<'_>) -> Result<Token>,
) -> Result<Secret<'a>> {
    if let Some(password) = conn.password {
        return Ok(Secret::Password(password));
    }
    let target = describe(conn);
    check_transport(conn.transport, defaults.allow_cleartext, &target)?;

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
    let options = IamTokenOptions {
        host: host.as_ptr(),
        port,
        user: user.as_ptr(),
        ..ffi::default_options()
    };
    let context = |err: Error| {
        Error::new(
            err.code(),
            format!("no token for {target}: {}", err.message()),
        )
    };
    // SAFETY: `host` and `user` are NUL-terminated strings that live until the end of this
    // function, longer than the request borrowed from them; every other pointer is NULL.
    let request = unsafe { ffi::request_from_options(&options, defaults) }.map_err(context)?;
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

/// Refuses a token over a connection that is not protected by verified TLS, unless allowed.
fn check_transport(transport: Transport, allow_cleartext: bool, target: &str) -> Result<()> {
    match transport {
        Transport::Tls {
            unverified_certificate: 0,
        } => Ok(()),
        Transport::Tls {
            unverified_certificate: flags,
        } => Err(Error::new(
            ErrorCode::InsecureConnection,
            format!(
                "refused to send an IAM token for {target}: the server's TLS certificate could not \
                 be verified (Connector/C verification flags 0x{flags:x}); give the CA that signed \
                 it (ssl-ca=..., for RDS the regional or global bundle)"
            ),
        )),
        Transport::Plain if allow_cleartext => {
            crate::log::log_at!(
                crate::log::Level::Warn,
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
    use crate::credentials::AwsCredentials;

    fn conn<'a>(host: &'a CStr, user: &'a CStr, transport: Transport) -> Connection<'a> {
        Connection {
            host: Some(host),
            port: 3306,
            user: Some(user),
            password: None,
            transport,
        }
    }

    const TLS: Transport = Transport::Tls {
        unverified_certificate: 0,
    };

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

    fn token_text(secret: Secret<'_>) -> String {
        match secret {
            Secret::Token(token) => token.as_str().to_string(),
            Secret::Password(_) => panic!("expected a token"),
        }
    }

    #[test]
    fn a_tls_connection_gets_a_token_for_its_host_port_and_user() {
        let c = conn(c"db.abc.us-east-1.rds.amazonaws.com", c"app", TLS);
        let text = token_text(secret_for(&c, &EnvDefaults::default(), sign).unwrap());
        assert!(
            text.starts_with("db.abc.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=app&"),
            "{text}"
        );
    }

    #[test]
    fn a_given_password_is_sent_unchanged() {
        let mut c = conn(c"db.example.com", c"app", Transport::Plain);
        c.password = Some(c"secret");
        match secret_for(&c, &EnvDefaults::default(), |_| panic!("no token wanted")).unwrap() {
            Secret::Password(p) => assert_eq!(p, c"secret"),
            Secret::Token(_) => panic!("expected the password"),
        }
    }

    #[test]
    fn no_tls_is_refused_unless_allowed() {
        let c = conn(c"db.example.com", c"app", Transport::Plain);
        let err = secret_for(&c, &EnvDefaults::default(), sign)
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
        assert!(secret_for(&c, &allowed, sign).is_ok());
    }

    #[test]
    fn an_unverified_certificate_is_refused_even_when_cleartext_is_allowed() {
        let c = conn(
            c"db.example.com",
            c"app",
            Transport::Tls {
                unverified_certificate: 1,
            },
        );
        let allowed = EnvDefaults {
            allow_cleartext: true,
            ..EnvDefaults::default()
        };
        let err = secret_for(&c, &allowed, sign).err().expect("refused");
        assert_eq!(err.code(), ErrorCode::InsecureConnection);
        assert!(err.message().contains("certificate"), "{err}");
    }

    #[test]
    fn ipv6_literals_are_signed_in_brackets() {
        let c = conn(c"::1", c"app", TLS);
        let text = token_text(secret_for(&c, &EnvDefaults::default(), sign).unwrap());
        assert!(text.starts_with("[::1]:3306/?"), "{text}");
    }

    #[test]
    fn signing_overrides_from_the_environment_apply() {
        let c = conn(c"127.0.0.1", c"app", TLS);
        let defaults = EnvDefaults {
            signing_host: Some("db.abc.eu-west-1.rds.amazonaws.com".into()),
            signing_port: Some(Ok(3306)),
            ..EnvDefaults::default()
        };
        let mut c2 = c;
        c2.port = 13306;
        let text = token_text(secret_for(&c2, &defaults, sign).unwrap());
        assert!(
            text.starts_with("db.abc.eu-west-1.rds.amazonaws.com:3306/?"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_user_or_bad_port_is_a_clear_error() {
        let c = Connection {
            user: None,
            ..conn(c"db.example.com", c"x", TLS)
        };
        let err = secret_for(&c, &EnvDefaults::default(), sign)
            .err()
            .expect("no user");
        assert_eq!(err.code(), ErrorCode::InvalidUser);
        assert!(
            err.message()
                .starts_with("no token for user '' at db.example.com:3306: ")
        );
        let c = Connection {
            port: 70000,
            ..conn(c"db.example.com", c"app", TLS)
        };
        let err = secret_for(&c, &EnvDefaults::default(), sign)
            .err()
            .expect("bad port");
        assert_eq!(err.code(), ErrorCode::InvalidPort);
    }

    #[test]
    fn an_expired_token_is_never_returned() {
        let c = conn(c"db.example.com", c"app", TLS);
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
        let err = secret_for(&c, &EnvDefaults::default(), expired)
            .err()
            .expect("expired");
        assert_eq!(err.code(), ErrorCode::CredentialsExpired);
        assert!(err.message().contains("not sent"), "{err}");
    }
}
