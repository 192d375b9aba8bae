//! The client-facing leg's wire format: the untagged first packets a client sends (SSLRequest,
//! GSSENCRequest, CancelRequest, StartupMessage), the tagged messages it sends while
//! authenticating, and the backend messages the proxy writes itself. postgres-protocol has the
//! client's writers and the server's readers (the upstream leg); this is the other direction.
//!
//! Parsing is pure (`parse_first`, `parse_sasl_initial`), so the fuzz target reaches all of it;
//! reading is bounded by a length cap per packet.

use bytes::{BufMut, BytesMut};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

pub const SSL_REQUEST_CODE: i32 = 80_877_103;
pub const GSSENC_REQUEST_CODE: i32 = 80_877_104;
pub const CANCEL_REQUEST_CODE: i32 = 80_877_102;
/// The protocol the proxy speaks on both legs: 3.0.
pub const PROTOCOL_MAJOR: u16 = 3;

/// The server's own cap on a startup packet (`MAX_STARTUP_PACKET_LENGTH`).
pub const MAX_STARTUP_LEN: usize = 10_000;
/// A cap on what a client sends while authenticating (SCRAM messages are about 100 bytes).
pub const MAX_AUTH_MESSAGE_LEN: usize = 8_192;

/// The first packet of a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstPacket {
    SslRequest,
    GssEncRequest,
    Cancel { process_id: i32, secret_key: i32 },
    Startup(Startup),
}

/// A StartupMessage: the protocol version asked for and the parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Startup {
    pub major: u16,
    pub minor: u16,
    /// Every parameter but the protocol options, in the client's order.
    pub params: Vec<(String, String)>,
    /// `_pq_.*` protocol options: the proxy speaks 3.0 and supports none of them.
    pub protocol_options: Vec<String>,
}

impl Startup {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a first packet's body (what follows the length word).
pub fn parse_first(body: &[u8]) -> Result<FirstPacket, String> {
    if body.len() < 4 {
        return Err("a packet shorter than its protocol code".into());
    }
    let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
    let rest = &body[4..];
    match code {
        SSL_REQUEST_CODE | GSSENC_REQUEST_CODE if !rest.is_empty() => {
            Err("an SSLRequest or GSSENCRequest with trailing bytes".into())
        }
        SSL_REQUEST_CODE => Ok(FirstPacket::SslRequest),
        GSSENC_REQUEST_CODE => Ok(FirstPacket::GssEncRequest),
        CANCEL_REQUEST_CODE => {
            // Protocol 3.0 keys are 4 bytes; the proxy hands out no other kind.
            if rest.len() != 8 {
                return Err(format!(
                    "a CancelRequest with a {}-byte key (the proxy hands out 4-byte keys)",
                    rest.len().saturating_sub(4)
                ));
            }
            Ok(FirstPacket::Cancel {
                process_id: i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]),
                secret_key: i32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]),
            })
        }
        _ => parse_startup(code, rest).map(FirstPacket::Startup),
    }
}

fn parse_startup(code: i32, mut rest: &[u8]) -> Result<Startup, String> {
    let major = (code >> 16) as u16;
    let minor = (code & 0xffff) as u16;
    if major != PROTOCOL_MAJOR {
        return Err(format!(
            "unsupported frontend protocol {major}.{minor}: the proxy speaks 3.0"
        ));
    }
    let mut params = Vec::new();
    let mut protocol_options = Vec::new();
    loop {
        let name = take_cstr(&mut rest).ok_or("a startup packet without its terminator")?;
        if name.is_empty() {
            break;
        }
        let value = take_cstr(&mut rest).ok_or("a startup parameter without a value")?;
        let name = std::str::from_utf8(name).map_err(|_| "a parameter name that is not UTF-8")?;
        let value = std::str::from_utf8(value)
            .map_err(|_| format!("the value of parameter '{name}' is not UTF-8"))?;
        if name.starts_with("_pq_.") {
            protocol_options.push(name.to_owned());
        } else {
            params.push((name.to_owned(), value.to_owned()));
        }
    }
    if !rest.is_empty() {
        return Err("bytes after the startup packet's terminator".into());
    }
    Ok(Startup {
        major,
        minor,
        params,
        protocol_options,
    })
}

