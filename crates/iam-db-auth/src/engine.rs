//! The core: turns a request into a token, as a straight pipeline. Every door (C ABI, MySQL
//! plugin, CLI) calls [`token_for`]:
//!
//! fast path (`fast_path`) -> validate -> region -> credentials -> cache lookup -> sign ->
//! remember (the shared cache and this thread's fast path) -> log.
//!
//! The credentials come before the cache lookup because a cached token is keyed by the
//! identity of the credentials that signed it: a token is never handed out after they changed.

use crate::cache::TokenKey;
use crate::credentials::AwsCredentials;
use crate::endpoint;
use crate::error::{Error, ErrorCode, Result};
use crate::fast_path;
use crate::log::{Level, enabled, log_at};
use crate::region::{RegionSource, profile_label};
use crate::request::TokenRequest;
use crate::runtime::{self, Core};
use crate::sign::{self, Presign, SigningKey};
use crate::timestamp::UtcSeconds;
use crate::token::Token;
use std::borrow::Cow;
use std::time::{Instant, SystemTime};

/// Makes (or reuses) a token for `request`, with credentials from the AWS default chain.
///
/// Blocks while credentials are looked up: microseconds with environment credentials or a
/// cached result; at most the credential lookup bound (`IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS`,
/// default 10 s) when a network source must be asked. Thread-safe.
pub fn token_for(request: &TokenRequest<'_>) -> Result<Token> {
    // Reading the clock costs as much as a cache hit: only for the log line, when it is written.
    let started = enabled(Level::Info).then(Instant::now);
    let core = runtime::core();
    let cacheable = request.use_cache && request.signing_time.is_none();
    if cacheable {
        let log_hit = |region: &str, region_source, credentials_source: &str| {
            log_token(
                CacheUse::Hit,
                request,
                (region, region_source),
                credentials_source,
                started,
            );
        };
        if let Some(token) = fast_path::repeat(core, request, log_hit) {
            return Ok(token);
        }
    }
    request.validate()?;
    let region = resolve_region(core, request)?;
    let credentials = core.credentials(request.profile)?;
    let now = signing_time(SystemTime::now())?;
    let key = token_key(request, &region.name, &credentials);
    // Read before the cache is: a clear after this point makes the remembered token stale.
    let epoch = core.tokens.epoch();
    let cached = cacheable.then(|| core.tokens.get(&key, now)).flatten();
    let sign = |time| sign_now(request, &region.name, &credentials, time, Some(core));
    let (token, cache) = match cached {
        Some(token) => (token, CacheUse::Hit),
        None if cacheable => (sign(now), CacheUse::Miss),
        None => (sign(request.signing_time.unwrap_or(now)), CacheUse::Off),
    };
    let region = (&*region.name, region.source);
    if cacheable {
        if cache == CacheUse::Miss {
            core.tokens.insert(&key, &token, now);
        }
        fast_path::remember(core, epoch, request, region, &credentials, &token);
    }
    log_token(cache, request, region, credentials.source(), started);
    Ok(token)
}

/// Makes a token with the given credentials, outside the cache and the credential chain (for
/// callers that manage credentials themselves). `now` is the signing time unless the request
/// sets one.
pub fn token_with(
    request: &TokenRequest<'_>,
    region: &str,
    credentials: &AwsCredentials,
    now: SystemTime,
) -> Result<Token> {
    request.validate()?;
    endpoint::validate_region(region)?;
    let time = match request.signing_time {
        Some(t) => t,
        None => signing_time(now)?,
    };
    Ok(sign_now(request, region, credentials, time, None))
}

/// A request's region and how it was found; borrowed from the request when it is written
/// there (no allocation on the hot path).
struct Region<'a> {
    name: Cow<'a, str>,
    source: RegionSource,
}

/// The region for a request: explicit, else from the endpoint name, else configured.
fn resolve_region<'a>(core: &Core, request: &TokenRequest<'a>) -> Result<Region<'a>> {
    let found = |name, source| Ok(Region { name, source });
    if let Some(region) = request.region {
        return found(Cow::Borrowed(region), RegionSource::Explicit);
    }
    let host = request.effective_signing_host();
    if let Some(region) = endpoint::infer_region_ref(host) {
        return found(region, RegionSource::Endpoint);
    }
    if let Some(region) = crate::region::from_environment()? {
        return found(Cow::Owned(region), RegionSource::Environment);
    }
    if let Some(region) = core.profile_region(request.profile)? {
        return found(Cow::Owned(region), RegionSource::Profile);
    }
    Err(Error::new(
        ErrorCode::RegionNotFound,
        format!(
            "no AWS region for host '{}': it is not an AWS endpoint name that carries one, and neither AWS_REGION, AWS_DEFAULT_REGION nor profile {} sets one; pass a region (--region) or set AWS_REGION",
            endpoint::shorten(host),
            profile_label(request.profile)
        ),
    ))
}

