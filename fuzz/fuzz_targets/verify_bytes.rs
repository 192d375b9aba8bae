//! The verifier's token parser on arbitrary bytes. The first byte picks one of the servers of
//! `fuzz_support::known_tokens` (seeded with their tokens), the rest is the password a client
//! sent.
//!
//! Properties: no panic; anything accepted is the server's own token up to parameter order
//! and host case (a token whose signature we did not make is never accepted); a rejection
//! never repeats a secret.
#![no_main]

use fuzz_support::{Known, assert_accepted_token_is_ours, contains_secret, keystore, known_tokens};
use iam_db_auth_verify::{Keystore, verify};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static KNOWN: LazyLock<Vec<Known>> = LazyLock::new(known_tokens);
static KEYS: LazyLock<Keystore> = LazyLock::new(keystore);

fuzz_target!(|data: &[u8]| {
    let Some((&which, password)) = data.split_first() else {
        return;
    };
    let known = &KNOWN[usize::from(which) % KNOWN.len()];
    // The CLI and the PAM path refuse non-UTF-8 before the parser; lossy keeps the bytes'
    // shape for it.
    let text = String::from_utf8_lossy(password);
    let endpoints = [known.endpoint.clone()];
    match verify(&text, &known.expectation(&endpoints), &KEYS, known.now()) {
        Ok(_) => assert_accepted_token_is_ours(&text, known),
        Err(why) => {
            assert!(
                !contains_secret(why.0.as_bytes()) || contains_secret(password),
                "{why}"
            );
            assert!(why.0.len() <= 4096, "{} bytes", why.0.len());
        }
    }
});
