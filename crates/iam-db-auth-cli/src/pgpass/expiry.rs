//! When a token found in a passfile stops being valid, read with the verifier's parser (the
//! one that checks tokens as AWS does), so the helper and the verifier cannot disagree on what
//! a token says.

use iam_db_auth::UtcSeconds;

/// When a token found in a passfile stops being valid: its `X-Amz-Date` plus `X-Amz-Expires`.
/// `None` when the password is not a token (or not one this can read).
pub fn token_expiry(password: &[u8]) -> Option<UtcSeconds> {
    let text = std::str::from_utf8(password).ok()?;
    iam_db_auth_verify::lifetime(text)
        .ok()
        .map(|lifetime| lifetime.expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgpass::TEST_TOKEN;

    #[test]
    fn token_expiry_is_read_from_the_token() {
        let at = token_expiry(TEST_TOKEN.as_bytes()).unwrap();
        assert_eq!(at.rfc3339(), "2024-08-26T22:15:00Z");
        assert_eq!(token_expiry(b"plainpassword"), None);
        assert_eq!(token_expiry(b"h:1/?X-Amz-Date=bad&X-Amz-Expires=900"), None);
        assert_eq!(token_expiry(&[0xff, b'?']), None);
    }
}
