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
//! re-checked, so credentials that appear later are picked up at once: aws-config's profile
//! provider parses the shared files once and keeps its first failure for ever, so we rebuild
//! it when the files change (size, mtime, inode) or after it failed.

use crate::error::{Error, ErrorCode, Result};
use crate::log::{Level, log_at};
use crate::sign::SigningCredentials;
use crate::timestamp::UtcSeconds;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use futures_util::FutureExt as _;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
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
/// When a refresh fails, temporary credentials with at least this much life left keep being
/// used (re-checked every [`NEAR_EXPIRY_RECHECK`]), so an endpoint's blip during the refresh
/// window does not fail logins that the current credentials can still sign.
const REFRESH_FAILURE_GRACE: Duration = Duration::from_secs(60);
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

/// The profile source and the state of the shared files it was built from.
struct ProfileSource {
    stamp: FilesStamp,
    source: Arc<Source>,
}

/// The chain for one profile selection (`None`: the default chain, honouring `AWS_PROFILE`).
pub(crate) struct CredentialChain {
    profile: Option<String>,
    /// The shared-files source; rebuilt when the files change or after it failed.
    files: Mutex<Option<ProfileSource>>,
    /// The sources after the files, built on first use (they need the HTTP client) and kept:
    /// they hold the back-off state and the metadata session token.
    sources: OnceLock<Vec<Source>>,
    current: RwLock<Option<Snapshot>>,
    /// What a token cache hit needs of `current`, readable without taking its lock.
    hit: HitSnapshot,
    /// Held while one thread looks credentials up, so a storm of callers does one lookup.
    lookup: Mutex<()>,
}

/// The current snapshot's identity and until when it may be reused, as plain atomics. A cache
/// hit only compares identities; taking `current`'s read lock and cloning its `Arc` writes two
/// shared counters, cache lines that threads hitting the cache at once pass back and forth
/// (a cached token cost 320 ns of CPU with 2 threads against 226 ns with one). These are only
/// loaded. Written under `current`'s write lock, so there is one writer at a time; read as a
/// sequence lock: `until` is zeroed first and set last, and a reader that sees it change, or
/// zero, falls back to the locked path.
struct HitSnapshot {
    /// `reuse_until` as nanoseconds after `born`; 0: no reusable snapshot.
    until: AtomicU64,
    identity: AtomicU64,
    born: Instant,
}

