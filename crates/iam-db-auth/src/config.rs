//! Settings a user gives through the environment, one name for every door: the C API's
//! defaults, the MySQL plugin (which has no other way to be configured) and the CLI's flags.
//! Read once per process, at first use.

use crate::error::{Error, ErrorCode, Result};
use crate::request::TokenRequest;
use std::sync::OnceLock;

/// Sign for this host instead of the one connected to (tunnels, port-forwards, IPs).
pub const SIGNING_HOST_ENV: &str = "IAM_DB_AUTH_SIGNING_HOST";
/// Sign for this port instead of the one connected to.
pub const SIGNING_PORT_ENV: &str = "IAM_DB_AUTH_SIGNING_PORT";
/// Take credentials from this AWS profile (for database logins only; `AWS_PROFILE` still
/// applies when unset).
pub const PROFILE_ENV: &str = "IAM_DB_AUTH_PROFILE";
/// `0` turns the token cache off.
pub const CACHE_ENV: &str = "IAM_DB_AUTH_CACHE";
/// `1` lets the MySQL plugin send a token over a connection without TLS.
pub const ALLOW_CLEARTEXT_ENV: &str = "IAM_DB_AUTH_ALLOW_CLEARTEXT";
/// `1` lets a token go over TLS whose certificate was not verified (the plugin), and lets
/// `exec` and the libpq shim accept `sslmode=require`: an opt-out for people who accept that a
/// server pretending to be the endpoint gets the token.
pub const ALLOW_UNVERIFIED_TLS_ENV: &str = "IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS";
/// The CA file (PEM) to verify database servers with, when the connection names none: before
/// `ca update`'s copy, the installed bundle and the built-in one (see `ca`).
pub const CA_FILE_ENV: &str = "IAM_DB_AUTH_CA_FILE";
/// Connect hosts (comma-separated names or addresses) that may get a token signed for
/// [`SIGNING_HOST_ENV`] when their certificate proves only their own name, not the signing
/// host's (a TLS-terminating hop the user vouches for).
pub const CONNECT_HOSTS_ENV: &str = "IAM_DB_AUTH_CONNECT_HOSTS";
/// Hosts (comma-separated fnmatch patterns) for which the libpq LD_PRELOAD library
/// (`pq-preload/`, C) adds a token; read there, named here so the name is one everywhere.
pub const PQ_HOSTS_ENV: &str = "IAM_DB_AUTH_PQ_HOSTS";

/// The environment's settings, as read at first use.
#[derive(Clone, Debug, Default)]
pub struct EnvDefaults {
    /// [`SIGNING_HOST_ENV`], if set and non-empty.
    pub signing_host: Option<String>,
    /// [`SIGNING_PORT_ENV`]: the port, or the text that is not one (an error at use).
    pub signing_port: Option<Result<u16, String>>,
    /// [`PROFILE_ENV`], if set and non-empty.
    pub profile: Option<String>,
    /// False when [`CACHE_ENV`] is `0`, `false`, `off` or `no`.
    pub cache: bool,
    /// True when [`ALLOW_CLEARTEXT_ENV`] is `1`, `true`, `on` or `yes`.
    pub allow_cleartext: bool,
    /// True when [`ALLOW_UNVERIFIED_TLS_ENV`] is `1`, `true`, `on` or `yes`.
    pub allow_unverified_tls: bool,
    /// [`CONNECT_HOSTS_ENV`]: the listed hosts, trimmed, empty entries dropped.
    pub connect_hosts: Vec<String>,
}

impl EnvDefaults {
    /// Reads the settings from a lookup function (the real environment, or a test's map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let non_empty = |name: &str| get(name).filter(|v| !v.is_empty());
        EnvDefaults {
            signing_host: non_empty(SIGNING_HOST_ENV),
            signing_port: non_empty(SIGNING_PORT_ENV).map(|v| match v.trim().parse::<u16>() {
                Ok(port) if port != 0 => Ok(port),
                _ => Err(v),
            }),
            profile: non_empty(PROFILE_ENV),
            cache: !non_empty(CACHE_ENV).is_some_and(|v| is_false(&v)),
            allow_cleartext: non_empty(ALLOW_CLEARTEXT_ENV).is_some_and(|v| is_true(&v)),
            allow_unverified_tls: non_empty(ALLOW_UNVERIFIED_TLS_ENV).is_some_and(|v| is_true(&v)),
            connect_hosts: non_empty(CONNECT_HOSTS_ENV)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|h| !h.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

impl EnvDefaults {
    /// The one step every door takes: fills what the caller left unset in `request` from these
    /// settings (signing host and port, profile) and turns the cache off when the settings say
    /// so. What the caller set wins. A signing port setting that is not a port is an error here,
    /// at use, naming the variable.
    pub fn apply<'a>(&'a self, mut request: TokenRequest<'a>) -> Result<TokenRequest<'a>> {
        if request.signing_host.is_none() {
            request.signing_host = self.signing_host.as_deref();
        }
        if request.signing_port.is_none() {
            request.signing_port = match &self.signing_port {
                Some(Ok(port)) => Some(*port),
                Some(Err(text)) => {
                    return Err(Error::new(
                        ErrorCode::InvalidPort,
                        format!(
                            "{SIGNING_PORT_ENV}='{}' is not a port number (1-65535)",
                            crate::endpoint::shorten(text).escape_debug()
                        ),
                    ));
                }
                None => None,
            };
        }
        if request.profile.is_none() {
            request.profile = self.profile.as_deref();
        }
        request.use_cache &= self.cache;
        Ok(request)
    }
}

/// `1`, `true`, `on` or `yes` (any case): how every door reads an on/off setting.
pub fn is_true(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "on" | "yes"
    )
}

fn is_false(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "0" | "false" | "off" | "no"
    )
}