/// Takes a NUL-terminated string off the front of `buf`.
fn take_cstr<'a>(buf: &mut &'a [u8]) -> Option<&'a [u8]> {
    let end = buf.iter().position(|&b| b == 0)?;
    let s = &buf[..end];
    *buf = &buf[end + 1..];
    Some(s)
}

/// A SASLInitialResponse's body: the mechanism and the client's first message.
pub fn parse_sasl_initial(body: &[u8]) -> Result<(&str, &[u8]), String> {
    let mut rest = body;
    let mechanism = take_cstr(&mut rest).ok_or("a SASLInitialResponse without its mechanism")?;
    let mechanism =
        std::str::from_utf8(mechanism).map_err(|_| "a SASL mechanism name that is not UTF-8")?;
    if rest.len() < 4 {
        return Err("a SASLInitialResponse without its length".into());
    }
    let len = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let data = &rest[4..];
    if len < 0 || len as usize != data.len() {
        return Err("a SASLInitialResponse whose length does not match".into());
    }
    Ok((mechanism, data))
}

/// Reads an untagged first packet's body: length word (itself included), then the body.
pub async fn read_first<R: AsyncRead + Unpin + ?Sized>(io: &mut R) -> io::Result<Vec<u8>> {
    let len = io.read_i32().await?;
    if len < 8 || len as usize > MAX_STARTUP_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a first packet of {len} bytes (8 to {MAX_STARTUP_LEN} allowed)"),
        ));
    }
    let mut body = vec![0; len as usize - 4];
    io.read_exact(&mut body).await?;
    Ok(body)
}

/// Reads a tagged message: its tag and body, at most `max` bytes of body.
pub async fn read_tagged<R: AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    max: usize,
) -> io::Result<(u8, Vec<u8>)> {
    let tag = io.read_u8().await?;
    let len = io.read_i32().await?;
    if len < 4 || (len as usize - 4) > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a '{}' message of {len} bytes (at most {max})",
                tag.escape_ascii()
            ),
        ));
    }
    let mut body = vec![0; len as usize - 4];
    io.read_exact(&mut body).await?;
    Ok((tag, body))
}

/// Reads a backend message whole (tag and length word included), at most `max` bytes of body,
/// for postgres-protocol's parser and for relaying as it came.
pub async fn read_backend<R: AsyncRead + Unpin + ?Sized>(
    io: &mut R,
    max: usize,
) -> io::Result<BytesMut> {
    let mut head = [0u8; 5];
    io.read_exact(&mut head).await?;
    let len = i32::from_be_bytes([head[1], head[2], head[3], head[4]]);
    if len < 4 || (len as usize - 4) > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a '{}' message of {len} bytes from the server (at most {max})",
                head[0].escape_ascii()
            ),
        ));
    }
    let mut frame = BytesMut::with_capacity(len as usize + 1);
    frame.extend_from_slice(&head);
    frame.resize(len as usize + 1, 0);
    io.read_exact(&mut frame[5..]).await?;
    Ok(frame)
}

