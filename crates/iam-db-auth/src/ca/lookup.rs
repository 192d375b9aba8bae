//! The lookup order (see the module above): which CA a door uses, as a [`Source`].

use crate::config::CA_FILE_ENV;
use crate::error::{Error, ErrorCode, Result};
use crate::log::{Level, log_at};
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// Where AWS publishes the bundle of every region's RDS CAs (`iam-db-auth ca update`'s default).
pub const UPDATE_URL: &str = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem";
/// The bundle's file name in the cache directories and the installed location.
pub const BUNDLE_FILE_NAME: &str = "rds-global-bundle.pem";
/// The directory under a cache root (`$XDG_CACHE_HOME`, `/var/cache`).
const CACHE_SUBDIR: &str = "iam-db-auth";
const SYSTEM_CACHE_FILE: &str = "/var/cache/iam-db-auth/rds-global-bundle.pem";
/// Packagers set `IAM_DB_AUTH_CA_INSTALLED` at build time when they install the bundle
/// elsewhere.
const INSTALLED_FILE: &str = match option_env!("IAM_DB_AUTH_CA_INSTALLED") {
    Some(path) => path,
    None => "/usr/share/iam-db-auth/rds-global-bundle.pem",
};

/// A CA given for one connection or command.
#[derive(Clone, Copy, Debug)]
pub struct Given<'a> {
    /// A PEM file, or a directory of them (MySQL's `ssl-capath`).
    pub path: &'a Path,
    /// How it was given, for messages: `--ca-file`, `the connection's ssl-ca`, ...
    pub by: &'a str,
}

/// Where the CA in use comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Given for the connection or command.
    Given { path: PathBuf, by: String },
    /// `IAM_DB_AUTH_CA_FILE`.
    Environment(PathBuf),
    /// `ca update`'s per-user copy.
    UserCache(PathBuf),
    /// `ca update --system`'s copy.
    SystemCache(PathBuf),
    /// The bundle installed with the package.
    Installed(PathBuf),
    /// The RDS bundle built into the library.
    BuiltIn,
}

impl Source {
    /// The file or directory, unless built in.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Given { path, .. }
            | Source::Environment(path)
            | Source::UserCache(path)
            | Source::SystemCache(path)
            | Source::Installed(path) => Some(path),
            Source::BuiltIn => None,
        }
    }

    /// For messages: "the CA file /x (IAM_DB_AUTH_CA_FILE)", "the built-in RDS CA bundle".
    pub fn describe(&self) -> String {
        match self {
            Source::Given { path, by } => format!("the CA {} ({by})", path.display()),
            Source::Environment(path) => format!("the CA file {} ({CA_FILE_ENV})", path.display()),
            Source::UserCache(path) => {
                format!("the RDS CA bundle {} (ca update's copy)", path.display())
            }
            Source::SystemCache(path) => {
                format!(
                    "the RDS CA bundle {} (ca update --system's copy)",
                    path.display()
                )
            }
            Source::Installed(path) => format!("the installed RDS CA bundle {}", path.display()),
            Source::BuiltIn => "the built-in RDS CA bundle".to_string(),
        }
    }

    /// Whether this is one of the RDS bundles (cached, installed or built in), as opposed to a
    /// CA the user named.
    pub fn is_rds_bundle(&self) -> bool {
        matches!(
            self,
            Source::UserCache(_) | Source::SystemCache(_) | Source::Installed(_) | Source::BuiltIn
        )
    }
}

/// The places of the lookup, from an environment (the process's, or a test's).
#[derive(Clone, Debug)]
pub struct Locator {
    /// `IAM_DB_AUTH_CA_FILE`, if set and not empty.
    pub env_file: Option<PathBuf>,
    /// The per-user cache copy, if there is a cache directory (`XDG_CACHE_HOME` or `HOME`).
    pub user_cache: Option<PathBuf>,
    /// The system cache copy.
    pub system_cache: PathBuf,
    /// The installed bundle.
    pub installed: PathBuf,
}

impl Locator {
    /// From this process's environment (read at each call: a long-running process sees a new
    /// `ca update` copy at its next connection).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// From a lookup function.
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Self {
        let non_empty = |name: &str| get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        // XDG says a relative XDG_CACHE_HOME is invalid and to be ignored.
        let cache_root = non_empty("XDG_CACHE_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| non_empty("HOME").map(|home| home.join(".cache")));
        Locator {
            env_file: non_empty(CA_FILE_ENV),
            user_cache: cache_root.map(|root| root.join(CACHE_SUBDIR).join(BUNDLE_FILE_NAME)),
            system_cache: PathBuf::from(SYSTEM_CACHE_FILE),
            installed: PathBuf::from(INSTALLED_FILE),
        }
    }

    /// The per-user cache directory (`.../iam-db-auth`), if there is one.
    pub fn user_cache_dir(&self) -> Option<&Path> {
        self.user_cache.as_deref().and_then(Path::parent)
    }

    /// The CA to use, in the lookup order.
    pub fn locate(&self, given: Option<Given<'_>>) -> Result<Source> {
        if let Some(given) = given {
            check_named(given.path, given.by, true)?;
            return Ok(Source::Given {
                path: given.path.to_path_buf(),
                by: given.by.to_string(),
            });
        }
        if let Some(path) = &self.env_file {
            check_named(path, CA_FILE_ENV, false)?;
            return Ok(Source::Environment(path.clone()));
        }
        type Copy<'a> = (Option<&'a PathBuf>, fn(PathBuf) -> Source);
        let copies: [Copy<'_>; 3] = [
            (self.user_cache.as_ref(), Source::UserCache),
            (Some(&self.system_cache), Source::SystemCache),
            (Some(&self.installed), Source::Installed),
        ];
        for (path, source) in copies {
            let Some(path) = path else { continue };
            match check_copy(path) {
                Ok(true) => return Ok(source(path.clone())),
                Ok(false) => {}
                Err(why) => log_at!(
                    Level::Warn,
                    "ignoring the CA bundle {}: {why}",
                    path.display()
                ),
            }
        }
        Ok(Source::BuiltIn)
    }
}

