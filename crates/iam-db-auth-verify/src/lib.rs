//! The verifier: checks a token as AWS does, for the local stand-ins of RDS (PAM behind
//! MariaDB and PostgreSQL) and for tests.
//!
//! It parses the token on its own terms (any parameter order, strict encoding), rebuilds the
//! canonical request from the parsed parameters (a path independent of the signer's), derives
//! the signing key from a known secret and compares signatures in constant time. It also
//! checks everything AWS would refuse: the action, user, host and port, region, service,
//! algorithm, signed headers, date, lifetime, expiry with a small clock skew, and that a
//! session token is present exactly when the key is temporary.

use iam_db_auth::SecretString;
use iam_db_auth::TokenKind;
use iam_db_auth::UtcSeconds;
use iam_db_auth::endpoint::shorten;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

/// How far in the future a token's `X-Amz-Date` may be, seconds (clock skew, as AWS allows).
pub const MAX_FUTURE_SKEW: u64 = 300;
/// The longest token accepted, bytes.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why a token was refused. The text never contains the token or a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection(pub String);

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Rejection {}

fn reject<T>(why: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection(why.into()))
}

/// One known key: its secret and, for temporary credentials, the session token that must
/// accompany it and when the credentials expire.
struct KeyEntry {
    secret: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    expires: Option<UtcSeconds>,
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
}

/// What the server expects of a token.
#[derive(Clone, Debug)]
pub struct Expectation<'a> {
    /// The kind of token (for DSQL: `Dsql` or `DsqlAdmin`, see [`TokenKind::dsql_for_user`]).
    pub kind: TokenKind,
    /// The endpoint names the server answers to: `host:port` for RDS, the bare host or cache
    /// name otherwise. Compared case-insensitively.
    pub endpoints: &'a [String],
    /// The region of this server.
    pub region: &'a str,
    /// The user logging in; the token must name exactly this user (kinds with a user).
    pub user: &'a str,
}

/// What a verified token said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The access key that signed it.
    pub access_key_id: String,
    /// Whether it carried a session token.
    pub temporary: bool,
    /// When it was signed.
    pub signed_at: UtcSeconds,
    /// When it stops being valid (its own expiry, or its credentials' if earlier).
    pub expires_at: UtcSeconds,
}

/// Verifies `token` at time `now`.
pub fn verify(
    token: &str,
    expect: &Expectation<'_>,
    keys: &Keystore,
    now: UtcSeconds,
) -> Result<Verified, Rejection> {
    check(token, expect, keys, now).map_err(|why| Rejection(redact_session_token(token, why.0)))
}

/// The shortest run of a session token a rejection may not repeat, bytes.
const SESSION_TOKEN_RUN: usize = 8;

