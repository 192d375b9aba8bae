//! The standard streams when nobody is there: a stderr whose reader has gone, a stdout closed
//! before the command started.
//!
//! - `eprintln!` here replaces std's in every module of the crate (lib.rs declares this module
//!   first, with `#[macro_use]`): std's panics when the write fails (EPIPE), turning a message
//!   about something into a crash (exit 101) and ending `pgpass --watch` at its next log line.
//!   Ours writes the line in one call and lets a failed write go: a lost message costs nothing
//!   the exit status does not already say.
//! - A stdout closed at start (`iam-db-auth token >&-`) is seen before std starts: std then
//!   opens /dev/null on it, and its stdout treats a write that fails with EBADF as done, so a
//!   token would be printed into nothing with exit status 0. The binary notes it from an
//!   ELF constructor (main.rs) and the commands whose output is the point fail instead.

use std::sync::atomic::{AtomicBool, Ordering};

/// Writes a line to stderr, in one `write` when it can, ignoring a failure.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let line = format!("{}\n", format_args!($($arg)*));
        let _ = std::io::stderr().write_all(line.as_bytes());
    }};
}

static STDOUT_CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

/// Notes whether file descriptor 1 is closed. For the binary's constructor, which runs before
/// std's start-up code: it only queries the descriptor and stores a flag.
pub fn note_closed_stdout() {
    // SAFETY: F_GETFD only reads the flags of descriptor 1; it fails (EBADF) when 1 is closed.
    let closed = unsafe { libc::fcntl(1, libc::F_GETFD) } == -1;
    STDOUT_CLOSED_AT_START.store(closed, Ordering::Relaxed);
}

/// Whether stdout was closed when the process started (see the module doc).
pub fn stdout_was_closed() -> bool {
    STDOUT_CLOSED_AT_START.load(Ordering::Relaxed)
}
