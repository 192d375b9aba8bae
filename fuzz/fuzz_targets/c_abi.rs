//! The C ABI entry points as a C caller reaches them: arbitrary bytes turned into C strings
//! (cut at the first NUL, as C sees them), NULL pointers, any port, kind, flags and lifetime,
//! and options structures of any declared size with any trailing bytes.
//!
//! Runs with the fuzz keys in the environment, no region configured, no shared AWS files and
//! the metadata endpoint disabled (set once, before the first call).
//!
//! Properties: no panic, no crash (ASan); NULL is returned exactly when the last error is not
//! `IAM_ERROR_OK`, with a non-empty message that never contains a secret; a token returned is
//! UTF-8 and the verifier accepts it for the endpoint, user and region the call named.
#![no_main]

use arbitrary::Arbitrary;
use fuzz_support::{LONG_TERM_ID, LONG_TERM_SECRET, contains_secret, keystore};
use iam_db_auth::endpoint::infer_region;
use iam_db_auth::ffi::{
    IamTokenOptions, iam_error_code_message, iam_last_error_code, iam_last_error_message,
    iam_token_free, iam_token_get, iam_token_get_ext, iam_token_options_init, iam_version,
};
use iam_db_auth::{ErrorCode, TokenKind, UtcSeconds};
use iam_db_auth_verify::{Expectation, verify};
use libfuzzer_sys::fuzz_target;
use std::ffi::{CStr, CString, c_char};
use std::sync::Once;

#[derive(Arbitrary, Debug)]
enum Size {
    /// `sizeof(iam_token_options)`, as `iam_token_options_init` sets it.
    Exact,
    /// Any declared size; the buffer is made at least that large (the ABI's contract).
    Declared(u16),
    /// A newer header's larger struct: these bytes follow ours.
    Tail(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    extended: bool,
    host: Option<Vec<u8>>,
    port: u16,
    region: Option<Vec<u8>>,
    user: Option<Vec<u8>>,
    kind: u32,
    profile: Option<Vec<u8>>,
    signing_host: Option<Vec<u8>>,
    signing_port: u16,
    expires_in: u32,
    flags: u32,
    size: Size,
    code: i32,
}

/// What C sees of a byte string: everything up to the first NUL.
fn c_string(bytes: &Option<Vec<u8>>) -> Option<CString> {
    bytes.as_ref().map(|b| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        CString::new(&b[..end]).unwrap()
    })
}

fn ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr())
}

fn setup() {
    // SAFETY: runs once, before any call into the library and before any thread it starts.
    unsafe {
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("AWS_") || name.starts_with("IAM_DB_AUTH_") {
                std::env::remove_var(&name);
            }
        }
        std::env::set_var("AWS_ACCESS_KEY_ID", LONG_TERM_ID);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", LONG_TERM_SECRET);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/iam-db-auth-fuzz/config");
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/iam-db-auth-fuzz/credentials",
        );
        std::env::set_var("IAM_DB_AUTH_LOG", "off");
    }
}

static SETUP: Once = Once::new();

