//! When `pgpass --watch` refreshes an entry next. A pure function of what the last refresh did
//! and when: the clock is an argument, so the back-off is tested with a fake one.
//!
//! After a token is written, the next refresh is `every` later, or earlier when the token ends
//! sooner (credentials that expire early cut it short), at least [`MIN_GAP`] ahead. After a
//! failure that may pass (a credential lookup), the entry is retried with a back-off of 1 s,
//! doubling up to [`MAX_BACKOFF`], for as long as the token already in the file is valid; a
//! failure that will not pass, or one with no valid token to fall back on, ends the watch.

use std::time::{Duration, SystemTime};

/// Refresh at least this long before a token's end.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// The longest wait between retries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The shortest wait before the next routine refresh.
pub const MIN_GAP: Duration = Duration::from_secs(5);

/// What the watcher knows of one entry between refreshes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// When the token in the file stops being valid (`None`: no valid token known).
    pub valid_until: Option<SystemTime>,
    /// Refreshes that failed since the last one that worked.
    pub failures: u32,
    /// When to refresh next.
    pub due: SystemTime,
}

/// How a refresh of an entry went. `F` is what the caller keeps of a failure (its message):
/// it comes back in [`Next`] when the failure is retried or ends the watch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<F> {
    /// A token that is valid until `expires` is in the file.
    Written {
        /// The token's end.
        expires: SystemTime,
    },
    /// No token was written.
    Failed {
        /// Whether trying again later can help.
        transient: bool,
        /// The caller's account of the failure.
        failure: F,
    },
}

/// Why the watcher stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveUp {
    /// The failure will not go away by itself.
    Permanent,
    /// The token in the file has expired: nothing valid is left to fall back on.
    Expired,
    /// No valid token was ever known for the entry.
    NothingValid,
}

impl GiveUp {
    /// Why, for the log line.
    pub fn reason(self) -> &'static str {
        match self {
            GiveUp::Permanent => "this will not fix itself",
            GiveUp::Expired => "the entry's token has expired",
            GiveUp::NothingValid => "there is no valid token in the file to fall back on",
        }
    }
}

/// What to do after a refresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next<F> {
    /// The token was written: refresh again at `timing.due`.
    Refresh(Timing),
    /// It failed, and the token in the file lasts until `valid_until`: retry at `timing.due`
    /// (`backoff` from now, or when the token ends if sooner); `timing.failures` is the
    /// attempt that failed.
    Retry {
        /// The entry's new timing.
        timing: Timing,
        /// The wait before the retry, before it is capped at `valid_until`.
        backoff: Duration,
        /// When the token in the file stops being valid.
        valid_until: SystemTime,
        /// The failure, as the caller described it.
        failure: F,
    },
    /// Stop watching.
    GiveUp {
        /// Why.
        why: GiveUp,
        /// The failure, as the caller described it.
        failure: F,
    },
}

/// The `--watch` schedule: refreshes `every` so often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// The interval between routine refreshes.
    pub every: Duration,
}

impl Schedule {
    /// An entry the watcher starts with at `now`: due at once. A token already in the file
    /// that is valid until `in_file` counts as the fall-back while the first refresh is
    /// retried.
    pub fn first(&self, in_file: Option<SystemTime>, now: SystemTime) -> Timing {
        Timing {
            valid_until: in_file.filter(|t| *t > now),
            failures: 0,
            due: now,
        }
    }

    /// The entry's next step after a refresh that ended at `now` with `outcome`.
    pub fn next<F>(&self, timing: Timing, outcome: Outcome<F>, now: SystemTime) -> Next<F> {
        let (transient, failure) = match outcome {
            Outcome::Written { expires } => {
                let latest = expires
                    .checked_sub(REFRESH_MARGIN)
                    .unwrap_or(now)
                    .max(now + MIN_GAP);
                return Next::Refresh(Timing {
                    valid_until: Some(expires),
                    failures: 0,
                    due: (now + self.every).min(latest),
                });
            }
            Outcome::Failed { transient, failure } => (transient, failure),
        };
        let failures = timing.failures.saturating_add(1);
        let why = match timing.valid_until.filter(|t| *t > now) {
            Some(valid_until) if transient => {
                let backoff = backoff(failures);
                return Next::Retry {
                    timing: Timing {
                        valid_until: timing.valid_until,
                        failures,
                        due: (now + backoff).min(valid_until),
                    },
                    backoff,
                    valid_until,
                    failure,
                };
            }
            _ if !transient => GiveUp::Permanent,
            _ if timing.valid_until.is_some() => GiveUp::Expired,
            _ => GiveUp::NothingValid,
        };
        Next::GiveUp { why, failure }
    }

    /// When the watcher wakes next: when the first entry is due, or `every` from `now` if
    /// there is none.
    pub fn wake_at(
        &self,
        dues: impl IntoIterator<Item = SystemTime>,
        now: SystemTime,
    ) -> SystemTime {
        dues.into_iter().min().unwrap_or(now + self.every)
    }
}

