//! Which libpq this machine's programs load by default, so the `pgpass` helper can warn when
//! it is a release that cuts passfile lines at 320 bytes (every token line is longer).
//!
//! Only the `iam-db-auth` binary does this, never the library: it `dlopen`s `libpq.so.5`
//! privately (RTLD_LOCAL), calls `PQlibVersion` (a constant lookup: no connection, no I/O) and
//! closes it again. Programs with their own libpq (psycopg's binary wheel, static builds)
//! cannot be seen from here; docs/postgres.md says so.

use std::ffi::{CStr, c_char, c_int, c_void};

/// The libpq a dynamically linked program would load, and its `PQlibVersion()`.
pub struct Libpq {
    /// The library's file, as the dynamic loader found it.
    pub path: String,
    /// `PQlibVersion()`, e.g. 150018 for 15.18.
    pub version: i32,
}

/// Loads `libpq.so.5` (the soname every libpq since 8.x has) and asks its version. `None` when
/// there is no system libpq or it is too old to have `PQlibVersion` (before 9.1).
pub fn system_libpq() -> Option<Libpq> {
    const NAME: &CStr = c"libpq.so.5";
    // SAFETY: dlopen/dlsym/dladdr/dlclose are called with NUL-terminated strings that outlive
    // the calls; the handle is checked for NULL and closed exactly once; the symbol is called
    // only if found, with the signature libpq has always given it (`int PQlibVersion(void)`),
    // and the path from dladdr is copied before the library is closed.
    unsafe {
        let handle = libc::dlopen(NAME.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if handle.is_null() {
            return None;
        }
        let symbol = libc::dlsym(handle, c"PQlibVersion".as_ptr());
        let result = if symbol.is_null() {
            None
        } else {
            let pq_lib_version: extern "C" fn() -> c_int = std::mem::transmute(symbol);
            let version = pq_lib_version();
            let mut info: libc::Dl_info = std::mem::zeroed();
            let path = if libc::dladdr(symbol as *const c_void, &mut info) != 0
                && !info.dli_fname.is_null()
            {
                CStr::from_ptr(info.dli_fname as *const c_char)
                    .to_string_lossy()
                    .into_owned()
            } else {
                "libpq.so.5".to_string()
            };
            Some(Libpq { path, version })
        };
        libc::dlclose(handle);
        result
    }
}
