//! One lookup: the sources asked in order within one time bound, each outcome kept, so a
//! failure says what was tried. Steps: the environment (default chain only), then each source
//! that is not backing off, until one has credentials, one fails, or time runs out.

use super::AwsCredentials;
use super::redact::{error_causes, error_chain};
use super::sources::{Source, Sources, environment};
use crate::error::{Error, ErrorCode, Result};
use crate::log::{Level, log_at};
use aws_credential_types::provider::ProvideCredentials as _;
use aws_credential_types::provider::error::CredentialsError;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The default bound on one whole credential lookup; `IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS`.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// The environment variable that overrides [`DEFAULT_LOOKUP_TIMEOUT`].
pub const LOOKUP_TIMEOUT_ENV: &str = "IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS";

/// The bound on one lookup, from [`LOOKUP_TIMEOUT_ENV`] or the default.
pub fn lookup_timeout() -> Duration {
    static TIMEOUT: OnceLock<Duration> = OnceLock::new();
    *TIMEOUT.get_or_init(|| parse_timeout(std::env::var(LOOKUP_TIMEOUT_ENV).ok().as_deref()))
}

fn parse_timeout(value: Option<&str>) -> Duration {
    value
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_LOOKUP_TIMEOUT)
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

/// What one source said.
enum Answer {
    Found(AwsCredentials),
    /// It has no credentials (not configured, not on EC2...): the next source is asked.
    Nothing(String),
    /// It is configured but failed: the lookup stops with its error.
    Failed(CredentialsError),
    /// The lookup's time ran out while it was asked.
    TimedOut(Duration),
}

/// Looks credentials up once through `sources`, within [`lookup_timeout`].
pub(crate) fn look_up(sources: &Sources, runtime: &RuntimeHandle<'_>) -> Result<AwsCredentials> {
    let mut tried: Vec<String> = Vec::new();
    if sources.profile().is_none()
        && let Some(found) = environment::read(&mut tried)?
    {
        return Ok(found);
    }
    let deadline = Instant::now() + lookup_timeout();
    let rt = runtime.get()?;
    let files = sources.files(rt);
    for source in std::iter::once(&*files).chain(sources.network(rt)) {
        if let Some(skipped) = source.skipped_at(Instant::now()) {
            tried.push(skipped);
            continue;
        }
        let answer = ask(source, rt, deadline);
        if !matches!(answer, Answer::Found(_)) {
            sources.after_failure(source);
        }
        match answer {
            Answer::Found(found) => return Ok(found),
            Answer::Nothing(why) => tried.push(format!("{} ({why})", source.name)),
            Answer::Failed(err) => return Err(failed(sources.profile(), source, &err, &tried)),
            Answer::TimedOut(took) => {
                tried.push(format!(
                    "{} (timed out after {} ms)",
                    source.name,
                    took.as_millis()
                ));
                return Err(timed_out(&tried));
            }
        }
    }
    Err(not_found(&tried))
}

/// How much longer than its budget a source's thread is waited for before the lookup gives up
/// on it (its own timer normally ends it first; this is for a thread blocked outside the
/// runtime, where no timer can reach it).
const STUCK_GRACE: Duration = Duration::from_millis(50);

/// What polling a source gave: its answer, or nothing within the time.
type Polled = Option<std::result::Result<aws_credential_types::Credentials, CredentialsError>>;

/// Polls `source` on a thread of its own and waits for it at most `budget` (plus a grace).
/// aws-config reads some files (the SSO token cache, a role's chain) with blocking reads inside
/// its futures: a FIFO there would block whichever thread polls it, for ever. Polled here, only
/// that thread is lost; the caller returns at its bound, and other lookups go on.
fn poll_bounded(source: &Source, rt: &tokio::runtime::Runtime, budget: Duration) -> Polled {
    let provider = source.provider.clone();
    let handle = rt.handle().clone();
    let (answer, answered) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("iam-db-auth-credentials".into())
        .spawn(move || {
            // The timer is made inside the runtime's context (block_on enters it).
            let outcome = handle.block_on(async move {
                tokio::time::timeout(budget, provider.provide_credentials()).await
            });
            // The caller may have stopped waiting: nobody to tell then.
            let _ = answer.send(outcome.ok());
        });
    if let Err(e) = spawned {
        return Some(Err(CredentialsError::unhandled(format!(
            "could not start a thread to ask this source: {e}"
        ))));
    }
    match answered.recv_timeout(budget + STUCK_GRACE) {
        Ok(outcome) => outcome,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Some(Err(
            CredentialsError::unhandled("the source's thread ended without an answer"),
        )),
    }
}

/// Asks one source, with what is left of the time, and notes the outcome in its back-off.
fn ask(source: &Source, rt: &tokio::runtime::Runtime, deadline: Instant) -> Answer {
    let budget = deadline.saturating_duration_since(Instant::now());
    let started = Instant::now();
    let outcome = poll_bounded(source, rt, budget);
    let took = started.elapsed();
    match outcome {
        Some(Ok(creds)) => {
            log_at!(
                Level::Debug,
                "credentials: {}: found ({} us)",
                source.name,
                took.as_micros()
            );
            source.mark_up();
            Answer::Found(AwsCredentials::from_sdk(&creds, &source.name))
        }
        Some(Err(err @ CredentialsError::CredentialsNotLoaded(_))) => {
            let why = summarize_not_loaded(&error_causes(&err), took);
            log_at!(
                Level::Debug,
                "credentials: {}: not available: {why} ({} us)",
                source.name,
                took.as_micros()
            );
            // Quick "not here" answers are normal; a slow one is an endpoint worth avoiding.
            if took >= Duration::from_millis(200) {
                source.mark_down();
            }
            Answer::Nothing(why)
        }
        Some(Err(err)) => {
            source.mark_down();
            Answer::Failed(err)
        }
        None => {
            source.mark_down();
            Answer::TimedOut(took)
        }
    }
}

