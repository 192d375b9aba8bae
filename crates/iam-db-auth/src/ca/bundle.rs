//! Certificates read from a [`Source`]: a PEM file, a directory of them, or the built-in RDS
//! bundle (`certs/rds-global-bundle.pem` of the source tree; its origin is in certs/README.md).

use super::lookup::Source;
use crate::error::{Error, ErrorCode, Result};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// The built-in bundle, as PEM.
pub(super) const BUILT_IN_PEM: &[u8] = include_bytes!("../../../../certs/rds-global-bundle.pem");
/// How many certificates it holds (checked by a test against the file).
///
/// cbindgen:ignore
pub const BUILT_IN_COUNT: usize = 102;
/// A CA file larger than this is not a CA file (AWS's bundle is 156 KB).
const MAX_FILE_BYTES: u64 = 4 << 20;
/// At most this many files are read from a CA directory.
const MAX_DIR_FILES: usize = 1000;

/// CA certificates and where they came from.
#[derive(Clone, Debug)]
pub struct Bundle {
    source: Source,
    certificates: Arc<Vec<CertificateDer<'static>>>,
}

impl Bundle {
    /// Reads the certificates of `source`.
    pub fn load(source: Source) -> Result<Bundle> {
        let certificates = match source.path() {
            None => built_in(),
            Some(path) if path.is_dir() => Arc::new(read_dir(path)?),
            Some(path) => read_file_cached(path, &source)?,
        };
        if certificates.is_empty() {
            return Err(Error::new(
                ErrorCode::CaUnavailable,
                format!("{} holds no certificate", source.describe()),
            ));
        }
        Ok(Bundle {
            source,
            certificates,
        })
    }

    /// Where the certificates came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The certificates (DER).
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }
}

/// The built-in bundle's certificates, parsed once.
fn built_in() -> Arc<Vec<CertificateDer<'static>>> {
    static PARSED: OnceLock<Arc<Vec<CertificateDer<'static>>>> = OnceLock::new();
    PARSED
        .get_or_init(|| Arc::new(parse_pem(BUILT_IN_PEM).unwrap_or_default()))
        .clone()
}

/// The certificates of a PEM text (other PEM sections, such as keys, are skipped). An error
/// names what is wrong: a damaged section, or no certificate at all.
pub fn parse_pem(pem: &[u8]) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate file ({e})"))?;
    if certificates.is_empty() {
        return Err("no certificate in it (not a PEM certificate file)".into());
    }
    Ok(certificates)
}

/// Whether `pem` is a CA bundle fit to be trusted (what `ca update` checks before it replaces
/// a copy): PEM certificates only, at least one, each readable as a CA (a trust anchor).
/// Returns how many certificates it holds.
pub fn check_bundle(pem: &[u8]) -> std::result::Result<usize, String> {
    let certificates = parse_pem(pem)?;
    for (i, certificate) in certificates.iter().enumerate() {
        webpki::anchor_from_trusted_cert(certificate)
            .map_err(|e| format!("certificate {} cannot be read ({e})", i + 1))?;
    }
    Ok(certificates.len())
}

/// What identifies a file's content without reading it: a rewrite (`ca update` renames a new
/// file into place) changes the inode, an edit in place the modification time or size.
#[derive(Clone, PartialEq, Eq)]
struct FileStamp {
    path: PathBuf,
    device: u64,
    inode: u64,
    size: u64,
    modified_ns: i128,
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            path: path.to_path_buf(),
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.len(),
            modified_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        })
    }
}

/// The last file read, parsed: a process that logs in again and again (a pool through the
/// MySQL plugin) parses a 156 KB bundle once, not at every login (about 0.8 ms each).
fn read_file_cached(path: &Path, source: &Source) -> Result<Arc<Vec<CertificateDer<'static>>>> {
    static LAST: Mutex<Option<(FileStamp, Arc<Vec<CertificateDer<'static>>>)>> = Mutex::new(None);
    let stamp = FileStamp::of(path);
    if let Some(stamp) = &stamp {
        let last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((seen, certificates)) = last.as_ref()
            && seen == stamp
        {
            return Ok(certificates.clone());
        }
    }
    let certificates = Arc::new(read_file(path, source)?);
    if let Some(stamp) = stamp {
        *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some((stamp, certificates.clone()));
    }
    Ok(certificates)
}

fn read_file(path: &Path, source: &Source) -> Result<Vec<CertificateDer<'static>>> {
    let cannot = |why: String| {
        Error::new(
            ErrorCode::CaUnavailable,
            format!("{} cannot be used: {why}", source.describe()),
        )
    };
    let bytes = read_bounded(path).map_err(cannot)?;
    parse_pem(&bytes).map_err(cannot)
}

