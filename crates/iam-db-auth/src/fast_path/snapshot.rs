//! [`CurrentCredentials`]: the credentials a chain uses now and until when, behind a lock for
//! the chain, and mirrored in two atomics for the fast path. Every write goes through one
//! method that updates both under the write lock, so they cannot get out of step.

use crate::credentials::AwsCredentials;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// What a lookup returned, and until when it may be reused.
struct Snapshot {
    credentials: Arc<AwsCredentials>,
    reuse_until: Instant,
}

/// A chain's current credentials.
///
/// The chain reads them through the lock ([`reusable`](Self::reusable)), the fast path through
/// the mirror ([`reusable_identity`](Self::reusable_identity)): a cache hit only compares
/// identities, and taking the read lock and cloning the `Arc` would write two shared counters,
/// cache lines that threads hitting the cache at once pass back and forth.
pub(crate) struct CurrentCredentials {
    locked: RwLock<Option<Snapshot>>,
    mirror: Mirror,
}

impl CurrentCredentials {
    pub(crate) fn new() -> Self {
        CurrentCredentials {
            locked: RwLock::new(None),
            mirror: Mirror::new(),
        }
    }

    /// The credentials, while they may be reused.
    pub(crate) fn reusable(&self) -> Option<Arc<AwsCredentials>> {
        let current = self.locked.read().unwrap_or_else(|p| p.into_inner());
        let snapshot = current.as_ref()?;
        (Instant::now() < snapshot.reuse_until).then(|| snapshot.credentials.clone())
    }

    /// Their identity, while they may be reused. Takes no lock and writes nothing shared.
    pub(crate) fn reusable_identity(&self) -> Option<u64> {
        self.mirror.reusable_identity()
    }

    /// Uses `credentials` until `reuse_until`.
    pub(crate) fn set(&self, credentials: Arc<AwsCredentials>, reuse_until: Instant) {
        self.write(|current| {
            *current = Some(Snapshot {
                credentials,
                reuse_until,
            })
        });
    }

    /// Forgets them, so the next call looks again.
    pub(crate) fn clear(&self) {
        self.write(|current| *current = None);
    }

    /// Keeps the credentials in use until the instant `decide` returns for them, if it returns
    /// one; `None` when there are none or `decide` declines.
    pub(crate) fn extend(
        &self,
        decide: impl FnOnce(&AwsCredentials) -> Option<Instant>,
    ) -> Option<Arc<AwsCredentials>> {
        self.write(|current| {
            let snapshot = current.as_mut()?;
            snapshot.reuse_until = decide(&snapshot.credentials)?;
            Some(snapshot.credentials.clone())
        })
    }

    /// The one way to change them: `change` under the write lock, then the mirror.
    fn write<T>(&self, change: impl FnOnce(&mut Option<Snapshot>) -> T) -> T {
        let mut current = self.locked.write().unwrap_or_else(|p| p.into_inner());
        let out = change(&mut current);
        self.mirror.set(
            current
                .as_ref()
                .map(|s| (s.credentials.identity(), s.reuse_until)),
        );
        out
    }
}

/// The current snapshot's identity and until when it may be reused, as plain atomics: only
/// loaded by readers. Written under the snapshot's write lock, so there is one writer at a
/// time; read as a sequence lock: `until` is zeroed first and set last, and a reader that sees
/// it change, or zero, answers `None` (the caller then takes the locked path).
struct Mirror {
    /// `reuse_until` as nanoseconds after `born`; 0: no reusable snapshot.
    until: AtomicU64,
    identity: AtomicU64,
    born: Instant,
}

impl Mirror {
    fn new() -> Self {
        Mirror {
            until: AtomicU64::new(0),
            identity: AtomicU64::new(0),
            born: Instant::now(),
        }
    }

