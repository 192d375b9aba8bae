//! The token itself: a SigV4 query presign of `GET /` for one fixed shape, built here and
//! signed with `aws-sigv4`'s signing-key and signature primitives.
//!
//! Pure: the signing time, the credentials and the region are passed in. Inputs are
//! assumed validated (see `endpoint`); this module only encodes and signs.
//!
//! What AWS verifies (and botocore produces):
//! - canonical request: `GET`, `/`, the sorted canonical query, `host:<lower-cased host>[:port]`,
//!   signed headers `host`, and the SHA-256 of the empty payload;
//! - the token: `<host>[:port]/?<query>&X-Amz-Signature=<hex>` in botocore's parameter order,
//!   which is the canonical order except that `X-Amz-Security-Token` follows
//!   `X-Amz-SignedHeaders`.

use crate::kind::TokenKind;
use crate::secret::SecretString;
use crate::timestamp::UtcSeconds;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use zeroize::Zeroizing;

/// SHA-256 of the empty payload, hex. RDS verifies against this, not `UNSIGNED-PAYLOAD`.
const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The credentials a token is signed with. Borrowed: this module never stores them.
#[derive(Clone, Copy)]
pub struct SigningCredentials<'a> {
    /// The access key id (`AKIA...` or `ASIA...`).
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials; `None` (never empty) for long-term keys.
    pub session_token: Option<&'a str>,
}

impl std::fmt::Debug for SigningCredentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// Everything that goes into one token.
#[derive(Clone, Copy, Debug)]
pub struct Presign<'a> {
    /// What the token signs in to.
    pub kind: TokenKind,
    /// The host as it appears in the token (validated; case preserved, as botocore does).
    pub host: &'a str,
    /// The port; only kinds that sign it ([`TokenKind::signs_port`]) use it.
    pub port: u16,
    /// The database user (`DBUser` / `User`); ignored by kinds without a user.
    pub user: &'a str,
    /// The region of the credential scope.
    pub region: &'a str,
    /// `X-Amz-Expires`, seconds.
    pub expires_in: u32,
    /// The signing time.
    pub time: UtcSeconds,
    /// ElastiCache Serverless: adds the signed `ResourceType=ServerlessCache`.
    pub serverless: bool,
}

/// A SigV4 signing key for one (date, region, service, secret). Wiped on drop.
pub struct SigningKey(Zeroizing<Vec<u8>>);

impl SigningKey {
    /// Derives the key with `aws-sigv4` (`kSigning` of the SigV4 specification).
    pub fn derive(secret_access_key: &str, time: UtcSeconds, region: &str, service: &str) -> Self {
        let key = aws_sigv4::sign::v4::generate_signing_key(
            secret_access_key,
            time.to_system_time(),
            region,
            service,
        );
        SigningKey(Zeroizing::new(key.as_ref().to_vec()))
    }
}

impl SigningKey {
    /// The hex signature of a string to sign (`aws-sigv4`'s HMAC). Secret: with the public
    /// parameters it is the token.
    pub fn sign(&self, string_to_sign: &[u8]) -> SecretString {
        aws_sigv4::sign::v4::calculate_signature(&*self.0, string_to_sign).into()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(** redacted **)")
    }
}

/// Signs a token, deriving the signing key.
pub fn presign(input: &Presign<'_>, credentials: &SigningCredentials<'_>) -> SecretString {
    let key = SigningKey::derive(
        credentials.secret_access_key,
        input.time,
        input.region,
        input.kind.service(),
    );
    presign_with_key(input, credentials, &key)
}

/// Signs a token with a signing key derived for the same date, region, service and secret
/// (callers cache keys; a key for another day or region gives a token AWS rejects).
pub fn presign_with_key(
    input: &Presign<'_>,
    credentials: &SigningCredentials<'_>,
    key: &SigningKey,
) -> SecretString {
    let amz_date = input.time.amz_date_time();
    let scope = credential_scope(input.time, input.region, input.kind.service());

    // Everything that sorts before X-Amz-Security-Token; shared by both orders.
    let mut head = String::with_capacity(256);
    head.push_str("Action=");
    head.push_str(input.kind.action());
    if input.kind == TokenKind::ElastiCache && input.serverless {
        head.push_str("&ResourceType=ServerlessCache");
    }
    if let Some(param) = input.kind.user_parameter() {
        head.push('&');
        head.push_str(param);
        head.push('=');
        uri_encode_into(&mut head, input.user);
    }
    head.push_str("&X-Amz-Algorithm=");
    head.push_str(ALGORITHM);
    head.push_str("&X-Amz-Credential=");
    uri_encode_into(&mut head, credentials.access_key_id);
    head.push_str("%2F");
    uri_encode_into(&mut head, &scope);
    head.push_str("&X-Amz-Date=");
    head.push_str(&amz_date);
    head.push_str("&X-Amz-Expires=");
    let _ = write!(head, "{}", input.expires_in);

    // Buffers holding the session token or the signature are SecretStrings sized up front
    // (and wiped, not left behind, if they must grow).
    const SECURITY_TOKEN: &str = "&X-Amz-Security-Token=";
    let session_token = credentials.session_token.filter(|t| !t.is_empty());
    let mut security = SecretString::with_capacity(
        session_token.map_or(0, |t| SECURITY_TOKEN.len() + 3 * t.len()),
    );
    if let Some(session_token) = session_token {
        security.push_str(SECURITY_TOKEN);
        uri_encode_into(security.room_for(3 * session_token.len()), session_token);
    }
    const SIGNED_HEADERS: &str = "&X-Amz-SignedHeaders=host";

    let host_lower = input.host.to_ascii_lowercase();
    let mut canonical =
        SecretString::with_capacity(head.len() + security.len() + host_lower.len() + 128);
    canonical.push_str("GET\n/\n");
    canonical.push_str(&head);
    canonical.push_str(&security);
    canonical.push_str(SIGNED_HEADERS);
    canonical.push_str("\nhost:");
    canonical.push_str(&host_lower);
    if input.kind.signs_port() && input.port != 443 {
        // botocore (like every SigV4 signer) leaves the default HTTPS port out of `host`.
        let _ = write!(canonical, ":{}", input.port);
    }
    canonical.push_str("\n\nhost\n");
    canonical.push_str(EMPTY_PAYLOAD_SHA256);

    let string_to_sign = string_to_sign(&amz_date, &scope, canonical.as_bytes());
    let signature = key.sign(string_to_sign.as_bytes());

    let mut token =
        SecretString::with_capacity(input.host.len() + head.len() + security.len() + 128);
    if input.kind.host_is_resource_name() {
        token.push_str(&host_lower);
    } else {
        token.push_str(input.host);
    }
    if input.kind.signs_port() {
        let _ = write!(token, ":{}", input.port);
    }
    token.push_str("/?");
    token.push_str(&head);
    token.push_str(SIGNED_HEADERS);
    token.push_str(&security);
    token.push_str("&X-Amz-Signature=");
    token.push_str(&signature);
    token
}

