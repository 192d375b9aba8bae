//! The connection to the database: TCP with a bound, then TLS whose certificate is verified for
//! the signing host's name. No protocol module asks for a token before `tls` succeeded, so a
//! token leaves only to a peer that proved it is the endpoint the token is signed for.
//!
//! The CA: `--ca FILE`, else the project's one lookup order (`iam_db_auth::ca`:
//! `IAM_DB_AUTH_CA_FILE`, the `ca update` copy, the installed file, the built-in RDS bundle);
//! when the lookup fell through to an RDS bundle, the system's roots are trusted too (a database
//! behind a public certificate), never when the user named a CA.

use crate::failure::{Failure, FailureKind};
use rustls::RootCertStore;
use rustls_pki_types::ServerName;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Where the database is and how it proves itself.
pub struct Upstream {
    /// `host:port` to connect to (may be a tunnel's local end).
    target: String,
    /// The name the certificate must carry: the signing host.
    server_name: ServerName<'static>,
    connector: TlsConnector,
    /// What the CA came from, for messages.
    ca_description: String,
    connect_timeout: Duration,
    tls_timeout: Duration,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("target", &self.target)
            .field("ca", &self.ca_description)
            .finish()
    }
}

impl Upstream {
    /// The upstream at `target` (`host:port`), whose certificate must be valid for
    /// `signing_host` under the CA found from `ca` (see the module's notes).
    pub fn new(target: &str, signing_host: &str, ca: Option<&Path>) -> Result<Self, Failure> {
        let config_error = |m: String| Failure::new(FailureKind::UpstreamTls, m);
        let given = ca.map(|path| iam_db_auth::ca::Given { path, by: "--ca" });
        let bundle = iam_db_auth::ca::load(given)
            .map_err(|e| config_error(format!("no CA to verify the database with: {e}")))?;
        let mut roots = RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(bundle.certificates().iter().cloned());
        if added == 0 {
            return Err(config_error(format!(
                "{} holds no usable certificate",
                bundle.source().describe()
            )));
        }
        if bundle.source().is_rds_bundle() && ca.is_none() {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(format!("TLS setup: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_name = ServerName::try_from(signing_host.to_owned()).map_err(|_| {
            config_error(format!(
                "'{signing_host}' is not a host name a certificate can carry"
            ))
        })?;
        Ok(Upstream {
            target: target.to_owned(),
            server_name,
            connector: TlsConnector::from(Arc::new(config)),
            ca_description: bundle.source().describe(),
            connect_timeout: Duration::from_secs(10),
            tls_timeout: Duration::from_secs(10),
        })
    }

    /// Sets the bounds on connecting and on the TLS handshake.
    pub fn with_timeouts(mut self, connect: Duration, tls: Duration) -> Self {
        self.connect_timeout = connect;
        self.tls_timeout = tls;
        self
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    pub fn server_name(&self) -> &ServerName<'static> {
        &self.server_name
    }

    /// A TCP connection to the database, within the connect bound.
    pub async fn connect(&self) -> Result<TcpStream, Failure> {
        let unreachable = |m: String| Failure::new(FailureKind::UpstreamUnreachable, m);
        let tcp = tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.target))
            .await
            .map_err(|_| {
                unreachable(format!(
                    "connecting to {} timed out after {:?}",
                    self.target, self.connect_timeout
                ))
            })?
            .map_err(|e| unreachable(format!("cannot connect to {}: {e}", self.target)))?;
        let _ = tcp.set_nodelay(true);
        crate::listen::set_keepalive(socket2::SockRef::from(&tcp));
        Ok(tcp)
    }

    /// TLS over `tcp` (after the protocol's own TLS request), the certificate verified for the
    /// signing host, within the TLS bound.
    pub async fn tls(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, Failure> {
        let failed = |m: String| Failure::new(FailureKind::UpstreamTls, m);
        let name = self.server_name.to_str();
        tokio::time::timeout(
            self.tls_timeout,
            self.connector.connect(self.server_name.clone(), tcp),
        )
        .await
        .map_err(|_| {
            failed(format!(
                "TLS with {} timed out after {:?}",
                self.target, self.tls_timeout
            ))
        })?
        .map_err(|e| {
            failed(format!(
                "TLS with {} for '{name}' failed ({e}); CA: {}",
                self.target, self.ca_description
            ))
        })
    }
}
