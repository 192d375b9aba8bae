//! Reading what the plugin needs out of Connector/C's `MYSQL` structure.
//!
//! Connector/C fills `host`, `user`, `passwd` and `port` in `mthd_my_real_connect` before it
//! runs any authentication plugin (and `mysql_change_user` sets `user`/`passwd` before it
//! re-runs them), so they describe the connection being authenticated: the host the client
//! connected to (one entry of a multi-host list; "localhost" for a Unix socket), its port and
//! the user name it sends. `options.ssl_ca`/`ssl_capath` hold the CA the client gave, however
//! it gave it (`mysql_optionsv(MYSQL_OPT_SSL_CA)`, `mysql_ssl_set`, option files all store
//! it there, in 3.3 and 3.4). The fields are read at the offsets of the real header (`bindings`);
//! the `MYSQL` layout is part of Connector/C's ABI (applications embed the structure), and these
//! members sit where they are in 3.3 and 3.4 alike.

use super::bindings::MYSQL;
use super::tls::{self, Transport};
use std::ffi::{CStr, c_char};

/// The facts of one connection, borrowed from its `MYSQL` structure for one plugin call.
pub(crate) struct Connection<'a> {
    /// The host connected to; `None` if Connector/C has none (it always sets one today).
    pub host: Option<&'a CStr>,
    /// The port connected to (0 for a Unix socket given without a port).
    pub port: u32,
    /// The user name sent to the server; `None` or empty when the client gave none.
    pub user: Option<&'a CStr>,
    /// The password the client was given (`-p`, `MYSQL_PWD`, `password=`), if not empty.
    /// Secret: never logged, never shown.
    pub password: Option<&'a CStr>,
    /// Encryption of the connection, and the server's certificate chain.
    pub transport: Transport,
    /// The CA file the connection was given (`--ssl-ca`, `ssl-ca=`, `MYSQL_OPT_SSL_CA`,
    /// `mysql_ssl_set`, mysqlclient's `ssl={"ca": ...}`), if any.
    pub ssl_ca: Option<&'a CStr>,
    /// The CA directory the connection was given (`--ssl-capath`, `MYSQL_OPT_SSL_CAPATH`).
    pub ssl_capath: Option<&'a CStr>,
}

/// Reads the connection facts.
///
/// # Safety
/// `mysql` is the non-NULL `MYSQL *` Connector/C passed to `authenticate_user`, valid (and not
/// changed by another thread) for `'a`: Connector/C owns the strings and keeps them for the
/// whole authentication.
pub(crate) unsafe fn read<'a>(mysql: *mut MYSQL) -> Connection<'a> {
    // SAFETY: `mysql` is valid for reads per this function's contract; the fields are plain
    // values or pointers to NUL-terminated strings owned by Connector/C (or NULL).
    unsafe {
        let m = &*mysql;
        Connection {
            host: optional_cstr(m.host),
            port: m.port,
            user: optional_cstr(m.user),
            password: optional_cstr(m.passwd).filter(|p| !p.is_empty()),
            transport: tls::transport(mysql),
            ssl_ca: optional_cstr(m.options.ssl_ca).filter(|p| !p.is_empty()),
            ssl_capath: optional_cstr(m.options.ssl_capath).filter(|p| !p.is_empty()),
        }
    }
}

/// A C string field: NULL becomes `None`.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string valid for `'a`.
unsafe fn optional_cstr<'a>(ptr: *const c_char) -> Option<&'a CStr> {
    // SAFETY: per this function's contract.
    (!ptr.is_null()).then(|| unsafe { CStr::from_ptr(ptr) })
}
