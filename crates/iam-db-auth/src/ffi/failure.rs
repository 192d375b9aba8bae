//! `iam_failure`: the failure of one call, handed to its caller by that call (`iam_token_create`)
//! and owned by it until `iam_failure_free`.
//!
//! The thread-local last error (`iam_last_error_*`) is read by a second call, which is only
//! right when both calls run on the same OS thread: Go moves goroutines between threads, and
//! async runtimes and thread pools in other languages move tasks. A failure object belongs to
//! the call that made it, wherever its caller runs next.

use crate::error::{Error, ErrorCode};
use std::ffi::{CString, c_char};

/// The failure of one call: its code and its complete message. Made by the call that failed,
/// owned by its caller, freed with `iam_failure_free`. Immutable: any thread may read it.
pub struct IamFailure {
    code: ErrorCode,
    message: CString,
}

impl IamFailure {
    /// A new failure for `err`, as a pointer owned by the caller.
    pub(crate) fn into_raw(err: &Error) -> *mut IamFailure {
        Box::into_raw(Box::new(IamFailure {
            code: err.code(),
            message: CString::new(err.message().replace('\0', "\\0")).unwrap_or_default(),
        }))
    }
}

/// The code of a failure; `IAM_ERROR_OK` for NULL (no failure). Never blocks.
///
/// # Safety
/// `failure` is NULL or a failure returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iam_failure_code(failure: *const IamFailure) -> ErrorCode {
    // SAFETY: NULL or a live failure (this function's contract).
    match unsafe { failure.as_ref() } {
        Some(failure) => failure.code,
        None => ErrorCode::Ok,
    }
}

/// The complete message of a failure; "" for NULL (no failure). Never NULL. The string
/// belongs to the failure and stays valid until `iam_failure_free`. Never blocks.
///
/// # Safety
/// `failure` is NULL or a failure returned by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iam_failure_message(failure: *const IamFailure) -> *const c_char {
    // SAFETY: NULL or a live failure (this function's contract).
    match unsafe { failure.as_ref() } {
        Some(failure) => failure.message.as_ptr(),
        None => c"".as_ptr(),
    }
}

/// Frees a failure. NULL is accepted and ignored. Never blocks. Thread-safe.
///
/// # Safety
/// `failure` is NULL or a failure returned by this library that has not been freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn iam_failure_free(failure: *mut IamFailure) {
    if !failure.is_null() {
        // SAFETY: made by Box::into_raw in `IamFailure::into_raw` and not yet freed (contract).
        drop(unsafe { Box::from_raw(failure) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn a_failure_keeps_its_code_and_whole_message() {
        let long = "x".repeat(10_000);
        let failure = IamFailure::into_raw(&Error::new(ErrorCode::InvalidHost, long.clone()));
        // SAFETY: a live failure, freed once below.
        unsafe {
            assert_eq!(iam_failure_code(failure), ErrorCode::InvalidHost);
            assert_eq!(
                CStr::from_ptr(iam_failure_message(failure)).to_str(),
                Ok(&*long)
            );
            iam_failure_free(failure);
        }
    }

    #[test]
    fn null_is_no_failure() {
        // SAFETY: NULL is allowed by every one of these functions.
        unsafe {
            assert_eq!(iam_failure_code(std::ptr::null()), ErrorCode::Ok);
            assert_eq!(
                CStr::from_ptr(iam_failure_message(std::ptr::null())).to_bytes(),
                b""
            );
            iam_failure_free(std::ptr::null_mut());
        }
    }
}
