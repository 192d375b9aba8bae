//! What a protocol module gets for one client connection, and what it reports back.
//!
//! The contract between the framework (listeners, limits, logs, metrics) and a protocol module
//! (`postgres::serve`, `mysql::serve`):
//! - the framework accepts the client, checks who it is (loopback, unix peer), and calls `serve`
//!   with the stream and the listener's context, inside the listener's limits. Refusals it
//!   decides before the protocol starts (a unix peer's uid not allowed, the connection limit,
//!   shutting down) it sends itself as the protocol's first message (`refuse`): `serve` is
//!   not called for them;
//! - `serve` speaks the protocol to the client, checks the user against `user_allowed` and,
//!   where configured, `local_users`; opens the upstream with `ctx.upstream` (TLS verified before
//!   any token is fetched), gets the token from `ctx.tokens`, logs in, then relays with
//!   `relay::relay(client, upstream, report, ctx.idle_timeout)` (which closes an idle
//!   session). It bounds the login by `ctx.login_timeout`. It fills `report` as it learns
//!   things, and sets `report.logged_in` once the relay starts;
//! - `serve`'s future must be `Send` (sessions run on a multi-thread runtime); the framework
//!   may drop it at shutdown after the grace (that closes both connections);
//! - `postgres::CancelKeys` must implement `Default` (the framework makes one per listener);
//! - on failure `serve` itself sends the client its protocol's error (it alone knows the
//!   protocol state), then returns the `Failure`; the framework logs and counts it.

use crate::tokens::TokenSource;
use crate::upstream::Upstream;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use zeroize::Zeroizing;

/// A client connection: TCP or unix socket, before any TLS.
pub trait ClientIo: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> ClientIo for T {}

/// A client connection, boxed so that one code path serves TCP and unix listeners.
pub type ClientStream = Box<dyn ClientIo>;

/// The database protocol of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }
}

/// Local users and their passwords (the `--local-auth FILE` of a non-loopback listener): the
/// client proves it knows the password (SCRAM-SHA-256 for PostgreSQL, mysql_native_password
/// for MySQL); the password is never sent upstream.
#[derive(Default)]
pub struct LocalUsers {
    passwords: HashMap<String, Zeroizing<String>>,
}

impl LocalUsers {
    pub fn new(entries: impl IntoIterator<Item = (String, String)>) -> Self {
        LocalUsers {
            passwords: entries
                .into_iter()
                .map(|(user, password)| (user, Zeroizing::new(password)))
                .collect(),
        }
    }

    /// The local password of `user`, if it has one.
    pub fn password(&self, user: &str) -> Option<&str> {
        self.passwords.get(user).map(|p| p.as_str())
    }
}

impl std::fmt::Debug for LocalUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalUsers")
            .field("users", &self.passwords.len())
            .finish()
    }
}

/// Everything a protocol module needs for one session (shared by a listener's sessions).
#[derive(Clone)]
pub struct SessionContext {
    pub engine: Engine,
    /// The database, reached over verified TLS.
    pub upstream: Arc<Upstream>,
    /// Tokens for the database users.
    pub tokens: Arc<TokenSource>,
    /// TLS for the client leg: offered to clients when the listener has a certificate.
    pub client_tls: Option<tokio_rustls::TlsAcceptor>,
    /// Clients must use TLS (non-loopback listeners).
    pub require_client_tls: bool,
    /// Local authentication: clients prove a local password before the proxy logs in for them.
    pub local_users: Option<Arc<LocalUsers>>,
    /// The database users this listener may log in as (`--user-allow`); empty: any.
    pub user_allow: Arc<Vec<String>>,
    /// Bound on the whole login (client hello to relay start).
    pub login_timeout: Duration,
    /// A session with no traffic either way for this long is closed (None: never).
    pub idle_timeout: Option<Duration>,
    /// PostgreSQL: the cancel keys handed to clients, and where they lead upstream.
    pub cancel_keys: Arc<crate::postgres::CancelKeys>,
}

impl SessionContext {
    /// May a client log in as database user `user` here?
    pub fn user_allowed(&self, user: &str) -> bool {
        self.user_allow.is_empty() || self.user_allow.iter().any(|u| u == user)
    }
}

/// What a session did, for its log line and the metrics. Never holds a token.
#[derive(Debug, Default, Clone)]
pub struct SessionReport {
    /// The database user the client asked for.
    pub user: Option<String>,
    /// The database name the client asked for.
    pub database: Option<String>,
    /// Bytes read from the client.
    pub bytes_from_client: u64,
    /// Bytes written to the client.
    pub bytes_to_client: u64,
    /// The client used TLS to the proxy.
    pub client_tls: bool,
    /// The login upstream succeeded (the relay started).
    pub logged_in: bool,
    /// The session was a PostgreSQL CancelRequest (forwarded, no login).
    pub cancel_request: bool,
}
