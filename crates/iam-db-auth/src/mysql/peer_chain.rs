//! The server's certificate chain, read from the TLS session libmariadb holds
//! (`mysql->net.pvio->ctls->ssl`), so the plugin can check it itself: Connector/C 3.3 reports
//! no verification result a plugin could trust (`tls_verify_status` reads 0 whether or not the
//! certificate was checked), and its clients' defaults verify nothing.
//!
//! The session is the TLS library's own object, so it is read with that library's functions,
//! found at run time in the library libmariadb is linked with: `dladdr` on libmariadb's method
//! table gives its file, `dlopen(RTLD_NOLOAD)` a handle on the already-loaded object (Python
//! loads extension libraries `RTLD_LOCAL`, so a global lookup would not see them), and
//! `dlsym` on that handle searches it and its dependencies. When libmariadb is part of the
//! program (the `mariadb` CLI links it statically), the program's handle is used. Nothing is
//! linked: the plugin still loads where no TLS library is.
//!
//! Before any TLS function is called on the session, libmariadb is asked which TLS library it
//! uses (`mariadb_get_info(MARIADB_TLS_LIBRARY)`): only OpenSSL is read (Debian, Ubuntu, Fedora,
//! RHEL build libmariadb on it); and the OpenSSL found must report the same version string,
//! so the functions are those of the library that made the session.

use super::bindings::{MYSQL, mariadb_value_MARIADB_TLS_LIBRARY};
use std::ffi::{CStr, c_char, c_int, c_uint, c_void};

/// At most this many certificates are taken from the chain (servers send 2 or 3).
const MAX_CERTIFICATES: c_int = 16;
/// A certificate longer than this is not one a database server sends.
const MAX_CERTIFICATE_BYTES: c_int = 64 * 1024;

type GetInfo = unsafe extern "C" fn(*mut MYSQL, c_uint, *mut c_void) -> c_char;
type PeerCertChain = unsafe extern "C" fn(*const c_void) -> *mut c_void;
type StackNum = unsafe extern "C" fn(*const c_void) -> c_int;
type StackValue = unsafe extern "C" fn(*const c_void, c_int) -> *mut c_void;
type X509ToDer = unsafe extern "C" fn(*const c_void, *mut *mut u8) -> c_int;
type Version = unsafe extern "C" fn(c_int) -> *const c_char;

