//! One HTTPS GET, verified against the system's roots (`SSL_CERT_FILE`/`SSL_CERT_DIR` honoured,
//! as OpenSSL does), bounded in time and size: what `ca update` needs to fetch the RDS bundle,
//! and nothing more (no proxy, no redirects, HTTP/1.1 only).

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A URL this client fetches: `https://host[:port]/path`.
#[derive(Debug, PartialEq, Eq)]
pub struct HttpsUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl HttpsUrl {
    /// Parses an `https://` URL (no user info; IPv6 literals in brackets).
    pub fn parse(url: &str) -> Result<HttpsUrl, String> {
        let rest = url
            .strip_prefix("https://")
            .ok_or_else(|| format!("'{url}' is not an https:// URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("'{url}' has no host, or has user info"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("'{port}' in '{url}' is not a port"))?;
                (host, port)
            }
            _ => (authority, 443),
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if path.contains(|c: char| c.is_ascii_control() || c == ' ') {
            return Err(format!(
                "'{url}' has spaces or control characters in its path"
            ));
        }
        Ok(HttpsUrl {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

/// Fetches `url`'s body (status 200 only), at most `max_bytes`, within `timeout` overall.
pub fn get(url: &HttpsUrl, timeout: Duration, max_bytes: usize) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + timeout;
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("timed out after {} s", timeout.as_secs_f32()))
    };
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if roots.is_empty() {
        return Err(
            "no trusted root certificates on this system (SSL_CERT_FILE, /etc/ssl/certs)".into(),
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(url.host.clone())
        .map_err(|_| format!("'{}' is not a host name", url.host))?;
    let connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;

    let address = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", url.host))?
        .next()
        .ok_or_else(|| format!("{} has no address", url.host))?;
    let tcp = TcpStream::connect_timeout(&address, left()?)
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let io = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            format!("timed out after {} s", timeout.as_secs_f32())
        } else {
            e.to_string()
        }
    };
    tls.sock.set_write_timeout(Some(left()?)).map_err(io)?;
    tls.sock.set_read_timeout(Some(left()?)).map_err(io)?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: iam-db-auth/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path,
        host_header(url),
        env!("CARGO_PKG_VERSION")
    );
    tls.write_all(request.as_bytes()).map_err(io)?;
    tls.flush().map_err(io)?;

    let mut response = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let complete = loop {
        tls.sock.set_read_timeout(Some(left()?)).map_err(io)?;
        match tls.read(&mut buffer) {
            Ok(0) => break true,
            Ok(n) => {
                response.extend_from_slice(&buffer[..n]);
                if response.len() > max_bytes + 64 * 1024 {
                    return Err(format!("the response is larger than {} bytes", max_bytes));
                }
            }
            // A server that closes without TLS close_notify: the body is complete only if its
            // length says so (checked below).
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break false,
            Err(e) => return Err(io(e)),
        }
    };
    parse_response(&response, complete, max_bytes)
}

fn host_header(url: &HttpsUrl) -> String {
    let host = if url.host.contains(':') {
        format!("[{}]", url.host)
    } else {
        url.host.clone()
    };
    if url.port == 443 {
        host
    } else {
        format!("{host}:{}", url.port)
    }
}

/// The body of a complete HTTP/1.1 200 response (Content-Length or chunked; without either,
/// only a connection that ended cleanly delimits it).
fn parse_response(response: &[u8], clean_end: bool, max_bytes: usize) -> Result<Vec<u8>, String> {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the server's response has no complete header")?;
    let head = String::from_utf8_lossy(&response[..end]);
    let body = &response[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let code = status.split_whitespace().nth(1).unwrap_or("");
    if !status.starts_with("HTTP/1.") || code != "200" {
        return Err(format!("the server answered '{}'", status.trim()));
    }
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(body)?
    } else if let Some(length) = header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| format!("Content-Length '{length}' is not a number"))?;
        if body.len() < length {
            return Err(format!(
                "the response ended after {} of {length} bytes",
                body.len()
            ));
        }
        body[..length].to_vec()
    } else if clean_end {
        body.to_vec()
    } else {
        return Err("the response ended without TLS close_notify and without a length".into());
    };
    if body.len() > max_bytes {
        return Err(format!("the response is larger than {max_bytes} bytes"));
    }
    Ok(body)
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunked response ended early")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("'{size_text}' is not a chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if data.len() < size + 2 {
            return Err("a chunked response ended early".into());
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            HttpsUrl::parse("https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"),
            Ok(HttpsUrl {
                host: "truststore.pki.rds.amazonaws.com".into(),
                port: 443,
                path: "/global/global-bundle.pem".into()
            })
        );
        let u = HttpsUrl::parse("https://127.0.0.1:8443/b.pem").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 8443));
        let u = HttpsUrl::parse("https://[::1]:8443").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 8443, "/")
        );
        assert_eq!(host_header(&u), "[::1]:8443");
        assert!(HttpsUrl::parse("http://example.com/x").is_err());
        assert!(HttpsUrl::parse("https://user@example.com/x").is_err());
        assert!(HttpsUrl::parse("https://example.com:0/x").is_err());
        assert!(HttpsUrl::parse("https://example.com/a b").is_err());
    }

    #[test]
    fn responses() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(parse_response(ok, false, 100).unwrap(), b"hello");
        let short = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello";
        assert!(parse_response(short, true, 100).is_err());
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked, false, 100).unwrap(), b"hello");
        let unbounded = b"HTTP/1.1 200 OK\r\n\r\nhello";
        assert_eq!(parse_response(unbounded, true, 100).unwrap(), b"hello");
        assert!(parse_response(unbounded, false, 100).is_err());
        let missing = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        assert!(
            parse_response(missing, true, 100)
                .unwrap_err()
                .contains("404")
        );
        assert!(parse_response(ok, true, 3).is_err());
    }
}
