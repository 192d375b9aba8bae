//! What the protocol modules' tests share: a session context for an engine whose upstream is
//! `target`, with tokens signed for an RDS-like name, and a port nothing listens on.

use iam_db_auth_proxy::postgres::CancelKeys;
use iam_db_auth_proxy::tokens::{SigningTarget, TokenSource};
use iam_db_auth_proxy::upstream::Upstream;
use iam_db_auth_proxy::{Engine, SessionContext};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub const SIGNING_HOST: &str = "mydb.c9akciq32.us-east-1.rds.amazonaws.com";

/// A context for `engine` with `target` as its upstream (2 s bounds on connect and TLS, 5 s on
/// the login), tokens for SIGNING_HOST at the engine's usual port.
pub fn context(engine: Engine, target: &str) -> SessionContext {
    let port = match engine {
        Engine::Mysql => 3306,
        Engine::Postgres => 5432,
    };
    SessionContext {
        engine,
        upstream: Arc::new(
            Upstream::new(target, SIGNING_HOST, None)
                .unwrap()
                .with_timeouts(Duration::from_secs(2), Duration::from_secs(2)),
        ),
        tokens: Arc::new(TokenSource::new(SigningTarget {
            host: SIGNING_HOST.into(),
            port,
            region: Some("us-east-1".into()),
            profile: None,
        })),
        client_tls: None,
        require_client_tls: false,
        local_users: None,
        user_allow: Arc::new(Vec::new()),
        login_timeout: Duration::from_secs(5),
        idle_timeout: None,
        cancel_keys: Arc::new(CancelKeys::default()),
    }
}

/// A port nothing listens on.
pub async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}
