//! The C ABI: pointer checks, the panic boundary and conversions; nothing else. Its parts with
//! a job of their own: `options` (the options struct, how it grows and is read), `failure`
//! (the failure object a call hands back), `version` (the header's version macros).
//!
//! Conventions (also in docs/c-api.md and the header):
//! - Strings in are NUL-terminated UTF-8, borrowed for the duration of the call.
//! - Tokens out are owned by the caller and freed with `iam_token_free` (never `free`).
//! - A failure comes back from the call itself (`iam_token_create`: a code and an
//!   `iam_failure`), and is also recorded for the calling thread (`iam_last_error_code`,
//!   `iam_last_error_message`), which the older calls that return NULL rely on. Every `iam_*`
//!   call that can fail resets the thread's record first.
//! - Out-parameters are written only when they receive something.
//! - All functions are thread-safe. None panics across the boundary: a caught panic is
//!   reported as `IAM_ERROR_INTERNAL`.
//! - Every function works during teardown too: from atexit handlers, C++ static destructors
//!   and pthread-key destructors, after the calling thread's thread-locals are gone (see
//!   `boundary`).

use crate::config::{self, EnvDefaults};
use crate::error::{Error, ErrorCode, Result};
use crate::kind::TokenKind;
use crate::request::TokenRequest;
use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString, c_char, c_int};
use std::os::unix::ffi::OsStringExt as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use zeroize::Zeroize;

mod failure;
mod options;
mod version;

pub use failure::{IamFailure, iam_failure_code, iam_failure_free, iam_failure_message};
pub use options::IamTokenOptions;
pub(crate) use options::default_options;
pub use version::{
    IAM_DB_AUTH_VERSION_MAJOR, IAM_DB_AUTH_VERSION_MINOR, IAM_DB_AUTH_VERSION_PATCH,
};

/// Token kind: RDS and Aurora (MySQL, MariaDB, PostgreSQL). The default.
pub const IAM_KIND_RDS: u32 = 0;
/// Token kind: Aurora DSQL, custom database role (`DbConnect`).
pub const IAM_KIND_DSQL: u32 = 1;
/// Token kind: Aurora DSQL, the `admin` role (`DbConnectAdmin`).
pub const IAM_KIND_DSQL_ADMIN: u32 = 2;
/// Token kind: ElastiCache (Valkey / Redis OSS).
pub const IAM_KIND_ELASTICACHE: u32 = 3;
/// Token kind: MemoryDB.
pub const IAM_KIND_MEMORYDB: u32 = 4;

/// Flag: do not use the token cache for this call (neither read nor fill it).
pub const IAM_FLAG_NO_CACHE: u32 = 1;
/// Flag: ElastiCache Serverless (signs `ResourceType=ServerlessCache`).
pub const IAM_FLAG_SERVERLESS: u32 = 2;
const KNOWN_FLAGS: u32 = IAM_FLAG_NO_CACHE | IAM_FLAG_SERVERLESS;

thread_local! {
    /// The code of the calling thread's last call. A `Cell` of a `Copy` type with a constant
    /// initialiser has no destructor, so it stays usable while the thread, or the process, is
    /// torn down: from atexit handlers, C++ static destructors and pthread-key destructors.
    static LAST_CODE: Cell<ErrorCode> = const { Cell::new(ErrorCode::Ok) };
    /// The complete message of the last failure (read only while `LAST_CODE` is a failure). It
    /// owns memory, so it has a destructor and is gone once the thread's thread-locals are
    /// destroyed; from then on the code's static description stands in for it.
    static LAST_MESSAGE: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Records the outcome of a call for `iam_last_error_code` / `iam_last_error_message`. Never
/// panics, also during teardown.
fn record(code: ErrorCode, message: &str) {
    LAST_CODE.set(code);
    if code == ErrorCode::Ok {
        return;
    }
    let _ = LAST_MESSAGE.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = CString::new(message.replace('\0', "\\0")).ok();
        }
    });
}

