//! The proxy's counters, and their Prometheus text form (`--http ADDR`, `/metrics`).

use crate::failure::FailureKind;
use crate::tokens::TokenSource;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Every failure class, in the order metrics list them.
pub const KINDS: [FailureKind; 8] = [
    FailureKind::ClientProtocol,
    FailureKind::NotAllowed,
    FailureKind::UpstreamUnreachable,
    FailureKind::UpstreamTls,
    FailureKind::Token,
    FailureKind::LoginRefused,
    FailureKind::UpstreamProtocol,
    FailureKind::Unavailable,
];

fn kind_index(kind: FailureKind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

#[derive(Default)]
pub struct Metrics {
    pub sessions_open: AtomicU64,
    pub sessions_total: AtomicU64,
    refused: [AtomicU64; 8],
    /// Sessions that logged in and later ended with an error (not a refused login).
    pub sessions_failed_after_login: AtomicU64,
    pub bytes_from_clients: AtomicU64,
    pub bytes_to_clients: AtomicU64,
    pub listeners: AtomicU64,
    /// Every token source the process made (listeners removed by a reload included), so the
    /// token counters never go down.
    token_sources: Mutex<Vec<Arc<TokenSource>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn refused(&self, kind: FailureKind) {
        self.refused[kind_index(kind)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn refused_count(&self, kind: FailureKind) -> u64 {
        self.refused[kind_index(kind)].load(Ordering::Relaxed)
    }

    pub fn add_token_source(&self, source: Arc<TokenSource>) {
        let mut sources = self.token_sources.lock().unwrap_or_else(|p| p.into_inner());
        if !sources.iter().any(|s| Arc::ptr_eq(s, &source)) {
            sources.push(source);
        }
    }

    fn token_counts(&self) -> (u64, u64) {
        let sources = self.token_sources.lock().unwrap_or_else(|p| p.into_inner());
        sources.iter().fold((0, 0), |(signed, hits), s| {
            (
                signed + s.signed.load(Ordering::Relaxed),
                hits + s.cache_hits.load(Ordering::Relaxed),
            )
        })
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        metric(
            "iam_db_auth_proxy_sessions_open",
            "gauge",
            "Client sessions open now.",
            &[(String::new(), load(&self.sessions_open))],
        );
        metric(
            "iam_db_auth_proxy_sessions_total",
            "counter",
            "Client sessions accepted.",
            &[(String::new(), load(&self.sessions_total))],
        );
        let refused: Vec<(String, u64)> = KINDS
            .iter()
            .map(|k| {
                (
                    format!("{{reason=\"{}\"}}", k.label()),
                    self.refused_count(*k),
                )
            })
            .collect();
        metric(
            "iam_db_auth_proxy_logins_refused_total",
            "counter",
            "Logins that did not reach the database session, by reason.",
            &refused,
        );
        metric(
            "iam_db_auth_proxy_upstream_tls_failures_total",
            "counter",
            "TLS to the database that failed (refused, or a certificate that did not verify).",
            &[(String::new(), self.refused_count(FailureKind::UpstreamTls))],
        );
        metric(
            "iam_db_auth_proxy_sessions_failed_after_login_total",
            "counter",
            "Sessions that logged in and ended with an error.",
            &[(String::new(), load(&self.sessions_failed_after_login))],
        );
        let (signed, hits) = self.token_counts();
        metric(
            "iam_db_auth_proxy_tokens_signed_total",
            "counter",
            "Tokens newly signed for logins.",
            &[(String::new(), signed)],
        );
        metric(
            "iam_db_auth_proxy_token_cache_hits_total",
            "counter",
            "Logins that reused a cached token.",
            &[(String::new(), hits)],
        );
        metric(
            "iam_db_auth_proxy_bytes_total",
            "counter",
            "Bytes relayed, by direction.",
            &[
                (
                    "{direction=\"from_client\"}".into(),
                    load(&self.bytes_from_clients),
                ),
                (
                    "{direction=\"to_client\"}".into(),
                    load(&self.bytes_to_clients),
                ),
            ],
        );
        metric(
            "iam_db_auth_proxy_listeners",
            "gauge",
            "Listeners accepting clients.",
            &[(String::new(), load(&self.listeners))],
        );
        out
    }
}
