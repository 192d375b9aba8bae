//! Does a server's certificate chain prove it is a given host? The chain the server sent
//! (leaf first, then the intermediates it chose to send) must lead to one of the CA
//! certificates, be valid now, be meant for TLS servers, and the leaf must be valid for one of
//! the names (DNS names and IP addresses, from its subjectAltName, as browsers and libpq's
//! verify-full check them). rustls-webpki does the work; revocation is not checked (neither
//! libpq nor Connector/C checks it by default).

use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::time::SystemTime;
use webpki::{EndEntityCert, KeyUsage};

/// Why a chain was not accepted, in words for the message a user reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The chain does not lead to a trusted CA, is out of its validity dates, or is malformed.
    Untrusted(String),
    /// The chain is trusted, but the leaf is valid for none of the names.
    WrongName {
        /// The names the certificate is valid for.
        presented: Vec<String>,
    },
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Untrusted(why) => f.write_str(why),
            Rejection::WrongName { presented } if presented.is_empty() => {
                f.write_str("its certificate names no host (no subjectAltName)")
            }
            Rejection::WrongName { presented } => {
                write!(f, "its certificate is for {}", presented.join(", "))
            }
        }
    }
}

/// Verifies `chain` (DER, leaf first) against the CA certificates `anchors` at `now`, and
/// returns the first of `names` the leaf is valid for.
pub fn verify_server<'n>(
    anchors: &[CertificateDer<'_>],
    chain: &[CertificateDer<'_>],
    names: &[&'n str],
    now: SystemTime,
) -> Result<&'n str, Rejection> {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err(Rejection::Untrusted(
            "the server sent no certificate".into(),
        ));
    };
    let anchors: Vec<_> = anchors
        .iter()
        .filter_map(|ca| webpki::anchor_from_trusted_cert(ca).ok())
        .collect();
    let leaf = EndEntityCert::try_from(leaf)
        .map_err(|e| Rejection::Untrusted(format!("its certificate cannot be read ({e})")))?;
    let since_epoch = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    leaf.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &anchors,
        intermediates,
        UnixTime::since_unix_epoch(since_epoch),
        KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| Rejection::Untrusted(explain(&e)))?;
    let mut presented = Vec::new();
    for name in names {
        let Ok(server_name) = ServerName::try_from(bare(name)) else {
            continue;
        };
        match leaf.verify_is_valid_for_subject_name(&server_name) {
            Ok(()) => return Ok(name),
            Err(webpki::Error::CertNotValidForName(context)) => {
                presented = context.presented.iter().map(|n| readable(n)).collect()
            }
            Err(_) => {}
        }
    }
    Err(Rejection::WrongName { presented })
}

/// An IPv6 literal without the brackets a token's host carries.
fn bare(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// webpki lists presented names as `DnsName("db.example.com")` and `IpAddress(127.0.0.1)`;
/// a message shows the name.
fn readable(presented: &str) -> String {
    let inner = presented
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        });
    inner.unwrap_or(presented).to_string()
}

fn explain(error: &webpki::Error) -> String {
    use webpki::Error as E;
    match error {
        E::UnknownIssuer => "its certificate is not signed by a trusted CA".into(),
        E::CertExpired { .. } => "its certificate has expired".into(),
        E::CertNotValidYet { .. } => "its certificate is not valid yet".into(),
        E::InvalidCertValidity => "its certificate has invalid validity dates".into(),
        E::CaUsedAsEndEntity => {
            "it presented a CA certificate as its own (a self-signed CA, not a server certificate)"
                .into()
        }
        E::RequiredEkuNotFoundContext(_) => {
            "its certificate is not meant for TLS servers (extended key usage)".into()
        }
        other => format!("its certificate chain does not verify ({other:?})"),
    }
}

#[cfg(test)]
mod tests {
    //! Chains made by the openssl command line (tests/ca/make.sh), committed under tests/ca:
    //! valid from 2026 to 2126 (and one that expired in 2026), so the tests pin the time.
    use super::*;
    use crate::ca::parse_pem;
    use std::time::Duration;