/// Runs an exported function's body: resets the last error, catches panics, records failures.
pub(crate) fn boundary<T>(on_failure: T, body: impl FnOnce() -> Result<T>) -> T {
    guarded(body).unwrap_or(on_failure)
}

/// Runs an exported function's body and hands its failure back, recorded for the calling
/// thread as well: the last error is reset, a panic is caught and becomes `IAM_ERROR_INTERNAL`.
///
/// A call made while the calling thread's thread-locals are being destroyed, or are gone (from
/// an atexit handler or a C++ static destructor on the main thread, from a pthread-key
/// destructor), runs on a thread of its own: the library's per-thread state (its runtime's
/// context, the token cache's last hit, the last error's message) cannot be used there.
fn guarded<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    record(ErrorCode::Ok, "");
    let outcome = if thread_locals_alive() {
        catch_unwind(AssertUnwindSafe(body))
    } else {
        catch_unwind(AssertUnwindSafe(|| on_a_new_thread(body))).and_then(|joined| joined)
    };
    let err = match outcome {
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(err)) => {
            crate::log::log_at!(crate::log::Level::Debug, "C call failed: {}", err.message());
            err
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Error::new(
                ErrorCode::Internal,
                format!("internal error (a bug in iam-db-auth, please report it): {what}"),
            )
        }
    };
    record(err.code(), err.message());
    Err(err)
}

/// Whether the calling thread's thread-locals that a call uses still exist. A thread's
/// thread-locals are destroyed when it ends, before its pthread-key destructors run; the main
/// thread's when the process exits, before the atexit handlers and static destructors run.
/// The runtime's context is probed as well as our own slot: it is created after the slot, on a
/// thread's first call, so it is destroyed before it.
fn thread_locals_alive() -> bool {
    LAST_MESSAGE.try_with(|_| ()).is_ok()
        && !matches!(tokio::runtime::Handle::try_current(), Err(e) if e.is_thread_local_destroyed())
}

/// Runs `body` on a new thread and waits for it to end.
///
/// A plain POSIX thread, not `std::thread`: spawning one of those touches thread-locals of the
/// calling thread (panicking on older Rust when they are gone, and registering a destructor
/// that never runs when they are not), which is what this function exists to avoid.
fn on_a_new_thread<F, T>(body: F) -> std::thread::Result<Result<T>>
where
    F: FnOnce() -> Result<T>,
{
    /// The body going to the new thread and its outcome coming back.
    struct Call<F, T> {
        body: Option<F>,
        outcome: Option<std::thread::Result<Result<T>>>,
    }

    extern "C" fn run<F: FnOnce() -> Result<T>, T>(
        arg: *mut std::ffi::c_void,
    ) -> *mut std::ffi::c_void {
        // SAFETY: `arg` is the `Call` that `on_a_new_thread` handed to pthread_create. That
        // function waits in pthread_join until this one returns, so the `Call` is alive and
        // used by this thread alone meanwhile.
        let call = unsafe { &mut *arg.cast::<Call<F, T>>() };
        if let Some(body) = call.body.take() {
            call.outcome = Some(catch_unwind(AssertUnwindSafe(body)));
        }
        std::ptr::null_mut()
    }

    let failed = |what: String| {
        Ok(Err(Error::new(
            ErrorCode::Internal,
            format!("a call made during thread teardown: {what}"),
        )))
    };
    let mut call = Call::<F, T> {
        body: Some(body),
        outcome: None,
    };
    let mut thread = std::mem::MaybeUninit::<libc::pthread_t>::uninit();
    // SAFETY: `run::<F, T>` has the start routine's signature; NULL attributes are the
    // defaults; `call` outlives the thread, which is joined below before `call` goes out of
    // scope.
    let rc = unsafe {
        libc::pthread_create(
            thread.as_mut_ptr(),
            std::ptr::null(),
            run::<F, T>,
            std::ptr::from_mut(&mut call).cast(),
        )
    };
    if rc != 0 {
        return failed(format!(
            "could not start a thread for it: {}",
            std::io::Error::from_raw_os_error(rc)
        ));
    }
    // SAFETY: pthread_create succeeded, so `thread` is initialised and names a joinable thread
    // that is joined exactly once, here. Joining a thread we created and did not detach can
    // fail only by deadlock (joining oneself), which cannot be the case.
    let rc = unsafe { libc::pthread_join(thread.assume_init(), std::ptr::null_mut()) };
    if rc != 0 {
        return failed(format!(
            "could not wait for its thread: {}",
            std::io::Error::from_raw_os_error(rc)
        ));
    }
    call.outcome
        .unwrap_or_else(|| failed("its thread did not run it".into()))
}

