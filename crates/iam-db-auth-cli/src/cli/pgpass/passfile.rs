//! The passfile on disk: where it is, reading it safely, and replacing it atomically.
//!
//! Refused: a symlink (libpq would follow it; we would replace the link, not its target), a
//! directory or anything else that is not a regular file, a file owned by another user, and a
//! file with several hard links (a rename would silently split them). Replacing writes a
//! temporary file in the same directory, created 0600 from the start, fsyncs it, renames it
//! over the passfile and fsyncs the directory, so a reader sees the old file or the new one,
//! never a mix, and a crash leaves one of the two. Writers of this program take an exclusive
//! `flock` on the directory while they read, edit and replace, so two of them do not lose each
//! other's entries; an editor that changes the file in between is detected (the file's
//! identity changed) and the edit is redone.

use super::os::{euid, try_lock_exclusive};
use crate::pgpass::MAX_FILE_LEN;
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use zeroize::Zeroizing;

/// How long to wait for another writer's lock on the passfile's directory.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why the passfile could not be read or written.
#[derive(Debug)]
pub enum FileError {
    /// The file is not one the helper edits; retrying will not help until someone fixes it.
    Refused(String),
    /// The file changed between reading and replacing it; redo the edit.
    Changed,
    /// An I/O failure.
    Io(String),
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileError::Refused(m) | FileError::Io(m) => f.write_str(m),
            FileError::Changed => f.write_str("the file changed while it was being edited"),
        }
    }
}

/// The passfile libpq reads when no `passfile=` is given: `PGPASSFILE`, else `~/.pgpass`.
pub fn default_path() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("PGPASSFILE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(Path::new(&home).join(".pgpass")),
        None => Err("neither PGPASSFILE nor HOME is set; pass --file".into()),
    }
}

