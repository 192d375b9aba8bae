//! `pgpass --watch`: keeps every entry fresh until SIGINT or SIGTERM; SIGHUP reads the targets
//! again and refreshes every entry at once. When to refresh each entry, and how long to back
//! off after a failure, is decided by the pure [`Schedule`]; this loop makes the tokens, edits
//! the file, sleeps and takes the signals.

use super::PgpassArgs;
use super::edit::{Failure, write_entries};
use super::passfile::Editing;
use super::report::{Log, report};
use super::targets::{Target, collect_targets};
use crate::cli::signals::{self, Blocked};
use crate::cli::{EXIT_FAILURE, print_error};
use crate::pgpass::schedule::{Next, Outcome, Schedule, Timing};
use crate::pgpass::{EntryKey, Passfile, Shadow, token_expiry};
use iam_db_auth::{Token, UtcSeconds};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// A target's entry in `--watch`.
struct Slot {
    target: Target,
    key: EntryKey,
    timing: Timing,
    /// The earlier lines that hid the entry at the last refresh (reported when they change).
    shadows: Option<Vec<Shadow>>,
}

pub(super) fn watch(
    args: &PgpassArgs,
    path: &Path,
    targets: &[Target],
    blocked: &Blocked,
    log: &Log,
) -> ExitCode {
    let schedule = Schedule {
        every: args.refresh_every,
    };
    let mut slots = match slots_for(path, targets, &schedule) {
        Ok(slots) => slots,
        Err(e) => {
            print_error(e);
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    log.info(&format!(
        "keeping {} entr{} fresh in {}, every {} s",
        slots.len(),
        if slots.len() == 1 { "y" } else { "ies" },
        path.display(),
        schedule.every.as_secs()
    ));
    loop {
        let now = SystemTime::now();
        let due: Vec<usize> = (0..slots.len())
            .filter(|&i| slots[i].timing.due <= now)
            .collect();
        if !due.is_empty() {
            // Look the credentials up again each round, so rotated keys are picked up.
            iam_db_auth::clear_caches();
            if let Err(code) = refresh(path, &mut slots, &due, &schedule, log) {
                return code;
            }
        }
        let next = schedule.wake_at(slots.iter().map(|s| s.timing.due), now);
        let wait = next
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let Some(caught) = blocked.wait(wait) else {
            continue;
        };
        if caught.signal == libc::SIGHUP {
            // A reload: the targets again (a targets file may have changed), all due now. A
            // targets file that no longer parses keeps the old targets: the watcher goes on.
            match collect_targets(args).and_then(|targets| slots_for(path, &targets, &schedule)) {
                Ok(new) => {
                    log.info(&format!(
                        "SIGHUP: refreshing every entry now ({} target{})",
                        new.len(),
                        if new.len() == 1 { "" } else { "s" }
                    ));
                    slots = new;
                }
                Err(e) => {
                    log.warn(&format!("SIGHUP: {e}; keeping the old targets"));
                    slots.iter_mut().for_each(|slot| slot.timing.due = now);
                }
            }
            continue;
        }
        log.info(&format!(
            "stopping on {}; the entries stay in {} until their tokens expire",
            signals::name(caught.signal),
            path.display()
        ));
        return ExitCode::SUCCESS;
    }
}

/// A slot per target, all due now; a valid token already in the file counts, so the first
/// refresh can be retried while it lasts.
fn slots_for(path: &Path, targets: &[Target], schedule: &Schedule) -> Result<Vec<Slot>, String> {
    let existing = Editing::begin(path)
        .and_then(|e| e.read())
        .map_err(|e| e.to_string())
        .and_then(|s| Passfile::parse(&s.contents).map_err(|e| e.to_string()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let start = SystemTime::now();
    let mut slots: Vec<Slot> = Vec::with_capacity(targets.len());
    for target in targets {
        let key = target.key()?;
        let in_file = existing
            .entry_password(&key)
            .and_then(|p| token_expiry(&p))
            .map(UtcSeconds::to_system_time);
        slots.push(Slot {
            target: target.clone(),
            key,
            timing: schedule.first(in_file, start),
            shadows: None,
        });
    }
    Ok(slots)
}

/// Refreshes the due slots: all their tokens, then one edit; schedules each slot's next
/// refresh or retry. Err when giving up.
fn refresh(
    path: &Path,
    slots: &mut [Slot],
    due: &[usize],
    schedule: &Schedule,
    log: &Log,
) -> Result<(), ExitCode> {
    let mut made = Vec::new();
    let mut failed: Vec<(usize, Failure)> = Vec::new();
    for &i in due {
        match iam_db_auth::token_for(&slots[i].target.request()) {
            Ok(token) => made.push((i, token)),
            Err(e) => failed.push((i, Failure::token(&slots[i].key, &e))),
        }
    }
    let mut written: Vec<(usize, SystemTime)> = Vec::new();
    if !made.is_empty() {
        let entries: Vec<(EntryKey, Token)> = made
            .iter()
            .map(|(i, t)| (slots[*i].key.clone(), t.clone()))
            .collect();
        match write_entries(path, &entries, log) {
            Ok(placed) => {
                for ((i, token), placed) in made.iter().zip(&placed) {
                    let slot = &mut slots[*i];
                    // Say which lines hide an entry when that changes, not at every refresh.
                    let shadows = slot.shadows.as_ref() != Some(&placed.shadowed_by);
                    report(log, path, &slot.key, placed, token, shadows);
                    slot.shadows = Some(placed.shadowed_by.clone());
                    written.push((*i, token.expires_at()));
                }
            }
            Err(f) => {
                for (i, _) in &made {
                    failed.push((
                        *i,
                        Failure {
                            message: f.message.clone(),
                            transient: f.transient,
                        },
                    ));
                }
            }
        }
    }
    let now = SystemTime::now();
    let outcomes = written
        .into_iter()
        .map(|(i, expires)| (i, Outcome::Written { expires }))
        .chain(failed.into_iter().map(|(i, f)| {
            let outcome = Outcome::Failed {
                transient: f.transient,
                failure: f.message,
            };
            (i, outcome)
        }));
    for (i, outcome) in outcomes {
        let slot = &mut slots[i];
        match schedule.next(slot.timing, outcome, now) {
            Next::Refresh(timing) => slot.timing = timing,
            Next::Retry {
                timing,
                backoff,
                valid_until,
                failure,
            } => {
                slot.timing = timing;
                log.warn(&format!(
                    "{failure} (attempt {}); retrying in {} s; the current entry is valid until {}",
                    timing.failures,
                    backoff.as_secs(),
                    UtcSeconds::from_system_time(valid_until)
                        .map_or_else(|| "?".into(), |t| t.rfc3339())
                ));
            }
            Next::GiveUp { why, failure } => {
                log.error(&format!("{failure}; giving up: {}", why.reason()));
                return Err(ExitCode::from(EXIT_FAILURE));
            }
        }
    }
    Ok(())
}
