//! The keys the verifier knows: the stand-in for IAM's key database, read from a keystore file.

use iam_db_auth::UtcSeconds;
use std::collections::HashMap;
use zeroize::Zeroizing;

/// One known key: its secret and, for temporary credentials, the session token that must
/// accompany it and when the credentials expire.
pub(crate) struct KeyEntry {
    pub(crate) secret: Zeroizing<String>,
    pub(crate) session_token: Option<Zeroizing<String>>,
    pub(crate) expires: Option<UtcSeconds>,
}

/// The keys the verifier knows, by access key id: the stand-in for IAM's key database.
#[derive(Default)]
pub struct Keystore {
    keys: HashMap<String, KeyEntry>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("Keystore")
            .field("access_key_ids", &ids)
            .finish()
    }
}

impl Keystore {
    /// Parses a keystore file: one key a line,
    /// `ACCESS_KEY_ID SECRET_ACCESS_KEY [SESSION_TOKEN [EXPIRATION]]` separated by whitespace,
    /// EXPIRATION in RFC 3339 (when temporary credentials stop working, as AWS enforces);
    /// `#` starts a comment line.
    pub fn parse(text: &str) -> Result<Keystore, String> {
        let mut store = Keystore::default();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields[..] {
                [id, secret] => store.add(id, secret, None),
                [id, secret, token] => store.add(id, secret, Some(token)),
                [id, secret, token, expiration] => {
                    // Not quoted: a misplaced field on a keystore line may be a secret.
                    let Some(at) = UtcSeconds::parse_rfc3339(expiration) else {
                        return Err(format!(
                            "keystore line {}: the fourth field (EXPIRATION) is not an RFC 3339 time",
                            number + 1
                        ));
                    };
                    store.add_expiring(id, secret, token, at);
                }
                _ => {
                    return Err(format!(
                        "keystore line {}: expected ACCESS_KEY_ID SECRET [SESSION_TOKEN [EXPIRATION]]",
                        number + 1
                    ));
                }
            }
        }
        Ok(store)
    }

    /// Adds (or replaces) a key.
    pub fn add(&mut self, access_key_id: &str, secret: &str, session_token: Option<&str>) {
        self.keys.insert(
            access_key_id.to_string(),
            KeyEntry {
                secret: Zeroizing::new(secret.to_string()),
                session_token: session_token.map(|t| Zeroizing::new(t.to_string())),
                expires: None,
            },
        );
    }

    /// Adds (or replaces) temporary credentials that expire at `expires`: from then on, every
    /// token they signed is refused, however young (AWS does the same).
    pub fn add_expiring(
        &mut self,
        access_key_id: &str,
        secret: &str,
        session_token: &str,
        expires: UtcSeconds,
    ) {
        self.keys.insert(
            access_key_id.to_string(),
            KeyEntry {
                secret: Zeroizing::new(secret.to_string()),
                session_token: Some(Zeroizing::new(session_token.to_string())),
                expires: Some(expires),
            },
        );
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key with this access key id.
    pub(crate) fn get(&self, access_key_id: &str) -> Option<&KeyEntry> {
        self.keys.get(access_key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keystore_lines_take_an_optional_expiration_of_temporary_credentials() {
        let keys = Keystore::parse(
            "# comment\nAKIDLONG secret\nASIATEMP secret2 token 2027-01-15T10:00:00Z\n",
        )
        .unwrap();
        assert_eq!(keys.len(), 2);
        let temp = &keys.keys["ASIATEMP"];
        assert_eq!(
            temp.expires,
            UtcSeconds::parse_rfc3339("2027-01-15T10:00:00Z")
        );
        assert!(keys.keys["AKIDLONG"].expires.is_none());
        for bad in ["A s t yesterday", "A s t 2027-01-15T10:00:00Z extra"] {
            assert!(Keystore::parse(bad).is_err(), "{bad}");
        }
    }
}
