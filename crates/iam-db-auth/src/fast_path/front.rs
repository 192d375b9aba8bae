//! This thread's front of the token cache: the last token it was handed from the cache (or put
//! in it), with the request it answered, the cache's terms for it, and what the log says.

use crate::cache::usable_until;
use crate::kind::TokenKind;
use crate::region::RegionSource;
use crate::request::TokenRequest;
use crate::timestamp::UtcSeconds;
use crate::token::Token;
use std::cell::RefCell;

/// The last hit of this thread.
pub(super) struct LastHit {
    /// The library state it belongs to (a new one after `fork`).
    pub(super) core: usize,
    /// The token cache's epoch when it was handed out.
    pub(super) epoch: u64,
    /// The identity of the credentials that signed it.
    pub(super) identity: u64,
    pub(super) usable_until: UtcSeconds,
    pub(super) token: Token,
    /// For the log line: the region and how it was found, and the credentials' source.
    pub(super) region: String,
    pub(super) region_source: RegionSource,
    pub(super) credentials_source: String,
    request: OwnedRequest,
}

/// A [`TokenRequest`]'s fields, owned; buffers are reused from one request to the next.
#[derive(Default)]
struct OwnedRequest {
    kind: Option<TokenKind>,
    host: String,
    port: u16,
    user: String,
    region: Option<String>,
    signing_host: Option<String>,
    signing_port: Option<u16>,
    profile: Option<String>,
    expires_in: Option<u32>,
    serverless: bool,
}

impl OwnedRequest {
    fn matches(&self, r: &TokenRequest<'_>) -> bool {
        self.kind == Some(r.kind)
            && self.port == r.port
            && self.signing_port == r.signing_port
            && self.expires_in == r.expires_in
            && self.serverless == r.serverless
            && self.host == r.host
            && self.user == r.user
            && self.region.as_deref() == r.region
            && self.signing_host.as_deref() == r.signing_host
            && self.profile.as_deref() == r.profile
    }

    fn assign(&mut self, r: &TokenRequest<'_>) {
        self.kind = Some(r.kind);
        set(&mut self.host, r.host);
        self.port = r.port;
        set(&mut self.user, r.user);
        set_opt(&mut self.region, r.region);
        set_opt(&mut self.signing_host, r.signing_host);
        self.signing_port = r.signing_port;
        set_opt(&mut self.profile, r.profile);
        self.expires_in = r.expires_in;
        self.serverless = r.serverless;
    }
}

/// Puts `text` in `slot`, in its buffer.
fn set(slot: &mut String, text: &str) {
    slot.clear();
    slot.push_str(text);
}

fn set_opt(slot: &mut Option<String>, text: Option<&str>) {
    match (slot.as_mut(), text) {
        (Some(s), Some(t)) => set(s, t),
        (_, t) => *slot = t.map(str::to_string),
    }
}

thread_local! {
    static LAST_HIT: RefCell<Option<LastHit>> = const { RefCell::new(None) };
}

/// Calls `check` with this thread's last hit if it answered `request` in process image `core`.
pub(super) fn recall<T>(
    core: usize,
    request: &TokenRequest<'_>,
    check: impl FnOnce(&LastHit) -> Option<T>,
) -> Option<T> {
    LAST_HIT
        .try_with(|slot| {
            let slot = slot.try_borrow().ok()?;
            let last = slot.as_ref()?;
            if last.core != core || !last.request.matches(request) {
                return None;
            }
            check(last)
        })
        .ok()
        .flatten()
}

/// What a hit is remembered with, besides the request and the token.
pub(super) struct Terms<'a> {
    pub(super) core: usize,
    pub(super) epoch: u64,
    pub(super) identity: u64,
    pub(super) region: &'a str,
    pub(super) region_source: RegionSource,
    pub(super) credentials_source: &'a str,
}