    fn pem(name: &str) -> Vec<CertificateDer<'static>> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/ca")
            .join(name);
        parse_pem(&std::fs::read(&path).unwrap()).unwrap()
    }

    /// 2027-01-01: inside every test certificate's validity except `expired.pem`'s.
    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_798_761_600)
    }

    const RDS: &str = "mydb.c9akciq32.us-east-1.rds.amazonaws.com";

    #[test]
    fn a_chain_through_an_intermediate_verifies_for_its_names() {
        let ca = pem("root.pem");
        let chain = pem("server-chain.pem");
        assert_eq!(verify_server(&ca, &chain, &[RDS], now()), Ok(RDS));
        assert_eq!(
            verify_server(&ca, &chain, &["[::1]"], now()),
            Ok("[::1]"),
            "IPv6 literals in brackets are checked as addresses"
        );
        assert_eq!(
            verify_server(&ca, &chain, &["other.example.com", "127.0.0.1"], now()),
            Ok("127.0.0.1")
        );
    }

    #[test]
    fn a_wrong_name_is_refused_with_the_names_presented() {
        let err = verify_server(
            &pem("root.pem"),
            &pem("server-chain.pem"),
            &["evil.example.com"],
            now(),
        )
        .unwrap_err();
        let Rejection::WrongName { presented } = &err else {
            panic!("{err:?}")
        };
        assert!(presented.iter().any(|n| n == RDS), "{presented:?}");
        assert!(err.to_string().contains(RDS), "{err}");
    }

    #[test]
    fn an_untrusted_issuer_a_missing_intermediate_and_self_signed_servers_are_refused() {
        let chain = pem("server-chain.pem");
        // Another CA.
        let err = verify_server(&pem("other-root.pem"), &chain, &[RDS], now()).unwrap_err();
        assert!(
            matches!(err, Rejection::Untrusted(ref m) if m.contains("not signed by a trusted CA")),
            "{err:?}"
        );
        // The leaf without the intermediate the server should have sent.
        let err = verify_server(&pem("root.pem"), &chain[..1], &[RDS], now()).unwrap_err();
        assert!(matches!(err, Rejection::Untrusted(_)), "{err:?}");
        // A self-signed server certificate, even given as the CA.
        let self_signed = pem("self-signed.pem");
        let err = verify_server(&pem("root.pem"), &self_signed, &[RDS], now()).unwrap_err();
        assert!(matches!(err, Rejection::Untrusted(_)), "{err:?}");
        let err = verify_server(&self_signed, &self_signed, &[RDS], now()).unwrap_err();
        assert!(matches!(err, Rejection::Untrusted(_)), "{err:?}");
        // Nothing at all.
        let err = verify_server(&pem("root.pem"), &[], &[RDS], now()).unwrap_err();
        assert_eq!(
            err,
            Rejection::Untrusted("the server sent no certificate".into())
        );
    }

    #[test]
    fn validity_dates_count() {
        let err = verify_server(&pem("root.pem"), &pem("expired.pem"), &[RDS], now()).unwrap_err();
        assert_eq!(
            err,
            Rejection::Untrusted("its certificate has expired".into())
        );
        let before = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023
        let err =
            verify_server(&pem("root.pem"), &pem("server-chain.pem"), &[RDS], before).unwrap_err();
        assert!(matches!(err, Rejection::Untrusted(_)), "{err:?}");
    }

    #[test]
    fn the_built_in_bundle_does_not_trust_a_private_ca() {
        let bundle = crate::ca::Bundle::load(crate::ca::Source::BuiltIn).unwrap();
        let err = verify_server(
            bundle.certificates(),
            &pem("server-chain.pem"),
            &[RDS],
            now(),
        )
        .unwrap_err();
        assert!(matches!(err, Rejection::Untrusted(_)), "{err:?}");
    }
}
