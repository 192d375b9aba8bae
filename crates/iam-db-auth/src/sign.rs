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
///
/// Built for speed (it runs on every uncached token): every part is written once, straight
/// into the buffer it belongs to, and the token reuses the encoded query of the canonical
/// request; one SHA-256 and one HMAC, no formatting machinery.
pub fn presign_with_key(
    input: &Presign<'_>,
    credentials: &SigningCredentials<'_>,
    key: &SigningKey,
) -> SecretString {
    let service = input.kind.service();

    // The string to sign, up to the hash of the canonical request; the date and the scope are
    // read back from it.
    let mut to_sign = String::with_capacity(ALGORITHM.len() + input.region.len() + 128);
    to_sign.push_str(ALGORITHM);
    to_sign.push('\n');
    let date_at = to_sign.len();
    input.time.push_amz_date_time(&mut to_sign);
    let date = date_at..to_sign.len();
    to_sign.push('\n');
    let scope_at = to_sign.len();
    input.time.push_amz_date(&mut to_sign);
    to_sign.push('/');
    to_sign.push_str(input.region);
    to_sign.push('/');
    to_sign.push_str(service);
    to_sign.push_str("/aws4_request");
    let scope = scope_at..to_sign.len();
    to_sign.push('\n');

    let session_token = credentials.session_token.filter(|t| !t.is_empty());
    // Room for everything, so the buffer never moves (a moved-from buffer is not wiped), and
    // not much more: the whole capacity is wiped on drop, a byte at a time.
    let mut canonical = Zeroizing::new(String::with_capacity(
        CANONICAL_FIXED_LEN
            + encoded_len(input.user)
            + encoded_len(credentials.access_key_id)
            + session_token.map_or(0, encoded_len)
            + encoded_len(input.region)
            + input.host.len(),
    ));
    let reserved = canonical.capacity();
    canonical.push_str("GET\n/\n");

    // Everything that sorts before X-Amz-Security-Token; shared by both orders.
    let head_at = canonical.len();
    canonical.push_str("Action=");
    canonical.push_str(input.kind.action());
    if input.kind == TokenKind::ElastiCache && input.serverless {
        canonical.push_str("&ResourceType=ServerlessCache");
    }
    if let Some(param) = input.kind.user_parameter() {
        canonical.push('&');
        canonical.push_str(param);
        canonical.push('=');
        uri_encode_into(&mut canonical, input.user);
    }
    canonical.push_str("&X-Amz-Algorithm=");
    canonical.push_str(ALGORITHM);
    canonical.push_str("&X-Amz-Credential=");
    uri_encode_into(&mut canonical, credentials.access_key_id);
    canonical.push_str("%2F");
    uri_encode_into(&mut canonical, &to_sign[scope.clone()]);
    canonical.push_str("&X-Amz-Date=");
    canonical.push_str(&to_sign[date]);
    canonical.push_str("&X-Amz-Expires=");
    push_decimal(&mut canonical, input.expires_in);
    let head = head_at..canonical.len();

    let security_at = canonical.len();
    if let Some(session_token) = session_token {
        canonical.push_str("&X-Amz-Security-Token=");
        uri_encode_into(&mut canonical, session_token);
    }
    let security = security_at..canonical.len();
    const SIGNED_HEADERS: &str = "&X-Amz-SignedHeaders=host";
    canonical.push_str(SIGNED_HEADERS);

    canonical.push_str("\nhost:");
    let host_at = canonical.len();
    canonical.push_str(input.host);
    let host_lower = host_at..canonical.len();
    canonical[host_lower.clone()].make_ascii_lowercase();
    if input.kind.signs_port() && input.port != 443 {
        // botocore (like every SigV4 signer) leaves the default HTTPS port out of `host`.
        canonical.push(':');
        push_decimal(&mut canonical, u32::from(input.port));
    }
    canonical.push_str("\n\nhost\n");
    canonical.push_str(EMPTY_PAYLOAD_SHA256);

    debug_assert_eq!(
        canonical.capacity(),
        reserved,
        "the canonical request moved"
    );
    push_hex(&mut to_sign, &Sha256::digest(canonical.as_bytes()));
    let signature = key.sign(to_sign.as_bytes());

    let mut token = Zeroizing::new(String::with_capacity(
        input.host.len() + 8 + head.len() + SIGNED_HEADERS.len() + security.len() + 96,
    ));
    let token_reserved = token.capacity();
    if input.kind.host_is_resource_name() {
        token.push_str(&canonical[host_lower]);
    } else {
        token.push_str(input.host);
    }
    if input.kind.signs_port() {
        token.push(':');
        push_decimal(&mut token, u32::from(input.port));
    }
    token.push_str("/?");
    token.push_str(&canonical[head]);
    token.push_str(SIGNED_HEADERS);
    token.push_str(&canonical[security]);
    token.push_str("&X-Amz-Signature=");
    token.push_str(&signature);
    debug_assert_eq!(token.capacity(), token_reserved, "the token moved");
    // Its buffer, moved (not copied) into the type tokens live in.
    SecretString::from(std::mem::take(&mut *token))
}

