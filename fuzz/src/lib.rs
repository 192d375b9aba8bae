//! What the fuzz targets share: fixed credentials, tokens we made with them, and the
//! verifier oracle ("an accepted token is one of ours, byte for byte up to parameter order and
//! host case").
//!
//! Kept out of the targets so each target file is only its input shape and its properties.

use iam_db_auth::sign::{Presign, presign};
use iam_db_auth::{AwsCredentials, TokenKind, UtcSeconds};
use iam_db_auth_verify::{Expectation, Keystore};
use std::collections::BTreeMap;

/// A long-term key the fuzz keystore knows. The secret is recognisable, so a target can
/// assert it never shows up in a token, a message or a log.
pub const LONG_TERM_ID: &str = "AKIAFUZZLONGTERM0001";
/// Its secret.
pub const LONG_TERM_SECRET: &str = "FuzzSecretLongTerm/0123456789+abcdefghijk";
/// A temporary key the fuzz keystore knows.
pub const TEMPORARY_ID: &str = "ASIAFUZZTEMPORARY001";
/// Its secret.
pub const TEMPORARY_SECRET: &str = "FuzzSecretTemporary/0123456789+abcdefghij";
/// Its session token: '/', '+' and '=' as real ones have.
pub const SESSION_TOKEN: &str = "FuzzSessionToken//////////wEaDH+abc/def+ghi==";

/// The signing time of every known token: 2026-01-02T03:04:05Z.
pub const SIGNED_AT: u64 = 1_767_323_045;

/// The credentials selected by a fuzz byte: even is the long-term key, odd the temporary one.
pub fn credentials(selector: u8) -> AwsCredentials {
    if selector.is_multiple_of(2) {
        AwsCredentials::new(LONG_TERM_ID, LONG_TERM_SECRET, None, None, "fuzz")
    } else {
        AwsCredentials::new(
            TEMPORARY_ID,
            TEMPORARY_SECRET,
            Some(SESSION_TOKEN.to_string()),
            None,
            "fuzz",
        )
    }
}

/// The verifier's view of both keys.
pub fn keystore() -> Keystore {
    let mut keys = Keystore::default();
    keys.add(LONG_TERM_ID, LONG_TERM_SECRET, None);
    keys.add(TEMPORARY_ID, TEMPORARY_SECRET, Some(SESSION_TOKEN));
    keys
}

/// Whether `text` contains any secret part of the fuzz credentials.
pub fn contains_secret(text: &[u8]) -> bool {
    [LONG_TERM_SECRET, TEMPORARY_SECRET, SESSION_TOKEN]
        .iter()
        .any(|s| text.windows(s.len()).any(|w| w == s.as_bytes()))
}

/// A token we made, and what a server expecting it is configured with.
pub struct Known {
    /// The token text.
    pub token: String,
    /// The token kind the server takes.
    pub kind: TokenKind,
    /// The endpoint it answers to (as the token names it).
    pub endpoint: String,
    /// Its region.
    pub region: &'static str,
    /// The user logging in.
    pub user: &'static str,
}

impl Known {
    /// The server's expectation, borrowing `endpoints` (which must hold `self.endpoint`).
    pub fn expectation<'a>(&'a self, endpoints: &'a [String]) -> Expectation<'a> {
        Expectation {
            kind: self.kind,
            endpoints,
            region: self.region,
            user: self.user,
        }
    }

    /// A time at which the token is valid.
    pub fn now(&self) -> UtcSeconds {
        UtcSeconds::from_unix(SIGNED_AT + 60)
    }
}

/// The known tokens: every kind, both keys, users that need encoding, port 443.
pub fn known_tokens() -> Vec<Known> {
    struct Case {
        kind: TokenKind,
        host: &'static str,
        port: u16,
        user: &'static str,
        region: &'static str,
        expires_in: u32,
        serverless: bool,
        creds: u8,
    }
    let cases = [
        Case {
            kind: TokenKind::Rds,
            host: "mydb.c9akciq32.us-east-1.rds.amazonaws.com",
            port: 5432,
            user: "app_user",
            region: "us-east-1",
            expires_in: 900,
            serverless: false,
            creds: 0,
        },
        Case {
            kind: TokenKind::Rds,
            host: "MyDB.cluster-c9akciq32.eu-west-3.rds.amazonaws.com",
            port: 3306,
            user: "a+b@c/d é",
            region: "eu-west-3",
            expires_in: 900,
            serverless: false,
            creds: 1,
        },
        Case {
            kind: TokenKind::Rds,
            host: "db.internal",
            port: 443,
            user: "admin",
            region: "us-gov-west-1",
            expires_in: 900,
            serverless: false,
            creds: 0,
        },
        Case {
            kind: TokenKind::DsqlAdmin,
            host: "abcdefghijklmnopqrst.dsql.us-east-1.on.aws",
            port: 0,
            user: "admin",
            region: "us-east-1",
            expires_in: 3600,
            serverless: false,
            creds: 1,
        },
        Case {
            kind: TokenKind::ElastiCache,
            host: "My-Cache",
            port: 0,
            user: "app",
            region: "us-west-2",
            expires_in: 900,
            serverless: true,
            creds: 0,
        },
        Case {
            kind: TokenKind::MemoryDb,
            host: "mycluster",
            port: 0,
            user: "u",
            region: "ap-southeast-2",
            expires_in: 60,
            serverless: false,
            creds: 1,
        },
    ];
    cases
        .iter()
        .map(|c| {
            let creds = credentials(c.creds);
            let token = presign(
                &Presign {
                    kind: c.kind,
                    host: c.host,
                    port: c.port,
                    user: c.user,
                    region: c.region,
                    expires_in: c.expires_in,
                    time: UtcSeconds::from_unix(SIGNED_AT),
                    serverless: c.serverless,
                },
                &creds.signing(),
            );
            let endpoint = token.split_once("/?").expect("token has /?").0.to_string();
            Known {
                token: token.to_string(),
                kind: c.kind,
                endpoint,
                region: c.region,
                user: c.user,
            }
        })
        .collect()
}

/// The endpoint (lower-cased) and raw query parameters of a token, parsed independently of
/// the verifier; `None` if it is not shaped like a token or a parameter repeats.
pub fn raw_parts(token: &str) -> Option<(String, BTreeMap<&str, &str>)> {
    let (endpoint, query) = token.split_once("/?")?;
    let mut params = BTreeMap::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=')?;
        if params.insert(k, v).is_some() {
            return None;
        }
    }
    Some((endpoint.to_ascii_lowercase(), params))
}

/// The oracle: the verifier accepted `token` for the server of `known`, so it must be
/// `known.token` up to parameter order and the case of the host. Anything else means the
/// verifier accepted a token whose signature we did not make. Panics (a fuzz finding) if not.
pub fn assert_accepted_token_is_ours(token: &str, known: &Known) {
    let ours = raw_parts(&known.token).expect("known tokens parse");
    match raw_parts(token) {
        Some(theirs) if theirs == ours => {}
        _ => panic!(
            "the verifier accepted a token that is not one we made:\n  ours:     {}\n  accepted: {:?}",
            known.token, token
        ),
    }
}
