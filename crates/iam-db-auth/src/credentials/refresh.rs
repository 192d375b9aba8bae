//! How long credentials are reused, and when stale ones are kept: pure functions of their
//! expiry and the time, so the rules are tested without a clock or a source.

use std::time::{Duration, SystemTime};

/// Credentials without an expiry (long-term keys) are re-read after this long, so a changed
/// environment or file is noticed.
pub(crate) const STATIC_REUSE: Duration = Duration::from_secs(60);
/// Temporary credentials are refreshed this long before they expire.
pub(crate) const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
/// Credentials that expire sooner than the refresh margin are re-checked this often.
pub(crate) const NEAR_EXPIRY_RECHECK: Duration = Duration::from_secs(10);
/// When a refresh fails, temporary credentials with more than this much life left keep being
/// used (re-checked every [`NEAR_EXPIRY_RECHECK`]), so an endpoint's blip during the refresh
/// window does not fail logins that the current credentials can still sign.
pub(crate) const REFRESH_FAILURE_GRACE: Duration = Duration::from_secs(60);

/// How long they have left at `now`; zero once expired.
fn left(expires_at: SystemTime, now: SystemTime) -> Duration {
    expires_at.duration_since(now).unwrap_or_default()
}

/// Whether credentials expiring at `expires_at` are expired at `now`.
pub(crate) fn expired(expires_at: SystemTime, now: SystemTime) -> bool {
    expires_at <= now
}

/// How long credentials found at `now` are reused before the chain is asked again: long-term
/// keys [`STATIC_REUSE`]; temporary ones until [`REFRESH_BEFORE_EXPIRY`] before they expire,
/// or, once inside that margin, [`NEAR_EXPIRY_RECHECK`] (less if they expire sooner).
pub(crate) fn reuse_for(expires_at: Option<SystemTime>, now: SystemTime) -> Duration {
    let Some(expires_at) = expires_at else {
        return STATIC_REUSE;
    };
    let left = left(expires_at, now);
    if left > REFRESH_BEFORE_EXPIRY {
        left - REFRESH_BEFORE_EXPIRY
    } else {
        NEAR_EXPIRY_RECHECK.min(left)
    }
}

/// How long temporary credentials have left, when that is inside the refresh margin (tokens
/// signed now expire with them, which is worth a warning); `None` otherwise.
pub(crate) fn expiring_soon(expires_at: Option<SystemTime>, now: SystemTime) -> Option<Duration> {
    let left = left(expires_at?, now);
    (left <= REFRESH_BEFORE_EXPIRY).then_some(left)
}

/// After a failed refresh: whether the credentials in use are kept a little longer, as (their
/// life left, how long until the chain is asked again). Only temporary credentials with more
/// than [`REFRESH_FAILURE_GRACE`] to live are kept; long-term keys are not, as their source is
/// local and a failure there (a removed variable or file) is the user's doing.
pub(crate) fn grace(
    expires_at: Option<SystemTime>,
    now: SystemTime,
) -> Option<(Duration, Duration)> {
    let left = left(expires_at?, now);
    (left > REFRESH_FAILURE_GRACE)
        .then(|| (left, NEAR_EXPIRY_RECHECK.min(left - REFRESH_FAILURE_GRACE)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const NOW: Duration = Duration::from_secs(1_767_323_045);

    fn at(seconds_from_now: i64) -> Option<SystemTime> {
        let now = UNIX_EPOCH + NOW;
        Some(if seconds_from_now >= 0 {
            now + Duration::from_secs(seconds_from_now.unsigned_abs())
        } else {
            now - Duration::from_secs(seconds_from_now.unsigned_abs())
        })
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn reuse_lasts_until_the_refresh_margin_then_rechecks_often() {
        let now = UNIX_EPOCH + NOW;
        for (expires, reuse) in [
            (None, STATIC_REUSE),
            (at(3600), secs(3600 - 300)),
            (at(301), secs(1)),
            (at(300), NEAR_EXPIRY_RECHECK),
            (at(200), NEAR_EXPIRY_RECHECK),
            (at(4), secs(4)),
            (at(0), Duration::ZERO),
            (at(-5), Duration::ZERO),
        ] {
            assert_eq!(reuse_for(expires, now), reuse, "{expires:?}");
        }
    }

    #[test]
    fn only_credentials_inside_the_refresh_margin_are_expiring_soon() {
        let now = UNIX_EPOCH + NOW;
        assert_eq!(
            expiring_soon(None, now),
            None,
            "long-term keys never expire"
        );
        assert_eq!(expiring_soon(at(301), now), None);
        assert_eq!(expiring_soon(at(300), now), Some(secs(300)));
        assert_eq!(expiring_soon(at(12), now), Some(secs(12)));
    }

    #[test]
    fn expired_means_at_or_past_the_expiry() {
        let now = UNIX_EPOCH + NOW;
        let expired_at = |s| expired(at(s).unwrap(), now);
        assert!(!expired_at(1));
        assert!(expired_at(0));
        assert!(expired_at(-1));
    }

    #[test]
    fn a_failed_refresh_keeps_only_temporary_credentials_with_life_left() {
        let now = UNIX_EPOCH + NOW;
        assert_eq!(grace(None, now), None, "long-term keys are not kept");
        assert_eq!(grace(at(60), now), None, "not more than the grace left");
        assert_eq!(grace(at(-1), now), None, "expired");
        assert_eq!(grace(at(65), now), Some((secs(65), secs(5))));
        assert_eq!(grace(at(240), now), Some((secs(240), NEAR_EXPIRY_RECHECK)));
    }
}