/// The chain the server sent (DER, leaf first), or why it could not be read.
///
/// # Safety
/// `mysql` is the connection Connector/C passed to the plugin, `ssl` its live TLS session
/// (`pvio->ctls->ssl`, non-NULL), both valid for the call.
pub(crate) unsafe fn read(mysql: *mut MYSQL, ssl: *mut c_void) -> Result<Vec<Vec<u8>>, String> {
    // SAFETY: `mysql` is valid for reads (this function's contract); `methods` points into
    // libmariadb's data (or is NULL, which dladdr reports as not found).
    let anchor = unsafe { (*mysql).methods } as *const c_void;
    let library = Library::containing(anchor)?;
    // SAFETY: each symbol is called with the signature its library declares:
    // `my_bool mariadb_get_info(MYSQL *, enum mariadb_value, void *)`,
    // `const char *OpenSSL_version(int)`, `STACK_OF(X509) *SSL_get_peer_cert_chain(const SSL *)`,
    // `int OPENSSL_sk_num(const OPENSSL_STACK *)`, `void *OPENSSL_sk_value(const OPENSSL_STACK *, int)`,
    // `int i2d_X509(const X509 *, unsigned char **)`; every pointer passed is valid: `mysql`
    // and `ssl` by this function's contract, the stack and its elements as OpenSSL returned them
    // (owned by the session, which outlives the call), and buffers of the length i2d_X509 asked
    // for. The session is only read.
    unsafe {
        let get_info: GetInfo = library.symbol(c"mariadb_get_info")?;
        let mut name: *const c_char = std::ptr::null();
        let failed = get_info(
            mysql,
            mariadb_value_MARIADB_TLS_LIBRARY,
            (&raw mut name).cast::<c_void>(),
        );
        if failed != 0 || name.is_null() {
            return Err("libmariadb does not say which TLS library it uses".into());
        }
        let tls_library = CStr::from_ptr(name).to_string_lossy().into_owned();
        if !tls_library.starts_with("OpenSSL") {
            return Err(format!(
                "libmariadb uses {tls_library}; the plugin reads certificates from OpenSSL \
                 sessions only"
            ));
        }
        let version: Version = library.symbol(c"OpenSSL_version")?;
        let found = version(0);
        if found.is_null()
            || !CStr::from_ptr(found)
                .to_string_lossy()
                .starts_with(&tls_library)
        {
            return Err(format!(
                "the OpenSSL found next to libmariadb is not the one it uses ({tls_library})"
            ));
        }
        let chain_of: PeerCertChain = library.symbol(c"SSL_get_peer_cert_chain")?;
        let count: StackNum = library.symbol(c"OPENSSL_sk_num")?;
        let value: StackValue = library.symbol(c"OPENSSL_sk_value")?;
        let to_der: X509ToDer = library.symbol(c"i2d_X509")?;
        let stack = chain_of(ssl);
        if stack.is_null() {
            return Err("the TLS session holds no server certificate".into());
        }
        let mut chain = Vec::new();
        for i in 0..count(stack).clamp(0, MAX_CERTIFICATES) {
            let certificate = value(stack, i);
            if certificate.is_null() {
                continue;
            }
            let len = to_der(certificate, std::ptr::null_mut());
            if !(1..=MAX_CERTIFICATE_BYTES).contains(&len) {
                return Err(format!(
                    "certificate {i} of the chain cannot be encoded ({len})"
                ));
            }
            let mut der = vec![0u8; len as usize];
            let mut out = der.as_mut_ptr();
            if to_der(certificate, &mut out) != len {
                return Err(format!("certificate {i} of the chain cannot be encoded"));
            }
            chain.push(der);
        }
        Ok(chain)
    }
}

/// A handle on an already-loaded object (closed on drop).
struct Library(*mut c_void);

impl Library {
    /// The object that contains `address`, or the program's global scope when that object is
    /// the program itself.
    fn containing(address: *const c_void) -> Result<Library, String> {
        // SAFETY: dladdr only reads the loader's tables and writes `info`; dlopen is called with
        // RTLD_NOLOAD (nothing is loaded or initialised) on the loader's own name for the
        // object, or with NULL for the program; the handle is closed once, in Drop.
        unsafe {
            let mut info: libc::Dl_info = std::mem::zeroed();
            if address.is_null()
                || libc::dladdr(address, &mut info) == 0
                || info.dli_fname.is_null()
            {
                return Err("cannot find the library libmariadb is in".into());
            }
            let mut handle = libc::dlopen(info.dli_fname, libc::RTLD_LAZY | libc::RTLD_NOLOAD);
            if handle.is_null() {
                handle = libc::dlopen(std::ptr::null(), libc::RTLD_LAZY);
            }
            if handle.is_null() {
                return Err("cannot open the library libmariadb is in".into());
            }
            Ok(Library(handle))
        }
    }

    /// A function of the object or its dependencies, as a function pointer of type `F`.
    ///
    /// # Safety
    /// `F` is an `extern "C"` function pointer type matching the symbol's real signature.
    unsafe fn symbol<F: Copy>(&self, name: &CStr) -> Result<F, String> {
        // SAFETY: the handle is open; the name is a NUL-terminated string.
        let symbol = unsafe { libc::dlsym(self.0, name.as_ptr()) };
        if symbol.is_null() {
            return Err(format!(
                "{} is not found next to libmariadb",
                name.to_string_lossy()
            ));
        }
        debug_assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
        // SAFETY: a non-NULL code address, reinterpreted as the function pointer type the
        // caller vouches for (same size as a data pointer on every Linux target).
        Ok(unsafe { std::mem::transmute_copy::<*mut c_void, F>(&symbol) })
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: the handle came from dlopen and is closed exactly once; an object opened
        // with RTLD_NOLOAD (or the program) stays loaded by its owner.
        unsafe { libc::dlclose(self.0) };
    }
}
