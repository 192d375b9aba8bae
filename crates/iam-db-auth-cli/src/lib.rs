//! The `iam-db-auth` command's code, as a library so that its tests and fuzz targets can reach
//! the pure parts (the passfile model). Users run the binary; nothing here is a stable API.

// First: its `eprintln!` is the one every module after it uses.
#[macro_use]
pub mod stdio;

pub mod cli;
pub mod pgpass;
