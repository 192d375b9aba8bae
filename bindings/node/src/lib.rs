//! The Node.js addon: tokens and the CA file from libiam_db_auth's C ABI, for `index.js`.
//!
//! Each call returns an [`Outcome`] (the token or path, or the failure's code and message) and
//! `index.js` turns a failure into an `IamDbAuthError`, so the error's shape lives in one place.
//! `tokenAsync` runs the same call on libuv's thread pool; its failure comes back from that call
//! (`iam_token_create`'s `iam_failure`), never from the per-thread last error of another thread.

use std::ffi::{CStr, CString, c_char, c_int};
use std::ptr;

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;

/// The C ABI, as `include/iam_db_auth.h` (1.0) declares it.
mod ffi {
    use std::ffi::{c_char, c_int};

    #[repr(C)]
    pub struct TokenOptions {
        pub struct_size: u32,
        pub kind: u32,
        pub host: *const c_char,
        pub port: u16,
        pub region: *const c_char,
        pub user: *const c_char,
        pub profile: *const c_char,
        pub signing_host: *const c_char,
        pub signing_port: u16,
        pub expires_in: u32,
        pub flags: u32,
    }

    pub enum Failure {}

    pub const OK: c_int = 0;
    pub const INVALID_OPTIONS: c_int = 8;
    pub const FLAG_NO_CACHE: u32 = 1;
    pub const FLAG_SERVERLESS: u32 = 2;

    unsafe extern "C" {
        pub fn iam_token_options_init_sized(options: *mut TokenOptions, size: usize) -> c_int;
        pub fn iam_token_create(
            options: *const TokenOptions,
            token_out: *mut *mut c_char,
            failure_out: *mut *mut Failure,
        ) -> c_int;
        pub fn iam_token_free(token: *mut c_char);
        pub fn iam_failure_message(failure: *const Failure) -> *const c_char;
        pub fn iam_failure_free(failure: *mut Failure);
        pub fn iam_error_code_message(code: c_int) -> *const c_char;
        pub fn iam_ca_file() -> *const c_char;
        pub fn iam_last_error_code() -> c_int;
        pub fn iam_last_error_message() -> *const c_char;
        pub fn iam_version() -> *const c_char;
        pub fn iam_cache_clear();
    }
}

/// What `index.js` passes (it has checked the types and mapped the kind's name to its number).
#[napi(object)]
#[derive(Clone)]
pub struct TokenOptions {
    pub host: String,
    pub port: Option<u32>,
    pub user: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub kind: Option<u32>,
    pub signing_host: Option<String>,
    pub signing_port: Option<u32>,
    pub expires_in: Option<u32>,
    pub no_cache: Option<bool>,
    pub serverless: Option<bool>,
}

/// A call's result: `value` (the token, the path) on success, else the code and message.
#[napi(object)]
pub struct Outcome {
    pub value: Option<String>,
    pub code: i32,
    pub message: Option<String>,
}

impl Outcome {
    fn ok(value: String) -> Self {
        Outcome {
            value: Some(value),
            code: 0,
            message: None,
        }
    }
    fn failed(code: c_int, message: String) -> Self {
        Outcome {
            value: None,
            code,
            message: Some(message),
        }
    }
}

/// Copies a C string the library owns.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
unsafe fn copy(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the caller's contract: `p` is a live NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn c_string(field: &str, value: Option<&str>) -> Result<Option<CString>, Outcome> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => CString::new(v).map(Some).map_err(|_| {
            Outcome::failed(
                ffi::INVALID_OPTIONS,
                format!("{field} contains a NUL character"),
            )
        }),
    }
}

fn port(field: &str, value: Option<u32>) -> Result<u16, Outcome> {
    u16::try_from(value.unwrap_or(0)).map_err(|_| {
        Outcome::failed(
            ffi::INVALID_OPTIONS,
            format!("{field} is not a port number (0 to 65535)"),
        )
    })
}

