//! The ECS/EKS container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI`), asked by our own small HTTP/1.1 client: one attempt,
//! [`METADATA_TIMEOUT`] to connect and as much to read the answer. aws-config's provider
//! hard-codes its own bounds (2 s connect, 5 s read, 3 attempts: 10-17 s for a stalled
//! endpoint), which are not the ones we document.
//!
//! As aws-config: a relative URI goes to 169.254.170.2; a full `http` URI must name a loopback
//! address or the ECS/EKS link-local ones (given as an IP address or `localhost`, so no name
//! lookup can stall). A full `https` URI is handed to aws-config's provider, as it needs TLS.
//! The authorization token comes from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read bounded)
//! or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.

use super::{METADATA_TIMEOUT, Source, document};
use crate::credentials::redact::scrub;
use aws_config::ecs::EcsCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The most of an answer read, bytes: a credentials document is about 1-2 KiB.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// The largest authorization token file read, bytes.
const MAX_TOKEN_BYTES: u64 = 16 * 1024;
/// Where a relative URI is asked (ECS).
const ECS_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 170, 2);

/// The container endpoint source: skipped for a while after a failure.
pub(crate) fn build(config: &ProviderConfig) -> Source {
    let https = EcsCredentialsProvider::builder()
        .configure(config)
        .connect_timeout(METADATA_TIMEOUT)
        .read_timeout(METADATA_TIMEOUT)
        .build();
    Source::with_back_off(
        "container endpoint (ECS/EKS)".into(),
        SharedCredentialsProvider::new(ContainerEndpoint { https }),
    )
}

#[derive(Debug)]
struct ContainerEndpoint {
    /// For a full `https` URI only.
    https: EcsCredentialsProvider,
}

impl ProvideCredentials for ContainerEndpoint {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        let relative = var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
        let full = var("AWS_CONTAINER_CREDENTIALS_FULL_URI");
        if relative.is_none()
            && full
                .as_deref()
                .is_some_and(|u| u.to_ascii_lowercase().starts_with("https://"))
        {
            return self.https.provide_credentials();
        }
        future::ProvideCredentials::new(async move {
            let target = match (relative, full) {
                (Some(path), _) => Target {
                    addr: SocketAddr::new(IpAddr::V4(ECS_ADDRESS), 80),
                    host: ECS_ADDRESS.to_string(),
                    path,
                },
                (None, Some(uri)) => {
                    target(&uri).map_err(CredentialsError::invalid_configuration)?
                }
                (None, None) => {
                    return Err(CredentialsError::not_loaded(
                        "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set",
                    ));
                }
            };
            let token = authorization().map_err(CredentialsError::invalid_configuration)?;
            let body = get(&target, token.as_deref().map(|t| t.as_str()))
                .await
                .map_err(CredentialsError::provider_error)?;
            let parsed = document::parse(&body, "ContainerEndpoint");
            zeroize::Zeroize::zeroize(&mut { body });
            parsed.map_err(CredentialsError::provider_error)
        })
    }
}

/// Where to send the request.
#[derive(Debug, PartialEq)]
struct Target {
    addr: SocketAddr,
    /// The `Host` header.
    host: String,
    /// Path and query.
    path: String,
}

/// The target of a full `http` URI, if its host is one aws-config allows.
fn target(uri: &str) -> Result<Target, String> {
    let shown = || scrub(uri);
    let rest = uri.strip_prefix("http://").ok_or_else(|| {
        format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI {} is not an http or https URI",
            shown()
        )
    })?;
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (
            host,
            port.parse::<u16>().map_err(|_| {
                format!(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI {} has a bad port",
                    shown()
                )
            })?,
        ),
        _ => (authority, 80),
    };
    let ip = match host.trim_start_matches('[').trim_end_matches(']') {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        literal => literal.parse::<IpAddr>().map_err(|_| {
            format!(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI {} must name a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23 (as an IP address or localhost)",
                shown()
            )
        })?,
    };
    if !allowed(ip) {
        return Err(format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI {} names a host that is not allowed: an http endpoint must be loopback, 169.254.170.2, 169.254.170.23 or fd00:ec2::23",
            shown()
        ));
    }
    if path.contains(['\r', '\n', ' ']) {
        return Err(format!(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI {} has a bad path",
            shown()
        ));
    }
    Ok(Target {
        addr: SocketAddr::new(ip, port),
        host: authority.to_string(),
        path,
    })
}

/// The hosts aws-config allows for an `http` full URI.
fn allowed(ip: IpAddr) -> bool {
    const EKS_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x23);
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4 == ECS_ADDRESS || v4 == Ipv4Addr::new(169, 254, 170, 23)
        }
        IpAddr::V6(v6) => v6.is_loopback() || v6 == EKS_V6,
    }
}