    fn nanos(&self, t: Instant) -> u64 {
        // At least 1: 0 means "none". u64 nanoseconds last 584 years.
        u64::try_from(t.saturating_duration_since(self.born).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Call with the snapshot's write lock held.
    fn set(&self, snapshot: Option<(u64, Instant)>) {
        self.until.store(0, Ordering::Release);
        if let Some((identity, reuse_until)) = snapshot {
            self.identity.store(identity, Ordering::Release);
            self.until.store(self.nanos(reuse_until), Ordering::Release);
        }
    }

    fn reusable_identity(&self) -> Option<u64> {
        let until = self.until.load(Ordering::Acquire);
        if until == 0 {
            return None;
        }
        let identity = self.identity.load(Ordering::Acquire);
        if self.until.load(Ordering::Acquire) != until || self.nanos(Instant::now()) >= until {
            return None;
        }
        Some(identity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn creds(secret: &str) -> Arc<AwsCredentials> {
        Arc::new(AwsCredentials::new("AKID", secret, None, None, "t"))
    }

    #[test]
    fn the_mirror_answers_only_while_reusable() {
        let mirror = Mirror::new();
        assert_eq!(mirror.reusable_identity(), None, "nothing looked up yet");
        let later = Instant::now() + Duration::from_secs(60);
        mirror.set(Some((1, later)));
        assert_eq!(mirror.reusable_identity(), Some(1));
        mirror.set(Some((2, later)));
        assert_eq!(mirror.reusable_identity(), Some(2));
        mirror.set(Some((1, Instant::now())));
        assert_eq!(mirror.reusable_identity(), None, "past its reuse time");
        mirror.set(Some((1, later)));
        mirror.set(None);
        assert_eq!(mirror.reusable_identity(), None, "invalidated");
    }

    #[test]
    fn the_mirror_never_pairs_an_identity_with_another_snapshots_time() {
        // One writer flips between a reusable and an expired snapshot; readers must never
        // see the expired one's identity as reusable.
        let mirror = Mirror::new();
        let far = Instant::now() + Duration::from_secs(3600);
        let (live, expired) = ((1, far), (2, Instant::now()));
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        while !stop.load(Ordering::Relaxed) {
                            if let Some(id) = mirror.reusable_identity() {
                                assert_eq!(id, live.0, "not {}, the expired one's", expired.0);
                            }
                        }
                    })
                })
                .collect();
            let rounds = if cfg!(miri) { 50 } else { 20_000 };
            for _ in 0..rounds {
                mirror.set(Some(live));
                mirror.set(Some(expired));
            }
            mirror.set(Some(live));
            stop.store(true, Ordering::Relaxed);
            for r in readers {
                r.join().unwrap();
            }
        });
        assert_eq!(mirror.reusable_identity(), Some(live.0));
    }

    #[test]
    fn every_write_keeps_the_lock_and_the_mirror_in_step() {
        let current = CurrentCredentials::new();
        let agree = |current: &CurrentCredentials| {
            assert_eq!(
                current.reusable().map(|c| c.identity()),
                current.reusable_identity()
            );
            current.reusable_identity()
        };
        assert_eq!(agree(&current), None);
        assert!(
            current.extend(|_| Some(Instant::now())).is_none(),
            "none to keep"
        );

        let first = creds("secret-1");
        current.set(first.clone(), Instant::now() + Duration::from_secs(60));
        assert_eq!(agree(&current), Some(first.identity()));

        // Declining to extend changes nothing.
        assert!(current.extend(|_| None).is_none());
        assert_eq!(agree(&current), Some(first.identity()));

        // Run out, then extended: reusable again, through both.
        current.set(first.clone(), Instant::now());
        assert_eq!(agree(&current), None);
        let kept = current.extend(|c| {
            assert_eq!(c.identity(), first.identity());
            Some(Instant::now() + Duration::from_secs(10))
        });
        assert_eq!(kept.map(|c| c.identity()), Some(first.identity()));
        assert_eq!(agree(&current), Some(first.identity()));

        let second = creds("secret-2");
        current.set(second.clone(), Instant::now() + Duration::from_secs(60));
        assert_eq!(agree(&current), Some(second.identity()));

        current.clear();
        assert_eq!(agree(&current), None);
    }
}
