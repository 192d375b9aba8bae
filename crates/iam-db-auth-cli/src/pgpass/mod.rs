//! PostgreSQL password files (`~/.pgpass`, `PGPASSFILE`) exactly as libpq reads them, the
//! edits the `pgpass` helper makes to them, and its other decisions. Pure: bytes, text and
//! times in, results out; no disk, no clock, no environment (the command, in `cli::pgpass`,
//! does those).
//!
//! - `fields.rs`: a line's fields, escaping and unescaping;
//! - `entry.rs`: what an entry is for (host, port, database, user) and how its line is written;
//! - `file.rs`: a passfile as lines, parsed and written back byte for byte, and the edit;
//! - `libpq.rs`: libpq's matching rules: the password libpq takes for a connection, and
//!   which earlier lines win over an entry;
//! - `expiry.rs`: when a token found in the file stops being valid;
//! - `versions.rs`: which libpq releases read lines as long as a token's;
//! - `conninfo.rs`: the `key=value` syntax of the helper's target specs;
//! - `schedule.rs`: when `--watch` refreshes an entry next, and its back-off after failures.
//!
//! A passfile holds other people's secrets (other entries' passwords): buffers here are wiped
//! when dropped, and no error or `Debug` output shows a line's content.

pub mod conninfo;
mod entry;
mod expiry;
mod fields;
mod file;
mod libpq;
pub mod schedule;
mod versions;

pub use entry::{EntryKey, Field};
pub use expiry::token_expiry;
pub use fields::{escape, unescape};
pub use file::{Ending, MAX_FILE_LEN, ParseError, Passfile, Shadow, Upserted};
pub use versions::{LEGACY_LINE_BUFFER, libpq_reads_long_lines, libpq_version_text};

/// A token as the signer writes one (the signature is not checked here).
#[cfg(test)]
const TEST_TOKEN: &str = "db.example.com:5432/?Action=connect&DBUser=app&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20240826%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20240826T220000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=abc";
