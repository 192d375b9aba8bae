//! The library's state: one per process image, built lazily, rebuilt after `fork()`.
//!
//! It holds the blocking runtime (a current-thread tokio runtime: no worker threads, so
//! nothing of ours runs unless a caller is inside a call), the credential chains, and the
//! token and signing-key caches.
//!
//! - Threads: every part is `Sync`; lookups take read locks; one thread at a time looks up
//!   credentials for a given profile while the others wait for its answer.
//! - fork: the child sees a new fork generation (see `fork::PerFork`) and builds a new `Core`.
//!   The old one is never used or dropped again: its locks may be held by parent threads that
//!   do not exist in the child, and dropping its runtime would wait for them.
//! - exit and `dlclose`: nothing is torn down at exit (statics are not dropped), so exit never
//!   waits on us; the library is linked `-z nodelete` (build.rs), so `dlclose` does not
//!   unmap code that a runtime's blocking-pool thread may still be parked in.

use crate::cache::{SigningKeyCache, TokenCache};
use crate::credentials::{CredentialChain, RuntimeHandle};
use crate::error::{Error, ErrorCode, Result};
use crate::fast_path::CurrentCredentials;
use crate::fork::PerFork;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

/// At most this many profile selections keep a credential chain and a cached region. A caller
/// that passes ever new profile names (user input, a fuzzer) would otherwise grow the
/// process's memory without bound; past the limit, chains not in use are dropped (and rebuilt
/// if asked for again).
pub(crate) const MAX_PROFILES: usize = 64;

/// How long a region read from a profile file is reused, like static credentials.
const PROFILE_REGION_REUSE: std::time::Duration = std::time::Duration::from_secs(60);

/// A region read from a profile file (or its absence), and when it was read.
type ProfileRegion = (Instant, Option<String>);

pub(crate) struct Core {
    runtime: OnceLock<std::result::Result<tokio::runtime::Runtime, String>>,
    /// Every chain, by profile selection; written once a profile.
    chains: RwLock<BTreeMap<Option<String>, Arc<CredentialChain>>>,
    /// The default chain (also in `chains`), reached without a lock.
    default_chain: OnceLock<Arc<CredentialChain>>,
    profile_regions: Mutex<BTreeMap<Option<String>, ProfileRegion>>,
    pub(crate) tokens: TokenCache,
    pub(crate) keys: SigningKeyCache,
}

static CORE: PerFork<Core> = PerFork::new();

/// The state of this process image (this fork generation).
pub(crate) fn core() -> &'static Core {
    CORE.get(Core::new)
}

impl Core {
    pub(crate) fn new() -> Self {
        Core {
            runtime: OnceLock::new(),
            chains: RwLock::new(BTreeMap::new()),
            default_chain: OnceLock::new(),
            profile_regions: Mutex::new(BTreeMap::new()),
            tokens: TokenCache::default(),
            keys: SigningKeyCache::default(),
        }
    }

