//! The fast path: the first step of [`token_for`](crate::token_for), for a thread that asks
//! again for the token it was just handed (a pool opening connections, a plugin logging in
//! again).
//!
//! [`repeat`](crate::fast_path::repeat) compares the request with the one this thread last
//! had answered and hands that token out on the cache's own terms: the same credentials now
//! (compared by identity), enough life left, no clear or eviction since, the same process image
//! (a new one after `fork`). It skips validation, region inference, the shared cache (hashing,
//! lock) and the credentials' lock: the request passed validation and region inference when it
//! was remembered, and both depend on the request alone. So
//! [`remember`](crate::fast_path::remember) keeps only requests whose region is given or read
//! from the host name: for them the request alone decides the cache key.
//!
//! - `front.rs`: this thread's last hit and the request it answered.
//! - `snapshot.rs`: a credential chain's current credentials, behind a lock for the chain and
//!   mirrored in two atomics (a sequence lock) for this path, always written together.

mod front;
mod snapshot;

pub(crate) use snapshot::CurrentCredentials;

use crate::credentials::AwsCredentials;
use crate::region::RegionSource;
use crate::request::TokenRequest;
use crate::runtime::Core;
use crate::timestamp::UtcSeconds;
use crate::token::Token;
use std::time::SystemTime;

/// The token this thread was last handed, if `request` is the request it answered and the
/// cache's terms still hold; `None`: the caller takes the whole pipeline. `on_hit` is told
/// the region, how it was found and the credentials' source (for the log line).
pub(crate) fn repeat(
    core: &Core,
    request: &TokenRequest<'_>,
    on_hit: impl FnOnce(&str, RegionSource, &str),
) -> Option<Token> {
    front::recall(core.id(), request, |last| {
        let identity =
            core.with_current_credentials(request.profile, CurrentCredentials::reusable_identity)?;
        let now = UtcSeconds::from_system_time(SystemTime::now())?;
        if identity != last.identity
            || now >= last.usable_until
            || core.tokens.epoch() != last.epoch
        {
            return None;
        }
        on_hit(&last.region, last.region_source, &last.credentials_source);
        Some(last.token.clone())
    })
}

/// Remembers `token` as this thread's answer to `request`, if the request alone decides its
/// cache key. `epoch` is the token cache's, read before the cache was: a clear after that
/// makes the remembered token stale.
pub(crate) fn remember(
    core: &Core,
    epoch: u64,
    request: &TokenRequest<'_>,
    (region, region_source): (&str, RegionSource),
    credentials: &AwsCredentials,
    token: &Token,
) {
    if !matches!(
        region_source,
        RegionSource::Explicit | RegionSource::Endpoint
    ) {
        return;
    }
    let terms = front::Terms {
        core: core.id(),
        epoch,
        identity: credentials.identity(),
        region,
        region_source,
        credentials_source: credentials.source(),
    };
    front::remember(request, token, &terms);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::MIN_REMAINING;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const PROFILE: &str = "fast-path-test";
    const REGION: (&str, RegionSource) = ("us-east-1", RegionSource::Explicit);

    fn creds(secret: &str) -> Arc<AwsCredentials> {
        Arc::new(AwsCredentials::new(
            "AKID",
            secret,
            None,
            None,
            "test source",
        ))
    }

    /// A token signed now that lives `life` seconds.
    fn token(life: u64) -> Token {
        let now = UtcSeconds::from_system_time(SystemTime::now()).unwrap();
        Token::new("t", now, now.plus(life))
    }

    /// Uses `creds` as the current credentials of the test profile's chain.
    fn use_credentials(core: &Core, creds: &Arc<AwsCredentials>) {
        let later = Instant::now() + Duration::from_secs(60);
        core.chain(Some(PROFILE))
            .current()
            .set(creds.clone(), later);
    }

    fn repeat_text(core: &Core, request: &TokenRequest<'_>) -> Option<String> {
        repeat(core, request, |_, _, _| {}).map(|t| t.as_str().to_string())
    }

    #[test]
    fn a_repeated_request_gets_its_token_while_the_cache_terms_hold() {
        let core = Core::new();
        let request = TokenRequest::new("db.example.com", 5432, "app").profile(PROFILE);
        let first = creds("secret-1");
        use_credentials(&core, &first);
        let epoch = core.tokens.epoch();
        remember(&core, epoch, &request, REGION, &first, &token(900));

        let mut told = None;
        let hit = repeat(&core, &request, |region, source, creds| {
            told = Some((region.to_string(), source, creds.to_string()));
        });
        assert_eq!(hit.map(|t| t.as_str().to_string()), Some("t".into()));
        assert_eq!(
            told,
            Some((
                "us-east-1".into(),
                RegionSource::Explicit,
                "test source".into()
            ))
        );
        let other_request = TokenRequest::new("db.example.com", 5432, "other").profile(PROFILE);
        assert_eq!(repeat_text(&core, &other_request), None, "another request");
        assert_eq!(
            repeat_text(&Core::new(), &request),
            None,
            "another process image"
        );

        use_credentials(&core, &creds("secret-2"));
        assert_eq!(repeat_text(&core, &request), None, "other credentials now");
        use_credentials(&core, &first);
        assert!(repeat_text(&core, &request).is_some());
        core.chain(Some(PROFILE)).current().clear();
        assert_eq!(
            repeat_text(&core, &request),
            None,
            "credentials to look up again"
        );
        use_credentials(&core, &first);
        core.tokens.clear();
        assert_eq!(repeat_text(&core, &request), None, "the cache was cleared");

        let epoch = core.tokens.epoch();
        remember(
            &core,
            epoch,
            &request,
            REGION,
            &first,
            &token(MIN_REMAINING),
        );
        assert_eq!(repeat_text(&core, &request), None, "too little life left");
    }

    #[test]
    fn only_requests_that_decide_their_own_region_are_remembered() {
        let core = Core::new();
        let first = creds("secret-1");
        use_credentials(&core, &first);
        for (source, kept) in [
            (RegionSource::Explicit, true),
            (RegionSource::Endpoint, true),
            (RegionSource::Environment, false),
            (RegionSource::Profile, false),
        ] {
            let user = format!("{source:?}");
            let request = TokenRequest::new("db.example.com", 5432, &user).profile(PROFILE);
            let epoch = core.tokens.epoch();
            remember(
                &core,
                epoch,
                &request,
                ("us-east-1", source),
                &first,
                &token(900),
            );
            assert_eq!(repeat_text(&core, &request).is_some(), kept, "{source}");
        }
    }
}