/// A required string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string valid for `'a`.
unsafe fn required_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::new(
            ErrorCode::NullArgument,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: non-NULL and NUL-terminated per this function's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) };
    bytes.to_str().map_err(|e| {
        Error::new(
            ErrorCode::InvalidUtf8,
            format!(
                "{name} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// An optional string argument: NULL and "" both mean "not given".
///
/// # Safety
/// As [`required_str`].
unsafe fn optional_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    let text = unsafe { required_str(ptr, name)? };
    Ok((!text.is_empty()).then_some(text))
}

/// Turns C options into a request: what the caller set, with unset fields filled from the
/// environment's settings by `EnvDefaults::apply`, the step every door takes.
///
/// # Safety
/// Every non-NULL pointer in `options` points to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn request_from_options<'a>(
    options: &IamTokenOptions,
    defaults: &'a EnvDefaults,
) -> Result<TokenRequest<'a>> {
    let kind = TokenKind::from_code(options.kind).ok_or_else(|| {
        Error::new(
            ErrorCode::InvalidOptions,
            format!("kind {} is not one of the IAM_KIND_* values", options.kind),
        )
    })?;
    if options.flags & !KNOWN_FLAGS != 0 {
        return Err(Error::new(
            ErrorCode::InvalidOptions,
            format!("unknown flags 0x{:x}", options.flags & !KNOWN_FLAGS),
        ));
    }
    // SAFETY: the caller guarantees each pointer is NULL or a NUL-terminated string that
    // outlives `'a` (this function's contract).
    let host = unsafe { required_str(options.host, "host")? };
    let user = if kind.user_parameter().is_some() {
        // SAFETY: as for `host`.
        unsafe { required_str(options.user, "user")? }
    } else {
        // SAFETY: as for `host`.
        unsafe { optional_str(options.user, "user")? }.unwrap_or("")
    };
    // SAFETY: as for `host`.
    let region = unsafe { optional_str(options.region, "region")? };
    // SAFETY: as for `host`.
    let profile = unsafe { optional_str(options.profile, "profile")? };
    // SAFETY: as for `host`.
    let signing_host = unsafe { optional_str(options.signing_host, "signing_host")? };
    defaults.apply(TokenRequest {
        kind,
        host,
        port: options.port,
        user,
        region,
        signing_host,
        signing_port: (options.signing_port != 0).then_some(options.signing_port),
        profile,
        expires_in: (options.expires_in != 0).then_some(options.expires_in),
        serverless: options.flags & IAM_FLAG_SERVERLESS != 0,
        use_cache: options.flags & IAM_FLAG_NO_CACHE == 0,
        signing_time: None,
    })
}

fn token_to_c(request: &TokenRequest<'_>) -> Result<*mut c_char> {
    let token = crate::engine::token_for(request)?;
    let text = CString::new(token.as_str())
        .map_err(|_| Error::new(ErrorCode::Internal, "token contains a NUL byte"))?;
    Ok(text.into_raw())
}

/// Makes an RDS IAM authentication token: the password for `user` at `host:port`.
///
/// - `host`: the endpoint connected to, e.g. `mydb.abc123.us-east-1.rds.amazonaws.com`.
/// - `port`: the database port (3306, 5432, ...).
/// - `region`: the AWS region, or NULL / "" to infer it from `host` (RDS endpoint names carry
///   it), else `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's region. No region found is an
///   error, never a silent default.
/// - `user`: the database user.
///
/// Returns a NUL-terminated token owned by the caller (free it with `iam_token_free`), or
/// NULL on failure (see `iam_last_error_code` / `iam_last_error_message`).
///
/// Blocks while credentials are looked up: microseconds with environment credentials or a
/// cached token; when a network credential source must be asked, at most
/// `IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS` (default 10000 ms). Thread-safe; usable after fork.
///
/// # Safety
/// Each pointer is NULL or a NUL-terminated string that stays valid during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iam_token_get(
    host: *const c_char,
    port: u16,
    region: *const c_char,
    user: *const c_char,
) -> *mut c_char {
    boundary(std::ptr::null_mut(), || {
        let options = IamTokenOptions {
            host,
            port,
            region,
            user,
            ..default_options()
        };
        // SAFETY: the pointers come from our caller under this function's contract.
        let request = unsafe { request_from_options(&options, config::env_defaults())? };
        token_to_c(&request)
    })
}

/// Makes a token with the options in `options` (kind, profile, signing host and port,
/// lifetime, cache flag). Same ownership, failure, blocking and threading rules as
/// `iam_token_get`. (`iam_token_create` takes the same options and hands its failure back
/// itself.)
///
/// # Safety
/// `options` is NULL or points to an `iam_token_options` of at least `options->struct_size`
/// readable bytes, initialised with `IAM_TOKEN_OPTIONS_INIT` or `iam_token_options_init`; its
/// string fields follow the rules of `iam_token_get`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iam_token_get_ext(options: *const IamTokenOptions) -> *mut c_char {
    // SAFETY: forwarded contract.
    boundary(std::ptr::null_mut(), || unsafe {
        token_from_options(options)
    })
}

