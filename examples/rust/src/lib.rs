//! Rust recipes for IAM database authentication with sqlx: pools whose every new connection
//! logs in with a token that is still valid, over TLS verified with the RDS CA.
//!
//! A token lives 15 minutes and a pool opens connections long after it started, so a password
//! fixed at start-up fails at the first new connection after that. [`IamPool`] keeps the pool's
//! connect options' password current: before each `acquire` (and from an optional background
//! task) it asks the engine for the login's token, which is cached, and hands the pool new
//! options only when the token changed. Every connection the pool opens then logs in with a
//! token that has most of its life left.
//!
//! TLS: PostgreSQL `verify-full`, MySQL `VERIFY_IDENTITY`, with the CA from the project's one
//! lookup ([`ca_file`]): a server that cannot prove it is the endpoint gets no token.
//!
//! ```no_run
//! # async fn run() -> Result<(), iam_db_auth_examples::Error> {
//! use iam_db_auth::DatabaseLogin;
//! use iam_db_auth_examples::{IamPool, pg_options};
//! let login = DatabaseLogin::new("mydb.abc123.us-east-1.rds.amazonaws.com", 5432, "app");
//! let pool = IamPool::new(login.clone(), pg_options(&login, "appdb")?, Default::default()).await?;
//! let mut conn = pool.acquire().await?;
//! let (one,): (i32,) = sqlx::query_as("SELECT 1").fetch_one(&mut *conn).await?;
//! # Ok(()) }
//! ```

use iam_db_auth::DatabaseLogin;
use sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
use sqlx::pool::{PoolConnection, PoolOptions};
use sqlx::postgres::{PgConnectOptions, PgSslMode};
use sqlx::{Connection, Database, Pool};
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

/// What can go wrong: no token, or the database (or TLS, or the network) said no.
#[derive(Debug)]
pub enum Error {
    Token(iam_db_auth::Error),
    Database(sqlx::Error),
    /// The blocking thread that made the token failed.
    Task(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Token(e) => write!(f, "no IAM token: {e}"),
            Error::Database(e) => write!(f, "database: {e}"),
            Error::Task(e) => write!(f, "the token task failed: {e}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<iam_db_auth::Error> for Error {
    fn from(e: iam_db_auth::Error) -> Self {
        Error::Token(e)
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Database(e)
    }
}

/// The CA file to verify database servers with, from the project's one lookup order
/// (`IAM_DB_AUTH_CA_FILE`, the `iam-db-auth ca update` copy, the installed bundle, the RDS
/// bundle built into the library, written out to a file).
pub fn ca_file() -> Result<PathBuf, Error> {
    Ok(iam_db_auth::ca::path_for_clients(None)?.0)
}

/// A token for `login`, made on a blocking thread (a credential lookup may block; the cached
/// token comes back at once).
pub async fn token(login: &DatabaseLogin) -> Result<iam_db_auth::Token, Error> {
    let login = login.clone();
    tokio::task::spawn_blocking(move || login.token())
        .await
        .map_err(|e| Error::Task(e.to_string()))?
        .map_err(Error::Token)
}

/// PostgreSQL options for `login` and `database`: `verify-full` with [`ca_file`]; the password
/// is set by [`IamPool`] (or [`WithToken::with_token`]).
pub fn pg_options(login: &DatabaseLogin, database: &str) -> Result<PgConnectOptions, Error> {
    Ok(PgConnectOptions::new()
        .host(login.host())
        .port(login.port())
        .username(login.user())
        .database(database)
        .ssl_mode(PgSslMode::VerifyFull)
        .ssl_root_cert(ca_file()?))
}

/// MySQL options for `login` and `database`: `VERIFY_IDENTITY` with [`ca_file`], and the
/// cleartext plugin enabled (RDS asks for the token through `mysql_clear_password`; sqlx sends
/// it only over TLS).
pub fn mysql_options(login: &DatabaseLogin, database: &str) -> Result<MySqlConnectOptions, Error> {
    Ok(MySqlConnectOptions::new()
        .host(login.host())
        .port(login.port())
        .username(login.user())
        .database(database)
        .ssl_mode(MySqlSslMode::VerifyIdentity)
        .ssl_ca(ca_file()?)
        .enable_cleartext_plugin(true))
}

/// Connect options that take a token as their password.
pub trait WithToken: Clone {
    fn with_token(self, token: &str) -> Self;
}

impl WithToken for PgConnectOptions {
    fn with_token(self, token: &str) -> Self {
        self.password(token)
    }
}

impl WithToken for MySqlConnectOptions {
    fn with_token(self, token: &str) -> Self {
        self.password(token)
    }
}

/// The connect options type of a database's connections.
type OptionsOf<DB> = <<DB as Database>::Connection as Connection>::Options;

/// A sqlx pool whose new connections always log in with a valid token (see the crate's notes).
pub struct IamPool<DB: Database> {
    pool: Pool<DB>,
    login: DatabaseLogin,
    base: OptionsOf<DB>,
    /// The token in the pool's connect options now.
    current: Mutex<String>,
}

impl<DB: Database> IamPool<DB>
where
    OptionsOf<DB>: WithToken,
{
    /// A pool for `login` with `base` options (from [`pg_options`] or [`mysql_options`]); it
    /// connects lazily, as the first `acquire` needs.
    pub async fn new(
        login: DatabaseLogin,
        base: OptionsOf<DB>,
        options: PoolOptions<DB>,
    ) -> Result<Self, Error> {
        let first = token(&login).await?;
        let pool = options.connect_lazy_with(base.clone().with_token(first.as_str()));
        Ok(IamPool {
            pool,
            login,
            base,
            current: Mutex::new(first.as_str().to_owned()),
        })
    }

    /// Makes sure connections opened from now on use a valid token.
    pub async fn refresh(&self) -> Result<(), Error> {
        let fresh = token(&self.login).await?;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if *current != fresh.as_str() {
            self.pool
                .set_connect_options(self.base.clone().with_token(fresh.as_str()));
            *current = fresh.as_str().to_owned();
        }
        Ok(())
    }

    /// A connection from the pool: an idle one, or a new one logged in with a valid token.
    pub async fn acquire(&self) -> Result<PoolConnection<DB>, Error> {
        self.refresh().await?;
        Ok(self.pool.acquire().await?)
    }

    /// The sqlx pool, for code that takes one (its new connections use the token of the last
    /// refresh: keep [`IamPool::refresh_every`] running, or acquire through [`IamPool::acquire`]).
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Refreshes every `period` until the pool is closed (for code that acquires from
    /// [`IamPool::pool`] directly). Five minutes keeps the password at least ten minutes valid.
    pub async fn refresh_every(&self, period: Duration) {
        let mut ticks = tokio::time::interval(period);
        while !self.pool.is_closed() {
            ticks.tick().await;
            if let Err(e) = self.refresh().await {
                eprintln!("iam-db-auth: pool token refresh failed: {e}");
            }
        }
    }
}
