//! iam-db-auth: AWS IAM database authentication tokens for every client.
//!
//! One core, several doors. The core turns a [`TokenRequest`] into a [`Token`]: it validates
//! the request (`request`, `endpoint`), finds the region (`region`), the credentials
//! (`credentials`, on the library's own blocking runtime, `runtime`), reuses a cached token
//! when enough of its life is left (`cache`) and otherwise signs a new one (`sign`). The doors
//! are the C ABI (`ffi`), the CLI (the `iam-db-auth` binary) and the database integrations
//! built on them. `verify` checks tokens as AWS does, for the local stand-ins of RDS.
//!
//! ```no_run
//! let request = iam_db_auth::TokenRequest::new("mydb.abc123.us-east-1.rds.amazonaws.com", 5432, "app");
//! let token = iam_db_auth::token_for(&request)?;
//! println!("{}", token.as_str());
//! # Ok::<(), iam_db_auth::Error>(())
//! ```

pub mod ca;
/// cbindgen:ignore
mod cache;
/// cbindgen:ignore
pub mod config;
/// cbindgen:ignore
pub mod credentials;
/// cbindgen:ignore
pub mod endpoint;
/// cbindgen:ignore
pub mod engine;
pub mod error;
pub mod ffi;
/// cbindgen:ignore
mod fork;
/// cbindgen:ignore
pub mod kind;
/// cbindgen:ignore
pub mod log;
/// cbindgen:ignore
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod mysql;
/// cbindgen:ignore
pub mod region;
/// cbindgen:ignore
pub mod request;
/// cbindgen:ignore
mod runtime;
/// cbindgen:ignore
pub mod secret;
/// cbindgen:ignore
pub mod sign;
/// cbindgen:ignore
pub mod timestamp;
/// cbindgen:ignore
pub mod token;

pub use credentials::AwsCredentials;
pub use engine::{token_for, token_with};
pub use error::{Error, ErrorCode, Result};
pub use kind::TokenKind;
pub use request::TokenRequest;
pub use timestamp::UtcSeconds;
pub use token::Token;

/// Forgets every cached token and credential snapshot in this process.
pub fn clear_caches() {
    runtime::core().clear();
}
