//! The plugin as Connector/C sees it: the exported declaration (the loader `dlsym`s
//! `_mysql_client_plugin_declaration_`, checks `type`, `name` == file name and the major byte of
//! `interface_version`) and `authenticate_user`, the one entry point, called when the server
//! asks for `mysql_clear_password`.
//!
//! `init`, `deinit` and `options` are NULL: there is nothing to set up or tear down (the engine
//! builds its state lazily, and the library is linked `-z nodelete`, so Connector/C's
//! `dlclose` at `mysql_library_end` leaves it mapped and a second load finds it as it was).

use super::bindings::{
    CR_ERROR, CR_OK, MYSQL, MYSQL_CLIENT_AUTHENTICATION_PLUGIN,
    MYSQL_CLIENT_AUTHENTICATION_PLUGIN_INTERFACE_VERSION, MYSQL_PLUGIN_VIO,
    st_mysql_client_plugin_AUTHENTICATION,
};
use super::{client_error, connection, login};
use crate::error::{Error, ErrorCode};
use crate::log::{Level, log_at};
use std::cell::UnsafeCell;
use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};
use zeroize::Zeroizing;

/// The declaration's storage. C plugins declare it as a plain (writable) global; the
/// `UnsafeCell` keeps ours out of read-only memory too, so a loader that wrote to it would not
/// crash. We never write to it.
#[repr(transparent)]
pub struct Declaration(UnsafeCell<st_mysql_client_plugin_AUTHENTICATION>);

// SAFETY: the declaration is initialised at compile time and never written by this library;
// Connector/C only reads it (from any thread). Its pointers are to static strings and
// functions.
unsafe impl Sync for Declaration {}

/// The plugin declaration Connector/C looks up by name. Layout: the real header's
/// `struct st_mysql_client_plugin_AUTHENTICATION` (see `bindings`).
#[allow(non_upper_case_globals)]
#[unsafe(no_mangle)]
pub static _mysql_client_plugin_declaration_: Declaration =
    Declaration(UnsafeCell::new(st_mysql_client_plugin_AUTHENTICATION {
        type_: MYSQL_CLIENT_AUTHENTICATION_PLUGIN as c_int,
        interface_version: MYSQL_CLIENT_AUTHENTICATION_PLUGIN_INTERFACE_VERSION,
        name: c"mysql_clear_password".as_ptr(),
        author: c"iam-db-auth".as_ptr(),
        desc: c"Sends an AWS IAM authentication token (RDS IAM database authentication) as the cleartext password".as_ptr(),
        version: [
            version_part(env!("CARGO_PKG_VERSION_MAJOR")),
            version_part(env!("CARGO_PKG_VERSION_MINOR")),
            version_part(env!("CARGO_PKG_VERSION_PATCH")),
        ],
        license: c"Apache-2.0".as_ptr(),
        mysql_api: std::ptr::null_mut(),
        init: None,
        deinit: None,
        options: None,
        authenticate_user: Some(authenticate_user),
    }));

/// A decimal version component, at compile time.
const fn version_part(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut value = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

/// Why a login attempt stopped.
enum Failure {
    /// We refused (no token, no TLS, ...): our message goes into the connection's error.
    Refused(Error),
    /// Sending failed: Connector/C has already recorded the connection error.
    SendFailed,
}

/// Called by Connector/C when the server asks for `mysql_clear_password`. Sends the password
/// the client was given, or else an IAM token for the connection; returns `CR_OK` when sent,
/// `CR_ERROR` with the reason in the connection's error (and on stderr) when not.
///
/// # Safety
/// Connector/C passes its plugin VIO and the connection, both valid for the call.
unsafe extern "C" fn authenticate_user(vio: *mut MYSQL_PLUGIN_VIO, mysql: *mut MYSQL) -> c_int {
    if vio.is_null() || mysql.is_null() {
        return CR_ERROR as c_int;
    }
    // SAFETY: both pointers come from Connector/C for this call (checked non-NULL above).
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { authenticate(vio, mysql) }));
    let error = match outcome {
        Ok(Ok(())) => return CR_OK,
        Ok(Err(Failure::SendFailed)) => return CR_ERROR as c_int,
        Ok(Err(Failure::Refused(error))) => error,
        Err(_) => Error::new(
            ErrorCode::Internal,
            "internal error in the iam-db-auth plugin (a bug, please report it)",
        ),
    };
    // The whole message on stderr (the client's error text holds 511 bytes), unless
    // IAM_DB_AUTH_LOG=off.
    log_at!(Level::Error, "mysql_clear_password: {}", error.message());
    // SAFETY: `mysql` is Connector/C's connection, writable for the call.
    unsafe { client_error::set(mysql, &format!("iam-db-auth: {}", error.message())) };
    CR_ERROR as c_int
}