/// Makes a token with the options in `options`, and says how it went in the same call: the
/// shape for every caller that may run its next call on another thread (Go, async runtimes,
/// thread pools), where the per-thread last error cannot be trusted.
///
/// Returns `IAM_ERROR_OK` and writes the token to `*token_out` (owned by the caller, freed with
/// `iam_token_free`), or returns the failure's code and, if `failure_out` is not NULL, writes
/// to `*failure_out` an `iam_failure` with the code and the complete message (owned by the
/// caller, freed with `iam_failure_free`). Each out-parameter is written only in its case, so
/// initialise both to NULL. The failure is also recorded as the calling thread's last error.
///
/// `options` as for `iam_token_get_ext`; `token_out` NULL is `IAM_ERROR_NULL_ARGUMENT`.
/// Blocking and threading as `iam_token_get`.
///
/// # Safety
/// `options` as for `iam_token_get_ext`; `token_out` and `failure_out` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iam_token_create(
    options: *const IamTokenOptions,
    token_out: *mut *mut c_char,
    failure_out: *mut *mut IamFailure,
) -> ErrorCode {
    let outcome = guarded(|| {
        if token_out.is_null() {
            return Err(Error::new(ErrorCode::NullArgument, "token_out is NULL"));
        }
        // SAFETY: forwarded contract.
        unsafe { token_from_options(options) }
    });
    match outcome {
        Ok(token) => {
            // SAFETY: checked non-NULL above; writable per the contract.
            unsafe { token_out.write(token) };
            ErrorCode::Ok
        }
        Err(err) => {
            if !failure_out.is_null() {
                // SAFETY: non-NULL and writable per the contract.
                unsafe { failure_out.write(IamFailure::into_raw(&err)) };
            }
            err.code()
        }
    }
}

/// A token for the caller's options.
///
/// # Safety
/// As `iam_token_get_ext`.
unsafe fn token_from_options(options: *const IamTokenOptions) -> Result<*mut c_char> {
    // SAFETY: forwarded contract.
    let options = unsafe { options::read(options)? }.effective();
    // SAFETY: forwarded contract.
    let request = unsafe { request_from_options(&options, config::env_defaults())? };
    token_to_c(&request)
}

