//! Reuse of tokens and signing keys.
//!
//! A token is reused for the same (kind, signing host, port, user, region, credentials,
//! lifetime) while at least [`MIN_REMAINING`](crate::cache::MIN_REMAINING) of its life is
//! left, and never past the expiry of the credentials that signed it. A signing key is reused
//! for the same (date, region, service, credentials). Both caches are bounded; lookups take a
//! read lock only. A thread's repeat of its last request is answered before the cache, by
//! `fast_path`.

use crate::kind::TokenKind;
use crate::sign::SigningKey;
use crate::timestamp::UtcSeconds;
use crate::token::Token;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A token handed out of the cache always has at least this much life left, seconds.
pub const MIN_REMAINING: u64 = 120;
/// At most this many tokens are kept.
pub const TOKEN_CAPACITY: usize = 1024;
/// At most this many signing keys are kept.
pub const KEY_CAPACITY: usize = 64;

/// What identifies a token, borrowed from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey<'a> {
    pub kind: TokenKind,
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub region: &'a str,
    pub identity: u64,
    pub expires_in: u32,
    pub serverless: bool,
}

impl TokenKey<'_> {
    fn hash64(&self) -> u64 {
        let mut h = BucketHasher(0);
        self.hash(&mut h);
        h.finish()
    }
}

/// The hash that picks a token's bucket: a multiply-rotate over 8-byte words (as rustc's
/// FxHasher), several times cheaper than SipHash for keys of ~100 bytes. Not a defence against
/// chosen collisions, and none is needed: a collision costs a longer bucket scan, the full key
/// is compared on every hit, and the cache holds at most `TOKEN_CAPACITY` tokens.
struct BucketHasher(u64);

impl BucketHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for BucketHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            self.add(u64::from_le_bytes(w));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ (rest.len() as u64) << 59);
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // Spread the last word's bits over the whole value (BTreeMap orders by all of them).
        let h = self.0;
        (h ^ (h >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (h >> 32)
    }
}

struct OwnedKey {
    kind: TokenKind,
    host: String,
    port: u16,
    user: String,
    region: String,
    identity: u64,
    expires_in: u32,
    serverless: bool,
}

impl OwnedKey {
    fn from_key(k: &TokenKey<'_>) -> Self {
        OwnedKey {
            kind: k.kind,
            host: k.host.to_string(),
            port: k.port,
            user: k.user.to_string(),
            region: k.region.to_string(),
            identity: k.identity,
            expires_in: k.expires_in,
            serverless: k.serverless,
        }
    }

    fn matches(&self, k: &TokenKey<'_>) -> bool {
        self.kind == k.kind
            && self.port == k.port
            && self.identity == k.identity
            && self.expires_in == k.expires_in
            && self.serverless == k.serverless
            && self.host == k.host
            && self.user == k.user
            && self.region == k.region
    }
}

struct Entry {
    key: OwnedKey,
    token: Token,
    /// The token is handed out until this instant (its end of life less `MIN_REMAINING`).
    usable_until: UtcSeconds,
}

/// The cached tokens, bucketed by a hash of their key, and how many there are (kept, so an
/// insert need not walk every bucket to count them).
#[derive(Default)]
struct Buckets {
    // Keyed by a hash of the borrowed key, so a lookup allocates nothing; the full key is
    // compared on a hit. A B-tree rather than a hash table: its nodes are referenced from
    // their start, so leak checkers see cached tokens as reachable (hashbrown's table is
    // referenced from its middle and shows up as "possibly lost" under valgrind).
    map: BTreeMap<u64, Vec<Entry>>,
    len: usize,
}

impl Buckets {
    fn drop_expired(&mut self, now: UtcSeconds) {
        self.map.retain(|_, bucket| {
            bucket.retain(|e| now < e.usable_until);
            !bucket.is_empty()
        });
        self.len = self.map.values().map(Vec::len).sum();
    }

    fn clear(&mut self) {
        self.map.clear();
        self.len = 0;
    }

    /// Puts `entry` in place of any entry with the same key.
    fn replace(&mut self, key: &TokenKey<'_>, entry: Entry) {
        let bucket = self.map.entry(key.hash64()).or_default();
        let before = bucket.len();
        bucket.retain(|e| !e.key.matches(key));
        self.len -= before - bucket.len();
        bucket.push(entry);
        self.len += 1;
    }
}

