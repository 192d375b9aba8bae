//! TLS for the doctor's probes: a rustls client that trusts exactly the CA lookup's certificates
//! (as every door does), checks the server's certificate for the name the token is signed for,
//! and keeps what it saw (the chain, the verdict) so that a failed handshake can be explained.
//!
//! Never the system's roots for a database: a wrong CA must show as a failure.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
    StreamOwned,
};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use x509_cert::der::Decode as _;

/// The CA certificates a probe trusts, and where they came from (the CA lookup's source).
#[derive(Clone, Debug)]
pub struct Trust {
    pub certificates: Vec<CertificateDer<'static>>,
    /// For messages: "the CA /x (--ca)", "the built-in RDS CA bundle".
    pub described: String,
}

/// What a certificate says, for the report.
#[derive(Clone, Debug, Default)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    /// DNS names and IP addresses of the subjectAltName extension.
    pub names: Vec<String>,
    pub not_after: Option<SystemTime>,
}

/// A client configuration and the record of what its verifier saw.
pub struct Client {
    config: Arc<ClientConfig>,
    seen: Arc<Seen>,
    /// Where the trusted certificates came from.
    pub described: String,
    /// How many CA certificates are trusted.
    pub ca_count: usize,
}

/// What the verifier saw during the last handshake.
#[derive(Default)]
struct Seen {
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

/// The verdict of a handshake.
pub struct Handshake {
    pub stream: StreamOwned<ClientConnection, TcpStream>,
    pub chain: Vec<CertInfo>,
    pub protocol: String,
    pub elapsed: Duration,
}

/// Why a handshake failed, with the chain when the server sent one.
pub struct HandshakeError {
    pub kind: TlsFailure,
    pub detail: String,
    pub chain: Vec<CertInfo>,
}

/// The failures the report tells apart (each has its own fix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsFailure {
    /// The chain does not lead to a CA of the file.
    UnknownIssuer,
    /// The certificate does not name the host the token is for.
    WrongName,
    Expired,
    /// Anything else: protocol errors, alerts, time-outs.
    Other,
}

impl Client {
    /// A client trusting `trust`'s certificates. An error names the source and the problem.
    pub fn new(trust: Trust) -> Result<Client, String> {
        let mut roots = RootCertStore::empty();
        let (added, unusable) = roots.add_parsable_certificates(trust.certificates);
        if added == 0 {
            return Err(format!(
                "{} holds no usable CA certificate ({unusable} unreadable)",
                trust.described
            ));
        }
        let ca_count = roots.len();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("{}: {e}", trust.described))?;
        let seen = Arc::new(Seen::default());
        let verifier = Arc::new(Recording {
            inner,
            seen: seen.clone(),
        });
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Client {
            config: Arc::new(config),
            seen,
            described: trust.described,
            ca_count,
        })
    }

    /// Runs a TLS handshake over `socket` for `name` (the host the token is signed for), bounded
    /// by `deadline`. The certificate must chain to the CA file and name `name`.
    pub fn handshake(
        &self,
        mut socket: TcpStream,
        name: &str,
        deadline: Instant,
    ) -> Result<Handshake, HandshakeError> {
        let started = Instant::now();
        let fail = |kind, detail: String, chain| HandshakeError {
            kind,
            detail,
            chain,
        };
        let server_name = server_name(name).map_err(|e| fail(TlsFailure::Other, e, Vec::new()))?;
        self.seen
            .chain
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let mut conn = ClientConnection::new(self.config.clone(), server_name)
            .map_err(|e| fail(TlsFailure::Other, format!("TLS setup: {e}"), Vec::new()))?;
        while conn.is_handshaking() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(fail(
                    TlsFailure::Other,
                    "the TLS handshake did not finish in time".into(),
                    self.chain(),
                ));
            }
            let _ = socket.set_read_timeout(Some(left));
            let _ = socket.set_write_timeout(Some(left));
            if let Err(e) = conn.complete_io(&mut socket) {
                let chain = self.chain();
                let (kind, detail) = match e
                    .get_ref()
                    .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                {
                    Some(tls) => explain(tls),
                    None if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                    {
                        (
                            TlsFailure::Other,
                            "the server did not answer during the TLS handshake".into(),
                        )
                    }
                    None => (
                        TlsFailure::Other,
                        format!("the connection broke during the TLS handshake ({e})"),
                    ),
                };
                return Err(fail(kind, detail, chain));
            }
        }
        let protocol = conn
            .protocol_version()
            .map_or_else(|| "TLS".into(), |v| format!("{v:?}").replace('_', "."));
        Ok(Handshake {
            stream: StreamOwned::new(conn, socket),
            chain: self.chain(),
            protocol,
            elapsed: started.elapsed(),
        })
    }

    fn chain(&self) -> Vec<CertInfo> {
        self.seen
            .chain
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|der| cert_info(der))
            .collect()
    }

    /// Whether the certificate `der` is valid for `name` (for the connect name, which clients
    /// that verify the name check).
    pub fn leaf_names_host(&self, name: &str) -> bool {
        let chain = self.seen.chain.lock().unwrap_or_else(|p| p.into_inner());
        let (Some(leaf), Ok(name)) = (chain.first(), server_name(name)) else {
            return false;
        };
        webpki::EndEntityCert::try_from(leaf)
            .and_then(|cert| cert.verify_is_valid_for_subject_name(&name))
            .is_ok()
    }
}