    /// The blocking runtime, built on first use.
    fn runtime(&self) -> Result<&tokio::runtime::Runtime> {
        self.runtime
            .get_or_init(|| {
                // One worker drives the timers and sockets; each credential source is polled
                // on a thread of its own (credentials::lookup), so a source that blocks its
                // thread (aws-config reads some files with a blocking read) stalls neither the
                // drivers nor another lookup, and its caller's bound still holds.
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .thread_name("iam-db-auth-blocking")
                    .build()
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| {
                Error::new(
                    ErrorCode::Internal,
                    format!("could not start the library's I/O runtime: {e}"),
                )
            })
    }

    /// Credentials for a profile selection (`None`: the default chain).
    pub(crate) fn credentials(
        &self,
        profile: Option<&str>,
    ) -> Result<Arc<crate::credentials::AwsCredentials>> {
        let get = || self.runtime();
        let runtime = RuntimeHandle { get: &get };
        match profile {
            // The common case, on every call: no lock, no reference count.
            None => self
                .default_chain
                .get_or_init(|| self.chain(None))
                .credentials(&runtime),
            Some(_) => self.chain(profile).credentials(&runtime),
        }
    }

    /// `look` applied to the current credentials of `profile`'s chain, if that chain exists.
    /// For the default chain it takes no lock and writes nothing shared (the fast path's look).
    pub(crate) fn with_current_credentials<T>(
        &self,
        profile: Option<&str>,
        look: impl FnOnce(&CurrentCredentials) -> Option<T>,
    ) -> Option<T> {
        match profile {
            None => look(self.default_chain.get()?.current()),
            Some(_) => {
                let chains = self.chains.read().unwrap_or_else(|p| p.into_inner());
                let (_, chain) = chains.iter().find(|(k, _)| k.as_deref() == profile)?;
                look(chain.current())
            }
        }
    }

    /// Identifies this state, and so the process image it belongs to (a new one after `fork`).
    pub(crate) fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

    /// The chain for a profile selection, created on first use.
    pub(crate) fn chain(&self, profile: Option<&str>) -> Arc<CredentialChain> {
        let existing = {
            let chains = self.chains.read().unwrap_or_else(|p| p.into_inner());
            // A handful of profiles at most: a scan, without allocating a key.
            chains
                .iter()
                .find(|(k, _)| k.as_deref() == profile)
                .map(|(_, chain)| chain.clone())
        };
        existing.unwrap_or_else(|| {
            let mut chains = self.chains.write().unwrap_or_else(|p| p.into_inner());
            let key = profile.map(str::to_string);
            if chains.len() >= MAX_PROFILES && !chains.contains_key(&key) {
                // Only this map holds a chain nobody is using: dropping it is safe.
                chains.retain(|_, chain| Arc::strong_count(chain) > 1);
                if chains.len() >= MAX_PROFILES {
                    // Every one in use (MAX_PROFILES threads mid-lookup): keep them, and serve
                    // this call from a chain of its own that is not kept.
                    return Arc::new(CredentialChain::new(key));
                }
            }
            chains
                .entry(key.clone())
                .or_insert_with(|| Arc::new(CredentialChain::new(key)))
                .clone()
        })
    }

    /// The `region` of a profile in the shared config file, re-read at most once a minute.
    pub(crate) fn profile_region(&self, profile: Option<&str>) -> Result<Option<String>> {
        let key = profile.map(str::to_string);
        {
            let cached = self
                .profile_regions
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some((at, region)) = cached.get(&key)
                && at.elapsed() < PROFILE_REGION_REUSE
            {
                return Ok(region.clone());
            }
        }
        let region = crate::region::from_profile_file(profile)?;
        let mut regions = self
            .profile_regions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if regions.len() >= MAX_PROFILES {
            regions.clear();
        }
        regions.insert(key, (Instant::now(), region.clone()));
        Ok(region)
    }

    /// How many profile selections have a credential chain and a cached region (for tests).
    #[cfg(test)]
    pub(crate) fn profile_state_sizes(&self) -> (usize, usize) {
        let chains = self.chains.read().unwrap_or_else(|p| p.into_inner()).len();
        let regions = self
            .profile_regions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        (chains, regions)
    }

    /// Forgets cached tokens and credentials (the next call looks everything up again).
    pub(crate) fn clear(&self) {
        self.tokens.clear();
        self.profile_regions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        for chain in self
            .chains
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
        {
            chain.invalidate();
        }
    }
}

#[cfg(test)]
mod profile_bound_tests {
    use super::*;

    #[test]
    fn ever_new_profile_names_do_not_grow_the_state_without_bound() {
        // Profile names can come from user input (or a fuzzer), each one new.
        let core = Core::new();
        // A named profile uses the profile files only (never the network); none of these
        // names exists, so each lookup fails fast.
        for i in 0..(3 * MAX_PROFILES) {
            let name = format!("no-such-profile-{i}");
            let _ = core.profile_region(Some(&name));
            let _ = core.credentials(Some(&name));
            let (chains, regions) = core.profile_state_sizes();
            assert!(
                chains <= MAX_PROFILES && regions <= MAX_PROFILES,
                "{chains} {regions}"
            );
        }
    }
}
