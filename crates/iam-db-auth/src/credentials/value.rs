//! [`AwsCredentials`]: the value the engine signs with. Its secret parts are wiped on drop and
//! never shown by `Debug`; its identity tells credentials apart without keeping a secret.

use crate::sign::SigningCredentials;
use crate::timestamp::UtcSeconds;
use std::hash::{BuildHasher, Hasher};
use std::sync::LazyLock;
use std::time::SystemTime;
use zeroize::Zeroizing;

/// AWS credentials as the engine uses them. Secret parts are wiped on drop and never shown by
/// `Debug`.
pub struct AwsCredentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    expires_at: Option<SystemTime>,
    source: String,
    identity: u64,
}

static IDENTITY_HASHER: LazyLock<std::collections::hash_map::RandomState> =
    LazyLock::new(std::collections::hash_map::RandomState::new);

impl AwsCredentials {
    /// Credentials from their parts. An empty session token is treated as none.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
        expires_at: Option<SystemTime>,
        source: impl Into<String>,
    ) -> Self {
        let access_key_id = access_key_id.into();
        let secret_access_key = Zeroizing::new(secret_access_key.into());
        let session_token = session_token.filter(|t| !t.is_empty()).map(Zeroizing::new);
        // A per-process keyed hash: identifies "the same credentials" for cache keys without
        // keeping the secret in the key.
        let mut h = IDENTITY_HASHER.build_hasher();
        h.write(access_key_id.as_bytes());
        h.write_u8(0);
        h.write(secret_access_key.as_bytes());
        h.write_u8(0);
        if let Some(t) = &session_token {
            h.write(t.as_bytes());
        }
        AwsCredentials {
            access_key_id,
            secret_access_key,
            session_token,
            expires_at,
            source: source.into(),
            identity: h.finish(),
        }
    }

    /// Credentials as an aws-config provider returned them, named after their source.
    pub(crate) fn from_sdk(creds: &aws_credential_types::Credentials, source: &str) -> Self {
        AwsCredentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            creds.session_token().map(str::to_string),
            creds.expiry(),
            source,
        )
    }

    /// The borrowed form the signer takes.
    pub fn signing(&self) -> SigningCredentials<'_> {
        SigningCredentials {
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            session_token: self.session_token.as_deref().map(String::as_str),
        }
    }

    /// The access key id (not secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// When temporary credentials expire; `None` for long-term keys.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// Which source provided them (for logs and messages).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// A per-process fingerprint of (key id, secret, session token).
    pub fn identity(&self) -> u64 {
        self.identity
    }

    /// Their kind and life, for the log: when they expire, else whether they are temporary.
    pub(crate) fn describe_life(&self) -> String {
        match (self.expires_at, &self.session_token) {
            (Some(t), _) => format!("expire {}", describe_time(t)),
            (None, Some(_)) => "temporary, no expiry given".to_string(),
            (None, None) => "long-term".to_string(),
        }
    }
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expires_at", &self.expires_at)
            .field("source", &self.source)
            .finish()
    }
}

/// A time for messages: RFC 3339 in UTC.
pub(crate) fn describe_time(time: SystemTime) -> String {
    UtcSeconds::from_system_time(time)
        .map(UtcSeconds::rfc3339)
        .unwrap_or_else(|| "before 1970".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn debug_never_shows_secrets() {
        let creds = AwsCredentials::new(
            "AKIDEXAMPLE",
            "very-secret-key",
            Some("very-secret-token".into()),
            None,
            "test",
        );
        let shown = format!("{creds:?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("very-secret"));
    }

    #[test]
    fn identity_tells_credentials_apart() {
        let a = AwsCredentials::new("AKID", "secret-1", None, None, "t");
        let b = AwsCredentials::new("AKID", "secret-2", None, None, "t");
        let c = AwsCredentials::new("AKID", "secret-1", Some("tok".into()), None, "t");
        let a2 = AwsCredentials::new("AKID", "secret-1", Some(String::new()), None, "t");
        assert_ne!(a.identity(), b.identity());
        assert_ne!(a.identity(), c.identity());
        assert_eq!(a.identity(), a2.identity());
        assert!(a2.signing().session_token.is_none());
    }

    #[test]
    fn the_log_describes_their_life_without_secrets() {
        let at = UNIX_EPOCH + Duration::from_secs(1_767_323_045);
        let expiring = AwsCredentials::new("AKID", "s", Some("tok".into()), Some(at), "t");
        assert_eq!(expiring.describe_life(), "expire 2026-01-02T03:04:05Z");
        let temporary = AwsCredentials::new("AKID", "s", Some("tok".into()), None, "t");
        assert_eq!(temporary.describe_life(), "temporary, no expiry given");
        let long_term = AwsCredentials::new("AKID", "s", None, None, "t");
        assert_eq!(long_term.describe_life(), "long-term");
        assert_eq!(
            describe_time(UNIX_EPOCH - Duration::from_secs(1)),
            "before 1970"
        );
    }
}
