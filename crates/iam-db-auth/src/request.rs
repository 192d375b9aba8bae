//! What a caller asks for, in one shape for every door (C ABI, MySQL plugin, CLI, pgpass),
//! and the checks every request passes before anything is looked up or signed.

use crate::endpoint::{self, shorten};
use crate::error::{Error, ErrorCode, Result};
use crate::kind::TokenKind;
use crate::timestamp::UtcSeconds;

/// The longest user name accepted, in bytes (database user names are far shorter; the bound
/// keeps a megabyte of garbage out of tokens and messages).
pub const MAX_USER_LEN: usize = 1024;
/// The longest profile name accepted, in bytes.
pub const MAX_PROFILE_LEN: usize = 256;
/// The lifetime of a token when the caller does not choose one, and the only one RDS takes.
pub const DEFAULT_EXPIRES_IN: u32 = 900;

/// A request for a token. Build it with [`TokenRequest::new`] and the setters.
#[derive(Clone, Copy, Debug)]
pub struct TokenRequest<'a> {
    /// What the token signs in to.
    pub kind: TokenKind,
    /// The host the client connects to.
    pub host: &'a str,
    /// The port the client connects to.
    pub port: u16,
    /// The database user (ignored by DSQL kinds, which sign no user).
    pub user: &'a str,
    /// The region; `None` to infer it from the endpoint or find it in the configuration.
    pub region: Option<&'a str>,
    /// The host to sign for when it differs from `host` (tunnels, port-forwards, IPs).
    pub signing_host: Option<&'a str>,
    /// The port to sign for when it differs from `port`.
    pub signing_port: Option<u16>,
    /// The AWS profile to take credentials (and a fallback region) from; `None` for the
    /// default chain (which honours `AWS_PROFILE`).
    pub profile: Option<&'a str>,
    /// `X-Amz-Expires`; `None` for 900 s. RDS accepts only 900.
    pub expires_in: Option<u32>,
    /// ElastiCache Serverless (adds `ResourceType=ServerlessCache`).
    pub serverless: bool,
    /// Whether a cached token may be returned (and the new one cached).
    pub use_cache: bool,
    /// Sign at this time instead of now (reproducible output for tests); bypasses the cache.
    pub signing_time: Option<UtcSeconds>,
}

impl<'a> TokenRequest<'a> {
    /// An RDS request for `user` at `host:port`, everything else found automatically.
    pub fn new(host: &'a str, port: u16, user: &'a str) -> Self {
        TokenRequest {
            kind: TokenKind::Rds,
            host,
            port,
            user,
            region: None,
            signing_host: None,
            signing_port: None,
            profile: None,
            expires_in: None,
            serverless: false,
            use_cache: true,
            signing_time: None,
        }
    }

    /// Sets the kind.
    pub fn kind(mut self, kind: TokenKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the region.
    pub fn region(mut self, region: &'a str) -> Self {
        self.region = Some(region);
        self
    }

    /// Sets the profile.
    pub fn profile(mut self, profile: &'a str) -> Self {
        self.profile = Some(profile);
        self
    }

    /// Signs for another host than the one connected to.
    pub fn signing_host(mut self, host: &'a str) -> Self {
        self.signing_host = Some(host);
        self
    }

    /// Signs for another port than the one connected to.
    pub fn signing_port(mut self, port: u16) -> Self {
        self.signing_port = Some(port);
        self
    }

    /// Sets the token lifetime in seconds.
    pub fn expires_in(mut self, seconds: u32) -> Self {
        self.expires_in = Some(seconds);
        self
    }

    /// Turns the cache on or off.
    pub fn use_cache(mut self, on: bool) -> Self {
        self.use_cache = on;
        self
    }

    /// Signs at a fixed time.
    pub fn signing_time(mut self, time: UtcSeconds) -> Self {
        self.signing_time = Some(time);
        self
    }

    /// The host the token is signed for.
    pub fn effective_signing_host(&self) -> &'a str {
        self.signing_host.unwrap_or(self.host)
    }

    /// The port the token is signed for (0 for kinds that sign no port).
    pub fn effective_signing_port(&self) -> u16 {
        if self.kind.signs_port() {
            self.signing_port.unwrap_or(self.port)
        } else {
            0
        }
    }

