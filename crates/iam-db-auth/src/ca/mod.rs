//! The certificate authorities a door trusts before it hands a token to a database server, and
//! the check of a server's certificate chain against them. One lookup order for every door
//! (the MySQL plugin, `exec`, the libpq shim, and the proxy, packages and doctor after them):
//!
//! 1. the CA given for the connection or command: a flag (`--ca-file`), the connection's own
//!    setting (MySQL `ssl-ca`/`ssl-capath`, libpq `sslrootcert`);
//! 2. `IAM_DB_AUTH_CA_FILE`;
//! 3. the copy `iam-db-auth ca update` wrote: the per-user cache
//!    (`$XDG_CACHE_HOME/iam-db-auth/rds-global-bundle.pem`, else `~/.cache/...`), then the
//!    system cache (`/var/cache/iam-db-auth/rds-global-bundle.pem`);
//! 4. the installed file (`/usr/share/iam-db-auth/rds-global-bundle.pem`, or where the build
//!    set `IAM_DB_AUTH_CA_INSTALLED`);
//! 5. the RDS bundle built into the library (`certs/rds-global-bundle.pem` of the source tree),
//!    written out to a file for clients that need a path.
//!
//! A file named in 1 or 2 that cannot be read is an error, never a reason to fall back: the user
//! said which CA to trust. A copy in 3 or 4 that another user could have written (group- or
//! world-writable, or owned by neither the user nor root) is skipped with a warning.
//!
//! Files, one job each: `lookup` (the order), `bundle` (reading and parsing certificates, the
//! built-in copy), `verify` (a server's chain against them, for a name), `binding` (which
//! names may receive a token signed for a signing host), `write_out` (the built-in copy as a
//! file), `ffi` (`iam_ca_file` for C callers such as the libpq shim).
//!
//! No TLS library of the system is involved: parsing and verification are rustls-webpki's,
//! over ring, so the shared library still links none.

mod binding;
mod bundle;
mod lookup;
mod verify;
mod write_out;

pub use binding::names_for;
pub use bundle::{BUILT_IN_COUNT, Bundle, check_bundle, parse_pem};
pub use lookup::{BUNDLE_FILE_NAME, Given, Locator, Source, UPDATE_URL};
pub use verify::{Rejection, verify_server};
pub use write_out::file_for_clients;

use crate::error::Result;
use std::path::PathBuf;

/// Where the CA comes from for a connection or command that was given `given` (if anything),
/// in the environment of this process.
pub fn locate(given: Option<Given<'_>>) -> Result<Source> {
    Locator::from_env().locate(given)
}

/// The certificates to verify a server with (see [`locate`]).
pub fn load(given: Option<Given<'_>>) -> Result<Bundle> {
    Bundle::load(locate(given)?)
}

/// A file holding the CA, for clients that take a path (libpq's `sslrootcert`): the located
/// file, or the built-in bundle written out.
pub fn path_for_clients(given: Option<Given<'_>>) -> Result<(PathBuf, Source)> {
    let locator = Locator::from_env();
    let source = locator.locate(given)?;
    let path = file_for_clients(&source, &locator)?;
    Ok((path, source))
}
