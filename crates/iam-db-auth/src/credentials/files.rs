//! The shared AWS config and credentials files: where they are, found as aws-config finds them
//! (the region lookup asks the same function), their contents read bounded for aws-config, and
//! a stamp of their state that tells the chain when to read them again.
//!
//! aws-config reads these files with a blocking `std::fs::read` inside the futures our time
//! bound wraps, so a FIFO there blocks the thread for ever and `/dev/zero` grows memory without
//! end; its file-system seam is crate-private. So we read them ourselves (regular files only,
//! never blocking, at most [`MAX_SHARED_FILE_BYTES`]) and hand aws-config their contents.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// One of the two shared files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SharedFile {
    /// `AWS_CONFIG_FILE`, default `~/.aws/config`.
    Config,
    /// `AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`.
    Credentials,
}

impl SharedFile {
    /// Both, in the order aws-config reads them.
    pub(crate) const BOTH: [SharedFile; 2] = [SharedFile::Config, SharedFile::Credentials];

    /// The environment variable that names it.
    pub(crate) fn variable(self) -> &'static str {
        match self {
            SharedFile::Config => "AWS_CONFIG_FILE",
            SharedFile::Credentials => "AWS_SHARED_CREDENTIALS_FILE",
        }
    }

    fn under_home(self) -> &'static str {
        match self {
            SharedFile::Config => ".aws/config",
            SharedFile::Credentials => ".aws/credentials",
        }
    }

    /// Where it is, given its variable's value and `HOME`: the named path (a leading `~`
    /// component is the home directory), else its default under the home directory; `None`
    /// when neither is set. An empty variable counts as unset.
    pub(crate) fn path(self, named: Option<&OsStr>, home: Option<&OsStr>) -> Option<PathBuf> {
        match named.filter(|p| !p.is_empty()) {
            Some(named) => {
                let named = Path::new(named);
                Some(match (named.strip_prefix("~"), home) {
                    (Ok(rest), Some(home)) => Path::new(home).join(rest),
                    _ => named.to_path_buf(),
                })
            }
            None => home.map(|home| Path::new(home).join(self.under_home())),
        }
    }

    /// Where it is for this process's environment.
    pub(crate) fn locate(self) -> Option<PathBuf> {
        self.path(
            std::env::var_os(self.variable()).as_deref(),
            std::env::var_os("HOME").as_deref(),
        )
    }
}

/// The largest shared file read, bytes: real ones are a few KiB.
pub(crate) const MAX_SHARED_FILE_BYTES: u64 = 1 << 20;

/// Both shared files' contents, as read (a missing file is empty).
#[derive(Clone, Default)]
pub(crate) struct SharedContents {
    pub(crate) config: String,
    pub(crate) credentials: String,
}

impl SharedContents {
    /// Reads both files, bounded; the error names the file and the problem, never its content.
    pub(crate) fn read() -> Result<Self, String> {
        let mut contents = SharedContents::default();
        for file in SharedFile::BOTH {
            let text = match file.locate() {
                None => String::new(),
                Some(path) => match crate::files::read_regular_text(&path, MAX_SHARED_FILE_BYTES) {
                    Ok(text) => text,
                    Err(crate::files::ReadError::NotFound) => String::new(),
                    Err(e) => {
                        return Err(format!("{} ({}) {e}", path.display(), file.variable()));
                    }
                },
            };
            match file {
                SharedFile::Config => contents.config = text,
                SharedFile::Credentials => contents.credentials = text,
            }
        }
        Ok(contents)
    }

    /// The contents as aws-config takes them.
    #[allow(deprecated)] // aws-config's alias of aws-runtime's `EnvConfigFiles`, not a dependency of ours
    pub(crate) fn profile_files(&self) -> aws_config::profile::profile_file::ProfileFiles {
        use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
        ProfileFiles::builder()
            .with_contents(ProfileFileKind::Config, self.config.clone())
            .with_contents(ProfileFileKind::Credentials, self.credentials.clone())
            .build()
    }
}

