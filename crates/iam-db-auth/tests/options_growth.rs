//! The options struct grown for real: built with `--features abi-growth-test`, the library's
//! struct has a field appended after the 1.0 size (`test_expires_in`, 8 bytes at offset 72,
//! overriding `expires_in`), as a later release would add one. Programs built against the 1.0
//! header, against the grown one, and against a header newer than the library all get what the
//! ABI policy promises (docs/c-api.md). Run by scripts/tests/20-cargo-test.sh:
//! `cargo test -p iam-db-auth --features abi-growth-test --test options_growth`.
//!
//! One test function: it sets the process environment (demo credentials) first.

use iam_db_auth::ErrorCode;
use iam_db_auth::ffi::{
    IAM_KIND_DSQL, IamFailure, IamTokenOptions, iam_failure_free, iam_failure_message,
    iam_token_create, iam_token_free, iam_token_get_ext, iam_token_options_init,
    iam_token_options_init_sized,
};
use std::ffi::{CStr, c_char};
use std::mem::{offset_of, size_of};

const DSQL_HOST: &CStr = c"abcdefghijklmnopqrst.dsql.us-east-1.on.aws";
/// The 1.0 header's struct.
const SIZE_1_0: usize = 72;
/// The grown struct: 1.0's and one 8-byte field.
const SIZE_GROWN: usize = 80;

/// The grown header's struct, as a program compiled against it declares it.
#[repr(C)]
#[derive(Clone, Copy)]
struct GrownOptions {
    base: IamTokenOptions,
    test_expires_in: u64,
}

/// Caller memory: a struct of some size followed by whatever the program keeps after it.
#[repr(C, align(8))]
struct Memory([u8; 128]);

impl Memory {
    fn filled(byte: u8) -> Memory {
        Memory([byte; 128])
    }
    fn options(&mut self) -> *mut IamTokenOptions {
        self.0.as_mut_ptr().cast()
    }
    fn base(&mut self) -> &mut IamTokenOptions {
        // SAFETY: aligned, 128 bytes, and every bit pattern is a valid IamTokenOptions.
        unsafe { &mut *self.options() }
    }
}

