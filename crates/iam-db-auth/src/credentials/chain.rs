//! [`CredentialChain`]: the credentials for one profile selection. It reuses the current ones
//! while `refresh`'s rules allow, lets one thread at a time look up (the others wait for its
//! answer), refuses expired credentials, and keeps temporary ones through a failed refresh.

use super::lookup::{self, RuntimeHandle};
use super::sources::Sources;
use super::value::describe_time;
use super::{AwsCredentials, refresh};
use crate::error::{Error, ErrorCode, Result};
use crate::fast_path::CurrentCredentials;
use crate::log::{Level, log_at};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// The chain for one profile selection (`None`: the default chain, honouring `AWS_PROFILE`).
pub(crate) struct CredentialChain {
    sources: Sources,
    current: CurrentCredentials,
    /// Held while one thread looks credentials up, so a storm of callers does one lookup.
    lookup: Mutex<()>,
}

impl CredentialChain {
    pub(crate) fn new(profile: Option<String>) -> Self {
        CredentialChain {
            sources: Sources::new(profile),
            current: CurrentCredentials::new(),
            lookup: Mutex::new(()),
        }
    }

    /// Current credentials: the reusable ones, else a lookup bounded by the lookup timeout.
    pub(crate) fn credentials(&self, runtime: &RuntimeHandle<'_>) -> Result<Arc<AwsCredentials>> {
        if let Some(creds) = self.current.reusable() {
            return Ok(creds);
        }
        let _only_one = self.lookup.lock().unwrap_or_else(|p| p.into_inner());
        // Another thread may have looked them up while this one waited.
        if let Some(creds) = self.current.reusable() {
            return Ok(creds);
        }
        let started = Instant::now();
        let found = match lookup::look_up(&self.sources, runtime) {
            Ok(found) => found,
            Err(err) => return self.keep_after_failed_refresh(err),
        };
        let now = SystemTime::now();
        self.refuse_expired(&found, now)?;
        if let Some(left) = refresh::expiring_soon(found.expires_at(), now) {
            log_at!(
                Level::Warn,
                "credentials from {} expire in {} s; tokens made now expire with them",
                found.source(),
                left.as_secs()
            );
        }
        log_at!(
            Level::Info,
            "credentials: using {} (key id {}, {}), found in {} us",
            found.source(),
            found.access_key_id(),
            found.describe_life(),
            started.elapsed().as_micros()
        );
        let reuse_until = Instant::now() + refresh::reuse_for(found.expires_at(), now);
        let found = Arc::new(found);
        self.current.set(found.clone(), reuse_until);
        Ok(found)
    }

    /// An error if `found` expired already (a stale SSO cache, an old credential file).
    fn refuse_expired(&self, found: &AwsCredentials, now: SystemTime) -> Result<()> {
        let Some(expiry) = found.expires_at() else {
            return Ok(());
        };
        if !refresh::expired(expiry, now) {
            return Ok(());
        }
        let profile = self.sources.profile().map(|p| format!(" --profile {p}"));
        Err(Error::new(
            ErrorCode::CredentialsExpired,
            format!(
                "the credentials from {} expired at {}; refresh them (for SSO: aws sso login{})",
                found.source(),
                describe_time(expiry),
                profile.unwrap_or_default()
            ),
        ))
    }

    /// After a failed lookup: the current temporary credentials, used a little longer with a
    /// warning, if `refresh::grace` allows; else `err`.
    fn keep_after_failed_refresh(&self, err: Error) -> Result<Arc<AwsCredentials>> {
        let kept = self.current.extend(|creds| {
            let (left, recheck) = refresh::grace(creds.expires_at(), SystemTime::now())?;
            log_at!(
                Level::Warn,
                "credentials: refreshing failed ({}); still using those from {} (key id {}, {} s left)",
                err.message(),
                creds.source(),
                creds.access_key_id(),
                left.as_secs()
            );
            Some(Instant::now() + recheck)
        });
        kept.ok_or(err)
    }

    /// Forgets the current credentials, so the next call looks again.
    pub(crate) fn invalidate(&self) {
        self.current.clear();
    }

    /// The current credentials, for the fast path's lock-free look at them.
    pub(crate) fn current(&self) -> &CurrentCredentials {
        &self.current
    }
}