/// A CA the user named must exist and be readable: a file (or, where `dir_ok`, a directory).
fn check_named(path: &Path, by: &str, dir_ok: bool) -> Result<()> {
    let cannot = |why: String| {
        Error::new(
            ErrorCode::CaUnavailable,
            format!("the CA {} ({by}) cannot be used: {why}", path.display()),
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| cannot(e.to_string()))?;
    if meta.is_file() || (dir_ok && meta.is_dir()) {
        Ok(())
    } else {
        Err(cannot("not a regular file".into()))
    }
}

/// Whether a cached or installed copy is there (`Ok(false)`: absent) and can be trusted: a
/// regular file owned by this user or root, that neither group nor others can write.
pub(super) fn check_copy(path: &Path) -> std::result::Result<bool, String> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.to_string()),
    };
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let me = effective_uid();
    if meta.uid() != 0 && meta.uid() != me {
        return Err(format!(
            "owned by uid {}, neither this user nor root",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "group or others can write it (mode {:o})",
            meta.mode() & 0o777
        ));
    }
    Ok(true)
}

pub(super) fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt as _;

    fn locator(dir: &Path, env: &[(&str, &str)]) -> Locator {
        let map: HashMap<&str, &str> = env.iter().copied().collect();
        let mut l = Locator::from_lookup(|n| map.get(n).map(OsString::from));
        l.system_cache = dir.join("system/rds-global-bundle.pem");
        l.installed = dir.join("installed/rds-global-bundle.pem");
        l
    }

    fn write(path: &Path, mode: u32) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "x").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("iam-ca-lookup-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_order_is_given_env_user_system_installed_built_in() {
        let dir = scratch("order");
        let cache = dir.join("xdg");
        let env_file = dir.join("env.pem");
        let l = locator(
            &dir,
            &[
                ("XDG_CACHE_HOME", cache.to_str().unwrap()),
                (CA_FILE_ENV, env_file.to_str().unwrap()),
            ],
        );
        let user = cache.join("iam-db-auth/rds-global-bundle.pem");
        assert_eq!(l.user_cache.as_deref(), Some(user.as_path()));
        for path in [&env_file, &user, &l.system_cache, &l.installed] {
            write(path, 0o644);
        }
        let given = dir.join("given.pem");
        write(&given, 0o600);
        let g = Given {
            path: &given,
            by: "--ca-file",
        };
        assert!(matches!(l.locate(Some(g)).unwrap(), Source::Given { .. }));
        assert_eq!(
            l.locate(None).unwrap(),
            Source::Environment(env_file.clone())
        );
        let l = Locator {
            env_file: None,
            ..l
        };
        assert_eq!(l.locate(None).unwrap(), Source::UserCache(user.clone()));
        std::fs::remove_file(&user).unwrap();
        assert_eq!(
            l.locate(None).unwrap(),
            Source::SystemCache(l.system_cache.clone())
        );
        std::fs::remove_file(&l.system_cache).unwrap();
        assert_eq!(
            l.locate(None).unwrap(),
            Source::Installed(l.installed.clone())
        );
        std::fs::remove_file(&l.installed).unwrap();
        assert_eq!(l.locate(None).unwrap(), Source::BuiltIn);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_named_file_that_is_missing_is_an_error() {
        let dir = scratch("missing");
        let missing = dir.join("missing.pem");
        let l = locator(&dir, &[(CA_FILE_ENV, missing.to_str().unwrap())]);
        let err = l.locate(None).unwrap_err();
        assert_eq!(err.code(), ErrorCode::CaUnavailable);
        assert!(err.message().contains(CA_FILE_ENV), "{err}");
        let err = l
            .locate(Some(Given {
                path: &missing,
                by: "the connection's ssl-ca",
            }))
            .unwrap_err();
        assert!(err.message().contains("ssl-ca"), "{err}");
        // A directory is fine where a connection gave one (ssl-capath), not in the variable.
        let l = locator(&dir, &[(CA_FILE_ENV, dir.to_str().unwrap())]);
        assert!(l.locate(None).is_err());
        let g = Given {
            path: &dir,
            by: "ssl-capath",
        };
        assert!(l.locate(Some(g)).is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn copies_others_could_write_are_skipped() {
        let dir = scratch("writable");
        let l = locator(&dir, &[("HOME", dir.to_str().unwrap())]);
        let user = l.user_cache.clone().unwrap();
        assert!(user.starts_with(dir.join(".cache")));
        write(&user, 0o666);
        write(&l.installed, 0o664);
        assert_eq!(l.locate(None).unwrap(), Source::BuiltIn);
        std::fs::set_permissions(&l.installed, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            l.locate(None).unwrap(),
            Source::Installed(l.installed.clone())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_relative_xdg_cache_home_is_ignored() {
        let l = Locator::from_lookup(|n| match n {
            "XDG_CACHE_HOME" => Some("relative".into()),
            "HOME" => Some("/home/u".into()),
            _ => None,
        });
        assert_eq!(
            l.user_cache.unwrap(),
            Path::new("/home/u/.cache/iam-db-auth/rds-global-bundle.pem")
        );
        assert!(Locator::from_lookup(|_| None).user_cache.is_none());
    }
}
