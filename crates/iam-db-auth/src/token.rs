//! A token as handed to callers: the text, when it was signed, and until when it is valid.
//! Cheap to clone (shared); the text is wiped when the last clone is dropped.

use crate::secret::SecretString;
use crate::timestamp::UtcSeconds;
use std::sync::Arc;
use std::time::SystemTime;

/// An authentication token: the password to send to the database.
#[derive(Clone)]
pub struct Token(Arc<Inner>);

struct Inner {
    text: SecretString,
    signed_at: UtcSeconds,
    valid_until: UtcSeconds,
}

impl Token {
    #[cfg(test)]
    pub(crate) fn new(
        text: impl Into<String>,
        signed_at: UtcSeconds,
        valid_until: UtcSeconds,
    ) -> Self {
        Self::from_secret(SecretString::from(text.into()), signed_at, valid_until)
    }

    /// A token that takes over the signer's buffer (no copy).
    pub(crate) fn from_secret(
        text: SecretString,
        signed_at: UtcSeconds,
        valid_until: UtcSeconds,
    ) -> Self {
        Token(Arc::new(Inner {
            text,
            signed_at,
            valid_until,
        }))
    }

    /// A copy with its own reference count (same text and times).
    pub(crate) fn private_copy(&self) -> Self {
        Self::from_secret(
            SecretString::from(self.0.text.as_str()),
            self.0.signed_at,
            self.0.valid_until,
        )
    }

    /// Whether `other` has the same text and times.
    pub(crate) fn same_as(&self, other: &Token) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.signed_at == other.0.signed_at
                && self.0.valid_until == other.0.valid_until
                && *self.0.text == *other.0.text)
    }

    /// The token text (`host:port/?Action=connect&...`), without a scheme.
    pub fn as_str(&self) -> &str {
        &self.0.text
    }

    /// The signing time (`X-Amz-Date`).
    pub fn signed_at(&self) -> SystemTime {
        self.0.signed_at.to_system_time()
    }

    /// The end of the token's validity: the signing time plus `X-Amz-Expires`, or the expiry of
    /// the credentials that signed it if that is sooner.
    pub fn expires_at(&self) -> SystemTime {
        self.0.valid_until.to_system_time()
    }

    pub(crate) fn valid_until(&self) -> UtcSeconds {
        self.0.valid_until
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("text", &"** redacted **")
            .field("signed_at", &self.0.signed_at.rfc3339())
            .field("valid_until", &self.0.valid_until.rfc3339())
            .finish()
    }
}
