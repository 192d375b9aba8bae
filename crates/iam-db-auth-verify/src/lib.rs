//! The verifier: checks a token as AWS does, for the local stand-ins of RDS (PAM behind
//! MariaDB and PostgreSQL) and for tests.
//!
//! It parses the token on its own terms (any parameter order, strict encoding), rebuilds the
//! canonical request from the parsed parameters (a path independent of the signer's), derives
//! the signing key from a known secret and compares signatures in constant time. It also
//! checks everything AWS would refuse: the action, user, host and port, region, service,
//! algorithm, signed headers, date, lifetime, expiry with a small clock skew, and that a
//! session token is present exactly when the key is temporary.
//!
//! Files, one job each:
//! - `parse.rs`: the token's endpoint and query parameters, their strict encoding, the
//!   %-decoder, the signing time and lifetime the token claims;
//! - `rules.rs`: what AWS refuses, one rule a function;
//! - `keystore.rs`: the known keys (the stand-in for IAM);
//! - `canonical.rs`: the canonical request, string to sign and signature comparison, over
//!   aws-sigv4's primitives and never the signer's code;
//! - `redact.rs`: what a rejection may quote of the token.

#![forbid(unsafe_code)]

mod canonical;
mod keystore;
mod parse;
mod redact;
mod rules;

pub use keystore::Keystore;

use iam_db_auth::TokenKind;
use iam_db_auth::UtcSeconds;
use parse::Params;
use redact::redact_session_token;

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

/// When a token says it was signed, and when it stops being valid by its own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    /// `X-Amz-Date`.
    pub signed_at: UtcSeconds,
    /// `X-Amz-Date` plus `X-Amz-Expires`.
    pub expires_at: UtcSeconds,
}

/// Reads a token's [`Lifetime`] with the verifier's parser, and checks nothing else: not the
/// key, the endpoint, the clock, nor whether the service accepts that lifetime. For tools that
/// keep tokens (a passfile) and want to know how long one lasts without a keystore.
pub fn lifetime(token: &str) -> Result<Lifetime, Rejection> {
    read_lifetime(token).map_err(|why| Rejection(redact_session_token(token, why.0)))
}

fn read_lifetime(token: &str) -> Result<Lifetime, Rejection> {
    let (_, query) = parse::split(token)?;
    let params = Params::parse(query)?;
    let (_, signed_at) = params.signing_time()?;
    let expires_in = params.expires_in()?;
    Ok(Lifetime {
        signed_at,
        expires_at: signed_at.plus(expires_in),
    })
}

/// The verification, step by step; the first step that fails says why.
fn check(
    token: &str,
    expect: &Expectation<'_>,
    keys: &Keystore,
    now: UtcSeconds,
) -> Result<Verified, Rejection> {
    let (endpoint, query) = parse::split(token)?;
    rules::endpoint(endpoint, expect)?;
    let params = Params::parse(query)?;
    rules::known_parameters(&params, expect.kind)?;
    rules::action_and_user(&params, expect)?;
    rules::algorithm_and_headers(&params)?;
    let dated = rules::lifetime(&params, expect.kind)?;
    let scope = rules::credential_scope(&params, &dated, expect)?;
    rules::in_time(&dated, now)?;
    let key = rules::key(keys, &scope, &params, now)?;
    let signature = rules::signature_format(&params)?;
    canonical::signature_matches(
        &params,
        endpoint,
        expect.kind,
        &dated,
        &scope,
        &key.secret,
        signature,
    )?;
    Ok(Verified {
        access_key_id: scope.access_key_id.to_string(),
        temporary: params.get("X-Amz-Security-Token").is_some(),
        signed_at: dated.signed_at,
        // The token stops working with the credentials that signed it.
        expires_at: key
            .expires
            .map_or(dated.expires_at, |at| at.min(dated.expires_at)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::SESSION_TOKEN_RUN;

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
        // A session token spliced into a parameter name (quoted by "unexpected parameter"), or
        // moved by a lost '=' or '&' around it.
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
        // A 16 KB endpoint, parameter name or value: the rejection goes to server logs.
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
    fn lifetime_reads_the_signing_time_and_expiry_and_nothing_else() {
        let token = "db.example.com:5432/?Action=connect&DBUser=app&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20240826%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20240826T220000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=abc";
        let read = lifetime(token).unwrap();
        assert_eq!(read.signed_at.rfc3339(), "2024-08-26T22:00:00Z");
        assert_eq!(read.expires_at.rfc3339(), "2024-08-26T22:15:00Z");
        // The verifier's parser: strict encoding, no repeated parameter, a canonical number.
        for (bad, why) in [
            ("plainpassword", "not a token"),
            ("h:1/?X-Amz-Date=bad&X-Amz-Expires=900", "not a token"),
            (
                "h:1/?X-Amz-Credential=k&X-Amz-Signature=s&X-Amz-Date=bad&X-Amz-Expires=900",
                "is not YYYYMMDDTHHMMSSZ",
            ),
            (
                "h:1/?X-Amz-Credential=k&X-Amz-Signature=s&X-Amz-Date=20240826T220000Z&X-Amz-Expires=0900",
                "not a number of seconds",
            ),
            (
                "h:1/?X-Amz-Credential=k&X-Amz-Signature=s&X-Amz-Date=20240826T220000Z",
                "no X-Amz-Expires",
            ),
            (
                "h:1/?X-Amz-Credential=k&X-Amz-Signature=s&X-Amz-Date=20240826T220000Z&X-Amz-Expires=900&X-Amz-Expires=1",
                "appears twice",
            ),
            (
                "h:1/?X-Amz-Credential=k&X-Amz-Signature=s&X-Amz-Date=20240826T220000Z&X-Amz-Expires=900&x=a b",
                "not canonically encoded",
            ),
        ] {
            let got = lifetime(bad).unwrap_err().0;
            assert!(got.contains(why), "{bad}: {got}");
        }
    }
}
