//! The credential sources of one chain, in aws-config's order, one file per source's builder:
//! `environment.rs` (read directly, first), `profile.rs` (the shared files, rebuilt when they
//! change), `web_identity.rs`, `container.rs` (ECS/EKS, our own bounded client), `imds.rs` (EC2
//! instance metadata). `process.rs` runs a profile's `credential_process` bounded;
//! `document.rs` parses the credentials JSON of both.
//! Here: what a source is, the back-off of the network ones, and the configuration they share.

pub(crate) mod container;
mod document;
pub(crate) mod environment;
pub(crate) mod imds;
pub(crate) mod process;
pub(crate) mod profile;
pub(crate) mod web_identity;

use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::SharedCredentialsProvider;
use profile::ProfileSlot;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A network source (container endpoint, instance metadata) that failed is not asked again
/// for this long.
pub const NETWORK_SOURCE_BACKOFF: Duration = Duration::from_secs(30);
/// Connect and read timeouts for the metadata and container endpoints.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(1);

/// One credential source of the chain.
pub(crate) struct Source {
    pub(crate) name: String,
    pub(crate) provider: SharedCredentialsProvider,
    /// Skipped for a while after a failure (the sources behind a metadata endpoint).
    backs_off: bool,
    down_until: Mutex<Option<Instant>>,
}

impl Source {
    /// A source asked on every lookup.
    pub(crate) fn new(name: String, provider: SharedCredentialsProvider) -> Self {
        Source {
            name,
            provider,
            backs_off: false,
            down_until: Mutex::new(None),
        }
    }

    /// A source behind a network endpoint that may not answer at all: not asked for
    /// [`NETWORK_SOURCE_BACKOFF`] after a failure.
    pub(crate) fn with_back_off(name: String, provider: SharedCredentialsProvider) -> Self {
        Source {
            backs_off: true,
            ..Source::new(name, provider)
        }
    }

    /// Why it is not asked at `now`, if it is backing off after a failure.
    pub(crate) fn skipped_at(&self, now: Instant) -> Option<String> {
        let down = *self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        down.filter(|until| now < *until).map(|_| {
            format!(
                "{} (skipped: it failed less than {} s ago)",
                self.name,
                NETWORK_SOURCE_BACKOFF.as_secs()
            )
        })
    }

    /// Notes a failure: a source that backs off is skipped for [`NETWORK_SOURCE_BACKOFF`].
    pub(crate) fn mark_down(&self) {
        if !self.backs_off {
            return;
        }
        crate::log::log_at!(
            crate::log::Level::Warn,
            "credentials: {} did not answer usefully; not asking it again for {} s",
            self.name,
            NETWORK_SOURCE_BACKOFF.as_secs()
        );
        *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Instant::now() + NETWORK_SOURCE_BACKOFF);
    }

    /// Notes that it answered: no back-off.
    pub(crate) fn mark_up(&self) {
        if self.backs_off {
            *self.down_until.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }
}

/// The sources of one chain: the shared files for its profile and, for the default chain,
/// the network sources after them. The environment is read apart (see `environment`).
pub(crate) struct Sources {
    profile: Option<String>,
    /// The shared-files source; rebuilt when the files change or after it failed.
    files: ProfileSlot,
    /// The sources after the files, built on first use (they need the HTTP client) and kept:
    /// they hold the back-off state and the metadata session token.
    network: OnceLock<Vec<Source>>,
}

impl Sources {
    /// `profile` `None`: the default chain (honouring `AWS_PROFILE`); a named profile uses
    /// that profile's files only, as the AWS CLI does.
    pub(crate) fn new(profile: Option<String>) -> Self {
        Sources {
            profile,
            files: ProfileSlot::default(),
            network: OnceLock::new(),
        }
    }

    /// The profile asked for by name, if any.
    pub(crate) fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// The shared-files source, as the files are now.
    pub(crate) fn files(&self, rt: &tokio::runtime::Runtime) -> Arc<Source> {
        self.files.current(self.profile(), rt)
    }

    /// The sources after the files: none for a named profile.
    pub(crate) fn network(&self, rt: &tokio::runtime::Runtime) -> &[Source] {
        if self.profile.is_some() {
            return &[];
        }
        self.network.get_or_init(|| {
            let _guard = rt.enter();
            let config = provider_config(None);
            vec![
                web_identity::build(&config),
                container::build(&config),
                imds::build(&config),
            ]
        })
    }

    /// Called after `source` failed or had nothing: if it is the shared-files source, it is
    /// built again next time (aws-config's profile provider keeps its first error for ever).
    pub(crate) fn after_failure(&self, source: &Source) {
        self.files.forget(source);
    }
}

/// The configuration shared by the network-capable sources: our HTTP client (rustls + ring,
/// built lazily so processes that never reach the network never load the certificate store)
/// and the region for STS calls.
pub(crate) fn provider_config(profile: Option<&str>) -> ProviderConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let region = crate::region::configured_region(profile)
        .ok()
        .flatten()
        .map(aws_types::region::Region::new);
    ProviderConfig::default()
        .with_http_client(http)
        .with_region(region)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> SharedCredentialsProvider {
        SharedCredentialsProvider::new(aws_credential_types::Credentials::new(
            "AKID", "secret", None, None, "test",
        ))
    }

    #[test]
    fn only_a_source_with_back_off_is_skipped_and_only_until_it_answers() {
        let now = Instant::now();
        let local = Source::new("files".into(), provider());
        local.mark_down();
        assert_eq!(
            local.skipped_at(now),
            None,
            "a source without back-off is always asked"
        );

        let remote = Source::with_back_off("metadata".into(), provider());
        assert_eq!(remote.skipped_at(now), None, "not failed yet");
        remote.mark_down();
        let skipped = remote.skipped_at(Instant::now()).expect("backing off");
        assert!(skipped.starts_with("metadata (skipped: it failed less than 30 s ago"));
        let later = Instant::now() + NETWORK_SOURCE_BACKOFF;
        assert_eq!(remote.skipped_at(later), None, "the back-off ends");
        remote.mark_up();
        assert_eq!(remote.skipped_at(Instant::now()), None, "it answered");
    }

    #[test]
    fn a_named_profile_has_no_network_sources() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let named = Sources::new(Some("corp".into()));
        assert!(named.network(&rt).is_empty());
        assert_eq!(named.profile(), Some("corp"));
    }
}
