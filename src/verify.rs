//! The verifier: checks a token as AWS does, for the local stand-ins of RDS (PAM behind
//! MariaDB and PostgreSQL) and for tests.
//!
//! It parses the token on its own terms (any parameter order, strict encoding), rebuilds the
//! canonical request from the parsed parameters (a path independent of the signer's), derives
//! the signing key from a known secret and compares signatures in constant time. It also
//! checks everything AWS would refuse: the action, user, host and port, region, service,
//! algorithm, signed headers, date, lifetime, expiry with a small clock skew, and that a
//! session token is present exactly when the key is temporary.

use crate::kind::TokenKind;
use crate::sign::{SigningKey, string_to_sign, uri_encode};
use crate::timestamp::UtcSeconds;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

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
                    let Some(at) = UtcSeconds::parse_rfc3339(expiration) else {
                        return Err(format!(
                            "keystore line {}: expiration '{expiration}' is not RFC 3339",
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
            "the token was signed for '{endpoint}', not for this server ({})",
            expect.endpoints.join(", ")
        ));
    }

    let params = parse_query(query)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
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
    if let Some((unknown, _)) = params.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return reject(format!("the token has an unexpected parameter '{unknown}'"));
    }
    let require = |name: &str| {
        get(name).ok_or_else(|| Rejection(format!("the token has no {name} parameter")))
    };

    let action = require("Action")?;
    if action != kind.action() {
        return reject(format!(
            "Action is '{action}'; this server requires '{}'",
            kind.action()
        ));
    }
    if let Some(user_param) = kind.user_parameter() {
        let user = require(user_param)?;
        if user != expect.user {
            return reject(format!(
                "the token is for user '{user}', not '{}'",
                expect.user
            ));
        }
    }
    if let Some(resource_type) = get("ResourceType") {
        if resource_type != "ServerlessCache" {
            return reject(format!(
                "ResourceType '{resource_type}' is not ServerlessCache"
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
        return reject(format!("X-Amz-Date '{amz_date}' is not YYYYMMDDTHHMMSSZ"));
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
            "the credential scope date {date} is not the signing date {}",
            &amz_date[..8]
        ));
    }
    if region != expect.region {
        return reject(format!(
            "the token is signed for region '{region}', this server is in '{}'",
            expect.region
        ));
    }
    if service != kind.service() {
        return reject(format!(
            "the token is signed for service '{service}', not '{}'",
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
        return reject(format!("unknown access key '{access_key_id}'"));
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

    // The canonical request, rebuilt from what the token says.
    let mut signed: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (uri_encode(k), uri_encode(v)))
        .collect();
    signed.sort();
    let canonical_query = signed
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let host_header = match endpoint_lower.strip_suffix(":443") {
        Some(bare) if kind.signs_port() => bare.to_string(),
        _ => endpoint_lower.clone(),
    };
    let canonical_request = Zeroizing::new(format!(
        "GET\n/\n{canonical_query}\nhost:{host_header}\n\nhost\n{}",
        hex::encode(Sha256::digest(b""))
    ));
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = string_to_sign(amz_date, &scope, canonical_request.as_bytes());
    let signing_key = SigningKey::derive(&key.secret, signed_at, region, kind.service());
    let expected = signing_key.sign(to_sign.as_bytes());
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
        return reject(format!("X-Amz-Expires '{text}' is not a number of seconds"));
    }
    Ok(text.parse().unwrap_or(0))
}

/// Splits and decodes the query. Every key and value must be in SigV4's canonical encoding
/// (what every AWS SDK emits), and no key may repeat.
fn parse_query(query: &str) -> Result<Vec<(String, String)>, Rejection> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in query.split('&') {
        let Some((raw_key, raw_value)) = pair.split_once('=') else {
            return reject("the token has a query parameter without '='");
        };
        let key = percent_decode(raw_key)?;
        let value = percent_decode(raw_value)?;
        if uri_encode(&key) != raw_key {
            return reject(format!(
                "parameter name '{}' is not canonically encoded",
                key.escape_debug()
            ));
        }
        if uri_encode(&value) != raw_value {
            return reject(format!("the value of {key} is not canonically encoded"));
        }
        if params.iter().any(|(k, _)| *k == key) {
            return reject(format!("parameter {key} appears twice"));
        }
        params.push((key, value));
    }
    Ok(params)
}

fn percent_decode(text: &str) -> Result<String, Rejection> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => out.push(b),
                None => return reject("the token has a malformed %-escape"),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Rejection("the token has a %-escape that is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_that_is_not_a_token_is_never_quoted_in_the_rejection() {
        let endpoints = vec!["db.example.com:5432".to_string()];
        let expect = Expectation {
            kind: TokenKind::Rds,
            endpoints: &endpoints,
            region: "us-east-1",
            user: "u",
        };
        let keys = Keystore::default();
        let now = UtcSeconds::from_unix(1_800_000_000);
        for password in [
            "hunter2",
            "hunter2/?",
            "hunter2/?x=hunter2",
            "hunter2/?Action=connect&DBUser=hunter2",
            "hunter2/?X-Amz-Signature=hunter2",
            "hunter2:5432/?hunter2=1&X-Amz-Credential=hunter2",
        ] {
            let why = verify(password, &expect, &keys, now).unwrap_err().0;
            assert!(why.starts_with("not a token"), "{password:?}: {why}");
            assert!(!why.contains("hunter2"), "{password:?} quoted: {why}");
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
