//! The core: turns a validated request into a token. Region, then credentials, then the cache,
//! then the signer. Every door (C ABI, MySQL plugin, CLI) calls [`token_for`].

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
            log_at!(
                Level::Debug,
                "token {} for {}@{}:{} ({}, region {} ({}), credentials from {}) in {} us",
                CacheUse::Hit.describe(),
                request.effective_user(),
                request.effective_signing_host(),
                request.effective_signing_port(),
                request.kind,
                region,
                region_source,
                credentials_source,
                started.map_or(0, |s| s.elapsed().as_micros())
            );
        };
        if let Some(token) = fast_path::repeat(core, request, log_hit) {
            return Ok(token);
        }
    }
    request.validate()?;
    let (region, region_source) = resolve_region(core, request)?;
    let credentials = core.credentials(request.profile)?;
    // Read before the cache is: a clear after this point makes the remembered hit stale.
    let epoch = core.tokens.epoch();
    let (token, cache) = token_with_credentials(core, request, &region, &credentials)?;
    if cacheable {
        let region = (&*region, region_source);
        fast_path::remember(core, epoch, request, region, &credentials, &token);
    }
    // A cache hit is routine (debug); a new token is worth a line at info.
    let level = if cache == CacheUse::Hit {
        Level::Debug
    } else {
        Level::Info
    };
    log_at!(
        level,
        "token {} for {}@{}:{} ({}, region {} ({region_source}), credentials from {}) in {} us",
        cache.describe(),
        request.effective_user(),
        request.effective_signing_host(),
        request.effective_signing_port(),
        request.kind,
        region,
        credentials.source(),
        started.map_or(0, |s| s.elapsed().as_micros())
    );
    Ok(token)
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

fn token_with_credentials(
    core: &Core,
    request: &TokenRequest<'_>,
    region: &str,
    credentials: &AwsCredentials,
) -> Result<(Token, CacheUse)> {
    let now = signing_time(SystemTime::now())?;
    let cacheable = request.use_cache && request.signing_time.is_none();
    let key = TokenKey {
        kind: request.kind,
        host: request.effective_signing_host(),
        port: request.effective_signing_port(),
        user: request.effective_user(),
        region,
        identity: credentials.identity(),
        expires_in: request.effective_expires_in(),
        serverless: request.serverless,
    };
    if cacheable {
        if let Some(token) = core.tokens.get(&key, now) {
            return Ok((token, CacheUse::Hit));
        }
    }
    let time = request.signing_time.unwrap_or(now);
    let token = sign_now(request, region, credentials, time, Some(core));
    if cacheable {
        core.tokens.insert(&key, &token, now);
        return Ok((token, CacheUse::Miss));
    }
    Ok((token, CacheUse::Off))
}

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

/// The region for a request: explicit, else from the endpoint name, else configured.
/// Borrowed from the request when it is written there (no allocation on the hot path).
fn resolve_region<'a>(
    core: &Core,
    request: &TokenRequest<'a>,
) -> Result<(Cow<'a, str>, RegionSource)> {
    if let Some(region) = request.region {
        return Ok((Cow::Borrowed(region), RegionSource::Explicit));
    }
    let host = request.effective_signing_host();
    if let Some(region) = endpoint::infer_region_ref(host) {
        return Ok((region, RegionSource::Endpoint));
    }
    if let Some(region) = crate::region::from_environment()? {
        return Ok((Cow::Owned(region), RegionSource::Environment));
    }
    if let Some(region) = core.profile_region(request.profile)? {
        return Ok((Cow::Owned(region), RegionSource::Profile));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn creds() -> AwsCredentials {
        AwsCredentials::new("AKIDEXAMPLE", "engine-test-secret", None, None, "test")
    }

    #[test]
    fn clocks_outside_what_a_token_can_name_are_errors_not_panics() {
        // Fuzz finding: a clock (or signing time) past the year 9999 panicked in aws-sigv4.
        let request = TokenRequest::new("db.internal", 5432, "app");
        let past_9999 = UNIX_EPOCH + Duration::from_secs(UtcSeconds::LAST_SIGNABLE.unix() + 1);
        let before_1970 = UNIX_EPOCH - Duration::from_secs(1);
        for clock in [past_9999, before_1970] {
            let err = token_with(&request, "us-east-1", &creds(), clock).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidSigningTime, "{err}");
        }
    }
}
