//! STS GetCallerIdentity: do AWS know these credentials, whose are they (the account id for
//! the policy ARN), and what time does AWS say it is (the `Date` header: the clock reference).
//!
//! One signed POST (aws-sigv4's HTTP signer) to `AWS_ENDPOINT_URL_STS` (else
//! `AWS_ENDPOINT_URL`, else the regional endpoint), over HTTPS verified against the system's
//! roots (plain HTTP only when the configured endpoint says `http://`, as the tests' loopback
//! stand-in does). Bounded in time; the answer is read bounded in size.

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use iam_db_auth::AwsCredentials;
use iam_db_auth::UtcSeconds;
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

const BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
const MAX_RESPONSE: usize = 1024 * 1024;

/// Who the credentials belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallerIdentity {
    pub account: String,
    pub arn: String,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StsError {
    /// STS answered with an error (`InvalidClientTokenId`, `ExpiredToken`, ...).
    Rejected { code: String, message: String },
    /// No usable answer (network, TLS, time-out, not STS).
    Unreachable(String),
}

/// The answer, with the timing the clock check needs.
#[derive(Clone, Debug)]
pub struct Answer {
    pub result: Result<CallerIdentity, StsError>,
    /// The `Date` header, when a response came.
    pub date: Option<UtcSeconds>,
    /// Local time halfway between sending and receiving.
    pub local_mid: SystemTime,
    pub round_trip: Duration,
}

/// The endpoint to ask and the region to sign for.
pub fn endpoint(region: Option<&str>, env: impl Fn(&str) -> Option<String>) -> (String, String) {
    let signing_region = region.unwrap_or("us-east-1").to_string();
    let ignore =
        env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !ignore {
        for var in ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"] {
            if let Some(url) = env(var).filter(|v| !v.is_empty()) {
                return (url, signing_region);
            }
        }
    }
    let url = match region {
        Some(r) if r.starts_with("cn-") => format!("https://sts.{r}.amazonaws.com.cn"),
        Some(r) => format!("https://sts.{r}.amazonaws.com"),
        None => "https://sts.amazonaws.com".into(),
    };
    (url, signing_region)
}

/// Calls GetCallerIdentity at `url`, signed for `region`, within `timeout`.
pub fn get_caller_identity(
    credentials: &AwsCredentials,
    url: &str,
    region: &str,
    timeout: Duration,
) -> Answer {
    let started = Instant::now();
    let sent_at = SystemTime::now();
    let mut answer = Answer {
        result: Err(StsError::Unreachable(String::new())),
        date: None,
        local_mid: sent_at,
        round_trip: Duration::ZERO,
    };
    match exchange(credentials, url, region, started + timeout) {
        Ok((status, date, body)) => {
            answer.round_trip = started.elapsed();
            answer.local_mid = sent_at + answer.round_trip / 2;
            answer.date = date;
            answer.result = parse(status, &body);
        }
        Err(e) => {
            answer.round_trip = started.elapsed();
            answer.result = Err(StsError::Unreachable(e));
        }
    }
    answer
}

/// The parts of an endpoint URL: scheme is http or https.
struct Url {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

fn parse_url(url: &str) -> Result<Url, String> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!(
            "the STS endpoint {url} is not an http:// or https:// URL"
        ));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let default_port = if https { 443 } else { 80 };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("an IPv6 host without ]")?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| format!("bad port in {url}"))?,
            None => default_port,
        };
        (h.to_string(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| format!("bad port in {url}"))?,
            ),
            None => (authority.to_string(), default_port),
        }
    };
    if host.is_empty() {
        return Err(format!("the STS endpoint {url} names no host"));
    }
    Ok(Url {
        https,
        host,
        port,
        path: path.to_string(),
    })
}

