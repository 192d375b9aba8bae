//! Is the connection encrypted, and with which certificate chain? Read from the connection's
//! transport (`MARIADB_PVIO`, `ma_pvio.h`): Connector/C sets `pvio->ctls` when the TLS handshake
//! has completed (`ma_pvio_start_ssl`), which is what `mysql_get_ssl_cipher()` tests too, and
//! `ctls->ssl` (`ma_tls.h`) is the TLS library's session, from which `peer_chain` reads the
//! certificates the server sent.
//!
//! What Connector/C itself verified is not consulted: 3.3 leaves `net.tls_verify_status`
//! (3.4's name for 3.3's `unused_2`) at 0 whether or not it checked anything, its clients'
//! defaults (the `mariadb` 10.11 CLI, `MYSQL_OPT_SSL_ENFORCE` alone) check nothing, and with a
//! CA but no `ssl-verify-server-cert` it checks the chain but not the name. The plugin checks
//! the chain and the name itself (`login`).

use super::bindings::MYSQL;
use super::peer_chain;

/// How the connection is protected, as far as Connector/C knows at the time of the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Transport {
    /// TLS is up; the certificates the server sent (DER, leaf first), or why they could not be
    /// read.
    Tls { chain: Result<Vec<Vec<u8>>, String> },
    /// No TLS (yet): plain TCP or a Unix socket.
    Plain,
}

/// Reads the transport state.
///
/// # Safety
/// `mysql` is a valid `MYSQL *` (as in `connection::read`); its `net.pvio` is NULL or points to
/// the connection's live `MARIADB_PVIO`, whose `ctls` is NULL or its live `MARIADB_TLS`.
pub(crate) unsafe fn transport(mysql: *mut MYSQL) -> Transport {
    // SAFETY: the pointers are valid for reads per this function's contract, each checked for
    // NULL before it is followed.
    let ssl = unsafe {
        let pvio = (*mysql).net.pvio;
        if pvio.is_null() || (*pvio).ctls.is_null() {
            return Transport::Plain;
        }
        (*(*pvio).ctls).ssl
    };
    if ssl.is_null() {
        return Transport::Tls {
            chain: Err("the connection has no TLS session".into()),
        };
    }
    Transport::Tls {
        // SAFETY: `mysql` and its live, non-NULL TLS session, per this function's contract.
        chain: unsafe { peer_chain::read(mysql, ssl) },
    }
}