/// Writes a tagged message whose body `body` fills.
fn message(tag: u8, buf: &mut BytesMut, body: impl FnOnce(&mut BytesMut)) {
    buf.put_u8(tag);
    let at = buf.len();
    buf.put_i32(0);
    body(buf);
    let len = (buf.len() - at) as i32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn put_cstr(buf: &mut BytesMut, s: &str) {
    // A NUL inside would end the field early: the messages the proxy writes never hold one,
    // and text from elsewhere (a server's message) is cut at it.
    let s = s.split('\0').next().unwrap_or_default();
    buf.put_slice(s.as_bytes());
    buf.put_u8(0);
}

/// ErrorResponse, severity FATAL.
pub fn error_response(sqlstate: &str, text: &str, buf: &mut BytesMut) {
    message(b'E', buf, |buf| {
        for (field, value) in [
            (b'S', "FATAL"),
            (b'V', "FATAL"),
            (b'C', sqlstate),
            (b'M', text),
        ] {
            buf.put_u8(field);
            put_cstr(buf, value);
        }
        buf.put_u8(0);
    });
}

/// An Authentication message: `code` and its data (0 Ok, 10 SASL, 11 SASLContinue, 12 SASLFinal).
pub fn authentication(code: i32, data: &[u8], buf: &mut BytesMut) {
    message(b'R', buf, |buf| {
        buf.put_i32(code);
        buf.put_slice(data);
    });
}

pub fn backend_key_data(process_id: i32, secret_key: i32, buf: &mut BytesMut) {
    message(b'K', buf, |buf| {
        buf.put_i32(process_id);
        buf.put_i32(secret_key);
    });
}

/// NegotiateProtocolVersion: the newest minor version of 3 the proxy speaks (0) and the
/// protocol options it did not recognise.
pub fn negotiate_protocol_version(options: &[String], buf: &mut BytesMut) {
    message(b'v', buf, |buf| {
        buf.put_i32(i32::from(PROTOCOL_MAJOR) << 16);
        buf.put_i32(options.len() as i32);
        for option in options {
            put_cstr(buf, option);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup_body(params: &[(&str, &str)], version: i32) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        for (n, v) in params {
            body.extend_from_slice(n.as_bytes());
            body.push(0);
            body.extend_from_slice(v.as_bytes());
            body.push(0);
        }
        body.push(0);
        body
    }

    #[test]
    fn startup_parameters_and_protocol_options() {
        let body = startup_body(
            &[
                ("user", "app"),
                ("database", "sales"),
                ("_pq_.test", "1"),
                ("options", "-c x=y"),
            ],
            0x0003_0002,
        );
        let FirstPacket::Startup(s) = parse_first(&body).unwrap() else {
            panic!("not a startup packet")
        };
        assert_eq!((s.major, s.minor), (3, 2));
        assert_eq!(s.get("user"), Some("app"));
        assert_eq!(s.get("options"), Some("-c x=y"));
        assert_eq!(s.params.len(), 3);
        assert_eq!(s.protocol_options, vec!["_pq_.test".to_owned()]);
    }

    #[test]
    fn requests_and_bad_packets() {
        assert_eq!(
            parse_first(&SSL_REQUEST_CODE.to_be_bytes()),
            Ok(FirstPacket::SslRequest)
        );
        assert_eq!(
            parse_first(&GSSENC_REQUEST_CODE.to_be_bytes()),
            Ok(FirstPacket::GssEncRequest)
        );
        let mut cancel = CANCEL_REQUEST_CODE.to_be_bytes().to_vec();
        cancel.extend_from_slice(&7i32.to_be_bytes());
        cancel.extend_from_slice(&(-9i32).to_be_bytes());
        assert_eq!(
            parse_first(&cancel),
            Ok(FirstPacket::Cancel {
                process_id: 7,
                secret_key: -9
            })
        );
        cancel.push(0);
        assert!(parse_first(&cancel).is_err());
        assert!(parse_first(&startup_body(&[("user", "a")], 0x0002_0000)).is_err());
        let mut unterminated = startup_body(&[("user", "a")], 0x0003_0000);
        unterminated.pop();
        assert!(parse_first(&unterminated).is_err());
        assert!(parse_first(&[0, 3]).is_err());
    }

    #[test]
    fn sasl_initial_response() {
        let mut body = b"SCRAM-SHA-256\0".to_vec();
        body.extend_from_slice(&3i32.to_be_bytes());
        body.extend_from_slice(b"abc");
        assert_eq!(
            parse_sasl_initial(&body),
            Ok(("SCRAM-SHA-256", &b"abc"[..]))
        );
        body.push(b'x');
        assert!(parse_sasl_initial(&body).is_err());
    }

    #[test]
    fn error_response_is_parsed_back_by_postgres_protocol() {
        use fallible_iterator::FallibleIterator;
        use postgres_protocol::message::backend::Message;
        let mut buf = BytesMut::new();
        error_response("08006", "upstream down\0hidden", &mut buf);
        let Some(Message::ErrorResponse(body)) = Message::parse(&mut buf).unwrap() else {
            panic!("not an ErrorResponse")
        };
        let fields: Vec<(u8, String)> = body
            .fields()
            .map(|f| {
                Ok((
                    f.type_(),
                    String::from_utf8_lossy(f.value_bytes()).into_owned(),
                ))
            })
            .collect()
            .unwrap();
        assert!(fields.contains(&(b'C', "08006".into())));
        assert!(fields.contains(&(b'M', "upstream down".into())));
        assert!(fields.contains(&(b'S', "FATAL".into())));
    }
}