/// `message` with every run of at least [`SESSION_TOKEN_RUN`] bytes that also occurs in a
/// session token the client sent replaced by `<redacted>`.
///
/// Rejections quote parts of a mangled token (80 bytes at most), and a mangled token can put
/// its session token anywhere: a lost '=' makes `X-Amz-Security-TokenIQoJb3...` a parameter
/// name, a lost '&' makes it part of the value before it (fuzz finding, `verify_bytes`: a
/// session token spliced into a parameter name was quoted back). Session tokens are
/// credentials, and rejections go to server logs.
fn redact_session_token(token: &str, message: String) -> String {
    let query = token.split_once("/?").map_or(token, |(_, q)| q);
    // The value of every parameter that starts like the session token's, '=' or not, as
    // sent and %-decoded.
    let mut session_tokens: Vec<Zeroizing<Vec<u8>>> = Vec::new();
    for pair in query.split('&') {
        if let Some(rest) = pair.strip_prefix("X-Amz-Security-Token") {
            let raw = rest.strip_prefix('=').unwrap_or(rest).as_bytes();
            session_tokens.push(Zeroizing::new(raw.to_vec()));
            session_tokens.push(Zeroizing::new(decode_percent_escapes(raw).0));
        }
    }
    if session_tokens.is_empty() {
        return message;
    }
    // The message's 8-byte windows (a few hundred) sorted by value; each window of the
    // session tokens (up to 16 KB) is looked up there: linear in the token's length.
    let bytes = message.as_bytes();
    let window_value = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or_default());
    let mut windows: Vec<(u64, usize)> = bytes
        .windows(SESSION_TOKEN_RUN)
        .enumerate()
        .map(|(at, w)| (window_value(w), at))
        .collect();
    windows.sort_unstable();
    let mut secret = vec![false; bytes.len()];
    for run in session_tokens
        .iter()
        .flat_map(|t| t.windows(SESSION_TOKEN_RUN))
    {
        let value = window_value(run);
        let first = windows.partition_point(|&(v, _)| v < value);
        for &(_, at) in windows[first..].iter().take_while(|&&(v, _)| v == value) {
            secret[at..at + SESSION_TOKEN_RUN].fill(true);
        }
    }
    // The windows may hold fragments of a session token the message quoted.
    windows.iter_mut().for_each(|(value, _)| value.zeroize());
    if !secret.contains(&true) {
        return message;
    }
    let mut out = String::with_capacity(message.len());
    let mut chars = message.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if !secret[at..at + c.len_utf8()].contains(&true) {
            out.push(c);
            continue;
        }
        while chars
            .peek()
            .is_some_and(|&(next, n)| secret[next..next + n.len_utf8()].contains(&true))
        {
            chars.next();
        }
        out.push_str("<redacted>");
    }
    let mut message = message;
    message.zeroize();
    out
}

