//! Reading a token on its own terms: the endpoint and the query, each query parameter in
//! SigV4's canonical encoding (what every AWS SDK emits), in any order, none twice; the
//! signing time and the lifetime it claims. Nothing here decides whether AWS would accept it.

use crate::redact::quote;
use crate::{MAX_TOKEN_LEN, Rejection, reject};
use iam_db_auth::SecretString;
use iam_db_auth::UtcSeconds;
use zeroize::Zeroize;

/// The token's endpoint (`host:port` or the bare host) and its query, once the text looks like
/// a token. Until it does, no part of it is quoted back: the rejection goes to server logs,
/// and a mistyped password must not land there.
pub(crate) fn split(token: &str) -> Result<(&str, &str), Rejection> {
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
    let has = |name: &str| query.split('&').any(|p| p.starts_with(name));
    if !has("X-Amz-Signature=") || !has("X-Amz-Credential=") {
        return reject(
            "not a token: no X-Amz-Signature or X-Amz-Credential parameter (is this a plain password?)",
        );
    }
    Ok((endpoint, query))
}

/// One query parameter: its decoded name and value, and the raw (canonically encoded) text
/// as the token carries it. The value may be the session token or the signature: it lives in a
/// [`SecretString`].
pub(crate) struct Param<'t> {
    pub(crate) key: String,
    pub(crate) value: SecretString,
    pub(crate) raw_key: &'t str,
    pub(crate) raw_value: &'t str,
}

/// The query's parameters, in the token's order.
pub(crate) struct Params<'t>(Vec<Param<'t>>);

impl<'t> Params<'t> {
    /// Splits and decodes the query. Every key and value must be in SigV4's canonical
    /// encoding, and no key may repeat.
    pub(crate) fn parse(query: &'t str) -> Result<Params<'t>, Rejection> {
        let mut params: Vec<Param<'t>> = Vec::new();
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
        Ok(Params(params))
    }

    /// Every parameter, in the token's order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Param<'t>> {
        self.0.iter()
    }

    /// The decoded value of a parameter, if the token has it.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|p| p.key == name)
            .map(|p| p.value.as_str())
    }

    /// The decoded value of a parameter the token must have.
    pub(crate) fn require(&self, name: &str) -> Result<&str, Rejection> {
        self.get(name)
            .ok_or_else(|| Rejection(format!("the token has no {name} parameter")))
    }

    /// `X-Amz-Date` as the token writes it (`YYYYMMDDTHHMMSSZ`) and as a time.
    pub(crate) fn signing_time(&self) -> Result<(&str, UtcSeconds), Rejection> {
        let amz_date = self.require("X-Amz-Date")?;
        match UtcSeconds::parse_amz_date_time(amz_date) {
            Some(at) => Ok((amz_date, at)),
            None => reject(format!(
                "X-Amz-Date '{}' is not YYYYMMDDTHHMMSSZ",
                quote(amz_date)
            )),
        }
    }

    /// `X-Amz-Expires`: seconds, written as SigV4 writes a number (no sign, no leading zero,
    /// at most 7 digits). Whether the service accepts that lifetime is a rule, not parsing.
    pub(crate) fn expires_in(&self) -> Result<u64, Rejection> {
        let text = self.require("X-Amz-Expires")?;
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
}

/// What is wrong with a parameter's encoding.
pub(crate) enum BadEncoding {
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
pub(crate) fn check_encoding(raw: &str) -> Result<(), BadEncoding> {
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
pub(crate) fn decode_percent_escapes(raw: &[u8]) -> (Vec<u8>, bool) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
