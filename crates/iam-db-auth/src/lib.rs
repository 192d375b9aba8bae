//! iam-db-auth: AWS IAM database authentication tokens for every client.
//!
//! One core, several doors. The core (`engine`) turns a [`TokenRequest`] into a [`Token`] as a
//! pipeline: a thread that repeats its last request gets its token back at once (`fast_path`);
//! otherwise the request is validated (`request`, `endpoint`), the region found (`region`), the
//! credentials (`credentials`, on the library's own blocking runtime, `runtime`), a cached
//! token reused when enough of its life is left (`cache`), and otherwise a new one signed
//! (`sign`). The doors are the C ABI (`ffi`), the MySQL plugin (`mysql`), the CLI (the
//! `iam-db-auth` binary) and the database integrations built on them.
//!
//! ```no_run
//! let request = iam_db_auth::TokenRequest::new("mydb.abc123.us-east-1.rds.amazonaws.com", 5432, "app");
//! let token = iam_db_auth::token_for(&request)?;
//! println!("{}", token.as_str());
//! # Ok::<(), iam_db_auth::Error>(())
//! ```
//!
//! Unsafe code is denied in the whole crate and forbidden (no inner `allow` can lift it) in
//! every module but the four that call C or keep raw pointers; each says why where it is
//! declared below.

#![deny(unsafe_code)]

/// cbindgen:ignore
#[allow(
    unsafe_code,
    reason = "geteuid(2): a cached CA bundle is trusted only when this user owns it"
)]
pub mod ca;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod cache;
/// cbindgen:ignore
#[forbid(unsafe_code)]
pub mod config;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod credentials;
/// cbindgen:ignore
#[forbid(unsafe_code)]
pub mod endpoint;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod engine;
#[forbid(unsafe_code)]
mod error;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod fast_path;
#[allow(
    unsafe_code,
    reason = "the C ABI: pointers from C callers, exported unmangled symbols"
)]
#[doc(hidden)] // The C ABI (include/iam_db_auth.h); public for the project's own tests.
pub mod ffi;
/// cbindgen:ignore
#[forbid(unsafe_code)]
pub mod files;
/// cbindgen:ignore
#[allow(
    unsafe_code,
    reason = "pthread_atfork, and the per-fork values kept behind raw pointers that are never freed"
)]
mod fork;
/// cbindgen:ignore
#[forbid(unsafe_code)]
pub mod inspect;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod kind;
/// cbindgen:ignore
#[allow(
    unsafe_code,
    reason = "write(2) to file descriptor 2: stderr without std's process-wide lock, which a fork could leave held"
)]
mod log;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod login;
/// cbindgen:ignore
// Built where its structures were generated from the real headers (glibc Linux on x86_64 and
// aarch64, `mysql/bindings*.rs`); elsewhere the library is the C ABI alone.
#[cfg(all(
    target_os = "linux",
    target_env = "gnu",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[allow(
    unsafe_code,
    reason = "the MariaDB/MySQL client plugin: its exported declaration, C callbacks and C structs"
)]
mod mysql;
/// cbindgen:ignore
#[allow(
    unsafe_code,
    reason = "killpg(2): a timed-out credential_process dies with everything it started"
)]
mod process_group;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod region;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod request;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod runtime;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod secret;
/// cbindgen:ignore
#[forbid(unsafe_code)]
pub mod sign;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod timestamp;
/// cbindgen:ignore
#[forbid(unsafe_code)]
mod token;

// The public Rust API: a request, a token, errors, and the pure parts a caller may want alone
// (the signer, host and region rules, the shared settings, bounded file reads).
pub use credentials::AwsCredentials;
pub use endpoint::infer_region;
pub use engine::{token_for, token_with};
pub use error::{Error, ErrorCode, Result};
pub use kind::TokenKind;
pub use login::DatabaseLogin;
pub use request::TokenRequest;
pub use secret::SecretString;
pub use timestamp::UtcSeconds;
pub use token::Token;

/// Not a stable API: what the project's fuzz targets and benchmarks reach below the public one.
#[doc(hidden)]
pub mod internals {
    pub use crate::request::{validate_profile, validate_user};
}

/// Forgets every cached token and credential snapshot in this process.
pub fn clear_caches() {
    runtime::core().clear();
}
