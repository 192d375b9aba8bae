//! Writing a failure into the `MYSQL` structure, as Connector/C's own code does
//! (`my_set_error`): `net.last_errno`, `net.sqlstate` and `net.last_error`. Connector/C keeps an
//! error a plugin set when the plugin returns `CR_ERROR` (`run_plugin_auth` only fills in
//! `CR_UNKNOWN_ERROR` when `last_errno` is 0), so the client shows our message:
//! `ERROR 2061 (HY000): iam-db-auth: ...`, `mysql_error()`, Python's `OperationalError`.

use super::bindings::{CR_AUTH_PLUGIN_ERR, MYSQL, SQLSTATE_LENGTH};

/// The SQLSTATE Connector/C uses for client-side errors (`SQLSTATE_UNKNOWN`).
const SQLSTATE: &[u8; SQLSTATE_LENGTH as usize] = b"HY000";

/// Records `message` as the connection's error (code `CR_AUTH_PLUGIN_ERR`). A message longer
/// than the structure holds (511 bytes) is cut at a character boundary and ends with "...";
/// the caller prints the whole one on stderr.
///
/// # Safety
/// `mysql` is the non-NULL, writable `MYSQL *` passed to `authenticate_user`.
pub(crate) unsafe fn set(mysql: *mut MYSQL, message: &str) {
    // SAFETY: `mysql` is valid for writes per this function's contract; the array writes stay
    // inside the fixed-size arrays of the structure (lengths from the real header).
    unsafe {
        let net = &mut (*mysql).net;
        net.last_errno = CR_AUTH_PLUGIN_ERR;
        for (dst, src) in net.sqlstate.iter_mut().zip(SQLSTATE.iter().chain([&0u8])) {
            *dst = *src as std::ffi::c_char;
        }
        let text = fit(message, net.last_error.len() - 1);
        for (dst, src) in net.last_error.iter_mut().zip(text.bytes().chain([0u8])) {
            *dst = src as std::ffi::c_char;
        }
    }
}

/// `message` if it fits in `capacity` bytes, else its longest prefix (at a character boundary)
/// that fits with "..." after it. NUL bytes become spaces (C strings end at the first one).
fn fit(message: &str, capacity: usize) -> String {
    let message = message.replace('\0', " ");
    if message.len() <= capacity {
        return message;
    }
    let mut end = capacity.saturating_sub(3);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::fit;

    #[test]
    fn short_messages_are_kept_whole() {
        assert_eq!(fit("no credentials", 511), "no credentials");
        assert_eq!(fit("a\0b", 511), "a b");
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let long = "é".repeat(400); // 800 bytes
        let cut = fit(&long, 511);
        assert!(cut.len() <= 511, "{}", cut.len());
        assert!(cut.ends_with("..."));
        assert!(cut.trim_end_matches("...").chars().all(|c| c == 'é'));
    }
}