/// The token cache.
#[derive(Default)]
pub(crate) struct TokenCache {
    entries: RwLock<Buckets>,
    /// Bumped whenever tokens are dropped before their time (clear, eviction), so the fast
    /// path (`fast_path`) stops handing them out.
    epoch: AtomicU64,
}

impl TokenCache {
    /// A token for `key` with enough life left at `now`, if one is cached.
    pub(crate) fn get(&self, key: &TokenKey<'_>, now: UtcSeconds) -> Option<Token> {
        let entries = self.entries.read().unwrap_or_else(|p| p.into_inner());
        entries
            .map
            .get(&key.hash64())?
            .iter()
            .find(|e| e.key.matches(key) && now < e.usable_until)
            .map(|e| e.token.clone())
    }

    /// Caches `token` for `key`, if it lives long enough to be worth reusing.
    pub(crate) fn insert(&self, key: &TokenKey<'_>, token: &Token, now: UtcSeconds) {
        let usable_until = usable_until(token);
        if usable_until <= now {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len >= TOKEN_CAPACITY {
            self.epoch.fetch_add(1, Ordering::AcqRel);
            entries.drop_expired(now);
            if entries.len >= TOKEN_CAPACITY {
                // Still full of live tokens: start over rather than track recency on every hit.
                entries.clear();
            }
        }
        let entry = Entry {
            key: OwnedKey::from_key(key),
            token: token.clone(),
            usable_until,
        };
        entries.replace(key, entry);
    }

    /// Drops every cached token.
    pub(crate) fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Changes whenever tokens are dropped before their time.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// How many tokens are cached; checks the kept count against the buckets.
    #[cfg(test)]
    fn len(&self) -> usize {
        let entries = self.entries.read().unwrap();
        assert_eq!(
            entries.len,
            entries.map.values().map(Vec::len).sum::<usize>()
        );
        entries.len
    }
}

/// Until when a token is handed out: its end of life less [`MIN_REMAINING`].
pub(crate) fn usable_until(token: &Token) -> UtcSeconds {
    UtcSeconds::from_unix(token.valid_until().unix().saturating_sub(MIN_REMAINING))
}

/// What identifies a signing key.
struct KeyId {
    day: u64,
    region: String,
    service: &'static str,
    identity: u64,
}

impl KeyId {
    fn is(&self, day: u64, region: &str, service: &str, identity: u64) -> bool {
        self.day == day
            && self.identity == identity
            && self.service == service
            && self.region == region
    }
}

/// The signing-key cache: deriving a key is four HMACs, most of a token's cost.
///
/// A short list scanned in place: a process signs for a handful of (day, region, service,
/// credentials) at a time, and comparing borrowed fields allocates nothing.
#[derive(Default)]
pub(crate) struct SigningKeyCache {
    keys: RwLock<Vec<(KeyId, Arc<SigningKey>)>>,
}

impl SigningKeyCache {
    /// The key for this day, region, service and credentials, derived with `derive` if absent.
    pub(crate) fn get_or_derive(
        &self,
        time: UtcSeconds,
        region: &str,
        service: &'static str,
        identity: u64,
        derive: impl FnOnce() -> SigningKey,
    ) -> Arc<SigningKey> {
        let day = time.unix() / 86_400;
        let find = |keys: &[(KeyId, Arc<SigningKey>)]| {
            keys.iter()
                .find(|(id, _)| id.is(day, region, service, identity))
                .map(|(_, key)| key.clone())
        };
        if let Some(key) = find(&self.keys.read().unwrap_or_else(|p| p.into_inner())) {
            return key;
        }
        let key = Arc::new(derive());
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = find(&keys) {
            // Another thread derived it meanwhile.
            return existing;
        }
        if keys.len() >= KEY_CAPACITY {
            keys.clear();
        }
        let id = KeyId {
            day,
            region: region.to_string(),
            service,
            identity,
        };
        keys.push((id, key.clone()));
        key
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys.read().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(user: &str) -> TokenKey<'_> {
        TokenKey {
            kind: TokenKind::Rds,
            host: "db.example.com",
            port: 5432,
            user,
            region: "us-east-1",
            identity: 7,
            expires_in: 900,
            serverless: false,
        }
    }

    fn token(signed: u64, valid_until: u64) -> Token {
        Token::new(
            format!("t{signed}"),
            UtcSeconds::from_unix(signed),
            UtcSeconds::from_unix(valid_until),
        )
    }