fn check(
    token: &str,
    expect: &Expectation<'_>,
    keys: &Keystore,
    now: UtcSeconds,
) -> Result<Verified, Rejection> {
    if token.is_empty() {
        return reject("the password is empty, not a token");
    }
    if token.len() > MAX_TOKEN_LEN {
        return reject(format!(
            "the token is {} bytes long; at most {MAX_TOKEN_LEN}",
            token.len()
        ));
    }
    let Some((endpoint, query)) = token.split_once("/?") else {
        return reject("not a token: no '/?' after the host (is this a plain password?)");
    };
    // Until the password looks like a token, no part of it is quoted back: the rejection goes
    // to server logs, and a mistyped password must not land there.
    let has = |name: &str| query.split('&').any(|p| p.starts_with(name));
    if !has("X-Amz-Signature=") || !has("X-Amz-Credential=") {
        return reject(
            "not a token: no X-Amz-Signature or X-Amz-Credential parameter (is this a plain password?)",
        );
    }
    if endpoint.contains("://") {
        return reject("the token starts with a URL scheme; tokens are sent without 'https://'");
    }
    let endpoint_lower = endpoint.to_ascii_lowercase();
    if !expect
        .endpoints
        .iter()
        .any(|e| e.eq_ignore_ascii_case(&endpoint_lower))
    {
        return reject(format!(
            "the token was signed for '{}', not for this server ({})",
            quote(endpoint),
            expect.endpoints.join(", ")
        ));
    }

    let params = parse_query(query)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|p| p.key == name)
            .map(|p| p.value.as_str())
    };
    let kind = expect.kind;
    let mut allowed: Vec<&str> = vec![
        "Action",
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
    ];
    if let Some(user_param) = kind.user_parameter() {
        allowed.push(user_param);
    }
    if kind == TokenKind::ElastiCache {
        allowed.push("ResourceType");
    }
    if let Some(unknown) = params.iter().find(|p| !allowed.contains(&p.key.as_str())) {
        return reject(format!(
            "the token has an unexpected parameter '{}'",
            quote(&unknown.key)
        ));
    }
    let require = |name: &str| {
        get(name).ok_or_else(|| Rejection(format!("the token has no {name} parameter")))
    };

    let action = require("Action")?;
    if action != kind.action() {
        return reject(format!(
            "Action is '{}'; this server requires '{}'",
            quote(action),
            kind.action()
        ));
    }
    if let Some(user_param) = kind.user_parameter() {
        let user = require(user_param)?;
        if user != expect.user {
            return reject(format!(
                "the token is for user '{}', not '{}'",
                quote(user),
                expect.user
            ));
        }
    }
    if let Some(resource_type) = get("ResourceType") {
        if resource_type != "ServerlessCache" {
            return reject(format!(
                "ResourceType '{}' is not ServerlessCache",
                quote(resource_type)
            ));
        }
    }
    if require("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return reject("X-Amz-Algorithm is not AWS4-HMAC-SHA256");
    }
    if require("X-Amz-SignedHeaders")? != "host" {
        return reject("X-Amz-SignedHeaders must be exactly 'host'");
    }
    let amz_date = require("X-Amz-Date")?;
    let Some(signed_at) = UtcSeconds::parse_amz_date_time(amz_date) else {
        return reject(format!(
            "X-Amz-Date '{}' is not YYYYMMDDTHHMMSSZ",
            quote(amz_date)
        ));
    };
    let expires_text = require("X-Amz-Expires")?;
    let expires_in = parse_expires(expires_text)?;
    if expires_in == 0 || expires_in > u64::from(kind.max_expires_in()) {
        return reject(format!(
            "X-Amz-Expires is {expires_in}; {} tokens last 1 to {} s",
            kind,
            kind.max_expires_in()
        ));
    }

    let credential = require("X-Amz-Credential")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = scope[..] else {
        return reject("X-Amz-Credential is not KEY/DATE/REGION/SERVICE/aws4_request");
    };
    if terminator != "aws4_request" {
        return reject("X-Amz-Credential does not end in aws4_request");
    }
    if date != &amz_date[..8] {
        return reject(format!(
            "the credential scope date '{}' is not the signing date {}",
            quote(date),
            &amz_date[..8]
        ));
    }
    if region != expect.region {
        return reject(format!(
            "the token is signed for region '{}', this server is in '{}'",
            quote(region),
            expect.region
        ));
    }
    if service != kind.service() {
        return reject(format!(
            "the token is signed for service '{}', not '{}'",
            quote(service),
            kind.service()
        ));
    }

    if signed_at > now.plus(MAX_FUTURE_SKEW) {
        return reject(format!(
            "the token is signed at {}, in the future (server time {})",
            signed_at.rfc3339(),
            now.rfc3339()
        ));
    }
    let expires_at = signed_at.plus(expires_in);
    if now > expires_at {
        return reject(format!(
            "the token expired at {} (signed {}, server time {})",
            expires_at.rfc3339(),
            signed_at.rfc3339(),
            now.rfc3339()
        ));
    }

    let Some(key) = keys.keys.get(access_key_id) else {
        return reject(format!("unknown access key '{}'", quote(access_key_id)));
    };
    if let Some(expired_at) = key.expires.filter(|at| now > *at) {
        return reject(format!(
            "the credentials of key '{access_key_id}' expired at {} (server time {})",
            expired_at.rfc3339(),
            now.rfc3339()
        ));
    }
    let presented_token = get("X-Amz-Security-Token");
    match (&key.session_token, presented_token) {
        (None, None) => {}
        (None, Some(_)) => {
            return reject(format!(
                "the token carries a session token, but key '{access_key_id}' is a long-term key"
            ));
        }
        (Some(_), None) => {
            return reject(format!(
                "key '{access_key_id}' is temporary and the token carries no session token"
            ));
        }
        (Some(expected), Some(presented)) => {
            if !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
                return reject(format!(
                    "the session token does not belong to key '{access_key_id}'"
                ));
            }
        }
    }

    let signature = require("X-Amz-Signature")?;
    if signature.len() != 64
        || !signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return reject("X-Amz-Signature is not 64 lower-case hex digits");
    }

    // The canonical request, rebuilt from what the token says: its parameters (raw, as they
    // are canonically encoded) sorted by name, then value.
    let mut signed: Vec<(&str, &str)> = params
        .iter()
        .filter(|p| p.key != "X-Amz-Signature")
        .map(|p| (p.raw_key, p.raw_value))
        .collect();
    signed.sort_unstable();
    let host_header = match endpoint_lower.strip_suffix(":443") {
        Some(bare) if kind.signs_port() => bare,
        _ => endpoint_lower.as_str(),
    };
    let mut canonical_request = SecretString::with_capacity(query.len() + host_header.len() + 128);
    canonical_request.push_str("GET\n/\n");
    for (i, (k, v)) in signed.iter().enumerate() {
        if i > 0 {
            canonical_request.push('&');
        }
        canonical_request.push_str(k);
        canonical_request.push('=');
        canonical_request.push_str(v);
    }
    canonical_request.push_str("\nhost:");
    canonical_request.push_str(host_header);
    canonical_request.push_str("\n\nhost\n");
    canonical_request.push_str(&hex::encode(Sha256::digest(b"")));
    let scope = format!("{date}/{region}/{service}/aws4_request");
    // The string to sign and the signature, written here from the SigV4 specification (not
    // the signer's code), over aws-sigv4's key derivation and HMAC.
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let signing_key = Zeroizing::new(
        aws_sigv4::sign::v4::generate_signing_key(
            &key.secret,
            signed_at.to_system_time(),
            region,
            kind.service(),
        )
        .as_ref()
        .to_vec(),
    );
    let expected = Zeroizing::new(aws_sigv4::sign::v4::calculate_signature(
        &signing_key,
        to_sign.as_bytes(),
    ));
    if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
        return reject(format!(
            "the signature does not match (wrong secret for key '{access_key_id}', or the token was altered)"
        ));
    }
    Ok(Verified {
        access_key_id: access_key_id.to_string(),
        temporary: presented_token.is_some(),
        signed_at,
        // The token stops working with the credentials that signed it.
        expires_at: key.expires.map_or(expires_at, |at| at.min(expires_at)),
    })
}