fuzz_target!(|input: Input| {
    SETUP.call_once(setup);
    let host = c_string(&input.host);
    let region = c_string(&input.region);
    let user = c_string(&input.user);
    let profile = c_string(&input.profile);
    let signing_host = c_string(&input.signing_host);

    let mut options = std::mem::MaybeUninit::<IamTokenOptions>::uninit();
    // SAFETY: a valid, writable options struct.
    unsafe { iam_token_options_init(options.as_mut_ptr()) };
    // SAFETY: iam_token_options_init wrote every field.
    let mut options = unsafe { options.assume_init() };
    options.kind = input.kind;
    options.host = ptr(&host);
    options.port = input.port;
    options.region = ptr(&region);
    options.user = ptr(&user);
    options.profile = ptr(&profile);
    options.signing_host = ptr(&signing_host);
    options.signing_port = input.signing_port;
    options.expires_in = input.expires_in;
    options.flags = input.flags;

    let ours = std::mem::size_of::<IamTokenOptions>();
    let (declared, tail): (usize, &[u8]) = match &input.size {
        Size::Exact => (ours, &[]),
        Size::Declared(n) => (usize::from(*n), &[]),
        Size::Tail(bytes) => (ours + bytes.len(), bytes),
    };
    // u64 words: the buffer is aligned for the struct's pointers.
    let mut buffer = vec![0u64; declared.max(ours).div_ceil(8)];
    options.struct_size = declared as u32;
    let base = buffer.as_mut_ptr() as *mut u8;
    // SAFETY: the buffer holds at least `ours + tail.len()` bytes and is 8-aligned.
    unsafe {
        std::ptr::write(base as *mut IamTokenOptions, options);
        std::ptr::copy_nonoverlapping(tail.as_ptr(), base.add(ours), tail.len());
    }

    let token = if input.extended {
        // SAFETY: `buffer` holds an initialised options struct of at least its declared
        // size, whose strings live until the end of this function.
        unsafe { iam_token_get_ext(base as *const IamTokenOptions) }
    } else {
        // SAFETY: NULL or NUL-terminated strings that outlive the call.
        unsafe { iam_token_get(ptr(&host), input.port, ptr(&region), ptr(&user)) }
    };

    let code = iam_last_error_code();
    // SAFETY: never NULL, NUL-terminated, valid until the next call on this thread.
    let message = unsafe { CStr::from_ptr(iam_last_error_message()) }
        .to_bytes()
        .to_vec();
    let inputs_hold_secret = [
        &input.host,
        &input.region,
        &input.user,
        &input.profile,
        &input.signing_host,
    ]
    .iter()
    .any(|b| b.as_deref().is_some_and(contains_secret));
    assert!(
        inputs_hold_secret || !contains_secret(&message),
        "a secret in an error message"
    );

    if token.is_null() {
        assert_ne!(code, ErrorCode::Ok, "NULL returned with IAM_ERROR_OK");
        assert!(
            !message.is_empty(),
            "a failure without a message ({code:?})"
        );
        assert_ne!(
            code,
            ErrorCode::Internal,
            "internal error: {}",
            String::from_utf8_lossy(&message)
        );
    } else {
        assert_eq!(code, ErrorCode::Ok);
        assert!(message.is_empty());
        // SAFETY: a token this library returned, freed once below.
        let text = unsafe { CStr::from_ptr(token) }
            .to_str()
            .expect("tokens are UTF-8")
            .to_string();
        unsafe { iam_token_free(token) };
        check_token(&text, &input, &host, &region, &user, &signing_host);
    }

    // SAFETY: static strings, never NULL.
    let described = unsafe { CStr::from_ptr(iam_error_code_message(input.code)) };
    assert!(!described.to_bytes().is_empty());
    assert!(
        !unsafe { CStr::from_ptr(iam_version()) }
            .to_bytes()
            .is_empty()
    );
});

/// The verifier accepts a token the ABI returned, for what the call named.
fn check_token(
    text: &str,
    input: &Input,
    host: &Option<CString>,
    region: &Option<CString>,
    user: &Option<CString>,
    signing_host: &Option<CString>,
) {
    let as_str = |s: &Option<CString>| {
        s.as_ref()
            .map(|s| s.to_str().unwrap().to_string())
            .filter(|s| !s.is_empty())
    };
    let kind = if input.extended {
        TokenKind::from_code(input.kind).expect("a token for an unknown kind")
    } else {
        TokenKind::Rds
    };
    let signing_host = if input.extended {
        as_str(signing_host)
    } else {
        None
    };
    let host = signing_host.unwrap_or_else(|| as_str(host).expect("a token without a host"));
    let port = match (input.extended, input.signing_port) {
        (true, p) if p != 0 => p,
        _ => input.port,
    };
    let endpoint = if kind.signs_port() {
        format!("{host}:{port}")
    } else {
        host.clone()
    };
    let region = as_str(region)
        .or_else(|| infer_region(&host))
        .expect("a token without an explicit or inferable region (none is configured)");
    let user = if kind.user_parameter().is_some() {
        as_str(user).unwrap_or_default()
    } else {
        String::new()
    };
    let endpoints = [endpoint];
    let expect = Expectation {
        kind,
        endpoints: &endpoints,
        region: &region,
        user: &user,
    };
    let now = UtcSeconds::from_system_time(std::time::SystemTime::now()).unwrap();
    if let Err(why) = verify(text, &expect, &keystore(), now) {
        panic!("the verifier refused a token from the C ABI: {why}\n  token: {text}");
    }
}
