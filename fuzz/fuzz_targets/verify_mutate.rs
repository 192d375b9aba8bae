//! The verifier against structured mutations of valid tokens: bytes flipped, inserted and
//! deleted, parameters swapped, dropped, repeated, replaced or added, case changed.
//!
//! Properties: the unchanged token is accepted; a changed one is accepted only if it is still
//! ours up to parameter order and host case; no panic.
#![no_main]

use arbitrary::Arbitrary;
use fuzz_support::{Known, assert_accepted_token_is_ours, keystore, known_tokens};
use iam_db_auth_verify::{Keystore, verify};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static KNOWN: LazyLock<Vec<Known>> = LazyLock::new(known_tokens);
static KEYS: LazyLock<Keystore> = LazyLock::new(keystore);

#[derive(Arbitrary, Debug)]
enum Mutation {
    SetByte { at: u16, byte: u8 },
    Insert { at: u16, bytes: Vec<u8> },
    Delete { at: u16, len: u8 },
    FlipCase { at: u16, len: u8 },
    SwapParams { a: u8, b: u8 },
    DropParam { a: u8 },
    RepeatParam { a: u8 },
    ReplaceValue { a: u8, value: String },
    AddParam { key: String, value: String },
    ReplaceEndpoint { endpoint: String },
}

#[derive(Arbitrary, Debug)]
struct Input {
    which: u8,
    mutations: Vec<Mutation>,
}

fn apply(token: &mut Vec<u8>, m: &Mutation) {
    let pos = |at: u16, len: usize| {
        if len == 0 {
            0
        } else {
            usize::from(at) % (len + 1)
        }
    };
    match m {
        Mutation::SetByte { at, byte } => {
            if !token.is_empty() {
                let i = usize::from(*at) % token.len();
                token[i] = *byte;
            }
        }
        Mutation::Insert { at, bytes } => {
            let i = pos(*at, token.len());
            token.splice(i..i, bytes.iter().copied());
        }
        Mutation::Delete { at, len } => {
            let i = pos(*at, token.len());
            let end = (i + usize::from(*len)).min(token.len());
            token.drain(i..end);
        }
        Mutation::FlipCase { at, len } => {
            let i = pos(*at, token.len());
            let end = (i + usize::from(*len)).min(token.len());
            for b in &mut token[i..end] {
                if b.is_ascii_alphabetic() {
                    *b ^= 0x20;
                }
            }
        }
        _ => {
            let text = String::from_utf8_lossy(token).into_owned();
            let (endpoint, query) = text.split_once("/?").unwrap_or((&text, ""));
            let mut params: Vec<String> = query.split('&').map(str::to_string).collect();
            let mut endpoint = endpoint.to_string();
            let n = params.len();
            let idx = |a: u8| usize::from(a) % n;
            match m {
                Mutation::SwapParams { a, b } => params.swap(idx(*a), idx(*b)),
                Mutation::DropParam { a } => {
                    params.remove(idx(*a));
                }
                Mutation::RepeatParam { a } => params.push(params[idx(*a)].clone()),
                Mutation::ReplaceValue { a, value } => {
                    let i = idx(*a);
                    let key = params[i]
                        .split_once('=')
                        .map_or(params[i].as_str(), |(k, _)| k);
                    params[i] = format!("{key}={value}");
                }
                Mutation::AddParam { key, value } => params.push(format!("{key}={value}")),
                Mutation::ReplaceEndpoint { endpoint: e } => endpoint = e.clone(),
                _ => unreachable!(),
            }
            *token = format!("{endpoint}/?{}", params.join("&")).into_bytes();
        }
    }
}

fuzz_target!(|input: Input| {
    let known = &KNOWN[usize::from(input.which) % KNOWN.len()];
    let endpoints = [known.endpoint.clone()];
    let expect = known.expectation(&endpoints);
    if input.mutations.is_empty() {
        if let Err(why) = verify(&known.token, &expect, &KEYS, known.now()) {
            panic!("the verifier refused one of our tokens: {why}");
        }
        return;
    }
    let mut token = known.token.clone().into_bytes();
    for m in input.mutations.iter().take(16) {
        apply(&mut token, m);
    }
    let text = String::from_utf8_lossy(&token);
    if verify(&text, &expect, &KEYS, known.now()).is_ok() {
        assert_accepted_token_is_ours(&text, known);
    }
});