fn parse_expires(text: &str) -> Result<u64, Rejection> {
    let canonical = !text.is_empty()
        && text.len() <= 7
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    if !canonical {
        return reject(format!(
            "X-Amz-Expires '{}' is not a number of seconds",
            quote(text)
        ));
    }
    Ok(text.parse().unwrap_or(0))
}

/// One query parameter: its decoded name and value, and the raw (canonically encoded) text
/// as the token carries it. The value may be the session token or the signature: it lives in a
/// [`SecretString`].
struct Param<'t> {
    key: String,
    value: SecretString,
    raw_key: &'t str,
    raw_value: &'t str,
}

/// Splits and decodes the query. Every key and value must be in SigV4's canonical encoding
/// (what every AWS SDK emits), and no key may repeat.
fn parse_query(query: &str) -> Result<Vec<Param<'_>>, Rejection> {
    let mut params: Vec<Param<'_>> = Vec::new();
    for pair in query.split('&') {
        let Some((raw_key, raw_value)) = pair.split_once('=') else {
            return reject("the token has a query parameter without '='");
        };
        if let Err(bad) = check_encoding(raw_key) {
            return reject(format!(
                "parameter name '{}' {}",
                quote(raw_key),
                bad.describe()
            ));
        }
        let key = percent_decode(raw_key)?;
        if let Err(bad) = check_encoding(raw_value) {
            return reject(format!("the value of {} {}", quote(&key), bad.describe()));
        }
        let value = SecretString::from(percent_decode(raw_value)?);
        if params.iter().any(|p| p.key == key) {
            return reject(format!("parameter {} appears twice", quote(&key)));
        }
        params.push(Param {
            key,
            value,
            raw_key,
            raw_value,
        });
    }
    Ok(params)
}