    /// The user the token names (empty for kinds that sign no user).
    pub fn effective_user(&self) -> &'a str {
        if self.kind.user_parameter().is_some() {
            self.user
        } else {
            ""
        }
    }

    /// The token lifetime in seconds.
    pub fn effective_expires_in(&self) -> u32 {
        self.expires_in.unwrap_or(DEFAULT_EXPIRES_IN)
    }

    /// Checks everything that can be checked without the environment.
    pub fn validate(&self) -> Result<()> {
        endpoint::validate_host(self.host)?;
        if let Some(signing_host) = self.signing_host {
            endpoint::validate_host(signing_host)
                .map_err(|e| Error::new(e.code(), format!("signing host: {}", e.message())))?;
        }
        if self.kind.signs_port() && self.effective_signing_port() == 0 {
            return Err(Error::new(
                ErrorCode::InvalidPort,
                "port is 0; pass the database port (3306 for MySQL/MariaDB, 5432 for PostgreSQL)",
            ));
        }
        if self.kind.user_parameter().is_some() {
            validate_user(self.user)?;
        }
        if let Some(region) = self.region {
            endpoint::validate_region(region)?;
        }
        if let Some(profile) = self.profile {
            validate_profile(profile)?;
        }
        let expires_in = self.effective_expires_in();
        if !self.kind.expiry_is_configurable() && expires_in != DEFAULT_EXPIRES_IN {
            return Err(Error::new(
                ErrorCode::InvalidExpiry,
                format!(
                    "{} tokens always last {DEFAULT_EXPIRES_IN} s; {expires_in} s was asked for",
                    self.kind
                ),
            ));
        }
        if expires_in == 0 || expires_in > self.kind.max_expires_in() {
            return Err(Error::new(
                ErrorCode::InvalidExpiry,
                format!(
                    "a {} token lasts 1 to {} s; {expires_in} s was asked for",
                    self.kind,
                    self.kind.max_expires_in()
                ),
            ));
        }
        if let Some(time) = self.signing_time
            && time > UtcSeconds::LAST_SIGNABLE
        {
            return Err(Error::new(
                ErrorCode::InvalidSigningTime,
                format!(
                    "the signing time ({} s after 1970) is after {}, the last time a token can name",
                    time.unix(),
                    UtcSeconds::LAST_SIGNABLE.rfc3339()
                ),
            ));
        }
        if self.serverless && self.kind != TokenKind::ElastiCache {
            return Err(Error::new(
                ErrorCode::InvalidOptions,
                format!(
                    "serverless applies to elasticache tokens only, not {}",
                    self.kind
                ),
            ));
        }
        Ok(())
    }
}

/// A user name must be non-empty, at most `MAX_USER_LEN` (1024) bytes, without control characters.
pub fn validate_user(user: &str) -> Result<()> {
    if user.is_empty() {
        return Err(Error::new(
            ErrorCode::InvalidUser,
            "user is empty; pass the database user the token is for",
        ));
    }
    if user.len() > MAX_USER_LEN {
        return Err(Error::new(
            ErrorCode::InvalidUser,
            format!(
                "user is {} bytes long; at most {MAX_USER_LEN} are accepted",
                user.len()
            ),
        ));
    }
    // ASCII names (nearly all) are checked byte by byte; others character by character.
    let has_control = if user.is_ascii() {
        user.bytes().any(|b| b.is_ascii_control())
    } else {
        user.chars().any(char::is_control)
    };
    if has_control {
        return Err(Error::new(
            ErrorCode::InvalidUser,
            format!(
                "user '{}' contains control characters",
                shorten(user).escape_debug()
            ),
        ));
    }
    Ok(())
}

