//! AWS credentials: the sources of aws-config's default chain, tried in its order, each named
//! and bounded in time, with the result reused until shortly before it expires.
//!
//! Order (as aws-config's `DefaultCredentialsChain`): environment variables; the shared
//! config/credentials files for the profile (static keys, SSO, assume-role with
//! `source_profile`, `credential_process`, web identity in a profile); web identity from
//! `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`; the ECS/EKS container endpoint; EC2
//! instance metadata (IMDSv2). An explicit profile (API option or `--profile`) uses that
//! profile only, as the AWS CLI does.
//!
//! Unlike the stock chain we keep each source's outcome, so a failure says what was tried, and
//! a network source that failed (a black-holed metadata endpoint) is skipped for a while
//! instead of costing every call its timeout. Cheap sources (environment, files) are always
//! re-checked, so credentials that appear later are picked up at once.

use crate::error::{Error, ErrorCode, Result};
use crate::log::{Level, log_at};
use crate::sign::SigningCredentials;
use crate::timestamp::UtcSeconds;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use futures_util::FutureExt as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant, SystemTime};
use zeroize::Zeroizing;

/// Credentials without an expiry (long-term keys) are re-read after this long, so a changed
/// environment or file is noticed.
const STATIC_REUSE: Duration = Duration::from_secs(60);
/// Temporary credentials are refreshed this long before they expire.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
/// Credentials that expire sooner than the refresh margin are re-checked this often.
const NEAR_EXPIRY_RECHECK: Duration = Duration::from_secs(10);
/// A network source (container endpoint, instance metadata) that failed is not asked again
/// for this long.
pub const NETWORK_SOURCE_BACKOFF: Duration = Duration::from_secs(30);
/// Connect and read timeouts for the metadata and container endpoints.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(1);
/// The default bound on one whole credential lookup; `IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS`.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// The environment variable that overrides [`DEFAULT_LOOKUP_TIMEOUT`].
pub const LOOKUP_TIMEOUT_ENV: &str = "IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS";

/// AWS credentials as the engine uses them. Secret parts are wiped on drop and never shown by
/// `Debug`.
pub struct AwsCredentials {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    expires_at: Option<SystemTime>,
    source: String,
    identity: u64,
}

static IDENTITY_HASHER: LazyLock<std::collections::hash_map::RandomState> =
    LazyLock::new(std::collections::hash_map::RandomState::new);

impl AwsCredentials {
    /// Credentials from their parts. An empty session token is treated as none.
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
        expires_at: Option<SystemTime>,
        source: impl Into<String>,
    ) -> Self {
        let access_key_id = access_key_id.into();
        let secret_access_key = Zeroizing::new(secret_access_key.into());
        let session_token = session_token.filter(|t| !t.is_empty()).map(Zeroizing::new);
        // A per-process keyed hash: identifies "the same credentials" for cache keys without
        // keeping the secret in the key.
        let mut h = IDENTITY_HASHER.build_hasher();
        h.write(access_key_id.as_bytes());
        h.write_u8(0);
        h.write(secret_access_key.as_bytes());
        h.write_u8(0);
        if let Some(t) = &session_token {
            h.write(t.as_bytes());
        }
        AwsCredentials {
            access_key_id,
            secret_access_key,
            session_token,
            expires_at,
            source: source.into(),
            identity: h.finish(),
        }
    }

    fn from_sdk(creds: &aws_credential_types::Credentials, source: &str) -> Self {
        AwsCredentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            creds.session_token().map(str::to_string),
            creds.expiry(),
            source,
        )
    }

    /// The borrowed form the signer takes.
    pub fn signing(&self) -> SigningCredentials<'_> {
        SigningCredentials {
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            session_token: self.session_token.as_deref().map(String::as_str),
        }
    }

    /// The access key id (not secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// When temporary credentials expire; `None` for long-term keys.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// Which source provided them (for logs and messages).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// A per-process fingerprint of (key id, secret, session token).
    pub fn identity(&self) -> u64 {
        self.identity
    }
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .field("expires_at", &self.expires_at)
            .field("source", &self.source)
            .finish()
    }
}