/// What is wrong with a parameter's encoding.
enum BadEncoding {
    /// A `%` not followed by two hex digits.
    Malformed,
    /// Decodable, but not what SigV4's encoding writes (a byte left unescaped, an unreserved
    /// byte escaped, lower-case hex).
    NotCanonical,
}

impl BadEncoding {
    fn describe(&self) -> &'static str {
        match self {
            BadEncoding::Malformed => "has a malformed %-escape",
            BadEncoding::NotCanonical => "is not canonically encoded",
        }
    }
}

/// Checks that `raw` is what SigV4's encoding makes of some text: only unreserved bytes
/// (`A-Za-z0-9-_.~`) and `%XX` escapes, upper-case, of bytes that are not unreserved. (The
/// same as `uri_encode(decode(raw)) == raw`, without copying a secret value to compare it.)
fn check_encoding(raw: &str) -> Result<(), BadEncoding> {
    let unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~');
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b if unreserved(b) => i += 1,
            b'%' => {
                let digit = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
                let (Some(high), Some(low)) = (digit(i + 1), digit(i + 2)) else {
                    return Err(BadEncoding::Malformed);
                };
                let upper = bytes[i + 1..i + 3].iter().all(|b| !b.is_ascii_lowercase());
                if !upper || unreserved((high << 4 | low) as u8) {
                    return Err(BadEncoding::NotCanonical);
                }
                i += 3;
            }
            _ => return Err(BadEncoding::NotCanonical),
        }
    }
    Ok(())
}

/// Decodes `%XX` escapes (the input is known to be canonically encoded). The output buffer is
/// sized up front and never grows, so a secret value leaves no copy behind.
fn percent_decode(text: &str) -> Result<String, Rejection> {
    let (mut bytes, well_formed) = decode_percent_escapes(text.as_bytes());
    if !well_formed {
        bytes.zeroize();
        return reject("the token has a malformed %-escape");
    }
    String::from_utf8(bytes).map_err(|e| {
        e.into_bytes().zeroize();
        Rejection("the token has a %-escape that is not UTF-8".into())
    })
}

/// `raw` with its %-escapes decoded, and whether all of them were well formed (a malformed
/// one is kept as it is: the redaction of rejections decodes whatever a client sent).
fn decode_percent_escapes(raw: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(raw.len());
    let mut well_formed = true;
    let mut i = 0;
    while i < raw.len() {
        let hex = raw
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (raw[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                well_formed &= b != b'%';
                out.push(b);
                i += 1;
            }
        }
    }
    (out, well_formed)
}