/// The process's settings (read once).
pub fn env_defaults() -> &'static EnvDefaults {
    static DEFAULTS: OnceLock<EnvDefaults> = OnceLock::new();
    DEFAULTS.get_or_init(|| EnvDefaults::from_lookup(|name| std::env::var(name).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> EnvDefaults {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvDefaults::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_when_unset() {
        let d = from(&[]);
        assert!(d.cache && !d.allow_cleartext && !d.allow_unverified_tls);
        assert!(d.connect_hosts.is_empty());
        assert!(d.signing_host.is_none() && d.signing_port.is_none() && d.profile.is_none());
    }

    #[test]
    fn parses_values() {
        let d = from(&[
            (SIGNING_HOST_ENV, "db.example.com"),
            (SIGNING_PORT_ENV, "3306"),
            (PROFILE_ENV, "dbs"),
            (CACHE_ENV, "off"),
            (ALLOW_CLEARTEXT_ENV, "1"),
        ]);
        assert_eq!(d.signing_host.as_deref(), Some("db.example.com"));
        assert_eq!(d.signing_port, Some(Ok(3306)));
        assert_eq!(d.profile.as_deref(), Some("dbs"));
        assert!(!d.cache && d.allow_cleartext);
        assert_eq!(
            from(&[(SIGNING_PORT_ENV, "x")]).signing_port,
            Some(Err("x".into()))
        );
        assert_eq!(
            from(&[(SIGNING_PORT_ENV, "0")]).signing_port,
            Some(Err("0".into()))
        );
        assert!(!from(&[(ALLOW_CLEARTEXT_ENV, "0")]).allow_cleartext);
        assert!(from(&[(ALLOW_UNVERIFIED_TLS_ENV, "yes")]).allow_unverified_tls);
        assert_eq!(
            from(&[(CONNECT_HOSTS_ENV, " 127.0.0.1, ,proxy.internal ")]).connect_hosts,
            ["127.0.0.1", "proxy.internal"]
        );
        assert!(from(&[(CACHE_ENV, "")]).cache);
    }

    #[test]
    fn apply_fills_only_what_the_request_left_unset() {
        let d = from(&[
            (SIGNING_HOST_ENV, "db.example.com"),
            (SIGNING_PORT_ENV, "3306"),
            (PROFILE_ENV, "dbs"),
            (CACHE_ENV, "0"),
        ]);
        let unset = d
            .apply(TokenRequest::new("127.0.0.1", 13306, "app"))
            .unwrap();
        assert_eq!(unset.signing_host, Some("db.example.com"));
        assert_eq!(unset.signing_port, Some(3306));
        assert_eq!(unset.profile, Some("dbs"));
        assert!(!unset.use_cache);

        let mut own = TokenRequest::new("127.0.0.1", 13306, "app");
        own.signing_host = Some("other.example.com");
        own.signing_port = Some(5432);
        own.profile = Some("mine");
        let own = d.apply(own).unwrap();
        assert_eq!(own.signing_host, Some("other.example.com"));
        assert_eq!(own.signing_port, Some(5432));
        assert_eq!(own.profile, Some("mine"));

        let none = from(&[]);
        let nothing = none.apply(TokenRequest::new("h", 1, "u")).unwrap();
        assert_eq!(nothing.signing_host, None);
        assert!(nothing.use_cache);
    }

    #[test]
    fn apply_names_a_signing_port_setting_that_is_not_a_port() {
        let d = from(&[(SIGNING_PORT_ENV, "abc")]);
        let err = d.apply(TokenRequest::new("h", 1, "u")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidPort);
        assert!(
            err.to_string().contains("IAM_DB_AUTH_SIGNING_PORT='abc'"),
            "{err}"
        );
        // An explicit port makes the bad setting irrelevant.
        let mut explicit = TokenRequest::new("h", 1, "u");
        explicit.signing_port = Some(3306);
        assert!(d.apply(explicit).is_ok());
    }
}