/// What a lookup returned, and until when it may be reused.
struct Snapshot {
    credentials: Arc<AwsCredentials>,
    reuse_until: Instant,
}

/// One credential source of the chain.
struct Source {
    name: String,
    provider: SharedCredentialsProvider,
    /// Reached over the network; skipped for a while after a failure.
    network: bool,
    down_until: Mutex<Option<Instant>>,
}

/// The chain for one profile selection (`None`: the default chain, honouring `AWS_PROFILE`).
pub(crate) struct CredentialChain {
    profile: Option<String>,
    /// The sources after the environment, built on first use (they need the HTTP client).
    sources: OnceLock<Vec<Source>>,
    current: RwLock<Option<Snapshot>>,
    /// Held while one thread looks credentials up, so a storm of callers does one lookup.
    lookup: Mutex<()>,
}

impl CredentialChain {
    pub(crate) fn new(profile: Option<String>) -> Self {
        CredentialChain {
            profile,
            sources: OnceLock::new(),
            current: RwLock::new(None),
            lookup: Mutex::new(()),
        }
    }

    /// Current credentials: the reusable snapshot, else a lookup bounded by the lookup timeout.
    pub(crate) fn credentials(&self, runtime: &RuntimeHandle<'_>) -> Result<Arc<AwsCredentials>> {
        if let Some(creds) = self.reusable() {
            return Ok(creds);
        }
        let _only_one = self.lookup.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(creds) = self.reusable() {
            return Ok(creds);
        }
        let started = Instant::now();
        let found = self.look_up(runtime)?;
        let now = SystemTime::now();
        if let Some(expiry) = found.expires_at {
            if expiry <= now {
                return Err(Error::new(
                    ErrorCode::CredentialsExpired,
                    format!(
                        "the credentials from {} expired at {}; refresh them (for SSO: aws sso login{})",
                        found.source,
                        describe_time(expiry),
                        self.profile
                            .as_deref()
                            .map(|p| format!(" --profile {p}"))
                            .unwrap_or_default()
                    ),
                ));
            }
        }
        let reuse_for = match found.expires_at {
            None => STATIC_REUSE,
            Some(expiry) => {
                let left = expiry.duration_since(now).unwrap_or_default();
                if left > REFRESH_BEFORE_EXPIRY {
                    left - REFRESH_BEFORE_EXPIRY
                } else {
                    log_at!(
                        Level::Warn,
                        "credentials from {} expire in {} s; tokens made now expire with them",
                        found.source,
                        left.as_secs()
                    );
                    NEAR_EXPIRY_RECHECK.min(left)
                }
            }
        };
        log_at!(
            Level::Info,
            "credentials: using {} (key id {}, {}), found in {} us",
            found.source,
            found.access_key_id,
            match found.expires_at {
                Some(t) => format!("expire {}", describe_time(t)),
                None => "long-term".to_string(),
            },
            started.elapsed().as_micros()
        );
        let found = Arc::new(found);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Snapshot {
            credentials: found.clone(),
            reuse_until: Instant::now() + reuse_for,
        });
        Ok(found)
    }

    /// Forgets the snapshot, so the next call looks again.
    pub(crate) fn invalidate(&self) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn reusable(&self) -> Option<Arc<AwsCredentials>> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        let snapshot = current.as_ref()?;
        (Instant::now() < snapshot.reuse_until).then(|| snapshot.credentials.clone())
    }

    fn look_up(&self, runtime: &RuntimeHandle<'_>) -> Result<AwsCredentials> {
        let mut tried: Vec<String> = Vec::new();
        if self.profile.is_none() {
            // The environment first, outside the runtime: the common CI/Lambda case never
            // builds the runtime or the HTTP client.
            let started = Instant::now();
            let env =
                aws_config::environment::credentials::EnvironmentVariableCredentialsProvider::new();
            match env.provide_credentials().now_or_never() {
                Some(Ok(creds)) => {
                    log_at!(
                        Level::Debug,
                        "credentials: environment: found ({} us)",
                        started.elapsed().as_micros()
                    );
                    return Ok(AwsCredentials::from_sdk(&creds, "environment variables"));
                }
                Some(Err(CredentialsError::CredentialsNotLoaded(_))) => {
                    tried.push("environment (AWS_ACCESS_KEY_ID not set)".into());
                }
                Some(Err(err)) => {
                    return Err(Error::new(
                        ErrorCode::CredentialsFailed,
                        format!(
                            "AWS credentials in the environment are not usable: {}",
                            error_chain(&err)
                        ),
                    ));
                }
                None => tried.push("environment (did not answer)".into()),
            }
        }

        let deadline = Instant::now() + lookup_timeout();
        let rt = runtime.get()?;
        let sources = self.sources.get_or_init(|| {
            let _guard = rt.enter();
            build_sources(self.profile.as_deref())
        });
        for source in sources {
            if source.network {
                let down = source.down_until.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(until) = *down {
                    if Instant::now() < until {
                        tried.push(format!(
                            "{} (skipped: it failed less than {} s ago)",
                            source.name,
                            NETWORK_SOURCE_BACKOFF.as_secs()
                        ));
                        continue;
                    }
                }
            }
            let budget = deadline.saturating_duration_since(Instant::now());
            let started = Instant::now();
            let outcome = rt.block_on(async {
                tokio::time::timeout(budget, source.provider.provide_credentials()).await
            });
            let took = started.elapsed();
            match outcome {
                Ok(Ok(creds)) => {
                    log_at!(
                        Level::Debug,
                        "credentials: {}: found ({} us)",
                        source.name,
                        took.as_micros()
                    );
                    if source.network {
                        *source.down_until.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    }
                    return Ok(AwsCredentials::from_sdk(&creds, &source.name));
                }
                Ok(Err(err @ CredentialsError::CredentialsNotLoaded(_))) => {
                    let why = summarize_not_loaded(&error_causes(&err), took);
                    log_at!(
                        Level::Debug,
                        "credentials: {}: not available: {why} ({} us)",
                        source.name,
                        took.as_micros()
                    );
                    if source.network && took >= Duration::from_millis(200) {
                        self.mark_down(source);
                    }
                    tried.push(format!("{} ({why})", source.name));
                }
                Ok(Err(err)) => {
                    if source.network {
                        self.mark_down(source);
                    }
                    let code = match err {
                        CredentialsError::ProviderTimedOut(_) => ErrorCode::CredentialsTimeout,
                        _ => ErrorCode::CredentialsFailed,
                    };
                    let before = if tried.is_empty() {
                        String::new()
                    } else {
                        format!(" (tried before it: {})", tried.join(", "))
                    };
                    return Err(Error::new(
                        code,
                        format!(
                            "AWS credential source {} failed: {}{before}",
                            source.name,
                            error_chain(&err)
                        ),
                    ));
                }
                Err(_elapsed) => {
                    if source.network {
                        self.mark_down(source);
                    }
                    tried.push(format!(
                        "{} (timed out after {} ms)",
                        source.name,
                        took.as_millis()
                    ));
                    return Err(Error::new(
                        ErrorCode::CredentialsTimeout,
                        format!(
                            "timed out after {} ms looking for AWS credentials; tried: {}. Raise {LOOKUP_TIMEOUT_ENV} or fix the source that hung",
                            lookup_timeout().as_millis(),
                            tried.join(", ")
                        ),
                    ));
                }
            }
        }
        Err(Error::new(
            ErrorCode::NoCredentials,
            format!(
                "no AWS credentials found; tried: {}. Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or configure ~/.aws/config",
                tried.join(", ")
            ),
        ))
    }

    fn mark_down(&self, source: &Source) {
        *source.down_until.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Instant::now() + NETWORK_SOURCE_BACKOFF);
    }
}

