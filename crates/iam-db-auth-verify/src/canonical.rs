//! The signature the token should carry, rebuilt from what the token says: its own canonical
//! request and string to sign, written here from the SigV4 specification over aws-sigv4's key
//! derivation and HMAC. Nothing here calls the signer (`iam_db_auth::sign`): the verifier is
//! an oracle for it, and an oracle that shares the signer's code shares its mistakes.

use crate::parse::Params;
use crate::rules::{Dated, Scope};
use crate::{Rejection, reject};
use iam_db_auth::SecretString;
use iam_db_auth::TokenKind;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The `host` header the signer signed: the endpoint in lower case, without `:443` for kinds
/// that sign the port (a client sends no port for HTTPS's default).
fn host_header(endpoint: &str, kind: TokenKind) -> String {
    let lower = endpoint.to_ascii_lowercase();
    match lower.strip_suffix(":443") {
        Some(bare) if kind.signs_port() => bare.to_string(),
        _ => lower,
    }
}

/// The canonical request of a presigned `GET /`: the token's parameters other than the
/// signature (raw, as they are canonically encoded) sorted by name, then value; the host
/// header; the hash of an empty payload.
fn canonical_request(params: &Params<'_>, host_header: &str) -> SecretString {
    let mut signed: Vec<(&str, &str)> = params
        .iter()
        .filter(|p| p.key != "X-Amz-Signature")
        .map(|p| (p.raw_key, p.raw_value))
        .collect();
    signed.sort_unstable();
    let query_len: usize = signed.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut request = SecretString::with_capacity(query_len + host_header.len() + 128);
    request.push_str("GET\n/\n");
    for (i, (k, v)) in signed.iter().enumerate() {
        if i > 0 {
            request.push('&');
        }
        request.push_str(k);
        request.push('=');
        request.push_str(v);
    }
    request.push_str("\nhost:");
    request.push_str(host_header);
    request.push_str("\n\nhost\n");
    request.push_str(&hex::encode(Sha256::digest(b"")));
    request
}

/// The string to sign: algorithm, time, scope and the canonical request's hash.
fn string_to_sign(amz_date: &str, scope: &Scope<'_>, canonical_request: &SecretString) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{}/{}/{}/aws4_request\n{}",
        scope.date,
        scope.region,
        scope.service,
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// Whether `signature` is the one `secret` makes for this token, compared in constant time.
pub(crate) fn signature_matches(
    params: &Params<'_>,
    endpoint: &str,
    kind: TokenKind,
    dated: &Dated<'_>,
    scope: &Scope<'_>,
    secret: &str,
    signature: &str,
) -> Result<(), Rejection> {
    let request = canonical_request(params, &host_header(endpoint, kind));
    let to_sign = string_to_sign(dated.amz_date, scope, &request);
    let signing_key = Zeroizing::new(
        aws_sigv4::sign::v4::generate_signing_key(
            secret,
            dated.signed_at.to_system_time(),
            scope.region,
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
            "the signature does not match (wrong secret for key '{}', or the token was altered)",
            scope.access_key_id
        ));
    }
    Ok(())
}