/// The wait before retry number `failures` (1-based): 1 s, doubling, at most [`MAX_BACKOFF`].
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fake clock: `s` seconds after a fixed start.
    fn at(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
    }

    const FIVE_MINUTES: Schedule = Schedule {
        every: Duration::from_secs(300),
    };

    /// A credential lookup that failed for a passing reason.
    const FAILED_AGAIN: Outcome<()> = Outcome::Failed {
        transient: true,
        failure: (),
    };

    /// A token written that lasts until `expires`.
    fn written(expires: u64) -> Outcome<()> {
        Outcome::Written {
            expires: at(expires),
        }
    }

    fn timing(valid_until: Option<u64>, failures: u32, due: u64) -> Timing {
        Timing {
            valid_until: valid_until.map(at),
            failures,
            due: at(due),
        }
    }

    #[test]
    fn entries_start_due_at_once_and_keep_only_a_valid_token_as_fall_back() {
        let s = FIVE_MINUTES;
        assert_eq!(s.first(Some(at(500)), at(0)), timing(Some(500), 0, 0));
        assert_eq!(s.first(Some(at(0)), at(0)), timing(None, 0, 0));
        assert_eq!(s.first(None, at(0)), timing(None, 0, 0));
    }

    #[test]
    fn a_written_token_is_refreshed_every_interval_or_before_it_ends() {
        let s = FIVE_MINUTES;
        let start = timing(None, 3, 0);
        // (now, token end) -> next refresh
        let table = [
            // A 15-minute token: the interval decides.
            (0, 900, 300),
            // Credentials ending in 4 minutes cut the token short: a minute before its end.
            (0, 240, 180),
            // A token ending within the margin: not sooner than 5 s from now.
            (100, 130, 105),
            (100, 100, 105),
        ];
        for (now, expires, due) in table {
            let next = s.next(start, written(expires), at(now));
            assert_eq!(
                next,
                Next::Refresh(timing(Some(expires), 0, due)),
                "now {now}, token ends {expires}"
            );
        }
    }

    #[test]
    fn transient_failures_back_off_doubling_up_to_a_minute_while_the_token_lasts() {
        let s = FIVE_MINUTES;
        let mut now = 0;
        let mut t = timing(Some(10_000), 0, 0);
        let mut waits = Vec::new();
        for attempt in 1..=9 {
            match s.next(t, FAILED_AGAIN, at(now)) {
                Next::Retry {
                    timing,
                    backoff,
                    valid_until,
                    failure: (),
                } => {
                    assert_eq!(timing.failures, attempt);
                    assert_eq!(valid_until, at(10_000));
                    assert_eq!(timing.due, at(now) + backoff);
                    waits.push(backoff.as_secs());
                    t = timing;
                    now += backoff.as_secs();
                }
                other => panic!("attempt {attempt}: {other:?}"),
            }
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        // A success starts the count again.
        let Next::Refresh(t) = s.next(t, written(now + 900), at(now)) else {
            panic!("a written token is refreshed");
        };
        let Next::Retry { backoff, .. } = s.next(t, FAILED_AGAIN, at(now)) else {
            panic!("a transient failure with a valid token is retried");
        };
        assert_eq!(backoff, Duration::from_secs(1));
    }

    #[test]
    fn a_retry_is_never_later_than_the_end_of_the_token_it_falls_back_on() {
        let s = FIVE_MINUTES;
        let Next::Retry { timing: t, .. } = s.next(timing(Some(100), 6, 0), FAILED_AGAIN, at(90))
        else {
            panic!("retried");
        };
        assert_eq!(t.due, at(100), "a 60 s back-off capped at the token's end");
        // At the token's end, the next failure has nothing to fall back on.
        assert_eq!(
            s.next(t, FAILED_AGAIN, at(100)),
            Next::GiveUp {
                why: GiveUp::Expired,
                failure: ()
            }
        );
    }

    #[test]
    fn failures_give_up_when_they_will_not_pass_or_nothing_valid_is_left() {
        let s = FIVE_MINUTES;
        let table = [
            // (token in the file until, transient, now) -> give up why
            (Some(1000), false, 10, GiveUp::Permanent),
            (None, false, 10, GiveUp::Permanent),
            (Some(5), true, 10, GiveUp::Expired),
            (None, true, 10, GiveUp::NothingValid),
        ];
        for (valid_until, transient, now, why) in table {
            assert_eq!(
                s.next(
                    timing(valid_until, 0, now),
                    Outcome::Failed {
                        transient,
                        failure: ()
                    },
                    at(now)
                ),
                Next::GiveUp { why, failure: () },
                "{valid_until:?} {transient}"
            );
        }
        assert_eq!(GiveUp::Permanent.reason(), "this will not fix itself");
    }

    #[test]
    fn the_watcher_wakes_for_the_first_entry_due() {
        let s = FIVE_MINUTES;
        assert_eq!(s.wake_at([at(50), at(20), at(70)], at(0)), at(20));
        assert_eq!(s.wake_at([], at(10)), at(310));
    }

    #[test]
    fn a_credential_outage_is_ridden_out_until_the_token_in_the_file_expires() {
        // The whole watch of one entry on the fake clock: a token written at 0 (valid 900 s),
        // then credentials fail from the refresh at 300 on.
        let s = FIVE_MINUTES;
        let mut t = s.first(None, at(0));
        let mut now = 0;
        let mut log = Vec::new();
        loop {
            let outcome = if now == 0 { written(900) } else { FAILED_AGAIN };
            match s.next(t, outcome, at(now)) {
                Next::Refresh(next) | Next::Retry { timing: next, .. } => {
                    t = next;
                    now = t
                        .due
                        .duration_since(at(0))
                        .expect("due after the start")
                        .as_secs();
                    log.push(now);
                }
                Next::GiveUp { why, .. } => {
                    assert_eq!(why, GiveUp::Expired);
                    break;
                }
            }
            assert!(log.len() < 100, "the watch ends");
        }
        assert_eq!(
            log,
            [
                300, 301, 303, 307, 315, 331, 363, 423, 483, 543, 603, 663, 723, 783, 843, 900
            ]
        );
        assert_eq!(t.failures, 15);
    }
}