/// Sends the signed request; returns the status, the Date header and the body.
fn exchange(
    credentials: &AwsCredentials,
    url: &str,
    region: &str,
    deadline: Instant,
) -> Result<(u16, Option<UtcSeconds>, Vec<u8>), String> {
    let parsed = parse_url(url)?;
    let host_header = match (parsed.https, parsed.port) {
        (true, 443) | (false, 80) => bracket(&parsed.host),
        (_, port) => format!("{}:{port}", bracket(&parsed.host)),
    };
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let signing = credentials.signing();
    let identity = aws_credential_types::Credentials::new(
        signing.access_key_id,
        signing.secret_access_key,
        signing.session_token.map(str::to_string),
        credentials.expires_at(),
        "iam-db-auth doctor",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("sts")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("could not sign the STS request ({e})"))?
        .into();
    let uri = format!(
        "{}://{host_header}{}",
        if parsed.https { "https" } else { "http" },
        parsed.path
    );
    let request = SignableRequest::new(
        "POST",
        uri,
        [
            ("host", host_header.as_str()),
            ("content-type", content_type),
        ]
        .into_iter(),
        SignableBody::Bytes(BODY.as_bytes()),
    )
    .map_err(|e| format!("could not sign the STS request ({e})"))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| format!("could not sign the STS request ({e})"))?
        .into_parts();
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {host_header}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nUser-Agent: iam-db-auth-doctor/{}\r\nConnection: close\r\n",
        parsed.path,
        BODY.len(),
        env!("CARGO_PKG_VERSION")
    );
    for (name, value) in instructions.headers() {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.push_str(BODY);
    let request_bytes = zeroize::Zeroizing::new(head.into_bytes());

    let left = || deadline.saturating_duration_since(Instant::now());
    let addr = resolve(&parsed.host, parsed.port, left())?;
    let socket = TcpStream::connect_timeout(&addr, left().max(Duration::from_millis(1)))
        .map_err(|e| format!("could not connect to {url} ({e})"))?;
    let _ = socket.set_read_timeout(Some(left().max(Duration::from_millis(1))));
    let _ = socket.set_write_timeout(Some(left().max(Duration::from_millis(1))));
    let response = if parsed.https {
        let config = https_config()?;
        let name = ServerName::try_from(parsed.host.clone())
            .map_err(|_| format!("{} is not a TLS server name", parsed.host))?;
        let conn =
            rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS setup: {e}"))?;
        let mut tls = rustls::StreamOwned::new(conn, socket);
        send_and_read(&mut tls, &request_bytes, deadline)
    } else {
        let mut socket = socket;
        send_and_read(&mut socket, &request_bytes, deadline)
    }
    .map_err(|e| format!("{url}: {e}"))?;
    parse_http(&response).map_err(|e| format!("{url}: {e}"))
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn resolve(host: &str, port: u16, timeout: Duration) -> Result<std::net::SocketAddr, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let target = (host.to_string(), port);
    std::thread::spawn(move || {
        let _ = tx.send(target.to_socket_addrs().map(|mut a| a.next()));
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(Some(addr))) => Ok(addr),
        Ok(Ok(None)) => Err(format!("{host} has no address")),
        Ok(Err(e)) => Err(format!("{host} does not resolve ({e})")),
        Err(_) => Err(format!("resolving {host} took too long")),
    }
}

fn https_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let loaded = rustls_native_certs::load_native_certs();
    for cert in loaded.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(
            "no trusted root certificates found on this machine (install ca-certificates)".into(),
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn send_and_read(
    stream: &mut (impl Read + Write),
    request: &[u8],
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    stream
        .write_all(request)
        .and_then(|_| stream.flush())
        .map_err(|e| format!("could not send the request ({e})"))?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if Instant::now() >= deadline {
            return Err("no complete answer in time".into());
        }
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&chunk[..n]);
                if response.len() > MAX_RESPONSE {
                    return Err(format!("the answer is larger than {MAX_RESPONSE} bytes"));
                }
                if complete(&response) {
                    break;
                }
            }
            // A peer that closes without TLS close_notify still sent its whole answer.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err("no complete answer in time".into());
            }
            Err(e) => return Err(format!("the connection broke ({e})")),
        }
    }
    Ok(response)
}

/// Whether `response` holds the whole head and a body of Content-Length bytes.
fn complete(response: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    match parsed.parse(response) {
        Ok(httparse::Status::Complete(head)) => {
            let length = parsed
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| {
                    std::str::from_utf8(h.value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                });
            length.is_some_and(|n| response.len() >= head + n)
        }
        _ => false,
    }
}

