//! The two system calls editing the passfile needs that the standard library does not offer
//! at this crate's minimum Rust: the effective user id, and a non-blocking exclusive `flock`.
//! The only unsafe code of the `pgpass` command.

use std::fs::File;
use std::os::fd::AsRawFd as _;

/// The effective user id of this process.
pub(super) fn euid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Takes an exclusive `flock` on `file` without waiting: `Ok(true)` when taken, `Ok(false)`
/// when another open file description holds it. Released when `file` is closed.
pub(super) fn try_lock_exclusive(file: &File) -> std::io::Result<bool> {
    // SAFETY: flock(2) on a descriptor that `file` owns for the duration of the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(err)
    }
}
