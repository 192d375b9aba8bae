//! The CA as a file, for clients that take a path (libpq's `sslrootcert`): a located file as
//! it is, the built-in bundle written out once per content into the per-user cache directory
//! (`builtin-<sha256 prefix>.pem`, next to `ca update`'s copy), else into a private directory
//! under the temporary directory. Written atomically (a temporary file renamed into place), so a
//! reader never sees half a bundle; an existing copy is reused only if its content is exact and
//! no one else could have written it.

use super::bundle::BUILT_IN_PEM;
use super::lookup::{Locator, Source, check_copy, effective_uid};
use crate::error::{Error, ErrorCode, Result};
use sha2::{Digest as _, Sha256};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// A file holding the CA of `source` (see the module docs).
pub fn file_for_clients(source: &Source, locator: &Locator) -> Result<PathBuf> {
    if let Some(path) = source.path() {
        return Ok(path.to_path_buf());
    }
    let name = format!(
        "builtin-{}.pem",
        &hex::encode(Sha256::digest(BUILT_IN_PEM))[..16]
    );
    let mut tried = Vec::new();
    if let Some(dir) = locator.user_cache_dir() {
        match write_in(dir, &name, false) {
            Ok(path) => return Ok(path),
            Err(e) => tried.push(format!("{}: {e}", dir.display())),
        }
    }
    let private = std::env::temp_dir().join(format!("iam-db-auth-{}", effective_uid()));
    match write_in(&private, &name, true) {
        Ok(path) => Ok(path),
        Err(e) => {
            tried.push(format!("{}: {e}", private.display()));
            Err(Error::new(
                ErrorCode::CaUnavailable,
                format!(
                    "cannot write the built-in RDS CA bundle to a file ({}); set {} to a CA file",
                    tried.join("; "),
                    crate::config::CA_FILE_ENV
                ),
            ))
        }
    }
}

/// `dir/name` with the built-in bundle in it. `private`: the directory must be ours alone
/// (mode 0700, owned by this user), as it is in a shared temporary directory.
fn write_in(dir: &Path, name: &str, private: bool) -> std::io::Result<PathBuf> {
    let mut builder = std::fs::DirBuilder::new();
    builder
        .recursive(true)
        .mode(if private { 0o700 } else { 0o755 });
    builder.create(dir)?;
    if private {
        let meta = std::fs::symlink_metadata(dir)?;
        if !meta.is_dir() || meta.uid() != effective_uid() || meta.mode() & 0o077 != 0 {
            return Err(std::io::Error::other(
                "not a directory of this user's alone (mode 0700)",
            ));
        }
    }
    let path = dir.join(name);
    if check_copy(&path) == Ok(true) && std::fs::read(&path).is_ok_and(|b| b == BUILT_IN_PEM) {
        return Ok(path);
    }
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temporary)?;
        file.write_all(BUILT_IN_PEM)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map(|()| path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn the_built_in_bundle_is_written_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("iam-ca-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = dir.join("cache");
        let locator =
            Locator::from_lookup(|n| (n == "XDG_CACHE_HOME").then(|| OsString::from(&cache)));
        let path = file_for_clients(&Source::BuiltIn, &locator).unwrap();
        assert!(
            path.starts_with(cache.join("iam-db-auth")),
            "{}",
            path.display()
        );
        assert_eq!(std::fs::read(&path).unwrap(), BUILT_IN_PEM);
        let inode = std::fs::metadata(&path).unwrap().ino();
        assert_eq!(file_for_clients(&Source::BuiltIn, &locator).unwrap(), path);
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode, "rewritten");
        // A damaged copy is replaced.
        std::fs::write(&path, "damaged").unwrap();
        file_for_clients(&Source::BuiltIn, &locator).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), BUILT_IN_PEM);
        // A located file is used as it is.
        let env = Source::Environment(dir.join("x.pem"));
        assert_eq!(file_for_clients(&env, &locator).unwrap(), dir.join("x.pem"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
