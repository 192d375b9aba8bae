//! A small stderr logger switched by `IAM_DB_AUTH_LOG=off|error|warn|info|debug`
//! (default `warn`). Read once per process. Callers never log tokens, secret keys or
//! session tokens: they log host, user, region, source names and timings only.
//!
//! Lines go straight to file descriptor 2, not through `std::io::stderr()`: that handle has a
//! process-wide lock, and a `fork()` taken while another thread holds it leaves the child
//! waiting on it for ever at its first log line (seen in the fork tests). SIGPIPE is blocked
//! around the write: in a C host it usually has its default action, which ends the process,
//! and a stderr whose reader has gone must cost the host a log line, not its life.

use std::sync::OnceLock;

/// How much to say, least first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing at all.
    Off,
    /// Failures the caller is also told about.
    Error,
    /// Something will fail soon or behaves unexpectedly.
    Warn,
    /// One line per token made or credential source used.
    Info,
    /// Every decision: cache hits and misses, each source tried, timings.
    Debug,
}

impl Level {
    fn parse(text: &str) -> Option<Level> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "0" => Some(Level::Off),
            "error" => Some(Level::Error),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" | "trace" => Some(Level::Debug),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Level::Off => "off",
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// The environment variable that sets the level.
pub const LOG_ENV: &str = "IAM_DB_AUTH_LOG";

static LEVEL: OnceLock<Level> = OnceLock::new();

/// The level in force for this process.
pub fn level() -> Level {
    *LEVEL.get_or_init(|| {
        std::env::var(LOG_ENV)
            .ok()
            .and_then(|v| Level::parse(&v))
            .unwrap_or(Level::Warn)
    })
}

/// Whether messages at `at` are written.
#[inline]
pub fn enabled(at: Level) -> bool {
    at != Level::Off && at <= level()
}

/// Writes one line to stderr, whole, in one `write(2)` when the system allows (so lines
/// from threads do not interleave), without taking any lock.
pub fn write(at: Level, args: std::fmt::Arguments<'_>) {
    let line = format!(
        "iam-db-auth[{}] {}: {args}\n",
        std::process::id(),
        at.label()
    );
    write_stderr(line.as_bytes());
}

/// Writes `bytes` to file descriptor 2 with SIGPIPE blocked for the calling thread, as libpq
/// does around its socket writes (`pq_block_sigpipe` / `pq_reset_sigpipe` in fe-secure.c):
/// block it, write, and if the write met a closed pipe (EPIPE) and no SIGPIPE was pending
/// before, take the one the write raised off the thread; then restore the caller's mask. A
/// SIGPIPE the caller already had pending stays pending. If SIGPIPE cannot be blocked, the
/// line is dropped.
fn write_stderr(bytes: &[u8]) {
    let Some(blocked) = SigpipeBlocked::new() else {
        return;
    };
    let broken_pipe = write_all_to_fd2(bytes);
    blocked.restore(broken_pipe);
}

/// Writes all of `bytes` to file descriptor 2 unless it fails; true if it failed with EPIPE.
fn write_all_to_fd2(mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live, readable buffer of `bytes.len()` bytes for the whole
        // call, and file descriptor 2 is only written to, never closed or otherwise owned.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
            continue;
        }
        let error = std::io::Error::last_os_error();
        if n < 0 && error.kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        // A closed, full or broken stderr: the log line is lost, the caller is not hurt.
        return n < 0 && error.raw_os_error() == Some(libc::EPIPE);
    }
    false
}

/// SIGPIPE blocked for the calling thread, and what is needed to put things back.
struct SigpipeBlocked {
    sigpipe: libc::sigset_t,
    previous_mask: libc::sigset_t,
    /// A SIGPIPE was pending for the thread before (possible only if it was blocked already).
    was_pending: bool,
}

impl SigpipeBlocked {
    fn new() -> Option<SigpipeBlocked> {
        let mut sigpipe = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        let mut previous_mask = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set it is given; sigaddset and pthread_sigmask
        // then read the initialised set, and pthread_sigmask writes the previous mask into
        // `previous_mask`, which is read only when it succeeded.
        let (sigpipe, previous_mask) = unsafe {
            libc::sigemptyset(sigpipe.as_mut_ptr());
            libc::sigaddset(sigpipe.as_mut_ptr(), libc::SIGPIPE);
            let sigpipe = sigpipe.assume_init();
            if libc::pthread_sigmask(libc::SIG_BLOCK, &sigpipe, previous_mask.as_mut_ptr()) != 0 {
                return None;
            }
            (sigpipe, previous_mask.assume_init())
        };
        // SAFETY: sigismember reads an initialised set.
        let was_blocked = unsafe { libc::sigismember(&previous_mask, libc::SIGPIPE) } == 1;
        let was_pending = was_blocked && sigpipe_pending();
        Some(SigpipeBlocked {
            sigpipe,
            previous_mask,
            was_pending,
        })
    }

    /// Takes the SIGPIPE a failed write raised (if it raised one and none was pending before),
    /// then restores the caller's mask.
    fn restore(self, broken_pipe: bool) {
        if broken_pipe && !self.was_pending && sigpipe_pending() {
            self.take_pending();
        }
        // SAFETY: `previous_mask` is the initialised mask pthread_sigmask returned in `new`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous_mask, std::ptr::null_mut())
        };
    }
}

impl SigpipeBlocked {
    /// Takes the pending SIGPIPE without waiting for one.
    #[cfg(target_os = "linux")]
    fn take_pending(&self) {
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            // SAFETY: `self.sigpipe` is an initialised set holding SIGPIPE alone; a NULL
            // siginfo pointer is allowed; a zero timeout never waits.
            let taken = unsafe { libc::sigtimedwait(&self.sigpipe, std::ptr::null_mut(), &zero) };
            if taken >= 0
                || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
            {
                break;
            }
        }
    }

    /// Takes the pending SIGPIPE. Without `sigtimedwait` (macOS) this is `sigwait`, called only
    /// after `sigpending` showed the signal pending, so it returns at once; the write's SIGPIPE
    /// is directed at this thread, where no other thread can take it first.
    #[cfg(not(target_os = "linux"))]
    fn take_pending(&self) {
        let mut signal: libc::c_int = 0;
        // SAFETY: `self.sigpipe` is an initialised set holding SIGPIPE alone, which is pending
        // (checked by the caller) and blocked in this thread; `signal` is written by sigwait.
        unsafe { libc::sigwait(&self.sigpipe, &mut signal) };
    }
}

/// Whether a SIGPIPE is pending for the calling thread (or the process).
fn sigpipe_pending() -> bool {
    let mut pending = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending fills the set it is given; it is read only when sigpending succeeded.
    unsafe {
        libc::sigpending(pending.as_mut_ptr()) == 0
            && libc::sigismember(pending.as_ptr(), libc::SIGPIPE) == 1
    }
}

/// Logs at a level if it is enabled; the arguments are not evaluated otherwise.
macro_rules! log_at {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::write($level, format_args!($($arg)*));
        }
    };
}
pub(crate) use log_at;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_levels() {
        assert_eq!(Level::parse("DEBUG"), Some(Level::Debug));
        assert_eq!(Level::parse(" info "), Some(Level::Info));
        assert_eq!(Level::parse("warning"), Some(Level::Warn));
        assert_eq!(Level::parse("off"), Some(Level::Off));
        assert_eq!(Level::parse("loud"), None);
        assert!(Level::Debug > Level::Info && Level::Warn > Level::Error);
    }
}