/// The error for a source that is configured but failed.
fn failed(
    profile: Option<&str>,
    source: &Source,
    err: &CredentialsError,
    tried: &[String],
) -> Error {
    let code = match err {
        CredentialsError::ProviderTimedOut(_) => ErrorCode::CredentialsTimeout,
        _ => ErrorCode::CredentialsFailed,
    };
    let before = if tried.is_empty() {
        String::new()
    } else {
        format!(" (tried before it: {})", tried.join(", "))
    };
    let why = error_chain(err);
    Error::new(
        code,
        format!(
            "AWS credential source {} failed: {why}{}{before}",
            source.name,
            sso_login_hint(profile, &why)
        ),
    )
}

/// The error when the lookup's time ran out.
fn timed_out(tried: &[String]) -> Error {
    Error::new(
        ErrorCode::CredentialsTimeout,
        format!(
            "timed out after {} ms looking for AWS credentials; tried: {}. Raise {LOOKUP_TIMEOUT_ENV} or fix the source that hung",
            lookup_timeout().as_millis(),
            tried.join(", ")
        ),
    )
}

/// The error when no source had credentials.
fn not_found(tried: &[String]) -> Error {
    Error::new(
        ErrorCode::NoCredentials,
        format!(
            "no AWS credentials found; tried: {}. Set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or configure ~/.aws/config",
            tried.join(", ")
        ),
    )
}

/// What to run when aws-config's SSO token provider failed (no cached token, or one that
/// expired and cannot be refreshed): its messages say "SSO token" but not how to get one.
fn sso_login_hint(profile: Option<&str>, why: &str) -> String {
    if !why.contains("SSO token") {
        return String::new();
    }
    let profile = profile.map(|p| format!(" --profile {p}"));
    format!("; run aws sso login{}", profile.unwrap_or_default())
}

/// A short reason for a source that had nothing.
fn summarize_not_loaded(text: &str, took: Duration) -> String {
    let mut out: String = text.trim().chars().take(200).collect();
    if out.is_empty() {
        out.push_str("not found, or it has no credentials");
    }
    if took >= Duration::from_millis(200) {
        out.push_str(&format!(", after {} ms", took.as_millis()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sso_token_failures_say_what_to_run() {
        let expired = "an error occurred while loading an access token: the SSO token has expired and cannot be refreshed";
        assert_eq!(
            sso_login_hint(Some("corp"), expired),
            "; run aws sso login --profile corp"
        );
        // The profile from AWS_PROFILE: `aws sso login` reads it too.
        assert_eq!(sso_login_hint(None, expired), "; run aws sso login");
        assert_eq!(
            sso_login_hint(None, "failed to connect to the STS endpoint"),
            ""
        );
    }

    #[test]
    fn a_source_with_nothing_says_why_briefly() {
        let quick = Duration::from_millis(3);
        let slow = Duration::from_millis(1500);
        assert_eq!(summarize_not_loaded("  no profile  ", quick), "no profile");
        assert_eq!(
            summarize_not_loaded("", quick),
            "not found, or it has no credentials"
        );
        assert_eq!(
            summarize_not_loaded("no route", slow),
            "no route, after 1500 ms"
        );
        assert_eq!(summarize_not_loaded(&"x".repeat(500), quick).len(), 200);
        // A slow source with nothing to say still gets a reason, not just its time.
        assert_eq!(
            summarize_not_loaded(" ", slow),
            "not found, or it has no credentials, after 1500 ms"
        );
    }

    #[test]
    fn the_messages_say_what_was_tried_and_what_to_do() {
        let tried = vec![
            "environment (AWS_ACCESS_KEY_ID not set)".to_string(),
            "profile 'default' (no profile)".to_string(),
        ];
        let none = not_found(&tried);
        assert_eq!(none.code(), ErrorCode::NoCredentials);
        assert!(none.message().contains(
            "tried: environment (AWS_ACCESS_KEY_ID not set), profile 'default' (no profile). Set AWS_ACCESS_KEY_ID"
        ));
        let slow = timed_out(&tried);
        assert_eq!(slow.code(), ErrorCode::CredentialsTimeout);
        assert!(slow.message().contains(LOOKUP_TIMEOUT_ENV));
    }

    #[test]
    fn the_timeout_setting_takes_positive_milliseconds_only() {
        assert_eq!(parse_timeout(Some(" 2500 ")), Duration::from_millis(2500));
        for bad in [None, Some(""), Some("0"), Some("-1"), Some("10s")] {
            assert_eq!(parse_timeout(bad), DEFAULT_LOOKUP_TIMEOUT, "{bad:?}");
        }
    }
}