    #[test]
    fn hit_while_two_minutes_remain_then_miss() {
        let cache = TokenCache::default();
        let t = token(1000, 1900);
        cache.insert(&key("app"), &t, UtcSeconds::from_unix(1000));
        let at = |s| cache.get(&key("app"), UtcSeconds::from_unix(s));
        assert_eq!(at(1000).unwrap().as_str(), "t1000");
        assert!(at(1900 - MIN_REMAINING - 1).is_some());
        assert!(at(1900 - MIN_REMAINING).is_none());
        assert!(
            cache
                .get(&key("other"), UtcSeconds::from_unix(1000))
                .is_none()
        );
    }

    #[test]
    fn every_key_field_counts() {
        let cache = TokenCache::default();
        let base = key("app");
        cache.insert(&base, &token(1000, 1900), UtcSeconds::from_unix(1000));
        let now = UtcSeconds::from_unix(1001);
        let variants = [
            TokenKey {
                kind: TokenKind::Dsql,
                ..base
            },
            TokenKey {
                host: "db2.example.com",
                ..base
            },
            TokenKey { port: 3306, ..base },
            TokenKey {
                user: "App",
                ..base
            },
            TokenKey {
                region: "us-west-2",
                ..base
            },
            TokenKey {
                identity: 8,
                ..base
            },
            TokenKey {
                expires_in: 600,
                ..base
            },
            TokenKey {
                serverless: true,
                ..base
            },
        ];
        for v in variants {
            assert!(cache.get(&v, now).is_none(), "{v:?}");
        }
        assert!(cache.get(&base, now).is_some());
    }

    #[test]
    fn short_lived_tokens_are_not_cached() {
        let cache = TokenCache::default();
        // Credentials expiring in 100 s cap the token's life below MIN_REMAINING.
        cache.insert(&key("app"), &token(1000, 1100), UtcSeconds::from_unix(1000));
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn stays_bounded() {
        let cache = TokenCache::default();
        let users: Vec<String> = (0..TOKEN_CAPACITY * 2 + 5)
            .map(|i| format!("u{i}"))
            .collect();
        for (i, u) in users.iter().enumerate() {
            cache.insert(&key(u), &token(1000, 1900), UtcSeconds::from_unix(1000));
            // len() recounts every bucket: only around the evictions.
            if i % TOKEN_CAPACITY < 2 || i % TOKEN_CAPACITY == TOKEN_CAPACITY - 1 {
                assert_eq!(cache.len(), i % TOKEN_CAPACITY + 1);
            }
        }
        // Replacing a key keeps the count.
        cache.insert(
            &key(&users[0]),
            &token(1000, 1900),
            UtcSeconds::from_unix(1000),
        );
        cache.insert(
            &key(&users[0]),
            &token(1001, 1901),
            UtcSeconds::from_unix(1000),
        );
        assert_eq!(cache.len(), 6);
        let last = users.last().unwrap();
        assert!(cache.get(&key(last), UtcSeconds::from_unix(1000)).is_some());
    }

    #[test]
    fn epoch_moves_when_tokens_go_early() {
        let cache = TokenCache::default();
        let e0 = cache.epoch();
        cache.insert(&key("app"), &token(1000, 1900), UtcSeconds::from_unix(1000));
        assert_eq!(cache.epoch(), e0, "an insert drops nothing");
        cache.clear();
        let e1 = cache.epoch();
        assert_ne!(e1, e0);
        let users: Vec<String> = (0..=TOKEN_CAPACITY).map(|i| format!("u{i}")).collect();
        for u in &users {
            cache.insert(&key(u), &token(1000, 1900), UtcSeconds::from_unix(1000));
        }
        assert_ne!(cache.epoch(), e1, "an eviction moves it");
    }

    #[test]
    fn keys_are_per_day_region_and_identity() {
        let cache = SigningKeyCache::default();
        let mut derived = 0;
        let mut get = |t: u64, region: &str, identity: u64| {
            cache.get_or_derive(UtcSeconds::from_unix(t), region, "rds-db", identity, || {
                derived += 1;
                SigningKey::derive("s", UtcSeconds::from_unix(t), region, "rds-db")
            });
        };
        get(0, "us-east-1", 1);
        get(86_399, "us-east-1", 1); // same day
        get(86_400, "us-east-1", 1); // next day
        get(86_400, "us-west-2", 1);
        get(86_400, "us-west-2", 2);
        get(86_400, "us-west-2", 1); // seen before
        assert_eq!(derived, 4);
        assert_eq!(cache.len(), 4);
    }
}
