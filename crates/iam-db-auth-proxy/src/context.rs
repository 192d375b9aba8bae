//! A listener's `SessionContext`, built from its settings: the upstream (CA read, name
//! checked), the token source, client TLS (certificate and key read), the local password file.
//! Everything that can fail is read here, before the listener binds, so a reload with a bad
//! file changes nothing.

use crate::config::ListenerConfig;
use crate::session::{LocalUsers, SessionContext};
use crate::tokens::{SigningTarget, TokenSource};
use crate::upstream::Upstream;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

/// The largest certificate chain, key or password file read.
const MAX_FILE: u64 = 1 << 20;

/// Builds the context of one listener.
pub fn build(config: &ListenerConfig) -> Result<SessionContext, String> {
    let signing_host = config.signing_host()?;
    let signing_port = config.signing_port()?;
    let upstream = Upstream::new(&config.target, &signing_host, config.ca.as_deref())
        .map_err(|f| f.message)?;
    let tokens = TokenSource::new(SigningTarget {
        host: signing_host,
        port: signing_port,
        region: config.region.clone(),
        profile: config.profile.clone(),
    });
    let client_tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => Some(client_tls(cert, key)?),
        _ => None,
    };
    let local_users = config
        .local_auth
        .as_deref()
        .map(read_local_users)
        .transpose()?
        .map(Arc::new);
    Ok(SessionContext {
        engine: config.engine,
        upstream: Arc::new(upstream),
        tokens: Arc::new(tokens),
        client_tls,
        require_client_tls: !config.listen.is_local(),
        local_users,
        user_allow: Arc::new(config.user_allow.clone()),
        login_timeout: config.login_timeout,
        idle_timeout: config.idle_timeout,
        cancel_keys: Arc::new(Default::default()),
    })
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    iam_db_auth::files::read_regular(path, MAX_FILE)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// The TLS acceptor for the client leg, from a PEM chain and its private key.
fn client_tls(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, String> {
    let chain_pem = read_file(cert, "client TLS certificate")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate chain: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no certificate", cert.display()));
    }
    check_private(key, "client TLS key")?;
    let key_pem = zeroize::Zeroizing::new(read_file(key, "client TLS key")?);
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("{}: not a PEM private key: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| {
            format!(
                "{} and {} do not make a TLS identity: {e}",
                cert.display(),
                key.display()
            )
        })?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A file of secrets must be readable by its owner only.
fn check_private(path: &Path, what: &str) -> Result<(), String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "the {what} {} can be read by others (mode {:o}): chmod 600 it",
            path.display(),
            mode & 0o777
        ));
    }
    Ok(())
}

/// Reads a local password file: `user:password` a line (the password is everything after the
/// first colon), `#` comments and blank lines ignored. Owner-only, a regular file.
pub fn read_local_users(path: &Path) -> Result<LocalUsers, String> {
    check_private(path, "password file")?;
    let bytes = zeroize::Zeroizing::new(read_file(path, "password file")?);
    let text =
        std::str::from_utf8(&bytes).map_err(|_| format!("{}: not UTF-8 text", path.display()))?;
    parse_local_users(text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a password file's text (see `read_local_users`); errors name the line, never the
/// password.
pub fn parse_local_users(text: &str) -> Result<LocalUsers, String> {
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (user, password) = line
            .split_once(':')
            .ok_or_else(|| format!("line {}: expected user:password", n + 1))?;
        let user = user.trim();
        if user.is_empty() || password.is_empty() {
            return Err(format!("line {}: empty user or password", n + 1));
        }
        if !seen.insert(user.to_owned()) {
            return Err(format!("line {}: user '{user}' is listed twice", n + 1));
        }
        entries.push((user.to_owned(), password.to_owned()));
    }
    if entries.is_empty() {
        return Err("no user:password line".into());
    }
    Ok(LocalUsers::new(entries))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_files_parse_and_errors_name_the_line_not_the_password() {
        let users = parse_local_users("# app users\napp:s3cr:et\n\nreport:pw\n").unwrap();
        assert_eq!(users.password("app"), Some("s3cr:et"));
        assert_eq!(users.password("report"), Some("pw"));
        assert_eq!(users.password("other"), None);
        let e = parse_local_users("app:x\nhunter2\n").err().unwrap();
        assert!(e.contains("line 2") && !e.contains("hunter2"), "{e}");
        let e = parse_local_users("app:x\napp:y\n").err().unwrap();
        assert!(e.contains("twice"), "{e}");
        assert!(parse_local_users("# nothing\n").is_err());
    }
}