/// Fills `*options` with defaults (RDS, cache on, everything else unset) and its
/// `struct_size`, for the 0.1 header's struct: it writes that struct's size (72 bytes on 64-bit
/// targets) and no more, whatever later headers add, as programs built against 0.1 call it.
/// New code uses `IAM_TOKEN_OPTIONS_INIT`. Does nothing if `options` is NULL. Never fails,
/// never blocks.
///
/// # Safety
/// `options` is NULL or points to writable memory for one `iam_token_options` of the 0.1/1.0
/// header.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iam_token_options_init(options: *mut IamTokenOptions) {
    if !options.is_null() {
        // SAFETY: non-NULL, aligned and writable for the 0.1/1.0 struct (this function's
        // contract).
        unsafe { options::init(options, options::RELEASED_SIZES[0]) };
    }
}

/// Fills the `size` bytes at `options` with defaults (RDS, cache on, everything else unset:
/// every field's default is its zero value) and sets `struct_size` to `size`. Call it through
/// `IAM_TOKEN_OPTIONS_INIT(&options)`, which passes `sizeof` of the caller's struct, so the
/// library knows which fields the caller's header has.
///
/// Returns `IAM_ERROR_OK`; `IAM_ERROR_NULL_ARGUMENT` for NULL; `IAM_ERROR_INVALID_OPTIONS`
/// (writing nothing) when `size` is not the size of any `iam_token_options` (such as `sizeof`
/// of a pointer). Never blocks. Thread-safe.
///
/// # Safety
/// `options` is NULL or points to `size` writable bytes, aligned for `iam_token_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iam_token_options_init_sized(
    options: *mut IamTokenOptions,
    size: usize,
) -> ErrorCode {
    let outcome = guarded(|| {
        if options.is_null() {
            return Err(Error::new(ErrorCode::NullArgument, "options is NULL"));
        }
        options::check_init_size(size)?;
        // SAFETY: non-NULL, aligned and writable for `size` bytes (this function's contract);
        // `size` is a struct's size, so at least 4.
        unsafe { options::init(options, size) };
        Ok(())
    });
    outcome.err().map_or(ErrorCode::Ok, |err| err.code())
}

/// Frees a token returned by this library, first overwriting it with zeros. NULL is
/// accepted and ignored. Never blocks. Thread-safe.
///
/// # Safety
/// `token` is NULL or a token returned by `iam_token_get`, `iam_token_get_ext` or
/// `iam_token_create` that has not been freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iam_token_free(token: *mut c_char) {
    if token.is_null() {
        return;
    }
    // SAFETY: returned by CString::into_raw and not yet freed, per the contract.
    let owned = unsafe { CString::from_raw(token) };
    owned.into_bytes_with_nul().zeroize();
}

/// The code of the last failure on the calling thread (`IAM_ERROR_OK` after a success).
/// Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn iam_last_error_code() -> ErrorCode {
    LAST_CODE.get()
}

/// The complete message of the last failure on the calling thread ("" after a success).
/// Never NULL. The string belongs to the library and stays valid until the next `iam_*` call
/// on the same thread; copy it to keep it. Never blocks. For a failure during thread or
/// process teardown (atexit handlers, static destructors, pthread-key destructors) it is the
/// code's static description (`iam_error_code_message`).
#[unsafe(no_mangle)]
pub extern "C" fn iam_last_error_message() -> *const c_char {
    let code = LAST_CODE.get();
    if code == ErrorCode::Ok {
        return c"".as_ptr();
    }
    LAST_MESSAGE
        .try_with(|slot| slot.try_borrow().ok()?.as_ref().map(|m| m.as_ptr()))
        .ok()
        .flatten()
        .unwrap_or_else(|| code.description().as_ptr())
}

/// A static description of an error code (not of a particular failure). Never NULL; the
/// string is static. Unknown codes give "unknown error code".
#[unsafe(no_mangle)]
pub extern "C" fn iam_error_code_message(code: c_int) -> *const c_char {
    ErrorCode::from_i32(code)
        .map(|c| c.description().as_ptr())
        .unwrap_or(c"unknown error code".as_ptr())
}