/// `<date>/<region>/<service>/aws4_request`.
pub fn credential_scope(time: UtcSeconds, region: &str, service: &str) -> String {
    let mut scope = String::with_capacity(region.len() + service.len() + 24);
    time.push_amz_date(&mut scope);
    scope.push('/');
    scope.push_str(region);
    scope.push('/');
    scope.push_str(service);
    scope.push_str("/aws4_request");
    scope
}

/// The SigV4 string to sign for a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    let mut out = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 67);
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(amz_date);
    out.push('\n');
    out.push_str(scope);
    out.push('\n');
    push_hex(&mut out, &Sha256::digest(canonical_request));
    out
}

/// An upper bound of the canonical request's length less its variable parts (user, key id,
/// session token, region, host): the fixed text is at most 341 bytes (the longest action, user
/// parameter and service, the serverless parameter, a 10-digit expiry, a port).
const CANONICAL_FIXED_LEN: usize = 352;

/// The length of `text` once [`uri_encode_into`] has encoded it.
fn encoded_len(text: &str) -> usize {
    text.len() + 2 * text.bytes().filter(|&b| !is_unreserved(b)).count()
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~')
}

/// Appends `bytes` (at most 32: a SHA-256) as lower-case hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [0u8; 64];
    for (pair, &byte) in text.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    out.push_str(ascii(&text[..2 * bytes.len().min(32)]));
}

/// Appends `value` in decimal.
fn push_decimal(out: &mut String, value: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.push_str(ascii(&digits[at..]));
}

/// Bytes this module wrote from ASCII tables, as text (one check, then one copy: cheaper than
/// pushing them a character at a time).
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("ASCII")
}

/// Percent-encodes as SigV4 does: every byte outside `A-Za-z0-9-_.~` becomes `%XX` with
/// upper-case hex (space is `%20`, `+` is `%2B`, UTF-8 byte by byte).
pub fn uri_encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    // Runs of bytes that stay as they are are copied whole. A run starts after an encoded
    // byte and ends before one; its bytes are ASCII, so both ends are character boundaries.
    let mut run_start = 0;
    for (i, &byte) in text.as_bytes().iter().enumerate() {
        if is_unreserved(byte) {
            continue;
        }
        if run_start < i {
            out.push_str(&text[run_start..i]);
        }
        let escaped = [
            b'%',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ];
        out.push_str(ascii(&escaped));
        run_start = i + 1;
    }
    if run_start < text.len() {
        out.push_str(&text[run_start..]);
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
    fn buffers_are_sized_for_the_longest_inputs() {
        // The debug assertions in presign_with_key fail if a buffer had to grow (and so left
        // an unwiped copy behind): every kind, the widest numbers, users and session tokens
        // that encode every byte.
        let awkward: String = (1u8..=255).map(char::from).collect();
        let with_token = SigningCredentials {
            session_token: Some(&awkward),
            ..CREDS
        };
        for kind in TokenKind::ALL {
            for creds in [CREDS, with_token] {
                for serverless in [false, true] {
                    let input = Presign {
                        port: 65_535,
                        expires_in: u32::MAX,
                        serverless,
                        region: "us-isob-east-1",
                        ..sample(kind, &awkward)
                    };
                    let token = presign(&input, &creds);
                    assert!(token.contains("X-Amz-Signature="));
                }
            }
        }
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