fn parse_http(response: &[u8]) -> Result<(u16, Option<UtcSeconds>, Vec<u8>), String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let head = match parsed.parse(response) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err("the answer is not an HTTP response".into()),
    };
    let status = parsed.code.unwrap_or(0);
    let header = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    let date = header("date").and_then(parse_http_date);
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let raw = &response[head..];
    let body = if chunked { dechunk(raw)? } else { raw.to_vec() };
    Ok((status, date, body))
}

fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunked body cut short")?;
        let size_text = std::str::from_utf8(&raw[..line_end]).map_err(|_| "a bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "a bad chunk size")?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = raw.get(..size).ok_or("a chunked body cut short")?;
        body.extend_from_slice(chunk);
        raw = raw.get(size + 2..).ok_or("a chunked body cut short")?;
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110's IMF-fixdate).
pub fn parse_http_date(text: &str) -> Option<UtcSeconds> {
    let rest = text.trim().split_once(", ")?.1;
    let mut parts = rest.split_whitespace();
    let (day, month, year, time, zone) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if zone != "GMT" {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let day: u32 = day.parse().ok()?;
    UtcSeconds::parse_rfc3339(&format!("{year}-{month:02}-{day:02}T{time}Z"))
}

/// The identity or the error in an STS answer.
fn parse(status: u16, body: &[u8]) -> Result<CallerIdentity, StsError> {
    let text = String::from_utf8_lossy(body);
    if status == 200 {
        let account = element(&text, "Account");
        let arn = element(&text, "Arn");
        return match (account, arn) {
            (Some(account), Some(arn)) => Ok(CallerIdentity { account, arn }),
            _ => Err(StsError::Unreachable(
                "HTTP 200 without an Account and Arn: is this an STS endpoint?".into(),
            )),
        };
    }
    match element(&text, "Code") {
        Some(code) => Err(StsError::Rejected {
            code,
            message: element(&text, "Message").unwrap_or_default(),
        }),
        None => Err(StsError::Unreachable(format!(
            "HTTP {status} without an STS error code: is this an STS endpoint?"
        ))),
    }
}

/// The text of the first `<tag>...</tag>` (STS answers are small, flat XML), unescaped.
fn element(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    let value = xml[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    Some(value.chars().take(512).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_follows_the_aws_settings() {
        let none = |_: &str| None;
        assert_eq!(
            endpoint(Some("eu-west-1"), none).0,
            "https://sts.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint(Some("cn-north-1"), none).0,
            "https://sts.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            endpoint(None, none),
            ("https://sts.amazonaws.com".into(), "us-east-1".into())
        );
        let set =
            |name: &str| (name == "AWS_ENDPOINT_URL_STS").then(|| "http://127.0.0.1:9".to_string());
        assert_eq!(endpoint(Some("eu-west-1"), set).0, "http://127.0.0.1:9");
        let ignored = |name: &str| match name {
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" => Some("true".to_string()),
            _ => Some("http://127.0.0.1:9".to_string()),
        };
        assert_eq!(
            endpoint(Some("eu-west-1"), ignored).0,
            "https://sts.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn answers_and_errors_are_read() {
        let ok = b"<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/a&amp;b</Arn><UserId>AIDA</UserId><Account>123456789012</Account></GetCallerIdentityResult></GetCallerIdentityResponse>";
        assert_eq!(
            parse(200, ok),
            Ok(CallerIdentity {
                account: "123456789012".into(),
                arn: "arn:aws:iam::123456789012:user/a&b".into()
            })
        );
        let err = b"<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error></ErrorResponse>";
        assert!(
            matches!(parse(403, err), Err(StsError::Rejected { code, .. }) if code == "ExpiredToken")
        );
        assert!(matches!(
            parse(502, b"bad gateway"),
            Err(StsError::Unreachable(_))
        ));
    }

    #[test]
    fn http_dates_and_chunks_parse() {
        assert_eq!(
            parse_http_date("Sun, 29 Nov 2026 07:44:40 GMT")
                .map(UtcSeconds::rfc3339)
                .as_deref(),
            Some("2026-11-29T07:44:40Z")
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        let url = parse_url("http://[::1]:8080/sts").unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.path.as_str()),
            ("::1", 8080, "/sts")
        );
    }
}