/// A token, or the failure's code and message, through `iam_token_create`.
fn create(options: *const IamTokenOptions) -> Result<String, (ErrorCode, String)> {
    let mut token: *mut c_char = std::ptr::null_mut();
    let mut failure: *mut IamFailure = std::ptr::null_mut();
    // SAFETY: `options` points to a struct of at least its struct_size bytes; the
    // out-parameters are valid.
    let code = unsafe { iam_token_create(options, &mut token, &mut failure) };
    if code == ErrorCode::Ok {
        // SAFETY: a token returned by the library, freed once.
        let text = unsafe { CStr::from_ptr(token) }
            .to_str()
            .unwrap()
            .to_owned();
        // SAFETY: as above.
        unsafe { iam_token_free(token) };
        Ok(text)
    } else {
        // SAFETY: a failure returned by the library, freed once.
        let message = unsafe { CStr::from_ptr(iam_failure_message(failure)) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: as above.
        unsafe { iam_failure_free(failure) };
        Err((code, message))
    }
}

/// `iam_token_options_init_sized` on the caller memory.
fn init_sized(memory: &mut Memory, size: usize) -> ErrorCode {
    assert!(size <= memory.0.len());
    // SAFETY: the memory is aligned and writable for `size` bytes (checked above).
    unsafe { iam_token_options_init_sized(memory.options(), size) }
}

fn expires(token: &str) -> &str {
    token
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-Expires="))
        .unwrap_or("")
}

fn dsql(memory: &mut Memory) {
    let options = memory.base();
    options.kind = IAM_KIND_DSQL;
    options.host = DSQL_HOST.as_ptr();
}

#[test]
fn a_grown_struct_keeps_old_and_new_programs_working() {
    // SAFETY: this binary has one test and changes the environment before any other thread.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAIAMDBAUTHDEMO001");
        std::env::set_var(
            "AWS_SECRET_ACCESS_KEY",
            "iamDbAuthDemoSecret/0123456789+abcdefghijkl",
        );
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/iam-db-auth-test/config");
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/iam-db-auth-test/creds",
        );
    }
    assert_eq!(size_of::<IamTokenOptions>(), SIZE_1_0);
    assert_eq!(size_of::<GrownOptions>(), SIZE_GROWN);
    assert_eq!(offset_of!(GrownOptions, test_expires_in), SIZE_1_0);

    // 0.1's iam_token_options_init writes 1.0's size, however large the library's struct is.
    let mut memory = Memory::filled(0xA5);
    // SAFETY: writable for one 1.0 struct.
    unsafe { iam_token_options_init(memory.options()) };
    assert_eq!(memory.base().struct_size as usize, SIZE_1_0);
    assert!(memory.0[4..SIZE_1_0].iter().all(|b| *b == 0));
    assert!(
        memory.0[SIZE_1_0..].iter().all(|b| *b == 0xA5),
        "wrote past 1.0's struct"
    );

    // The sized form writes the size the caller's header says: the grown one here.
    let mut memory = Memory::filled(0xA5);
    assert_eq!(init_sized(&mut memory, SIZE_GROWN), ErrorCode::Ok);
    assert_eq!(memory.base().struct_size as usize, SIZE_GROWN);
    assert!(memory.0[4..SIZE_GROWN].iter().all(|b| *b == 0));
    assert!(memory.0[SIZE_GROWN..].iter().all(|b| *b == 0xA5));

    // A program built against 1.0: the grown field is not read (the program's memory after
    // its struct is garbage here) and takes its default (no override: 900 s).
    let mut memory = Memory::filled(0x01);
    assert_eq!(init_sized(&mut memory, SIZE_1_0), ErrorCode::Ok);
    dsql(&mut memory);
    let token = create(memory.options()).expect("a 1.0 struct");
    assert_eq!(
        expires(&token),
        "900",
        "the field 1.0 did not have must take its default"
    );
    memory.base().expires_in = 3600;
    assert_eq!(expires(&create(memory.options()).unwrap()), "3600");
    // SAFETY: the struct is initialised and its struct_size bytes readable.
    let token = unsafe { iam_token_get_ext(memory.options()) };
    assert!(!token.is_null(), "iam_token_get_ext with a 1.0 struct");
    // SAFETY: returned by the library.
    unsafe { iam_token_free(token) };

    // A program built against the grown header: the new field is read.
    let mut memory = Memory::filled(0x01);
    assert_eq!(init_sized(&mut memory, SIZE_GROWN), ErrorCode::Ok);
    dsql(&mut memory);
    // SAFETY: the grown struct lies at the start of the aligned buffer.
    unsafe { (*memory.options().cast::<GrownOptions>()).test_expires_in = 7200 };
    assert_eq!(
        expires(&create(memory.options()).unwrap()),
        "7200",
        "the grown field was not read"
    );

    // A program built against a header newer than this library: accepted while the fields the
    // library does not know are zero, refused once one is set.
    let mut memory = Memory::filled(0x01);
    assert_eq!(init_sized(&mut memory, SIZE_GROWN + 8), ErrorCode::Ok);
    dsql(&mut memory);
    assert_eq!(expires(&create(memory.options()).unwrap()), "900");
    memory.0[SIZE_GROWN + 3] = 1;
    let (code, message) = create(memory.options()).unwrap_err();
    assert_eq!(code, ErrorCode::InvalidOptions);
    assert!(message.contains("does not know"), "{message}");

    // Sizes no header had are refused, by the reader and by the sized initialiser.
    let mut memory = Memory::filled(0);
    assert_eq!(init_sized(&mut memory, SIZE_GROWN), ErrorCode::Ok);
    dsql(&mut memory);
    memory.base().struct_size = (SIZE_1_0 + 4) as u32;
    let (code, message) = create(memory.options()).unwrap_err();
    assert_eq!(code, ErrorCode::InvalidOptions);
    assert!(message.contains("struct_size is 76"), "{message}");
    assert_eq!(
        init_sized(&mut memory, SIZE_1_0 + 4),
        ErrorCode::InvalidOptions
    );
}
