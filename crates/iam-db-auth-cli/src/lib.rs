//! The `iam-db-auth` command's code, as a library so that its tests and fuzz targets can reach
//! the pure parts (the passfile model). Users run the binary; nothing here is a stable API.

// Unsafe code is denied everywhere, and forbidden in every module that does not call libc
// directly. The modules that do are allowed one by one, in `cli/mod.rs` and
// `cli/pgpass/mod.rs`, each with why.
#![deny(unsafe_code)]

pub mod cli;
#[forbid(unsafe_code)]
pub mod pgpass;