/// What identifies the token for `request`, borrowed from it.
fn token_key<'a>(
    request: &'a TokenRequest<'_>,
    region: &'a str,
    credentials: &AwsCredentials,
) -> TokenKey<'a> {
    TokenKey {
        kind: request.kind,
        host: request.effective_signing_host(),
        port: request.effective_signing_port(),
        user: request.effective_user(),
        region,
        identity: credentials.identity(),
        expires_in: request.effective_expires_in(),
        serverless: request.serverless,
    }
}

/// Signs a new token at `time`, with the day's signing key from `core`'s cache if given.
fn sign_now(
    request: &TokenRequest<'_>,
    region: &str,
    credentials: &AwsCredentials,
    time: UtcSeconds,
    core: Option<&Core>,
) -> Token {
    let input = Presign {
        kind: request.kind,
        host: request.effective_signing_host(),
        port: request.effective_signing_port(),
        user: request.effective_user(),
        region,
        expires_in: request.effective_expires_in(),
        time,
        serverless: request.serverless,
    };
    let signing = credentials.signing();
    let derive = || {
        SigningKey::derive(
            signing.secret_access_key,
            time,
            region,
            request.kind.service(),
        )
    };
    let text = match core {
        Some(core) => {
            let key = core.keys.get_or_derive(
                time,
                region,
                request.kind.service(),
                credentials.identity(),
                derive,
            );
            sign::presign_with_key(&input, &signing, &key)
        }
        None => sign::presign_with_key(&input, &signing, &derive()),
    };
    let mut valid_until = time.plus(u64::from(input.expires_in));
    if let Some(expiry) = credentials
        .expires_at()
        .and_then(UtcSeconds::from_system_time)
    {
        valid_until = valid_until.min(expiry);
    }
    Token::from_secret(text, time, valid_until)
}

fn signing_time(now: SystemTime) -> Result<UtcSeconds> {
    match UtcSeconds::from_system_time(now) {
        None => Err(Error::new(
            ErrorCode::InvalidSigningTime,
            "the system clock is before 1970; fix the clock",
        )),
        Some(t) if t > UtcSeconds::LAST_SIGNABLE => Err(Error::new(
            ErrorCode::InvalidSigningTime,
            "the system clock is after the year 9999, which a token cannot name; fix the clock",
        )),
        Some(t) => Ok(t),
    }
}

/// How the token cache served a request (for the log).
#[derive(Clone, Copy, PartialEq, Eq)]
enum CacheUse {
    Hit,
    Miss,
    Off,
}

impl CacheUse {
    fn describe(self) -> &'static str {
        match self {
            CacheUse::Hit => "from the cache (cache hit)",
            CacheUse::Miss => "made (cache miss)",
            CacheUse::Off => "made (cache not used)",
        }
    }
}

/// The token's log line: a cache hit is routine (debug); a new token is worth a line at info.
fn log_token(
    cache: CacheUse,
    request: &TokenRequest<'_>,
    (region, region_source): (&str, RegionSource),
    credentials_source: &str,
    started: Option<Instant>,
) {
    let level = if cache == CacheUse::Hit {
        Level::Debug
    } else {
        Level::Info
    };
    log_at!(
        level,
        "token {} for {}@{}:{} ({}, region {} ({}), credentials from {}) in {} us",
        cache.describe(),
        request.effective_user(),
        request.effective_signing_host(),
        request.effective_signing_port(),
        request.kind,
        region,
        region_source,
        credentials_source,
        started.map_or(0, |s| s.elapsed().as_micros())
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn creds() -> AwsCredentials {
        AwsCredentials::new("AKIDEXAMPLE", "engine-test-secret", None, None, "test")
    }

    #[test]
    fn clocks_outside_what_a_token_can_name_are_errors_not_panics() {
        // aws-sigv4 panics on a signing time past the year 9999.
        let request = TokenRequest::new("db.internal", 5432, "app");
        let past_9999 = UNIX_EPOCH + Duration::from_secs(UtcSeconds::LAST_SIGNABLE.unix() + 1);
        let before_1970 = UNIX_EPOCH - Duration::from_secs(1);
        for clock in [past_9999, before_1970] {
            let err = token_with(&request, "us-east-1", &creds(), clock).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidSigningTime, "{err}");
        }
    }
}
