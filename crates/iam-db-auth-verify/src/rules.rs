//! What AWS refuses, one rule a function, each given only what it needs: the endpoint, the
//! parameters, the action and user, the algorithm and signed headers, the signing date and
//! lifetime, the credential scope (region, service), the time of use, and the key (known,
//! not expired, with a session token exactly when it is temporary).
//!
//! The verifier applies them in the order of [`crate::verify`]'s steps; the first that fails
//! names the reason.

use crate::keystore::{KeyEntry, Keystore};
use crate::parse::Params;
use crate::redact::quote;
use crate::{Expectation, MAX_FUTURE_SKEW, Rejection, reject};
use iam_db_auth::{TokenKind, UtcSeconds};
use subtle::ConstantTimeEq;

/// When the token was signed and until when it says it is valid.
pub(crate) struct Dated<'p> {
    /// `X-Amz-Date` as written (it goes into the string to sign).
    pub(crate) amz_date: &'p str,
    pub(crate) signed_at: UtcSeconds,
    pub(crate) expires_at: UtcSeconds,
}

/// The credential scope: `KEY/DATE/REGION/SERVICE/aws4_request`.
pub(crate) struct Scope<'p> {
    pub(crate) access_key_id: &'p str,
    pub(crate) date: &'p str,
    pub(crate) region: &'p str,
    pub(crate) service: &'p str,
}

/// The token names one of the endpoints this server answers to (case-insensitively), without
/// a URL scheme.
pub(crate) fn endpoint(endpoint: &str, expect: &Expectation<'_>) -> Result<(), Rejection> {
    if endpoint.contains("://") {
        return reject("the token starts with a URL scheme; tokens are sent without 'https://'");
    }
    if !expect
        .endpoints
        .iter()
        .any(|e| e.eq_ignore_ascii_case(endpoint))
    {
        return reject(format!(
            "the token was signed for '{}', not for this server ({})",
            quote(endpoint),
            expect.endpoints.join(", ")
        ));
    }
    Ok(())
}

/// Every parameter is one this kind of token has.
pub(crate) fn known_parameters(params: &Params<'_>, kind: TokenKind) -> Result<(), Rejection> {
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
    match params.iter().find(|p| !allowed.contains(&p.key.as_str())) {
        Some(unknown) => reject(format!(
            "the token has an unexpected parameter '{}'",
            quote(&unknown.key)
        )),
        None => Ok(()),
    }
}

/// The action is this kind's, the user (for kinds with one) is the one logging in, and an
/// ElastiCache resource type is a serverless cache.
pub(crate) fn action_and_user(
    params: &Params<'_>,
    expect: &Expectation<'_>,
) -> Result<(), Rejection> {
    let kind = expect.kind;
    let action = params.require("Action")?;
    if action != kind.action() {
        return reject(format!(
            "Action is '{}'; this server requires '{}'",
            quote(action),
            kind.action()
        ));
    }
    if let Some(user_param) = kind.user_parameter() {
        let user = params.require(user_param)?;
        if user != expect.user {
            return reject(format!(
                "the token is for user '{}', not '{}'",
                quote(user),
                expect.user
            ));
        }
    }
    if let Some(resource_type) = params.get("ResourceType")
        && resource_type != "ServerlessCache"
    {
        return reject(format!(
            "ResourceType '{}' is not ServerlessCache",
            quote(resource_type)
        ));
    }
    Ok(())
}

/// Signed with SigV4's HMAC-SHA256 over the host header alone.
pub(crate) fn algorithm_and_headers(params: &Params<'_>) -> Result<(), Rejection> {
    if params.require("X-Amz-Algorithm")? != "AWS4-HMAC-SHA256" {
        return reject("X-Amz-Algorithm is not AWS4-HMAC-SHA256");
    }
    if params.require("X-Amz-SignedHeaders")? != "host" {
        return reject("X-Amz-SignedHeaders must be exactly 'host'");
    }
    Ok(())
}

