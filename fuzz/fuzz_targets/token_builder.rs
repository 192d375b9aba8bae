//! The token builder on arbitrary requests: every field of `TokenRequest`, any region, any
//! signing time and clock, both kinds of credentials, through `TokenRequest::validate` and
//! `engine::token_with` (no cache, no credential chain, no clock).
//!
//! Properties: no panic; `token_with` fails whenever validation fails; when it succeeds, the
//! verifier accepts the token for exactly the request's endpoint, user and region, its
//! lifetime is the one asked for, it carries the session token exactly when the credentials
//! are temporary, and it never contains a secret; messages stay short.
#![no_main]

use arbitrary::Arbitrary;
use fuzz_support::{contains_secret, credentials, keystore};
use iam_db_auth::{TokenKind, TokenRequest, UtcSeconds, token_with};
use iam_db_auth_verify::{Expectation, verify};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, UNIX_EPOCH};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    kind: u8,
    host: &'a str,
    port: u16,
    user: &'a str,
    region: Option<&'a str>,
    signing_region: &'a str,
    signing_host: Option<&'a str>,
    signing_port: Option<u16>,
    profile: Option<&'a str>,
    expires_in: Option<u32>,
    serverless: bool,
    use_cache: bool,
    signing_time: Option<u64>,
    clock: i64,
    creds: u8,
}

fuzz_target!(|input: Input<'_>| {
    let kind = TokenKind::ALL[usize::from(input.kind) % TokenKind::ALL.len()];
    let request = TokenRequest {
        kind,
        host: input.host,
        port: input.port,
        user: input.user,
        region: input.region,
        signing_host: input.signing_host,
        signing_port: input.signing_port,
        profile: input.profile,
        expires_in: input.expires_in,
        serverless: input.serverless,
        use_cache: input.use_cache,
        signing_time: input.signing_time.map(UtcSeconds::from_unix),
    };
    let creds = credentials(input.creds);
    // The system clock, anywhere SystemTime reaches, before 1970 included.
    let offset = Duration::from_secs(input.clock.unsigned_abs());
    let clock = if input.clock < 0 {
        UNIX_EPOCH.checked_sub(offset)
    } else {
        UNIX_EPOCH.checked_add(offset)
    }
    .unwrap_or(UNIX_EPOCH);
    let valid = request.validate();
    let made = token_with(&request, input.signing_region, &creds, clock);
    let token = match (valid, made) {
        (Err(e), Ok(_)) => panic!("token_with made a token for an invalid request: {e}"),
        (_, Err(e)) => {
            assert!(e.message().len() <= 2048, "{} bytes", e.message().len());
            // Messages quote the caller's input, so a secret the fuzzer typed in may be echoed.
            let typed = [input.host, input.user, input.signing_region]
                .into_iter()
                .chain(
                    [input.region, input.signing_host, input.profile]
                        .into_iter()
                        .flatten(),
                )
                .any(|s| contains_secret(s.as_bytes()));
            assert!(typed || !contains_secret(e.message().as_bytes()));
            return;
        }
        (Ok(()), Ok(token)) => token,
    };

    let text = token.as_str();
    assert!(!contains_secret(text.as_bytes()), "a secret in the token");
    let temporary = input.creds % 2 == 1;
    assert_eq!(text.contains("&X-Amz-Security-Token="), temporary, "{text}");
    let expires = format!("&X-Amz-Expires={}&", request.effective_expires_in());
    assert!(text.contains(&expires), "{text} lacks {expires}");
    assert!(token.expires_at() > token.signed_at());

    let host = request.effective_signing_host();
    let endpoint = if kind.signs_port() {
        format!("{host}:{}", request.effective_signing_port())
    } else {
        host.to_string()
    };
    let endpoints = [endpoint];
    let expect = Expectation {
        kind,
        endpoints: &endpoints,
        region: input.signing_region,
        user: request.effective_user(),
    };
    let signed_at = UtcSeconds::from_system_time(token.signed_at()).unwrap();
    if let Err(why) = verify(text, &expect, &keystore(), signed_at) {
        panic!(
            "the verifier refused a token we made: {why}\n  token: {text}\n  request: {request:?}"
        );
    }
});
