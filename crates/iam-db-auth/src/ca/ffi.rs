//! `iam_ca_file`: the lookup for C callers that hand a CA file to a client library (the libpq
//! shim sets `sslrootcert` from it).

use crate::ffi::boundary;
use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::os::unix::ffi::OsStringExt as _;

thread_local! {
    static LAST_PATH: RefCell<CString> = RefCell::new(CString::default());
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
        let (path, _) = super::path_for_clients(None)?;
        let path = CString::new(path.into_os_string().into_vec()).map_err(|_| {
            crate::error::Error::new(
                crate::error::ErrorCode::CaUnavailable,
                "the CA file's path contains a NUL byte",
            )
        })?;
        Ok(LAST_PATH.with(|slot| {
            *slot.borrow_mut() = path;
            slot.borrow().as_ptr()
        }))
    })
}