/// What the file was when it was read, to notice a change before replacing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Identity {
    fn of(meta: &std::fs::Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// A passfile as read: its bytes and what it was (nothing if it did not exist).
pub struct Snapshot {
    /// The bytes (wiped on drop: they hold passwords).
    pub contents: Zeroizing<Vec<u8>>,
    identity: Option<Identity>,
    /// The permission bits, when the file exists.
    pub mode: Option<u32>,
}

/// An exclusive lock on the passfile's directory, held while editing.
pub struct Editing {
    path: PathBuf,
    dir: File,
    dir_path: PathBuf,
}

impl Editing {
    /// Locks the directory of `path` for editing (waits up to 10 s for another writer of this
    /// program).
    pub fn begin(path: &Path) -> Result<Editing, FileError> {
        let name = path.file_name().ok_or_else(|| {
            FileError::Refused(format!("{} does not name a file", path.display()))
        })?;
        let dir_path = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let dir = File::open(&dir_path).map_err(|e| {
            FileError::Io(format!(
                "cannot open the directory {} of the passfile: {e}",
                dir_path.display()
            ))
        })?;
        // Another writer holds the lock for milliseconds; waiting longer means it is stuck.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match try_lock_exclusive(&dir) {
                Ok(true) => break,
                Ok(false) => {}
                Err(err) => {
                    return Err(FileError::Io(format!(
                        "cannot lock {}: {err}",
                        dir_path.display()
                    )));
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(FileError::Io(format!(
                    "another process has held the lock on {} for {} s (another iam-db-auth \
                     editing a passfile there?)",
                    dir_path.display(),
                    LOCK_WAIT.as_secs()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let editing = Editing {
            path: dir_path.join(name),
            dir,
            dir_path,
        };
        editing.remove_stale_temps();
        Ok(editing)
    }

    /// The prefix of this program's temporary files for the passfile.
    fn temp_prefix(&self) -> String {
        let base = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!(".{base}.iam-db-auth.")
    }

    /// Removes temporary files that a writer of this program left behind when it was killed
    /// between creating one and renaming it over the passfile. They are 0600 (never readable
    /// by others) but hold a token. With the directory lock held, no writer of this program is
    /// between those steps, so every such file is stale. Best effort: a file that cannot be
    /// removed is left (the next writer tries again).
    fn remove_stale_temps(&self) {
        let prefix = self.temp_prefix();
        let Ok(entries) = std::fs::read_dir(&self.dir_path) else {
            return;
        };
        for entry in entries.flatten() {
            if !entry.file_name().to_string_lossy().starts_with(&prefix) {
                continue;
            }
            let ours = std::fs::symlink_metadata(entry.path())
                .is_ok_and(|m| m.file_type().is_file() && m.uid() == euid());
            if ours {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Checks the file is one we may edit and reads it. A missing file reads as empty.
    pub fn read(&self) -> Result<Snapshot, FileError> {
        let shown = self.path.display();
        let meta = match std::fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Snapshot {
                    contents: Zeroizing::new(Vec::new()),
                    identity: None,
                    mode: None,
                });
            }
            Err(e) => return Err(FileError::Io(format!("cannot read {shown}: {e}"))),
        };
        check_editable(&self.path, &meta)?;
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&self.path)
            .map_err(|e| FileError::Io(format!("cannot open {shown}: {e}")))?;
        let opened = file
            .metadata()
            .map_err(|e| FileError::Io(format!("cannot stat {shown}: {e}")))?;
        if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
            return Err(FileError::Changed);
        }
        let mut contents = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
        std::io::Read::by_ref(&mut file)
            .take(MAX_FILE_LEN as u64 + 1)
            .read_to_end(&mut contents)
            .map_err(|e| FileError::Io(format!("cannot read {shown}: {e}")))?;
        Ok(Snapshot {
            contents,
            identity: Some(Identity::of(&opened)),
            mode: Some(opened.mode() & 0o7777),
        })
    }

    /// Replaces the file with `bytes`, atomically, if it is still what `was` read.
    pub fn replace(&self, bytes: &[u8], was: &Snapshot) -> Result<(), FileError> {
        let now = match std::fs::symlink_metadata(&self.path) {
            Ok(m) => {
                check_editable(&self.path, &m)?;
                Some(Identity::of(&m))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(FileError::Io(format!(
                    "cannot stat {}: {e}",
                    self.path.display()
                )));
            }
        };
        if now != was.identity {
            return Err(FileError::Changed);
        }
        let (temp_path, mut temp) = self.create_temp()?;
        let written = temp
            .write_all(bytes)
            .and_then(|_| temp.sync_all())
            .map_err(|e| format!("cannot write {}: {e}", temp_path.display()))
            .and_then(|_| {
                drop(temp);
                std::fs::rename(&temp_path, &self.path).map_err(|e| {
                    format!(
                        "cannot rename {} to {}: {e}",
                        temp_path.display(),
                        self.path.display()
                    )
                })
            });
        if let Err(message) = written {
            let _ = std::fs::remove_file(&temp_path);
            return Err(FileError::Io(message));
        }
        // The rename is durable once the directory is.
        self.dir
            .sync_all()
            .map_err(|e| FileError::Io(format!("cannot sync {}: {e}", self.dir_path.display())))
    }

    /// A new file next to the passfile, mode 0600 from its creation (never readable by
    /// others, not even for a moment), with a name no one else uses.
    fn create_temp(&self) -> Result<(PathBuf, File), FileError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let prefix = self.temp_prefix();
        for _ in 0..100 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let name = format!(
                "{prefix}{}.{}.{nanos:x}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            let temp_path = self.dir_path.join(name);
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&temp_path)
            {
                Ok(file) => {
                    // The umask can only remove bits; make it exactly 0600 (readable by the
                    // owner even under a umask such as 0277).
                    if let Err(e) = file.set_permissions(std::fs::Permissions::from_mode(0o600)) {
                        let _ = std::fs::remove_file(&temp_path);
                        return Err(FileError::Io(format!(
                            "cannot set the mode of {}: {e}",
                            temp_path.display()
                        )));
                    }
                    return Ok((temp_path, file));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(FileError::Io(format!(
                        "cannot create a temporary file in {} (the passfile is replaced by \
                         renaming one over it, so its directory must be writable): {e}",
                        self.dir_path.display()
                    )));
                }
            }
        }
        Err(FileError::Io(format!(
            "cannot find a free temporary file name in {}",
            self.dir_path.display()
        )))
    }
}

/// The refusals that do not depend on the contents.
fn check_editable(path: &Path, meta: &std::fs::Metadata) -> Result<(), FileError> {
    let shown = path.display();
    let kind = meta.file_type();
    if kind.is_symlink() {
        let target = std::fs::read_link(path)
            .map(|t| t.display().to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(FileError::Refused(format!(
            "{shown} is a symbolic link (to {target}); refusing to replace a link. Point \
             PGPASSFILE or --file at the real file"
        )));
    }
    if kind.is_dir() {
        return Err(FileError::Refused(format!(
            "{shown} is a directory, not a passfile"
        )));
    }
    if !kind.is_file() {
        return Err(FileError::Refused(format!(
            "{shown} is not a regular file (a FIFO, socket or device); refusing to replace it"
        )));
    }
    let me = euid();
    if meta.uid() != me {
        return Err(FileError::Refused(format!(
            "{shown} is owned by uid {}, not by this user (uid {me}); refusing to take it over",
            meta.uid()
        )));
    }
    if meta.nlink() > 1 {
        return Err(FileError::Refused(format!(
            "{shown} has {} hard links; replacing it would split them. Remove the other links \
             or point --file at a file of its own",
            meta.nlink()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "iam-db-auth-passfile-{name}-{}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_missing_file_reads_empty_and_is_created_0600() {
        let dir = TempDir::new("create");
        let path = dir.0.join("pgpass");
        let editing = Editing::begin(&path).unwrap();
        let snap = editing.read().unwrap();
        assert!(snap.contents.is_empty() && snap.mode.is_none());
        editing.replace(b"a:1:*:u:p\n", &snap).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"a:1:*:u:p\n");
        assert_eq!(entries(&dir.0), ["pgpass"], "no temporary file left");
    }

    #[test]
    fn a_file_changed_after_reading_is_not_replaced() {
        let dir = TempDir::new("changed");
        let path = dir.0.join("pgpass");
        std::fs::write(&path, b"a:1:*:u:p\n").unwrap();
        let editing = Editing::begin(&path).unwrap();
        let snap = editing.read().unwrap();
        // Another editor replaces the file (new inode) between our read and our write.
        std::fs::write(dir.0.join("other"), b"b:1:*:u:q\n").unwrap();
        std::fs::rename(dir.0.join("other"), &path).unwrap();
        assert!(matches!(
            editing.replace(b"x", &snap),
            Err(FileError::Changed)
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"b:1:*:u:q\n");
        assert_eq!(entries(&dir.0), ["pgpass"]);
        // The directory lock is per open: let go before editing again.
        drop(editing);
        // A file that appears where none was read is a change too.
        let path2 = dir.0.join("new");
        let snap = editing_read(&path2);
        std::fs::write(&path2, b"c").unwrap();
        assert!(matches!(
            Editing::begin(&path2).unwrap().replace(b"x", &snap),
            Err(FileError::Changed)
        ));
    }

    fn editing_read(path: &Path) -> Snapshot {
        Editing::begin(path).unwrap().read().unwrap()
    }

    #[test]
    fn links_and_directories_are_refused() {
        let dir = TempDir::new("refuse");
        let real = dir.0.join("real");
        std::fs::write(&real, b"a:1:*:u:p\n").unwrap();
        let link = dir.0.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let refused = |p: &Path| match Editing::begin(p).unwrap().read() {
            Err(FileError::Refused(m)) => m,
            Err(other) => panic!("{p:?}: {other}"),
            Ok(_) => panic!("{p:?}: accepted"),
        };
        assert!(refused(&link).contains("symbolic link"));
        std::fs::create_dir(dir.0.join("sub")).unwrap();
        assert!(refused(&dir.0.join("sub")).contains("directory"));
        std::fs::hard_link(&real, dir.0.join("hard")).unwrap();
        assert!(refused(&real).contains("2 hard links"));
    }

    #[test]
    fn the_passfile_location_follows_libpq() {
        // Only checks the shape: PGPASSFILE and HOME are the process's own.
        let path = default_path();
        if let Some(env) = std::env::var_os("PGPASSFILE").filter(|v| !v.is_empty()) {
            assert_eq!(path.unwrap(), PathBuf::from(env));
        } else if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            assert_eq!(path.unwrap(), Path::new(&home).join(".pgpass"));
        }
    }

    #[test]
    fn temporary_files_left_by_a_killed_writer_are_removed_by_the_next() {
        let dir = TempDir::new("stale");
        let path = dir.0.join("pgpass");
        std::fs::write(&path, b"a:1:*:u:p\n").unwrap();
        // What a writer killed between creating its temporary file and the rename leaves.
        std::fs::write(
            dir.0.join(".pgpass.iam-db-auth.99999.0.abc"),
            b"a:1:*:u:TOKEN\n",
        )
        .unwrap();
        // Not ours: another program's file, and a temporary file of another passfile.
        std::fs::write(dir.0.join(".pgpass.other"), b"x").unwrap();
        std::fs::write(dir.0.join(".pgpass2.iam-db-auth.1.0.abc"), b"x").unwrap();
        let editing = Editing::begin(&path).unwrap();
        assert_eq!(
            entries(&dir.0),
            [".pgpass.other", ".pgpass2.iam-db-auth.1.0.abc", "pgpass"]
        );
        let snap = editing.read().unwrap();
        editing.replace(b"a:1:*:u:q\n", &snap).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a:1:*:u:q\n");
    }
}