/// Every certificate in the PEM files of a directory (OpenSSL's `capath`: files that are not
/// PEM certificates are skipped, as OpenSSL skips them).
fn read_dir(dir: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::new(
            ErrorCode::CaUnavailable,
            format!("the CA directory {} cannot be read: {e}", dir.display()),
        )
    })?;
    let mut certificates = Vec::new();
    for entry in entries.flatten().take(MAX_DIR_FILES) {
        let path = entry.path();
        if path.is_file()
            && let Ok(found) = read_bounded(&path).and_then(|b| parse_pem(&b))
        {
            certificates.extend(found);
        }
    }
    Ok(certificates)
}

/// The file's bytes, through the bounded reader every user-named file goes through: a FIFO or a
/// device is refused at once, never waited on.
fn read_bounded(path: &Path) -> std::result::Result<Vec<u8>, String> {
    crate::files::read_regular(path, MAX_FILE_BYTES).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_that_is_a_fifo_or_a_device_is_refused_at_once() {
        let dir = std::env::temp_dir().join(format!("iam-ca-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("ca.pem");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        for path in [fifo.clone(), PathBuf::from("/dev/zero")] {
            let source = Source::Environment(path.clone());
            let err = read_file(&path, &source).unwrap_err();
            assert_eq!(err.code(), ErrorCode::CaUnavailable, "{err}");
            assert!(err.message().contains("not a regular file"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_built_in_bundle_is_the_committed_file_and_parses_whole() {
        let committed = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../certs/rds-global-bundle.pem"),
        )
        .unwrap();
        assert_eq!(BUILT_IN_PEM, committed.as_slice());
        let bundle = Bundle::load(Source::BuiltIn).unwrap();
        assert_eq!(bundle.certificates().len(), BUILT_IN_COUNT);
        let blocks = committed
            .split(|&b| b == b'\n')
            .filter(|l| *l == b"-----BEGIN CERTIFICATE-----")
            .count();
        assert_eq!(blocks, BUILT_IN_COUNT);
        // Every one is usable as a trust anchor.
        for cert in bundle.certificates() {
            webpki::anchor_from_trusted_cert(cert).unwrap();
        }
    }

    #[test]
    fn what_is_not_a_bundle_is_refused_with_the_reason() {
        assert!(
            parse_pem(b"<html>not found</html>")
                .unwrap_err()
                .contains("no certificate")
        );
        assert!(parse_pem(b"").unwrap_err().contains("no certificate"));
        let damaged = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(parse_pem(damaged).unwrap_err().contains("not a PEM"));
        // A key next to certificates is skipped, not an error.
        let first = String::from_utf8_lossy(BUILT_IN_PEM)
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap()
            .to_string();
        let mixed =
            format!("{first}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n{first}");
        assert_eq!(parse_pem(mixed.as_bytes()).unwrap().len(), 2);
    }

    #[test]
    fn a_bundle_to_trust_is_certificates_only() {
        assert_eq!(check_bundle(BUILT_IN_PEM), Ok(BUILT_IN_COUNT));
        assert!(check_bundle(b"<html></html>").is_err());
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(check_bundle(garbage).unwrap_err().contains("certificate 1"));
    }

    #[test]
    fn a_file_read_again_is_parsed_once_until_it_changes() {
        let dir = std::env::temp_dir().join(format!("iam-ca-cached-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bundle.pem");
        std::fs::write(&file, BUILT_IN_PEM).unwrap();
        let load = || Bundle::load(Source::Environment(file.clone())).unwrap();
        let (a, b) = (load(), load());
        assert!(Arc::ptr_eq(&a.certificates, &b.certificates));
        // Replaced as `ca update` replaces it: a new file renamed over the old one.
        let one = String::from_utf8_lossy(BUILT_IN_PEM)
            .split_inclusive("-----END CERTIFICATE-----\n")
            .next()
            .unwrap()
            .to_string();
        std::fs::write(dir.join("new.pem"), &one).unwrap();
        std::fs::rename(dir.join("new.pem"), &file).unwrap();
        assert_eq!(load().certificates().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn files_and_directories_load_and_an_empty_one_is_an_error() {
        let dir = std::env::temp_dir().join(format!("iam-ca-bundle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("capath")).unwrap();
        std::fs::write(dir.join("capath/a.pem"), BUILT_IN_PEM).unwrap();
        std::fs::write(dir.join("capath/readme.txt"), "not a certificate").unwrap();
        std::fs::write(dir.join("empty.pem"), "").unwrap();
        let from_dir = Bundle::load(Source::Given {
            path: dir.join("capath"),
            by: "ssl-capath".into(),
        })
        .unwrap();
        assert_eq!(from_dir.certificates().len(), BUILT_IN_COUNT);
        let err = Bundle::load(Source::Environment(dir.join("empty.pem"))).unwrap_err();
        assert_eq!(err.code(), ErrorCode::CaUnavailable);
        assert!(err.message().contains("IAM_DB_AUTH_CA_FILE"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
