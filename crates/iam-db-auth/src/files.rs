//! Reading a file a user named, bounded: regular files only, up to a size limit.
//!
//! A path in a setting can name anything: a FIFO (whose open or read waits for a writer for
//! ever), `/dev/zero` (endless), a directory, a file of gigabytes. Every file the library or
//! the CLI reads on a user's word goes through [`read_regular`](crate::files::read_regular), which never waits and never
//! reads more than the limit: it opens without blocking (`O_NONBLOCK`, so a FIFO's open returns
//! at once), refuses what `fstat` says is not a regular file, and reads at most `limit + 1`
//! bytes to tell "too large" from "exactly the limit". Symbolic links to regular files are
//! followed, as every AWS tool follows them.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// Why a file was not read. The text names the path and the problem, never the content.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing at that path.
    NotFound,
    /// Something that is not a regular file (`what` says which: a directory, a FIFO, ...).
    NotRegular(&'static str),
    /// Larger than the limit, bytes.
    TooLarge(u64),
    /// The file exists but could not be opened or read (permissions, I/O).
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotFound => f.write_str("not found"),
            ReadError::NotRegular(what) => write!(f, "is {what}, not a regular file"),
            ReadError::TooLarge(limit) => write!(f, "is larger than {limit} bytes"),
            ReadError::Io(e) => write!(f, "cannot be read: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads the regular file at `path` whole, if it holds at most `limit` bytes. Never blocks on
/// a FIFO or device and never reads more than `limit + 1` bytes.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_nonblocking(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Io(e),
    })?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    let kind = file_kind(&meta);
    if kind != "a regular file" {
        return Err(ReadError::NotRegular(kind));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge(limit));
    }
    // Sized from the file's length so that a secret is read into one buffer, never copied by
    // a reallocation (unless the file grows while it is read).
    let mut content = Vec::with_capacity(meta.len() as usize + 1);
    file.take(limit + 1)
        .read_to_end(&mut content)
        .map_err(ReadError::Io)?;
    if content.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(content)
}

/// [`read_regular`] for text: invalid UTF-8 is an I/O error of kind `InvalidData`.
pub fn read_regular_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    let bytes = read_regular(path, limit)?;
    String::from_utf8(bytes).map_err(|e| {
        ReadError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not valid UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ))
    })
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(unix)]
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_file() {
        "a regular file"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_file() {
        "a regular file"
    } else if meta.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("iam-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn reads_a_regular_file_up_to_the_limit_and_no_further() {
        let dir = temp_dir("regular");
        let path = dir.join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_regular(&path, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_regular(&path, 9),
            Err(ReadError::TooLarge(9))
        ));
        let link = dir.join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert_eq!(read_regular(&link, 10).unwrap(), b"0123456789");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_what_is_not_a_regular_file_without_waiting() {
        let dir = temp_dir("special");
        let fifo = dir.join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let start = Instant::now();
        let err = read_regular(&fifo, 1 << 20).unwrap_err();
        assert!(matches!(err, ReadError::NotRegular(_)), "{err}");
        assert!(err.to_string().contains("FIFO"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
        for (path, words) in [("/dev/zero", "a device"), ("/", "a directory")] {
            let err = read_regular(Path::new(path), 1 << 20).unwrap_err();
            assert!(err.to_string().contains(words), "{path}: {err}");
        }
        assert!(matches!(
            read_regular(&dir.join("missing"), 10),
            Err(ReadError::NotFound)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn text_must_be_utf8() {
        let dir = temp_dir("text");
        let path = dir.join("f");
        std::fs::write(&path, b"ab\xffcd").unwrap();
        let err = read_regular_text(&path, 100).unwrap_err();
        assert!(err.to_string().contains("offset 2"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
