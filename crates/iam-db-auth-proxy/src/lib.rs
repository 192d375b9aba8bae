//! `iam-db-auth proxy`: a local proxy for clients that can load nothing (pure-language drivers,
//! pools, GUIs, poolers). A client logs in to the proxy without a password; the proxy opens a
//! verified TLS connection to the database, logs in there with a fresh IAM token for the user
//! the client asked for (from the engine and its cache), then relays bytes both ways.
//!
//! One job a module:
//! - `config`: the command line and the TOML file, turned into listeners' settings;
//! - `context`: a listener's `SessionContext` built from its settings (files read there);
//! - `server`: the runtime, listeners, sessions, limits, signals, reloads, the session log;
//! - `listen`: accepting clients (TCP on loopback, unix sockets), who may connect;
//! - `refuse`: refusals sent before a protocol started (peer uid, limit, shutting down);
//! - `log`, `metrics`, `http`: the log lines, the counters, the opt-in metrics/health endpoint;
//! - `session`: what every protocol module is given for one client, and what it reports;
//! - `upstream`: the connection to the database: TCP with a bound, then TLS verified against
//!   the CA lookup for the signing host's name (no token leaves before that);
//! - `tokens`: tokens for a user, from the engine (off the async threads);
//! - `failure`: why a session failed, as the client's protocol shows it;
//! - `postgres`, `mysql`: each protocol, just far enough to put the token into the login;
//! - `relay`: copying bytes both ways once logged in, counting them.
//!
//! The proxy is not part of the shared library: it links the engine as a Rust crate.
#![deny(unsafe_code)]

pub mod config;
pub mod context;
pub mod failure;
mod http;
pub mod listen;
pub mod log;
pub mod metrics;
pub mod mysql;
pub mod postgres;
pub mod refuse;
pub mod relay;
pub mod server;
pub mod session;
pub mod tokens;
pub mod upstream;

pub use failure::{Failure, FailureKind};
pub use session::{ClientIo, ClientStream, Engine, SessionContext, SessionReport};
