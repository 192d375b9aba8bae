//! Tokens for a listener's database users, from the engine (its credential chain and its token
//! cache), called off the async threads because the engine may block (credential lookups).

use crate::failure::{Failure, FailureKind};
use iam_db_auth::{Token, TokenRequest};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where tokens are signed for: the name and port the database knows itself by (the RDS
/// endpoint), the region and profile.
#[derive(Debug, Clone)]
pub struct SigningTarget {
    pub host: String,
    pub port: u16,
    pub region: Option<String>,
    pub profile: Option<String>,
}

/// Makes tokens for one listener and counts signed tokens against cache hits.
#[derive(Debug)]
pub struct TokenSource {
    target: SigningTarget,
    /// The last token handed out per user: the same text again is a cache hit.
    last: Mutex<HashMap<String, Token>>,
    pub signed: AtomicU64,
    pub cache_hits: AtomicU64,
}

impl TokenSource {
    pub fn new(target: SigningTarget) -> Self {
        TokenSource {
            target,
            last: Mutex::new(HashMap::new()),
            signed: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
        }
    }

    pub fn target(&self) -> &SigningTarget {
        &self.target
    }

    /// A token for database user `user` (the engine's cache makes repeated calls cheap).
    pub async fn token(&self, user: &str) -> Result<Token, Failure> {
        let target = self.target.clone();
        let user_owned = user.to_owned();
        let token = tokio::task::spawn_blocking(move || {
            // The signing host and port set explicitly: IAM_DB_AUTH_SIGNING_HOST in the
            // environment must not sign for a host other than the one the certificate names.
            let mut request = TokenRequest::new(&target.host, target.port, &user_owned)
                .signing_host(&target.host)
                .signing_port(target.port);
            if let Some(region) = &target.region {
                request = request.region(region);
            }
            if let Some(profile) = &target.profile {
                request = request.profile(profile);
            }
            iam_db_auth::config::env_defaults()
                .apply(request)
                .and_then(|request| iam_db_auth::token_for(&request))
        })
        .await
        .map_err(|_| Failure::new(FailureKind::Token, "the token task failed"))?
        .map_err(|e| {
            Failure::new(
                FailureKind::Token,
                format!("no token for user '{user}': {e}"),
            )
        })?;
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let hit = last
            .get(user)
            .is_some_and(|previous| previous.as_str() == token.as_str());
        if hit {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.signed.fetch_add(1, Ordering::Relaxed);
            last.insert(user.to_owned(), token.clone());
        }
        Ok(token)
    }
}