/// A profile name must be non-empty, short, without control characters, brackets or `=`
/// (which cannot appear in a config-file section name).
pub fn validate_profile(profile: &str) -> Result<()> {
    let bad = profile.is_empty()
        || profile.len() > MAX_PROFILE_LEN
        || profile.trim() != profile
        || profile
            .chars()
            .any(|c| c.is_control() || matches!(c, '[' | ']' | '=' | '#' | ';'));
    if bad {
        return Err(Error::new(
            ErrorCode::InvalidProfile,
            format!(
                "profile name '{}' cannot name a profile in ~/.aws/config",
                shorten(profile).escape_debug()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rds() -> TokenRequest<'static> {
        TokenRequest::new("db.example.com", 5432, "app")
    }

    #[test]
    fn a_plain_request_is_valid() {
        assert_eq!(rds().validate(), Ok(()));
        assert_eq!(rds().region("us-east-1").validate(), Ok(()));
    }

    #[test]
    fn bad_input_table() {
        let long_user = "u".repeat(MAX_USER_LEN + 1);
        let table: Vec<(TokenRequest<'_>, ErrorCode, &str)> = vec![
            (
                TokenRequest::new("", 5432, "app"),
                ErrorCode::InvalidHost,
                "empty",
            ),
            (
                TokenRequest::new("db.example.com", 0, "app"),
                ErrorCode::InvalidPort,
                "port is 0",
            ),
            (
                TokenRequest::new("db.example.com", 5432, ""),
                ErrorCode::InvalidUser,
                "empty",
            ),
            (
                TokenRequest::new("db.example.com", 5432, "a\nb"),
                ErrorCode::InvalidUser,
                "control",
            ),
            (
                TokenRequest::new("db.example.com", 5432, &long_user),
                ErrorCode::InvalidUser,
                "bytes long",
            ),
            (
                rds().region("US-EAST-1"),
                ErrorCode::InvalidRegion,
                "not a region",
            ),
            (rds().region(""), ErrorCode::InvalidRegion, "empty"),
            (rds().profile(""), ErrorCode::InvalidProfile, "cannot name"),
            (
                rds().profile("a]b"),
                ErrorCode::InvalidProfile,
                "cannot name",
            ),
            (
                rds().signing_host("https://x"),
                ErrorCode::InvalidHost,
                "signing host",
            ),
            (rds().signing_port(0), ErrorCode::InvalidPort, "port is 0"),
            (
                rds().expires_in(600),
                ErrorCode::InvalidExpiry,
                "always last 900",
            ),
            (
                rds().kind(TokenKind::Dsql).expires_in(0),
                ErrorCode::InvalidExpiry,
                "1 to 604800",
            ),
            (
                rds().kind(TokenKind::Dsql).expires_in(604_801),
                ErrorCode::InvalidExpiry,
                "1 to 604800",
            ),
            (
                rds().kind(TokenKind::ElastiCache).expires_in(901),
                ErrorCode::InvalidExpiry,
                "1 to 900",
            ),
            (
                TokenRequest {
                    serverless: true,
                    ..rds()
                },
                ErrorCode::InvalidOptions,
                "serverless",
            ),
            // Fuzz finding: a signing time past the year 9999 panicked inside aws-sigv4.
            (
                rds().signing_time(UtcSeconds::from_unix(UtcSeconds::LAST_SIGNABLE.unix() + 1)),
                ErrorCode::InvalidSigningTime,
                "9999-12-31T23:59:59Z",
            ),
            (
                rds().signing_time(UtcSeconds::from_unix(u64::MAX)),
                ErrorCode::InvalidSigningTime,
                "last time",
            ),
        ];
        for (req, code, needle) in table {
            let err = req.validate().unwrap_err();
            assert_eq!(err.code(), code, "{req:?}");
            assert!(err.message().contains(needle), "{req:?}: {}", err.message());
        }
    }

    #[test]
    fn kinds_without_user_or_port_ignore_them() {
        let dsql = TokenRequest::new("x.dsql.us-east-1.on.aws", 0, "").kind(TokenKind::Dsql);
        assert_eq!(dsql.validate(), Ok(()));
        assert_eq!(dsql.effective_signing_port(), 0);
        assert_eq!(dsql.effective_user(), "");
        assert_eq!(dsql.expires_in(604_800).validate(), Ok(()));
    }

    #[test]
    fn signing_overrides() {
        let r = TokenRequest::new("127.0.0.1", 13306, "app")
            .signing_host("db.example.com")
            .signing_port(3306);
        assert_eq!(r.effective_signing_host(), "db.example.com");
        assert_eq!(r.effective_signing_port(), 3306);
    }
}