/// Forgets every cached token and credential, so the next call looks everything up again
/// (for example after rotating keys). Thread-safe; never blocks beyond the cache locks.
#[unsafe(no_mangle)]
pub extern "C" fn iam_cache_clear() {
    boundary((), || {
        crate::runtime::core().clear();
        Ok(())
    })
}

/// The library's version, "MAJOR.MINOR.PATCH" (e.g. "1.0.0"); the header's is
/// `IAM_DB_AUTH_VERSION`. Static; never NULL. Never blocks.
#[unsafe(no_mangle)]
pub extern "C" fn iam_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

#[cfg(test)]
mod teardown_tests {
    use super::*;
    use std::sync::Mutex;

    /// What a call from a thread-local destructor saw: the code and message of a failed call,
    /// and whether the token was NULL.
    static SEEN: Mutex<Option<(ErrorCode, String, bool)>> = Mutex::new(None);

    struct CallsOnDrop;

    impl Drop for CallsOnDrop {
        fn drop(&mut self) {
            // SAFETY: host is NULL (the failure this test wants); the other pointers are
            // NUL-terminated literals.
            let token =
                unsafe { iam_token_get(std::ptr::null(), 5432, c"".as_ptr(), c"app".as_ptr()) };
            let code = iam_last_error_code();
            // SAFETY: never NULL, NUL-terminated, valid until the next call on this thread.
            let message = unsafe { CStr::from_ptr(iam_last_error_message()) };
            *SEEN.lock().unwrap() = Some((
                code,
                message.to_string_lossy().into_owned(),
                token.is_null(),
            ));
        }
    }

    thread_local! {
        static GUARD: CallsOnDrop = const { CallsOnDrop };
    }

    #[test]
    fn calls_from_a_thread_local_destructor_work_after_the_library_state_is_gone() {
        std::thread::spawn(|| {
            // The guard first: thread-local destructors run in reverse order of creation, so
            // the guard's runs after the library's own thread-locals are destroyed.
            GUARD.with(|_| ());
            // SAFETY: as in `drop` above.
            let token =
                unsafe { iam_token_get(std::ptr::null(), 5432, c"".as_ptr(), c"app".as_ptr()) };
            assert!(token.is_null());
            assert_eq!(iam_last_error_code(), ErrorCode::NullArgument);
        })
        .join()
        .unwrap();
        let seen = SEEN.lock().unwrap().take();
        let (code, message, null) = seen.expect("the destructor ran");
        assert!(null);
        assert_eq!(code, ErrorCode::NullArgument);
        assert_eq!(
            message,
            ErrorCode::NullArgument.description().to_str().unwrap()
        );
    }
}

// --- The CA lookup, for C callers that hand a CA file to a client library. ---

thread_local! {
    static LAST_CA_PATH: RefCell<CString> = RefCell::new(CString::default());
}

/// The CA file (PEM) to verify database servers with when a connection names none:
/// `IAM_DB_AUTH_CA_FILE`, else the copy `iam-db-auth ca update` wrote (per-user, then system
/// cache), else the installed RDS bundle, else the RDS bundle built into the library, written
/// out to a file. For clients that take a path, such as libpq's `sslrootcert`.
///
/// Returns NULL on failure (`IAM_DB_AUTH_CA_FILE` names a file that cannot be read, or the
/// built-in bundle cannot be written anywhere), with the error recorded as for the other
/// calls. The string belongs to the library and stays valid until the next `iam_ca_file` call
/// on the same thread; copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn iam_ca_file() -> *const c_char {
    boundary(std::ptr::null(), || {
        let (path, _) = crate::ca::path_for_clients(None)?;
        let path = CString::new(path.into_os_string().into_vec()).map_err(|_| {
            crate::error::Error::new(
                crate::error::ErrorCode::CaUnavailable,
                "the CA file's path contains a NUL byte",
            )
        })?;
        Ok(LAST_CA_PATH.with(|slot| {
            *slot.borrow_mut() = path;
            slot.borrow().as_ptr()
        }))
    })
}