/// `name` as rustls takes it: a DNS name or an IP address (brackets of IPv6 removed).
fn server_name(name: &str) -> Result<ServerName<'static>, String> {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    ServerName::try_from(bare.to_string())
        .map_err(|_| format!("{name} is not a name a certificate can be checked for"))
}

/// A failed verification in words, and which kind of failure it is.
fn explain(err: &rustls::Error) -> (TlsFailure, String) {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => (
                TlsFailure::UnknownIssuer,
                "the server's certificate does not chain to a trusted CA (unknown issuer)".into(),
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => (
                TlsFailure::WrongName,
                "the server's certificate does not name the host".into(),
            ),
            C::Expired | C::ExpiredContext { .. } => (
                TlsFailure::Expired,
                "the server's certificate has expired (or this machine's clock is wrong)".into(),
            ),
            C::NotValidYet | C::NotValidYetContext { .. } => (
                TlsFailure::Expired,
                "the server's certificate is not valid yet (or this machine's clock is wrong)"
                    .into(),
            ),
            other => (
                TlsFailure::Other,
                format!("the server's certificate was refused: {other:?}"),
            ),
        },
        rustls::Error::AlertReceived(alert) => (
            TlsFailure::Other,
            format!("the server ended the handshake with the alert {alert:?}"),
        ),
        other => (
            TlsFailure::Other,
            format!("the TLS handshake failed: {other}"),
        ),
    }
}

/// Subject, issuer, names and expiry of a DER certificate (empty fields when it does not parse).
fn cert_info(der: &CertificateDer<'_>) -> CertInfo {
    let Ok(cert) = x509_cert::Certificate::from_der(der.as_ref()) else {
        return CertInfo::default();
    };
    let tbs = &cert.tbs_certificate;
    let mut names = Vec::new();
    if let Ok(Some((_, san))) = tbs.get::<x509_cert::ext::pkix::SubjectAltName>() {
        for name in san.0 {
            match name {
                x509_cert::ext::pkix::name::GeneralName::DnsName(dns) => {
                    names.push(dns.to_string());
                }
                x509_cert::ext::pkix::name::GeneralName::IpAddress(ip) => {
                    let bytes = ip.as_bytes();
                    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
                        names.push(std::net::Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
                        names.push(std::net::Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    CertInfo {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        names,
        not_after: Some(UNIX_EPOCH + tbs.validity.not_after.to_unix_duration()),
    }
}

/// Delegates every decision to webpki's verifier and remembers the chain it was shown.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    seen: Arc<Seen>,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seen")
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        {
            let mut chain = self.seen.chain.lock().unwrap_or_else(|p| p.into_inner());
            chain.clear();
            chain.push(end_entity.clone().into_owned());
            chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