/// # Safety
/// As `authenticate_user`, with both pointers non-NULL.
unsafe fn authenticate(vio: *mut MYSQL_PLUGIN_VIO, mysql: *mut MYSQL) -> Result<(), Failure> {
    // SAFETY: forwarded contract; the borrowed strings live through the call.
    let conn = unsafe { connection::read(mysql) };
    let trust = login::Trust::of_this_process();
    let secret = login::secret_for(&conn, crate::config::env_defaults(), &trust, |request| {
        crate::engine::token_for(request)
    })
    .map_err(Failure::Refused)?;
    // The packet is the text with its terminating NUL, as the stock plugin sends it.
    let packet = match secret {
        login::Secret::Password(password) => Zeroizing::new(password.to_bytes_with_nul().to_vec()),
        login::Secret::Token(token) => {
            let mut bytes = Zeroizing::new(Vec::with_capacity(token.as_str().len() + 1));
            bytes.extend_from_slice(token.as_str().as_bytes());
            bytes.push(0);
            bytes
        }
    };
    // SAFETY: forwarded contract.
    unsafe { send(vio, &packet) }
}

/// Writes one packet through Connector/C's VIO.
///
/// # Safety
/// `vio` is the valid plugin VIO of the current authentication.
unsafe fn send(vio: *mut MYSQL_PLUGIN_VIO, packet: &[u8]) -> Result<(), Failure> {
    // SAFETY: `vio` is valid for reads per this function's contract.
    let write = unsafe { (*vio).write_packet }.ok_or_else(|| {
        Failure::Refused(Error::new(
            ErrorCode::Internal,
            "Connector/C passed a VIO without write_packet",
        ))
    })?;
    let len = c_int::try_from(packet.len())
        .map_err(|_| Failure::Refused(Error::new(ErrorCode::Internal, "the packet is too long")))?;
    // SAFETY: `write_packet` is Connector/C's, called as its header declares, with a buffer
    // of `len` readable bytes that outlives the call.
    if unsafe { write(vio, packet.as_ptr(), len) } != 0 {
        return Err(Failure::SendFailed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn the_declaration_is_what_the_loader_checks() {
        // SAFETY: the declaration is never written; reading it is what Connector/C does.
        let d = unsafe { &*_mysql_client_plugin_declaration_.0.get() };
        assert_eq!(d.type_, 2, "MYSQL_CLIENT_AUTHENTICATION_PLUGIN");
        // Connector/C 3.3 and 3.4 compare only the major byte.
        assert_eq!(d.interface_version >> 8, 0x01);
        // The loader requires the name to equal the file name (mysql_clear_password.so).
        // SAFETY: a static C string.
        assert_eq!(unsafe { CStr::from_ptr(d.name) }, c"mysql_clear_password");
        assert!(d.authenticate_user.is_some());
        assert!(d.init.is_none() && d.deinit.is_none() && d.options.is_none());
        let version = d.version.map(|p| p.to_string()).join(".");
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn null_arguments_are_refused_without_touching_anything() {
        let auth = &_mysql_client_plugin_declaration_;
        // SAFETY: as above.
        let f = unsafe { (*auth.0.get()).authenticate_user }.unwrap();
        // SAFETY: NULL arguments are checked first.
        let rc = unsafe { f(std::ptr::null_mut(), std::ptr::null_mut()) };
        assert_eq!(rc, CR_ERROR as c_int);
    }
}