/// Text from a token, as a rejection quotes it: at most 80 bytes, escaped (a token is at most
/// 16 KB, and rejections go to server logs).
fn quote(text: &str) -> String {
    shorten(text).escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Why a server for user `u` at db.example.com:5432 (us-east-1) with no keys refuses `token`.
    fn rejection(token: &str) -> String {
        let endpoints = vec!["db.example.com:5432".to_string()];
        let expect = Expectation {
            kind: TokenKind::Rds,
            endpoints: &endpoints,
            region: "us-east-1",
            user: "u",
        };
        let now = UtcSeconds::from_unix(1_800_000_000);
        verify(token, &expect, &Keystore::default(), now)
            .unwrap_err()
            .0
    }

    #[test]
    fn a_session_token_moved_by_a_mangled_token_is_never_quoted() {
        // Fuzz finding (verify_bytes): a session token spliced into a parameter name came back
        // in "unexpected parameter '...'". Also a lost '=' or '&' around the session token.
        let session = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+abc/def==";
        let encoded = session
            .replace('/', "%2F")
            .replace('+', "%2B")
            .replace('=', "%3D");
        let rest = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20270115%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20270115T080000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
        // (token, whether the rejection would quote the moved session token)
        let cases = [
            (
                format!(
                    "db.example.com:5432/?Action{session}=connect&DBUser=u&{rest}&X-Amz-Security-Token={encoded}"
                ),
                true,
            ),
            (
                // A lost '=': refused before anything is quoted.
                format!(
                    "db.example.com:5432/?Action=connect&DBUser=u&{rest}&X-Amz-Security-Token{encoded}"
                ),
                false,
            ),
            (
                format!(
                    "db.example.com:5432/?Action=connect{encoded}&DBUser=u&{rest}&X-Amz-Security-Token={encoded}"
                ),
                true,
            ),
            (
                format!(
                    "db.example.com:5432/?Action=connect&DBUser=u{encoded}&{rest}&X-Amz-Security-Token={encoded}"
                ),
                true,
            ),
        ];
        for (token, quotes_it) in cases {
            let why = rejection(&token);
            for text in [session, encoded.as_str()] {
                for run in text.as_bytes().windows(SESSION_TOKEN_RUN) {
                    let run = std::str::from_utf8(run).unwrap();
                    assert!(!why.contains(run), "{why:?} repeats {run:?}");
                }
            }
            assert_eq!(why.contains("<redacted>"), quotes_it, "{why}");
        }
        // Text that is not the session token's stays as it was.
        let plain = format!(
            "db.example.com:5432/?Action=connect&DBUser=u&Bogus=1&{rest}&X-Amz-Security-Token={encoded}"
        );
        let why = rejection(&plain);
        assert_eq!(why, "the token has an unexpected parameter 'Bogus'");
    }

    #[test]
    fn a_password_that_is_not_a_token_is_never_quoted_in_the_rejection() {
        for password in [
            "hunter2",
            "hunter2/?",
            "hunter2/?x=hunter2",
            "hunter2/?Action=connect&DBUser=hunter2",
            "hunter2/?X-Amz-Signature=hunter2",
            "hunter2:5432/?hunter2=1&X-Amz-Credential=hunter2",
        ] {
            let why = rejection(password);
            assert!(why.starts_with("not a token"), "{password:?}: {why}");
            assert!(!why.contains("hunter2"), "{password:?} quoted: {why}");
        }
    }

    #[test]
    fn rejections_quote_at_most_a_short_prefix_of_what_the_token_says() {
        // Review finding: a 16 KB token's endpoint, parameter names or values came back whole
        // in the rejection, which goes to server logs.
        let long = "x".repeat(15_000);
        let tail = "X-Amz-Credential=k&X-Amz-Signature=s";
        for token in [
            format!("{long}:5432/?{tail}"),
            format!("db.example.com:5432/?{long}=1&{tail}"),
            format!("db.example.com:5432/?Action={long}&{tail}"),
            format!("db.example.com:5432/?Action=connect&DBUser={long}&{tail}"),
            format!(
                "db.example.com:5432/?Action=connect&DBUser=u&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host&X-Amz-Date={long}&{tail}"
            ),
            format!(
                "db.example.com:5432/?Action=connect&DBUser=u&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host&X-Amz-Date=20260102T030405Z&X-Amz-Expires={long}&{tail}"
            ),
            format!("db.example.com:5432/?{}=1&{tail}", "%".repeat(15_000)),
        ] {
            let why = rejection(&token);
            assert!(why.len() < 400, "{} bytes: {}", why.len(), &why[..200]);
        }
    }

    #[test]
    fn the_encoding_check_is_the_encoders_round_trip() {
        use iam_db_auth::sign::uri_encode;
        for text in [
            "",
            "abc",
            "a b+c/d=e&f",
            "é~-_.",
            "%",
            "\u{1}\u{7f}",
            "日本",
        ] {
            assert!(check_encoding(&uri_encode(text)).is_ok(), "{text:?}");
        }
        for (raw, malformed) in [
            ("a b", false),
            ("a+b", false),
            ("%41", false),
            ("%2b", false),
            ("%2", true),
            ("%zz", true),
            ("%+1", true),
            ("100%", true),
        ] {
            let bad = check_encoding(raw).unwrap_err();
            assert_eq!(matches!(bad, BadEncoding::Malformed), malformed, "{raw:?}");
        }
    }

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
