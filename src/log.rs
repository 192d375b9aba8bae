//! A small stderr logger switched by `IAM_DB_AUTH_LOG=off|error|warn|info|debug`
//! (default `warn`). Read once per process. Callers never log tokens, secret keys or
//! session tokens: they log host, user, region, source names and timings only.

use std::io::Write as _;
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

/// Writes one line to stderr (whole, so lines from threads do not interleave).
pub fn write(at: Level, args: std::fmt::Arguments<'_>) {
    let line = format!(
        "iam-db-auth[{}] {}: {args}\n",
        std::process::id(),
        at.label()
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
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