/// Access to the library's runtime, built only when a source needs it.
pub(crate) struct RuntimeHandle<'a> {
    pub(crate) get: &'a dyn Fn() -> Result<&'a tokio::runtime::Runtime>,
}

impl<'a> RuntimeHandle<'a> {
    fn get(&self) -> Result<&'a tokio::runtime::Runtime> {
        (self.get)()
    }
}

/// The bound on one lookup, from [`LOOKUP_TIMEOUT_ENV`] or the default.
pub fn lookup_timeout() -> Duration {
    static TIMEOUT: OnceLock<Duration> = OnceLock::new();
    *TIMEOUT.get_or_init(|| {
        std::env::var(LOOKUP_TIMEOUT_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .unwrap_or(DEFAULT_LOOKUP_TIMEOUT)
    })
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

fn build_sources(profile: Option<&str>) -> Vec<Source> {
    let config = provider_config(profile);
    let source = |name: String, provider: SharedCredentialsProvider, network: bool| Source {
        name,
        provider,
        network,
        down_until: Mutex::new(None),
    };
    let mut profile_builder =
        aws_config::profile::ProfileFileCredentialsProvider::builder().configure(&config);
    let profile_label = match profile {
        Some(name) => {
            profile_builder = profile_builder.profile_name(name);
            format!("profile '{name}'")
        }
        None => match std::env::var("AWS_PROFILE") {
            Ok(name) if !name.is_empty() => format!("profile '{name}' (AWS_PROFILE)"),
            _ => "profile 'default'".to_string(),
        },
    };
    let mut sources = vec![source(
        profile_label,
        SharedCredentialsProvider::new(profile_builder.build()),
        false,
    )];
    if profile.is_some() {
        return sources;
    }
    sources.push(source(
        "web identity".into(),
        SharedCredentialsProvider::new(
            aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder()
                .configure(&config)
                .build(),
        ),
        false,
    ));
    sources.push(source(
        "container endpoint (ECS/EKS)".into(),
        SharedCredentialsProvider::new(
            aws_config::ecs::EcsCredentialsProvider::builder()
                .configure(&config)
                .connect_timeout(METADATA_TIMEOUT)
                .read_timeout(METADATA_TIMEOUT)
                .build(),
        ),
        true,
    ));
    let imds_client = aws_config::imds::Client::builder()
        .configure(&config)
        .connect_timeout(METADATA_TIMEOUT)
        .read_timeout(METADATA_TIMEOUT)
        .max_attempts(1)
        .build();
    sources.push(source(
        "EC2 instance metadata (IMDSv2)".into(),
        SharedCredentialsProvider::new(
            aws_config::imds::credentials::ImdsCredentialsProvider::builder()
                .configure(&config)
                .imds_client(imds_client)
                .build(),
        ),
        true,
    ));
    sources
}

/// An error and its causes, by their `Display` only (never `Debug`, which can hold
/// response bodies), joined with ": ".
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}

/// The causes of an error without its own (generic) message.
fn error_causes(err: &(dyn std::error::Error + 'static)) -> String {
    err.source().map(error_chain).unwrap_or_default()
}

/// A short reason for a source that had nothing.
fn summarize_not_loaded(text: &str, took: Duration) -> String {
    let mut out: String = text.trim().chars().take(200).collect();
    if took >= Duration::from_millis(200) {
        out.push_str(&format!(", after {} ms", took.as_millis()));
    }
    if out.is_empty() {
        "not found, or it has no credentials".into()
    } else {
        out
    }
}

fn describe_time(time: SystemTime) -> String {
    UtcSeconds::from_system_time(time)
        .map(UtcSeconds::rfc3339)
        .unwrap_or_else(|| "before 1970".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let creds = AwsCredentials::new(
            "AKIDEXAMPLE",
            "very-secret-key",
            Some("very-secret-token".into()),
            None,
            "test",
        );
        let shown = format!("{creds:?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("very-secret"));
    }

    #[test]
    fn identity_tells_credentials_apart() {
        let a = AwsCredentials::new("AKID", "secret-1", None, None, "t");
        let b = AwsCredentials::new("AKID", "secret-2", None, None, "t");
        let c = AwsCredentials::new("AKID", "secret-1", Some("tok".into()), None, "t");
        let a2 = AwsCredentials::new("AKID", "secret-1", Some(String::new()), None, "t");
        assert_ne!(a.identity(), b.identity());
        assert_ne!(a.identity(), c.identity());
        assert_eq!(a.identity(), a2.identity());
        assert!(a2.signing().session_token.is_none());
    }
}
