//! Is the connection encrypted? Read from the connection's transport (`MARIADB_PVIO`, declared
//! in libmariadb-dev's `ma_pvio.h`): Connector/C sets `pvio->ctls` when the TLS handshake has
//! completed (`ma_pvio_start_ssl`), which is what `mysql_get_ssl_cipher()` tests too.
//!
//! Connector/C 3.4 turns TLS on by default and, when it cannot verify the server's
//! certificate, may go on provisionally and record why in `net.tls_verify_status` (it then
//! fails the login at the end unless the password-hashing handshake vouches for the server,
//! which a cleartext plugin cannot do). A token must not be sent to such a server, so that byte
//! is read too: 3.4 renamed 3.3's never-written `net.unused_2` to `tls_verify_status`, at the
//! same offset, and `mysql_init` zeroes the structure, so it reads 0 under 3.3. (In 3.4.1 the
//! provisional path needs a password, and the plugin makes tokens only when none was given, so
//! this is defence in depth: 3.4.1 itself refuses an unverifiable certificate on a connection
//! to any host but 127.0.0.1, ::1 or a Unix socket, for which it waives the trust check.)

use super::bindings::MYSQL;

/// How the connection is protected, as far as Connector/C knows at the time of the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// TLS is up; `unverified_certificate` holds Connector/C 3.4's verification flags when it
    /// went on without verifying the server's certificate (0: verified, or not checked).
    Tls { unverified_certificate: u8 },
    /// No TLS (yet): plain TCP or a Unix socket.
    Plain,
}

/// Reads the transport state.
///
/// # Safety
/// `mysql` is a valid `MYSQL *` (as in `connection::read`); its `net.pvio` is NULL or points to
/// the connection's live `MARIADB_PVIO`.
pub(crate) unsafe fn transport(mysql: *const MYSQL) -> Transport {
    // SAFETY: both pointers are valid for reads per this function's contract; `pvio` is
    // checked for NULL before it is followed.
    unsafe {
        let net = &(*mysql).net;
        if net.pvio.is_null() || (*net.pvio).ctls.is_null() {
            return Transport::Plain;
        }
        Transport::Tls {
            unverified_certificate: net.unused_2 as u8,
        }
    }
}