/// Both shared files' contents for aws-config (a missing file is empty), read bounded; the
/// error names the file and the problem, never its content.
#[allow(deprecated)] // aws-config's alias of aws-runtime's `EnvConfigFiles`, not a dependency of ours
pub(crate) fn read_shared_files() -> Result<aws_config::profile::profile_file::ProfileFiles, String>
{
    SharedContents::read().map(|contents| contents.profile_files())
}

/// What identifies the state of the shared files (and the variables that choose them): when it
/// changes, the profile source is rebuilt.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FilesStamp {
    /// `HOME`, `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_PROFILE`.
    vars: [Option<OsString>; 4],
    /// Each file's (inode, size, mtime, mtime nanoseconds), if it exists.
    files: [Option<(u64, u64, i64, i64)>; 2],
}

impl FilesStamp {
    /// The state now, for this process's environment.
    pub(crate) fn now() -> Self {
        let var = std::env::var_os;
        Self::of([
            var("HOME"),
            var(SharedFile::Config.variable()),
            var(SharedFile::Credentials.variable()),
            var("AWS_PROFILE"),
        ])
    }

    /// The state for these variables (`HOME`, `AWS_CONFIG_FILE`,
    /// `AWS_SHARED_CREDENTIALS_FILE`, `AWS_PROFILE`).
    fn of(vars: [Option<OsString>; 4]) -> Self {
        use std::os::unix::fs::MetadataExt as _;
        let stat = |file: SharedFile, named: &Option<OsString>| {
            let m = std::fs::metadata(file.path(named.as_deref(), vars[0].as_deref())?).ok()?;
            Some((m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
        };
        let files = [
            stat(SharedFile::Config, &vars[1]),
            stat(SharedFile::Credentials, &vars[2]),
        ];
        FilesStamp { vars, files }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<&OsStr> {
        Some(OsStr::new(s))
    }

    #[test]
    fn paths_are_found_as_aws_config_finds_them() {
        use SharedFile::{Config, Credentials};
        let cases = [
            (Config, None, os("/h"), Some("/h/.aws/config")),
            (Credentials, None, os("/h"), Some("/h/.aws/credentials")),
            (Config, os(""), os("/h"), Some("/h/.aws/config")),
            (Config, os("/etc/aws.conf"), os("/h"), Some("/etc/aws.conf")),
            (Config, os("~/cfg/aws"), os("/h"), Some("/h/cfg/aws")),
            (Config, os("~/cfg/aws"), None, Some("~/cfg/aws")),
            (Config, os("~user/aws"), os("/h"), Some("~user/aws")),
            (Config, os("rel/aws"), os("/h"), Some("rel/aws")),
            (Credentials, None, None, None),
        ];
        for (file, named, home, want) in cases {
            assert_eq!(
                file.path(named, home),
                want.map(PathBuf::from),
                "{file:?} {named:?} {home:?}"
            );
        }
    }

    #[test]
    fn the_stamp_changes_with_the_files_and_the_variables() {
        let dir = std::env::temp_dir().join(format!("iam-db-auth-stamp-{}", std::process::id()));
        std::fs::create_dir_all(dir.join(".aws")).unwrap();
        let config = dir.join(".aws/config");
        let home = Some(dir.clone().into_os_string());
        let vars = |profile: Option<&str>| [home.clone(), None, None, profile.map(OsString::from)];
        let empty = FilesStamp::of(vars(None));
        assert_eq!(empty.files, [None, None]);
        std::fs::write(&config, "[default]\nregion = us-east-1\n").unwrap();
        let written = FilesStamp::of(vars(None));
        assert_ne!(written, empty, "the file appeared");
        assert_eq!(FilesStamp::of(vars(None)), written, "nothing changed");
        std::fs::write(&config, "[default]\nregion = eu-west-1\nx = y\n").unwrap();
        assert_ne!(FilesStamp::of(vars(None)), written, "the file changed");
        assert_ne!(
            FilesStamp::of(vars(Some("other"))),
            FilesStamp::of(vars(None)),
            "another profile"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
