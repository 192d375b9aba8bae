//! The `iam-db-auth` command's code, as a library so that its tests and fuzz targets can reach
//! the pure parts (the passfile model). Users run the binary; nothing here is a stable API.

// Unsafe code is denied everywhere, and forbidden in every module that does not call libc
// directly. The modules that do are allowed one by one, here, in `cli/mod.rs` and
// `cli/pgpass/mod.rs`, each with why.
#![deny(unsafe_code)]

// First: its `eprintln!` is the one every module after it uses.
#[macro_use]
#[allow(
    unsafe_code,
    reason = "fcntl(2) on the standard descriptors, before std opens them"
)]
pub mod stdio;

pub mod cli;
#[forbid(unsafe_code)]
pub mod pgpass;

/// The proxy crate, for the fuzz targets of its parsers (fuzz/fuzz_targets/proxy_config.rs).
pub use iam_db_auth_proxy as proxy;
