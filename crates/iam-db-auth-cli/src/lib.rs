//! The `iam-db-auth` command's code, as a library so that its tests and fuzz targets can reach
//! the pure parts (the passfile model). Users run the binary; nothing here is a stable API.

pub mod cli;
pub mod pgpass;
