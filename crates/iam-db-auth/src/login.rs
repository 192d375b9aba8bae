//! An owned token maker for one database user: what a connection pool keeps so that every new
//! connection logs in with a token that is still valid, long after the pool started. Asking on
//! every new connection is cheap: the engine's cache hands back the same token until little of
//! its life is left, then signs a new one.

use crate::config::env_defaults;
use crate::error::Result;
use crate::kind::TokenKind;
use crate::request::TokenRequest;
use crate::token::Token;

/// A database user at an endpoint, owned (`'static`, `Send`, `Sync`, cheap to clone): a token
/// for it on demand. The settings not given here come from the environment as for every door
/// (`IAM_DB_AUTH_SIGNING_HOST`, `IAM_DB_AUTH_PROFILE`, ...; docs/configuration.md).
///
/// ```no_run
/// let login = iam_db_auth::DatabaseLogin::new("mydb.abc123.us-east-1.rds.amazonaws.com", 5432, "app");
/// // In a pool's hook for a new connection:
/// let password = login.token()?;
/// # Ok::<(), iam_db_auth::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseLogin {
    kind: TokenKind,
    host: String,
    port: u16,
    user: String,
    region: Option<String>,
    profile: Option<String>,
    signing_host: Option<String>,
    signing_port: Option<u16>,
}

impl DatabaseLogin {
    /// An RDS login for `user` at `host:port`; region and credentials found as for every door.
    pub fn new(host: impl Into<String>, port: u16, user: impl Into<String>) -> Self {
        DatabaseLogin {
            kind: TokenKind::Rds,
            host: host.into(),
            port,
            user: user.into(),
            region: None,
            profile: None,
            signing_host: None,
            signing_port: None,
        }
    }

    /// What the token signs in to (RDS unless set: DSQL, ElastiCache, MemoryDB).
    pub fn kind(mut self, kind: TokenKind) -> Self {
        self.kind = kind;
        self
    }

    /// The region, instead of inferring it from the host name or the configuration.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The AWS profile to take credentials from.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Sign for this host instead of the connect host (tunnels, port-forwards, proxies).
    pub fn signing_host(mut self, host: impl Into<String>) -> Self {
        self.signing_host = Some(host.into());
        self
    }

    /// Sign for this port instead of the connect port.
    pub fn signing_port(mut self, port: u16) -> Self {
        self.signing_port = Some(port);
        self
    }

    /// The host connections go to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port connections go to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The request this login makes, before the environment's settings are applied.
    pub fn request(&self) -> TokenRequest<'_> {
        let mut request = TokenRequest::new(&self.host, self.port, &self.user).kind(self.kind);
        request.region = self.region.as_deref();
        request.profile = self.profile.as_deref();
        request.signing_host = self.signing_host.as_deref();
        request.signing_port = self.signing_port;
        request
    }

    /// A token to log in with now: the cached one while it has life left, else a new one.
    /// May block (a credential lookup, bounded by `IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS`): from
    /// async code, call it on a blocking thread (`tokio::task::spawn_blocking`).
    pub fn token(&self) -> Result<Token> {
        let request = env_defaults().apply(self.request())?;
        crate::token_for(&request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_every_setting() {
        let login = DatabaseLogin::new("db.example.com", 3306, "app")
            .region("eu-west-1")
            .profile("prod")
            .signing_host("mydb.abc.eu-west-1.rds.amazonaws.com")
            .signing_port(3307);
        let request = login.request();
        assert_eq!(
            (request.host, request.port, request.user),
            ("db.example.com", 3306, "app")
        );
        assert_eq!(request.region, Some("eu-west-1"));
        assert_eq!(request.profile, Some("prod"));
        assert_eq!(
            request.effective_signing_host(),
            "mydb.abc.eu-west-1.rds.amazonaws.com"
        );
        assert_eq!(request.effective_signing_port(), 3307);
        assert!(request.use_cache, "a pool's logins share the cache");
        assert_eq!(request.kind, TokenKind::Rds);
    }

    #[test]
    fn a_bad_login_fails_with_the_requests_error() {
        let err = DatabaseLogin::new("db.example.com", 0, "app")
            .region("us-east-1")
            .token()
            .unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidPort);
    }

    #[test]
    fn it_can_live_in_a_pool() {
        fn shared<T: Send + Sync + Clone + 'static>() {}
        shared::<DatabaseLogin>();
    }
}
