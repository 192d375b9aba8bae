//! One edit of the passfile: every new token put in at once, under the directory lock, redone
//! when another editor changed the file in between. Tokens are made before this is called, so
//! a failure leaves the file as it was.

use super::passfile::{Editing, FileError};
use super::report::Log;
use crate::pgpass::{EntryKey, Passfile, Upserted};
use iam_db_auth::{Error, Token};
use std::path::Path;

/// How many times an edit is redone when the file changes under it.
const EDIT_ATTEMPTS: usize = 5;

/// Why a refresh failed, and whether trying again can help.
pub(super) struct Failure {
    pub(super) message: String,
    pub(super) transient: bool,
}

impl Failure {
    pub(super) fn token(key: &EntryKey, err: &Error) -> Failure {
        Failure {
            message: format!("no token for {key}: {}", err.message()),
            transient: err.code().is_transient(),
        }
    }
}

/// Puts the tokens into the file in one edit. Returns where each entry went.
pub(super) fn write_entries(
    path: &Path,
    entries: &[(EntryKey, Token)],
    log: &Log,
) -> Result<Vec<Upserted>, Failure> {
    let file_failure = |e: FileError| Failure {
        transient: !matches!(e, FileError::Refused(_)),
        message: format!("{} not updated: {e}", path.display()),
    };
    let editing = Editing::begin(path).map_err(file_failure)?;
    for attempt in 1..=EDIT_ATTEMPTS {
        let snapshot = editing.read().map_err(file_failure)?;
        let mut passfile = Passfile::parse(&snapshot.contents).map_err(|e| Failure {
            message: format!(
                "{} not updated: {e} (libpq reads this file too: fix it by hand)",
                path.display()
            ),
            transient: true,
        })?;
        let placed: Vec<Upserted> = entries
            .iter()
            .map(|(key, token)| passfile.upsert(key, token.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|e| Failure {
                message: format!("{} not updated: {e}", path.display()),
                transient: false,
            })?;
        match editing.replace(&passfile.to_bytes(), &snapshot) {
            Ok(()) => {
                if let Some(mode) = snapshot.mode.filter(|m| m & 0o077 != 0) {
                    log.warn(&format!(
                        "{} was mode {mode:04o}, so libpq ignored it; it is now 0600",
                        path.display()
                    ));
                }
                return Ok(placed);
            }
            Err(FileError::Changed) if attempt < EDIT_ATTEMPTS => continue,
            Err(e) => return Err(file_failure(e)),
        }
    }
    unreachable!("the loop returns on its last attempt")
}