impl HitSnapshot {
    fn new() -> Self {
        HitSnapshot {
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

    /// Call with `current`'s write lock held.
    fn set(&self, snapshot: Option<&Snapshot>) {
        self.until.store(0, Ordering::Release);
        if let Some(snapshot) = snapshot {
            self.identity
                .store(snapshot.credentials.identity(), Ordering::Release);
            self.until
                .store(self.nanos(snapshot.reuse_until), Ordering::Release);
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

impl CredentialChain {
    pub(crate) fn new(profile: Option<String>) -> Self {
        CredentialChain {
            profile,
            files: Mutex::new(None),
            sources: OnceLock::new(),
            current: RwLock::new(None),
            hit: HitSnapshot::new(),
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
        let found = match self.look_up(runtime) {
            Ok(found) => found,
            Err(err) => return self.keep_after_failed_refresh(err),
        };
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
            match (found.expires_at, &found.session_token) {
                (Some(t), _) => format!("expire {}", describe_time(t)),
                (None, Some(_)) => "temporary, no expiry given".to_string(),
                (None, None) => "long-term".to_string(),
            },
            started.elapsed().as_micros()
        );
        let found = Arc::new(found);
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = Some(Snapshot {
            credentials: found.clone(),
            reuse_until: Instant::now() + reuse_for,
        });
        self.hit.set(current.as_ref());
        Ok(found)
    }

    /// After a failed lookup: the current temporary credentials if they still have more than
    /// [`REFRESH_FAILURE_GRACE`] to live (used a little longer, with a warning), else `err`.
    /// Long-term keys are not kept: their source is local, and a failure there (a removed
    /// variable or file) is the user's doing.
    fn keep_after_failed_refresh(&self, err: Error) -> Result<Arc<AwsCredentials>> {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let Some(snapshot) = current.as_mut() else {
            return Err(err);
        };
        let creds = snapshot.credentials.clone();
        let left = creds
            .expires_at
            .and_then(|t| t.duration_since(SystemTime::now()).ok())
            .unwrap_or_default();
        if left <= REFRESH_FAILURE_GRACE {
            return Err(err);
        }
        log_at!(
            Level::Warn,
            "credentials: refreshing failed ({}); still using those from {} (key id {}, {} s left)",
            err.message(),
            creds.source,
            creds.access_key_id,
            left.as_secs()
        );
        snapshot.reuse_until =
            Instant::now() + NEAR_EXPIRY_RECHECK.min(left - REFRESH_FAILURE_GRACE);
        self.hit.set(Some(snapshot));
        Ok(creds)
    }

    /// Forgets the snapshot, so the next call looks again.
    pub(crate) fn invalidate(&self) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        *current = None;
        self.hit.set(None);
    }

    /// The identity of the current credentials while they may be reused without a lookup;
    /// `None` when a call to [`credentials`](Self::credentials) is needed. Takes no lock.
    pub(crate) fn reusable_identity(&self) -> Option<u64> {
        self.hit.reusable_identity()
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
        let files = self.profile_source(rt);
        let others: &[Source] = if self.profile.is_some() {
            &[]
        } else {
            self.sources.get_or_init(|| {
                let _guard = rt.enter();
                build_network_sources(&provider_config(None))
            })
        };
        for source in std::iter::once(&*files).chain(others) {
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
                    self.forget_failed_files(source);
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
                    self.forget_failed_files(source);
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
                    let why = error_chain(&err);
                    return Err(Error::new(
                        code,
                        format!(
                            "AWS credential source {} failed: {why}{}{before}",
                            source.name,
                            self.sso_login_hint(&why)
                        ),
                    ));
                }
                Err(_elapsed) => {
                    self.forget_failed_files(source);
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

    /// The shared-files source, rebuilt if the files changed since it was built (or it was
    /// dropped after a failure).
    fn profile_source(&self, rt: &tokio::runtime::Runtime) -> Arc<Source> {
        let stamp = FilesStamp::now();
        let mut slot = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(current) = slot.as_ref() {
            if current.stamp == stamp {
                return current.source.clone();
            }
            log_at!(
                Level::Debug,
                "credentials: the shared config/credentials files changed; reading them again"
            );
        }
        let source = {
            let _guard = rt.enter();
            Arc::new(build_profile_source(self.profile.as_deref()))
        };
        *slot = Some(ProfileSource {
            stamp,
            source: source.clone(),
        });
        source
    }

    /// What to run when aws-config's SSO token provider failed (no cached token, or one that
    /// expired and cannot be refreshed): its messages say "SSO token" but not how to get one.
    fn sso_login_hint(&self, why: &str) -> String {
        if !why.contains("SSO token") {
            return String::new();
        }
        let profile = self.profile.as_deref().map(|p| format!(" --profile {p}"));
        format!("; run aws sso login{}", profile.unwrap_or_default())
    }

    /// Drops the shared-files source after it failed: aws-config's profile provider would
    /// otherwise answer every later call with its first error.
    fn forget_failed_files(&self, source: &Source) {
        let mut slot = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if slot
            .as_ref()
            .is_some_and(|current| std::ptr::eq(&*current.source, source))
        {
            *slot = None;
        }
    }

    fn mark_down(&self, source: &Source) {
        log_at!(
            Level::Warn,
            "credentials: {} did not answer usefully; not asking it again for {} s",
            source.name,
            NETWORK_SOURCE_BACKOFF.as_secs()
        );
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

fn new_source(name: String, provider: SharedCredentialsProvider, network: bool) -> Source {
    Source {
        name,
        provider,
        network,
        down_until: Mutex::new(None),
    }
}

/// The shared config/credentials files for the selected profile: static keys, SSO,
/// assume-role with `source_profile`, `credential_process`, web identity in a profile.
fn build_profile_source(profile: Option<&str>) -> Source {
    let config = provider_config(profile);
    let mut builder =
        aws_config::profile::ProfileFileCredentialsProvider::builder().configure(&config);
    let label = match profile {
        Some(name) => {
            builder = builder.profile_name(name);
            format!("profile '{name}'")
        }
        None => match std::env::var("AWS_PROFILE") {
            Ok(name) if !name.is_empty() => format!("profile '{name}' (AWS_PROFILE)"),
            _ => "profile 'default'".to_string(),
        },
    };
    new_source(
        label,
        SharedCredentialsProvider::new(builder.build()),
        false,
    )
}

/// The sources of the default chain after the shared files.
fn build_network_sources(config: &ProviderConfig) -> Vec<Source> {
    let imds_client = aws_config::imds::Client::builder()
        .configure(config)
        .connect_timeout(METADATA_TIMEOUT)
        .read_timeout(METADATA_TIMEOUT)
        .max_attempts(1)
        .build();
    vec![
        new_source(
            "web identity".into(),
            SharedCredentialsProvider::new(
                aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder()
                    .configure(config)
                    .build(),
            ),
            false,
        ),
        new_source(
            "container endpoint (ECS/EKS)".into(),
            SharedCredentialsProvider::new(
                aws_config::ecs::EcsCredentialsProvider::builder()
                    .configure(config)
                    .connect_timeout(METADATA_TIMEOUT)
                    .read_timeout(METADATA_TIMEOUT)
                    .build(),
            ),
            true,
        ),
        new_source(
            "EC2 instance metadata (IMDSv2)".into(),
            SharedCredentialsProvider::new(
                aws_config::imds::credentials::ImdsCredentialsProvider::builder()
                    .configure(config)
                    .imds_client(imds_client)
                    .build(),
            ),
            true,
        ),
    ]
}

/// What identifies the state of the shared config and credentials files (and the variables
/// that choose them): when it changes, the profile source is rebuilt.
#[derive(PartialEq, Eq)]
struct FilesStamp {
    vars: [Option<std::ffi::OsString>; 4],
    files: [Option<(u64, u64, i64, i64)>; 2],
}

impl FilesStamp {
    fn now() -> Self {
        use std::os::unix::fs::MetadataExt as _;
        let var = |name: &str| std::env::var_os(name);
        let vars = [
            var("HOME"),
            var("AWS_CONFIG_FILE"),
            var("AWS_SHARED_CREDENTIALS_FILE"),
            var("AWS_PROFILE"),
        ];
        let path = |explicit: &Option<std::ffi::OsString>, default: &str| match explicit
            .as_ref()
            .filter(|p| !p.is_empty())
        {
            Some(p) => {
                let p = std::path::PathBuf::from(p);
                match (p.strip_prefix("~"), &vars[0]) {
                    (Ok(rest), Some(home)) => Some(std::path::Path::new(home).join(rest)),
                    _ => Some(p),
                }
            }
            None => vars[0]
                .as_ref()
                .map(|home| std::path::Path::new(home).join(default)),
        };
        let stat = |p: Option<std::path::PathBuf>| {
            let m = std::fs::metadata(p?).ok()?;
            Some((m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
        };
        let files = [
            stat(path(&vars[1], ".aws/config")),
            stat(path(&vars[2], ".aws/credentials")),
        ];
        FilesStamp { vars, files }
    }
}

/// An error and its causes, by their `Display` only (never `Debug`, which can hold
/// response bodies), joined with ": ", with anything that looks like a credential withheld.
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
    scrub(&text)
}

/// How much of a failing credential process's stderr a message quotes, bytes.
const STDERR_SHOWN: usize = 400;

/// Words that mark credentials in what a source printed.
const CREDENTIAL_WORDS: [&str; 6] = [
    "secretaccesskey",
    "secret_access_key",
    "sessiontoken",
    "session_token",
    "\"token\"",
    "accesstoken",
];

/// Withholds what looks like credentials in an error text from aws-config. Its messages can
/// quote what a source printed: a failing `credential_process` tool's whole stderr, above all.
/// That part is dropped if it names a credential field, and any long run of base64/JWT-like
/// characters mixing upper case, lower case and digits (secret keys, session tokens, bearer
/// tokens) is replaced, wherever it appears. Key ids (20 characters), paths, URLs and ARNs stay.
fn scrub(text: &str) -> String {
    const STDERR: &str = "Stderr: ";
    let mut text = text.to_string();
    if let Some(at) = text.find(STDERR) {
        let said = text[at + STDERR.len()..].to_ascii_lowercase();
        let said = if CREDENTIAL_WORDS.iter().any(|w| said.contains(w)) {
            "(withheld: it mentions credentials)".to_string()
        } else {
            // One line: the tool's own words, whitespace folded, and at most a few hundred
            // bytes of them (a tool can print megabytes; the message goes to logs).
            let said = &text[at + STDERR.len()..];
            let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
            crate::endpoint::shorten_to(&said, STDERR_SHOWN)
        };
        text.truncate(at + STDERR.len());
        text.push_str(&said);
    }
    let is_run_char = |c: char| c.is_ascii_alphanumeric() || "+/=_-.".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let end = rest.find(|c| !is_run_char(c)).unwrap_or(rest.len());
        let run = &rest[..end];
        let looks_secret = run.len() >= 32
            && run.chars().any(|c| c.is_ascii_uppercase())
            && run.chars().any(|c| c.is_ascii_lowercase())
            && run.chars().any(|c| c.is_ascii_digit());
        out.push_str(if looks_secret { "[withheld]" } else { run });
        rest = &rest[end..];
        let skip = rest.find(is_run_char).unwrap_or(rest.len());
        out.push_str(&rest[..skip]);
        rest = &rest[skip..];
    }
    out
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
    fn scrub_withholds_what_looks_like_credentials() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r";
        let text = format!("bad key {secret} and token {jwt}; key AKIAIOSFODNN7EXAMPLE");
        let shown = scrub(&text);
        assert!(
            !shown.contains(secret) && !shown.contains("dBjftJeZ4CVP"),
            "{shown}"
        );
        assert!(shown.contains("AKIAIOSFODNN7EXAMPLE") && shown.contains("bad key [withheld]"));
        let path = "/home/someone/.aws/sso/cache/0123456789abcdef0123456789abcdef.json";
        assert_eq!(scrub(path), path);
        let stderr = "external process exited with code 1. Stderr: {\"SessionToken\": \"abc\"}";
        assert_eq!(
            scrub(stderr),
            "external process exited with code 1. Stderr: (withheld: it mentions credentials)"
        );
        let plain = "exited with code 1. Stderr: the SSO session has expired; run aws sso login";
        assert_eq!(scrub(plain), plain);
    }

    fn snapshot(secret: &str, reuse_until: Instant) -> Snapshot {
        Snapshot {
            credentials: Arc::new(AwsCredentials::new("AKID", secret, None, None, "t")),
            reuse_until,
        }
    }

    #[test]
    fn hit_snapshot_answers_only_while_reusable() {
        let hit = HitSnapshot::new();
        assert_eq!(hit.reusable_identity(), None, "nothing looked up yet");
        let now = Instant::now();
        let live = snapshot("secret-1", now + Duration::from_secs(60));
        hit.set(Some(&live));
        assert_eq!(hit.reusable_identity(), Some(live.credentials.identity()));
        let other = snapshot("secret-2", now + Duration::from_secs(60));
        hit.set(Some(&other));
        assert_eq!(hit.reusable_identity(), Some(other.credentials.identity()));
        hit.set(Some(&snapshot("secret-1", now)));
        assert_eq!(hit.reusable_identity(), None, "past its reuse time");
        hit.set(Some(&live));
        hit.set(None);
        assert_eq!(hit.reusable_identity(), None, "invalidated");
    }

    #[test]
    fn hit_snapshot_never_pairs_an_identity_with_another_snapshots_time() {
        // One writer flips between a reusable and an expired snapshot; readers must never
        // see the expired one's identity as reusable.
        let hit = HitSnapshot::new();
        let far = Instant::now() + Duration::from_secs(3600);
        let live = snapshot("live", far);
        let expired = snapshot("expired", Instant::now());
        let (live_id, expired_id) = (live.credentials.identity(), expired.credentials.identity());
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            let readers: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        while !stop.load(Ordering::Relaxed) {
                            if let Some(id) = hit.reusable_identity() {
                                assert_eq!(id, live_id, "not {expired_id}, the expired one's");
                            }
                        }
                    })
                })
                .collect();
            let rounds = if cfg!(miri) { 50 } else { 20_000 };
            for _ in 0..rounds {
                hit.set(Some(&live));
                hit.set(Some(&expired));
            }
            hit.set(Some(&live));
            stop.store(true, Ordering::Relaxed);
            for r in readers {
                r.join().unwrap();
            }
        });
        assert_eq!(hit.reusable_identity(), Some(live_id));
    }

    #[test]
    fn sso_token_failures_say_what_to_run() {
        let expired = "an error occurred while loading an access token: the SSO token has expired and cannot be refreshed";
        assert_eq!(
            CredentialChain::new(Some("corp".into())).sso_login_hint(expired),
            "; run aws sso login --profile corp"
        );
        // The profile from AWS_PROFILE: `aws sso login` reads it too.
        assert_eq!(
            CredentialChain::new(None).sso_login_hint(expired),
            "; run aws sso login"
        );
        assert_eq!(
            CredentialChain::new(None).sso_login_hint("failed to connect to the STS endpoint"),
            ""
        );
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

    #[test]
    fn a_credential_process_stderr_is_quoted_short() {
        // Review finding: a tool's whole stderr (megabytes, if it printed them) went into the
        // message, which goes to logs.
        let said = "sso session expired ".repeat(50_000);
        let text = scrub(&format!(
            "external process exited with code 3. Stderr: {said}"
        ));
        assert!(text.len() < 600, "{}", text.len());
        assert!(text.contains("sso session expired") && text.contains("bytes)"));
    }
}
