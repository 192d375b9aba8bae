//! What the helper says on stderr: log lines (time-stamped when watching), where each entry
//! went and which earlier lines libpq would use instead, and a system libpq too old for token
//! lines. Entries are named `host:port:database:user`; a token never appears.

use crate::cli::libpq_probe;
use crate::pgpass::{EntryKey, Upserted, libpq_reads_long_lines, libpq_version_text};
use iam_db_auth::{Token, UtcSeconds};
use std::path::Path;
use std::time::SystemTime;

/// Writes a line to stderr, with the time when watching.
pub(super) struct Log {
    pub(super) quiet: bool,
    pub(super) stamp: bool,
}

impl Log {
    fn line(&self, level: &str, message: &str) {
        let stamp = if self.stamp {
            format!(
                "{} ",
                UtcSeconds::from_system_time(SystemTime::now())
                    .map_or_else(String::new, |t| t.rfc3339())
            )
        } else {
            String::new()
        };
        eprintln!("{stamp}iam-db-auth pgpass: {level}{message}");
    }
    pub(super) fn info(&self, message: &str) {
        if !self.quiet {
            self.line("", message);
        }
    }
    pub(super) fn warn(&self, message: &str) {
        self.line("warning: ", message);
    }
    pub(super) fn error(&self, message: &str) {
        self.line("error: ", message);
    }
}

/// Reports an entry written and (when `shadows`) any earlier line that libpq would use instead.
pub(super) fn report(
    log: &Log,
    path: &Path,
    key: &EntryKey,
    placed: &Upserted,
    token: &Token,
    shadows: bool,
) {
    let until = UtcSeconds::from_system_time(token.expires_at())
        .map_or_else(|| "?".into(), |t| t.rfc3339());
    log.info(&format!(
        "{} {key} in {} (line {}); token valid until {until}",
        if placed.replaced { "updated" } else { "added" },
        path.display(),
        placed.line,
    ));
    for shadow in placed.shadowed_by.iter().filter(|_| shadows) {
        if shadow.complete {
            log.warn(&format!(
                "line {} ({}) comes first and matches every connection {key} is for: libpq \
                 will use that line, not the token. Remove it or move it below line {}",
                shadow.line, shadow.key, placed.line
            ));
        } else {
            log.warn(&format!(
                "line {} ({}) comes first and matches some connections {key} is for: those use \
                 that line, not the token",
                shadow.line, shadow.key
            ));
        }
    }
}

/// Warns when the machine's libpq cuts passfile lines (all token lines are longer).
pub(super) fn check_system_libpq(log: &Log) {
    match libpq_probe::system_libpq() {
        Some(lib) if !libpq_reads_long_lines(lib.version) => log.warn(&format!(
            "the system libpq ({}, version {}) reads at most about 320 bytes of a passfile line; \
             token lines are longer, so programs using it will send a cut token and fail. \
             Upgrade libpq (13.0+, 12.5+, 11.10+, 10.15+, 9.6.20+ or 9.5.24+) or use \
             `iam-db-auth exec`",
            lib.path,
            libpq_version_text(lib.version)
        )),
        _ => {}
    }
}
