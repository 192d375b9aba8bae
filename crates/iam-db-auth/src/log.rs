//! A small stderr logger switched by `IAM_DB_AUTH_LOG=off|error|warn|info|debug`
//! (default `warn`). Read once per process. Callers never log tokens, secret keys or
//! session tokens: they log host, user, region, source names and timings only.
//!
//! Lines go straight to file descriptor 2, not through `std::io::stderr()`: that handle has a
//! process-wide lock, and a `fork()` taken while another thread holds it leaves the child
//! waiting on it for ever at its first log line (seen in the fork tests).

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

fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live, readable buffer of `bytes.len()` bytes for the whole
        // call, and file descriptor 2 is only written to, never closed or otherwise owned.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
        {
            continue;
        } else {
            // A closed or full stderr: the log line is lost, the caller is not hurt.
            return;
        }
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