/// A readable signing time, and a lifetime this kind of token may have.
pub(crate) fn lifetime<'p>(
    params: &'p Params<'_>,
    kind: TokenKind,
) -> Result<Dated<'p>, Rejection> {
    let (amz_date, signed_at) = params.signing_time()?;
    let expires_in = params.expires_in()?;
    if expires_in == 0 || expires_in > u64::from(kind.max_expires_in()) {
        return reject(format!(
            "X-Amz-Expires is {expires_in}; {} tokens last 1 to {} s",
            kind,
            kind.max_expires_in()
        ));
    }
    Ok(Dated {
        amz_date,
        signed_at,
        expires_at: signed_at.plus(expires_in),
    })
}

/// The credential scope is well formed, dated on the signing day, and names this server's
/// region and this kind's service.
pub(crate) fn credential_scope<'p>(
    params: &'p Params<'_>,
    dated: &Dated<'_>,
    expect: &Expectation<'_>,
) -> Result<Scope<'p>, Rejection> {
    let credential = params.require("X-Amz-Credential")?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = scope[..] else {
        return reject("X-Amz-Credential is not KEY/DATE/REGION/SERVICE/aws4_request");
    };
    if terminator != "aws4_request" {
        return reject("X-Amz-Credential does not end in aws4_request");
    }
    let signing_day = &dated.amz_date[..8];
    if date != signing_day {
        return reject(format!(
            "the credential scope date '{}' is not the signing date {signing_day}",
            quote(date),
        ));
    }
    if region != expect.region {
        return reject(format!(
            "the token is signed for region '{}', this server is in '{}'",
            quote(region),
            expect.region
        ));
    }
    if service != expect.kind.service() {
        return reject(format!(
            "the token is signed for service '{}', not '{}'",
            quote(service),
            expect.kind.service()
        ));
    }
    Ok(Scope {
        access_key_id,
        date,
        region,
        service,
    })
}

/// At `now`, the token is not signed in the future (beyond [`MAX_FUTURE_SKEW`]) and has not
/// expired.
pub(crate) fn in_time(dated: &Dated<'_>, now: UtcSeconds) -> Result<(), Rejection> {
    if dated.signed_at > now.plus(MAX_FUTURE_SKEW) {
        return reject(format!(
            "the token is signed at {}, in the future (server time {})",
            dated.signed_at.rfc3339(),
            now.rfc3339()
        ));
    }
    if now > dated.expires_at {
        return reject(format!(
            "the token expired at {} (signed {}, server time {})",
            dated.expires_at.rfc3339(),
            dated.signed_at.rfc3339(),
            now.rfc3339()
        ));
    }
    Ok(())
}

/// The signing key is known, its credentials have not expired, and the token carries a
/// session token exactly when the key is temporary: the key's own.
pub(crate) fn key<'k>(
    keys: &'k Keystore,
    scope: &Scope<'_>,
    params: &Params<'_>,
    now: UtcSeconds,
) -> Result<&'k KeyEntry, Rejection> {
    let access_key_id = scope.access_key_id;
    let Some(key) = keys.get(access_key_id) else {
        return reject(format!("unknown access key '{}'", quote(access_key_id)));
    };
    if let Some(expired_at) = key.expires.filter(|at| now > *at) {
        return reject(format!(
            "the credentials of key '{access_key_id}' expired at {} (server time {})",
            expired_at.rfc3339(),
            now.rfc3339()
        ));
    }
    match (&key.session_token, params.get("X-Amz-Security-Token")) {
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
    Ok(key)
}

/// The signature is written as SigV4 writes one: 64 lower-case hex digits.
pub(crate) fn signature_format<'p>(params: &'p Params<'_>) -> Result<&'p str, Rejection> {
    let signature = params.require("X-Amz-Signature")?;
    if signature.len() != 64
        || !signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return reject("X-Amz-Signature is not 64 lower-case hex digits");
    }
    Ok(signature)
}