fn make_token(o: &TokenOptions) -> Outcome {
    match try_token(o) {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

fn try_token(o: &TokenOptions) -> Result<Outcome, Outcome> {
    let host = c_string("host", Some(&o.host))?;
    let user = c_string("user", o.user.as_deref())?;
    let region = c_string("region", o.region.as_deref())?;
    let profile = c_string("profile", o.profile.as_deref())?;
    let signing_host = c_string("signingHost", o.signing_host.as_deref())?;
    let as_ptr = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
    let mut options = ffi::TokenOptions {
        struct_size: 0,
        kind: 0,
        host: ptr::null(),
        port: 0,
        region: ptr::null(),
        user: ptr::null(),
        profile: ptr::null(),
        signing_host: ptr::null(),
        signing_port: 0,
        expires_in: 0,
        flags: 0,
    };
    // SAFETY: `options` is a live, aligned TokenOptions of the size passed.
    let code =
        unsafe { ffi::iam_token_options_init_sized(&mut options, size_of::<ffi::TokenOptions>()) };
    if code != ffi::OK {
        // SAFETY: iam_error_code_message returns a static string for any code.
        return Err(Outcome::failed(code, unsafe {
            copy(ffi::iam_error_code_message(code))
        }));
    }
    options.kind = o.kind.unwrap_or(0);
    options.host = as_ptr(&host);
    options.port = port("port", o.port)?;
    options.user = as_ptr(&user);
    options.region = as_ptr(&region);
    options.profile = as_ptr(&profile);
    options.signing_host = as_ptr(&signing_host);
    options.signing_port = port("signingPort", o.signing_port)?;
    options.expires_in = o.expires_in.unwrap_or(0);
    if o.no_cache == Some(true) {
        options.flags |= ffi::FLAG_NO_CACHE;
    }
    if o.serverless == Some(true) {
        options.flags |= ffi::FLAG_SERVERLESS;
    }
    let mut token: *mut c_char = ptr::null_mut();
    let mut failure: *mut ffi::Failure = ptr::null_mut();
    // SAFETY: `options` is initialised and its strings (owned above) outlive the call; the out
    // pointers are writable.
    let code = unsafe { ffi::iam_token_create(&options, &mut token, &mut failure) };
    if code != ffi::OK {
        // SAFETY: on failure the library handed over `failure` (or left it NULL, which both
        // calls accept); it is read, then freed once.
        let message = unsafe { copy(ffi::iam_failure_message(failure)) };
        // SAFETY: as above.
        unsafe { ffi::iam_failure_free(failure) };
        return Err(Outcome::failed(code, message));
    }
    // SAFETY: on success `token` is a NUL-terminated string the caller owns.
    let value = unsafe { copy(token) };
    // SAFETY: `token` came from iam_token_create and is freed once (the library zeroes it).
    unsafe { ffi::iam_token_free(token) };
    Ok(Outcome::ok(value))
}

/// Makes a token on the calling (JavaScript) thread.
#[napi]
pub fn token(options: TokenOptions) -> Outcome {
    make_token(&options)
}

pub struct TokenTask(TokenOptions);

impl Task for TokenTask {
    type Output = Outcome;
    type JsValue = Outcome;

    fn compute(&mut self) -> napi::Result<Outcome> {
        Ok(make_token(&self.0))
    }

    fn resolve(&mut self, _env: Env, output: Outcome) -> napi::Result<Outcome> {
        Ok(output)
    }
}

/// Makes a token on libuv's thread pool: a promise of the outcome.
#[napi]
pub fn token_async(options: TokenOptions) -> AsyncTask<TokenTask> {
    AsyncTask::new(TokenTask(options))
}

/// The CA file servers are verified with (the project's lookup order).
#[napi]
pub fn ca_file() -> Outcome {
    // The path, or the failure (read on this thread, within this one call), is copied before
    // any other iam_* call on this thread.
    // SAFETY: no arguments; returns NULL or a string valid until this thread's next call.
    let path = unsafe { ffi::iam_ca_file() };
    if path.is_null() {
        // SAFETY: no arguments; the calling thread's last failure, just recorded.
        let code = unsafe { ffi::iam_last_error_code() };
        // SAFETY: as above; the message is valid until this thread's next iam_* call.
        let message = unsafe { copy(ffi::iam_last_error_message()) };
        Outcome::failed(code, message)
    } else {
        // SAFETY: a NUL-terminated path, valid until this thread's next iam_ca_file call.
        Outcome::ok(unsafe { copy(path) })
    }
}

/// The library's version.
#[napi]
pub fn version() -> String {
    // SAFETY: iam_version returns a static string.
    unsafe { copy(ffi::iam_version()) }
}

/// Forgets every cached token and credential.
#[napi]
pub fn clear_cache() {
    // SAFETY: no arguments; thread-safe.
    unsafe { ffi::iam_cache_clear() }
}