/// `<date>/<region>/<service>/aws4_request`.
pub fn credential_scope(time: UtcSeconds, region: &str, service: &str) -> String {
    format!("{}/{region}/{service}/aws4_request", time.amz_date())
}

/// The SigV4 string to sign for a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    let hash = hex::encode(Sha256::digest(canonical_request));
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{hash}")
}

/// Percent-encodes as SigV4 does: every byte outside `A-Za-z0-9-_.~` becomes `%XX` with
/// upper-case hex (space is `%20`, `+` is `%2B`, UTF-8 byte by byte).
pub fn uri_encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(byte >> 4)] as char);
            out.push(HEX[usize::from(byte & 0xf)] as char);
        }
    }
}

/// [`uri_encode_into`] into a new string.
pub fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    uri_encode_into(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_sigv4() {
        assert_eq!(uri_encode("user+name@x/y"), "user%2Bname%40x%2Fy");
        assert_eq!(uri_encode("a b~c-d_e.f"), "a%20b~c-d_e.f");
        assert_eq!(uri_encode("é"), "%C3%A9");
        assert_eq!(uri_encode("=&%"), "%3D%26%25");
    }

    fn sample<'a>(kind: TokenKind, user: &'a str) -> Presign<'a> {
        Presign {
            kind,
            host: "MyDB.cluster-abc.us-east-1.rds.amazonaws.com",
            port: 3306,
            user,
            region: "us-east-1",
            expires_in: 900,
            time: UtcSeconds::from_unix(1_767_323_045),
            serverless: false,
        }
    }

    const CREDS: SigningCredentials<'static> = SigningCredentials {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token: None,
    };

    #[test]
    fn empty_session_token_is_never_emitted() {
        let with_empty = SigningCredentials {
            session_token: Some(""),
            ..CREDS
        };
        let input = sample(TokenKind::Rds, "app");
        let token = presign(&input, &with_empty);
        assert!(!token.contains("X-Amz-Security-Token"));
        assert_eq!(*token, *presign(&input, &CREDS));
    }

    #[test]
    fn host_case_is_kept_in_the_token_and_lowered_in_the_signature() {
        let input = sample(TokenKind::Rds, "app");
        let upper = presign(&input, &CREDS);
        assert!(upper.starts_with("MyDB.cluster-abc.us-east-1.rds.amazonaws.com:3306/?"));
        let lower_host = input.host.to_ascii_lowercase();
        let lower = presign(
            &Presign {
                host: &lower_host,
                ..input
            },
            &CREDS,
        );
        let sig = |t: &str| t.rsplit_once("X-Amz-Signature=").unwrap().1.to_string();
        assert_eq!(sig(&upper), sig(&lower));
    }

    #[test]
    fn port_443_is_in_the_token_but_not_in_the_signed_host() {
        let input = Presign {
            port: 443,
            ..sample(TokenKind::Rds, "app")
        };
        let token = presign(&input, &CREDS);
        assert!(token.contains(".amazonaws.com:443/?"));
    }

    #[test]
    fn serverless_adds_resource_type_only_to_elasticache() {
        let mut input = sample(TokenKind::ElastiCache, "app");
        input.host = "My-Cache";
        input.serverless = true;
        let token = presign(&input, &CREDS);
        assert!(
            token.starts_with("my-cache/?Action=connect&ResourceType=ServerlessCache&User=app&")
        );
        input.kind = TokenKind::MemoryDb;
        assert!(!presign(&input, &CREDS).contains("ResourceType"));
    }

    #[test]
    fn cached_key_gives_the_same_token() {
        let input = sample(TokenKind::Rds, "app");
        let key = SigningKey::derive(CREDS.secret_access_key, input.time, "us-east-1", "rds-db");
        assert_eq!(
            *presign_with_key(&input, &CREDS, &key),
            *presign(&input, &CREDS)
        );
        assert!(format!("{key:?}").contains("redacted"));
        assert!(!format!("{CREDS:?}").contains("wJalr"));
    }
}