/// Remembers `token` as this thread's last hit for `request`.
pub(super) fn remember(request: &TokenRequest<'_>, token: &Token, terms: &Terms<'_>) {
    let _ = LAST_HIT.try_with(|slot| {
        let Ok(mut slot) = slot.try_borrow_mut() else {
            return;
        };
        // The thread keeps a copy of its own: the shared cache's token is shared by every
        // thread, and counting references to it from several cores makes them take turns
        // at one cache line on every call.
        let last = slot.get_or_insert_with(|| LastHit {
            core: terms.core,
            epoch: terms.epoch,
            identity: terms.identity,
            usable_until: usable_until(token),
            token: token.private_copy(),
            region: String::new(),
            region_source: terms.region_source,
            credentials_source: String::new(),
            request: OwnedRequest::default(),
        });
        last.core = terms.core;
        last.epoch = terms.epoch;
        last.identity = terms.identity;
        last.usable_until = usable_until(token);
        if !last.token.same_as(token) {
            last.token = token.private_copy();
        }
        set(&mut last.region, terms.region);
        last.region_source = terms.region_source;
        set(&mut last.credentials_source, terms.credentials_source);
        last.request.assign(request);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::MIN_REMAINING;

    fn token(signed: u64, valid_until: u64) -> Token {
        Token::new(
            format!("t{signed}"),
            UtcSeconds::from_unix(signed),
            UtcSeconds::from_unix(valid_until),
        )
    }

    fn terms(core: usize, epoch: u64, identity: u64) -> Terms<'static> {
        Terms {
            core,
            epoch,
            identity,
            region: "us-east-1",
            region_source: RegionSource::Explicit,
            credentials_source: "environment variables",
        }
    }

    #[test]
    fn last_hit_answers_only_the_same_request_in_the_same_image() {
        let base = TokenRequest::new("db.example.com", 5432, "app");
        let t = token(1000, 1900);
        remember(&base, &t, &terms(1, 7, 42));
        let hit = |core: usize, r: &TokenRequest<'_>| {
            recall(core, r, |last| {
                Some((last.epoch, last.identity, last.usable_until))
            })
        };
        assert_eq!(
            hit(1, &base),
            Some((7, 42, UtcSeconds::from_unix(1900 - MIN_REMAINING)))
        );
        let (host, user) = (String::from("db.example.com"), String::from("app"));
        assert!(hit(1, &TokenRequest::new(&host, 5432, &user)).is_some());
        assert!(hit(2, &base).is_none(), "another process image (fork)");
        let others = [
            TokenRequest::new("db2.example.com", 5432, "app"),
            TokenRequest::new("db.example.com", 5433, "app"),
            TokenRequest::new("db.example.com", 5432, "App"),
            base.region("us-east-1"),
            base.signing_host("x.example.com"),
            base.signing_port(3306),
            base.profile("p"),
            base.kind(TokenKind::Dsql),
            base.expires_in(900),
            TokenRequest {
                serverless: true,
                ..base
            },
        ];
        for other in &others {
            assert!(hit(1, other).is_none(), "{other:?}");
        }
        // Remembering another request replaces the first (buffers reused).
        remember(&others[3], &t, &terms(1, 8, 43));
        assert!(hit(1, &base).is_none());
        assert_eq!(hit(1, &others[3]).map(|h| h.0), Some(8));
        remember(&base, &t, &terms(1, 9, 44));
        assert!(hit(1, &others[3]).is_none());
        assert_eq!(hit(1, &base).map(|h| h.1), Some(44));
    }

    #[test]
    fn the_thread_keeps_its_own_copy_of_the_token() {
        let request = TokenRequest::new("db.example.com", 5432, "app");
        let shared = token(1000, 1900);
        remember(&request, &shared, &terms(1, 1, 1));
        let kept = recall(1, &request, |last| Some(last.token.clone())).unwrap();
        assert_eq!(kept.as_str(), shared.as_str());
        assert!(kept.same_as(&shared));
        assert!(
            !std::ptr::eq(kept.as_str(), shared.as_str()),
            "a copy of its own, not the shared token"
        );
        let again = recall(1, &request, |last| Some(last.token.clone())).unwrap();
        remember(&request, &shared, &terms(1, 1, 1));
        let after = recall(1, &request, |last| Some(last.token.clone())).unwrap();
        assert!(
            std::ptr::eq(again.as_str(), after.as_str()),
            "the same token is not copied again"
        );
        let newer = token(1001, 1901);
        remember(&request, &newer, &terms(1, 1, 1));
        let replaced = recall(1, &request, |last| Some(last.token.clone())).unwrap();
        assert_eq!(replaced.as_str(), "t1001");
    }
}