/// The authorization token, if one is configured: the file wins over the variable.
fn authorization() -> Result<Option<zeroize::Zeroizing<String>>, String> {
    let token = match std::env::var_os("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        .filter(|p| !p.is_empty())
    {
        Some(path) => {
            let path = std::path::PathBuf::from(path);
            let text = crate::files::read_regular_text(&path, MAX_TOKEN_BYTES).map_err(|e| {
                format!(
                    "{} (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) {e}",
                    path.display()
                )
            })?;
            zeroize::Zeroizing::new(text)
        }
        None => match std::env::var("AWS_CONTAINER_AUTHORIZATION_TOKEN") {
            Ok(token) if !token.is_empty() => zeroize::Zeroizing::new(token),
            _ => return Ok(None),
        },
    };
    // Taken as it is, as aws-config takes it: a line break would end the header early.
    if token.contains(['\r', '\n']) {
        return Err("the container authorization token has a line break in it".into());
    }
    Ok(Some(token))
}

/// One GET, bounded: [`METADATA_TIMEOUT`] to connect, as much for the whole answer, at most
/// [`MAX_ANSWER_BYTES`] of it; the body of a 200 answer, else an error naming the status.
async fn get(target: &Target, token: Option<&str>) -> Result<Vec<u8>, String> {
    let ms = METADATA_TIMEOUT.as_millis();
    let mut stream = tokio::time::timeout(
        METADATA_TIMEOUT,
        tokio::net::TcpStream::connect(target.addr),
    )
    .await
    .map_err(|_| format!("no connection to {} within {ms} ms", target.addr))?
    .map_err(|e| format!("cannot connect to {}: {e}", target.addr))?;
    let mut request = zeroize::Zeroizing::new(format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\nUser-Agent: iam-db-auth\r\nConnection: close\r\n",
        target.path, target.host
    ));
    if let Some(token) = token {
        request.push_str(&format!("Authorization: {token}\r\n"));
    }
    request.push_str("\r\n");
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        (&mut stream)
            .take(MAX_ANSWER_BYTES + 1)
            .read_to_end(&mut answer)
            .await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(METADATA_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{} did not answer within {ms} ms", target.addr))?
        .map_err(|e| format!("talking to {} failed: {e}", target.addr))?;
    if answer.len() as u64 > MAX_ANSWER_BYTES {
        return Err(format!(
            "{} answered more than {MAX_ANSWER_BYTES} bytes",
            target.addr
        ));
    }
    parse_answer(answer)
}

/// The body of an HTTP/1.1 answer with status 200 (`Content-Length`, chunked, or to the end).
fn parse_answer(answer: Vec<u8>) -> Result<Vec<u8>, String> {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer is not HTTP")?;
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let mut body = answer[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("the answer is not HTTP")?;
    let mut chunked = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                let len: usize = value
                    .parse()
                    .map_err(|_| "the answer has a bad Content-Length")?;
                body.truncate(len);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    if chunked {
        body = dechunk(&body).ok_or("the answer's chunked body is malformed")?;
    }
    if status != 200 {
        let said = String::from_utf8_lossy(&body);
        let said = crate::endpoint::shorten_to(
            &said.split_whitespace().collect::<Vec<_>>().join(" "),
            200,
        );
        zeroize::Zeroize::zeroize(&mut body);
        return Err(scrub(&format!(
            "the endpoint answered HTTP {status}: {said}"
        )));
    }
    Ok(body)
}

/// A chunked body, joined.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hosts_aws_config_allows_are_asked() {
        let t = target("http://127.0.0.1:8080/v1/credentials?x=1").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            (t.host.as_str(), t.path.as_str()),
            ("127.0.0.1:8080", "/v1/credentials?x=1")
        );
        assert_eq!(
            target("http://localhost/x").unwrap().addr,
            "127.0.0.1:80".parse().unwrap()
        );
        assert_eq!(
            target("http://[::1]:9/").unwrap().addr,
            "[::1]:9".parse().unwrap()
        );
        assert!(target("http://169.254.170.23/v1").is_ok());
        assert!(target("http://[fd00:ec2::23]/v1").is_ok());
        for bad in [
            "http://10.0.0.1/x",
            "http://example.com/x",
            "ftp://127.0.0.1/",
            "http://127.0.0.1:x/",
        ] {
            assert!(target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn answers_are_read_by_length_chunks_or_to_the_end() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}junk".to_vec();
        assert_eq!(parse_answer(ok).unwrap(), b"{}");
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{\"\r\n1\r\n}\r\n0\r\n\r\n"
                .to_vec();
        assert_eq!(parse_answer(chunked).unwrap(), b"{\"}");
        let to_end = b"HTTP/1.0 200 OK\r\n\r\n{}".to_vec();
        assert_eq!(parse_answer(to_end).unwrap(), b"{}");
        let denied = b"HTTP/1.1 401 Unauthorized\r\n\r\n{\"Code\":\"AccessDenied\"}".to_vec();
        let err = parse_answer(denied).unwrap_err();
        assert!(
            err.contains("HTTP 401") && err.contains("AccessDenied"),
            "{err}"
        );
    }
}
