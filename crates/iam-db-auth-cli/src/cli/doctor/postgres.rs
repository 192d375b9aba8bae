//! The PostgreSQL side of the probes, with postgres-protocol's messages: SSLRequest and its
//! one-byte answer, the startup message, the server's authentication request, the password
//! message with the token, and the answer to it.

use super::probe::{self, Ask, Login, ProbeError, ServerError, Session};
use super::tls;
use bytes::BytesMut;
use fallible_iterator::FallibleIterator as _;
use postgres_protocol::message::{backend, frontend};
use std::net::TcpStream;
use std::time::Instant;
use zeroize::Zeroize as _;

/// A server message larger than this is not part of a login.
const MAX_MESSAGE: usize = 1024 * 1024;

/// SSLRequest, then the TLS handshake for `name`.
pub fn open(
    mut socket: TcpStream,
    client: &tls::Client,
    name: &str,
    deadline: Instant,
) -> Result<Session, ProbeError> {
    let mut buf = BytesMut::new();
    frontend::ssl_request(&mut buf);
    probe::write_all(&mut socket, &buf, deadline).map_err(ProbeError::Broken)?;
    let mut answer = [0u8; 1];
    probe::read_some(&mut socket, &mut answer, deadline).map_err(ProbeError::Broken)?;
    match answer[0] {
        b'S' => {}
        b'N' => {
            return Err(ProbeError::NoTls(
                "the server answered SSLRequest with N (ssl = off)".into(),
            ));
        }
        b'E' => {
            return Err(ProbeError::Broken(
                "the server answered SSLRequest with an error: it is not a PostgreSQL server that speaks protocol 3, or it refuses this client".into(),
            ));
        }
        other => {
            return Err(ProbeError::Broken(format!(
                "the server answered SSLRequest with byte 0x{other:02x}: it is not PostgreSQL (a MySQL server? pass --engine mysql)"
            )));
        }
    }
    let handshake = client
        .handshake(socket, name, deadline)
        .map_err(ProbeError::Tls)?;
    Ok(Session {
        stream: handshake.stream,
        handshake_chain: handshake.chain,
        protocol: handshake.protocol,
        handshake_time: handshake.elapsed,
        greeting: None,
    })
}

/// The startup message for `user`, the server's answer, and with `token` the password message
/// when the server asks for a cleartext password.
pub fn authenticate(
    mut session: Session,
    user: &str,
    database: &str,
    token: Option<&str>,
    deadline: Instant,
) -> Result<(Ask, Option<Login>), String> {
    let stream = &mut session.stream;
    let mut out = BytesMut::new();
    frontend::startup_message(
        [
            ("user", user),
            ("database", database),
            ("application_name", "iam-db-auth doctor"),
        ],
        &mut out,
    )
    .map_err(|e| format!("could not build the startup message ({e})"))?;
    probe::write_all(stream, &out, deadline)?;
    let mut input = BytesMut::new();
    let ask = match next_message(stream, &mut input, deadline)? {
        backend::Message::AuthenticationCleartextPassword => Ask::Cleartext,
        backend::Message::AuthenticationMd5Password(_) => Ask::Other("an MD5 password".into()),
        backend::Message::AuthenticationSasl(body) => {
            let mechanisms: Vec<String> = body
                .mechanisms()
                .map(|m| Ok(m.to_string()))
                .collect()
                .unwrap_or_default();
            Ask::Other(format!("a SCRAM password (SASL {})", mechanisms.join(", ")))
        }
        backend::Message::AuthenticationOk => Ask::NoPassword,
        backend::Message::AuthenticationGss | backend::Message::AuthenticationSspi => {
            Ask::Other("GSSAPI/Kerberos".into())
        }
        backend::Message::ErrorResponse(body) => Ask::Refused(error(&body)),
        _ => {
            return Err(
                "the server sent an unexpected message instead of an authentication request".into(),
            );
        }
    };
    let Some(token) = token else {
        close(stream, deadline);
        return Ok((ask, None));
    };
    if ask != Ask::Cleartext {
        close(stream, deadline);
        return Ok((ask.clone(), Some(Login::NotAsked(ask))));
    }
    let mut out = BytesMut::new();
    let built = frontend::password_message(token.as_bytes(), &mut out);
    let sent = built
        .map_err(|e| format!("could not build the password message ({e})"))
        .and_then(|_| probe::write_all(stream, &out, deadline));
    out[..].zeroize();
    sent?;
    let login = match next_message(stream, &mut input, deadline)? {
        backend::Message::AuthenticationOk => after_ok(stream, &mut input, deadline)?,
        backend::Message::ErrorResponse(body) => Login::Refused(error(&body)),
        _ => return Err("the server sent an unexpected message after the password".into()),
    };
    close(stream, deadline);
    Ok((Ask::Cleartext, Some(login)))
}

/// After AuthenticationOk: the server's version from ParameterStatus, up to ReadyForQuery.
fn after_ok(
    stream: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    input: &mut BytesMut,
    deadline: Instant,
) -> Result<Login, String> {
    let mut version = String::new();
    loop {
        match next_message(stream, input, deadline)? {
            backend::Message::ParameterStatus(p) if p.name().ok() == Some("server_version") => {
                version = p.value().unwrap_or_default().to_string();
            }
            backend::Message::ReadyForQuery(_) => {
                return Ok(Login::Accepted(format!("PostgreSQL {version}")));
            }
            backend::Message::ErrorResponse(body) => {
                let err = error(&body);
                // The token was accepted; the session could not start (a database that does
                // not exist, too many connections).
                return Ok(Login::Accepted(format!(
                    "the token was accepted, then the server ended the session: {err}"
                )));
            }
            _ => {}
        }
    }
}

fn next_message(
    stream: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    input: &mut BytesMut,
    deadline: Instant,
) -> Result<backend::Message, String> {
    loop {
        if let Some(message) = backend::Message::parse(input)
            .map_err(|e| format!("the server sent a malformed message ({e})"))?
        {
            return Ok(message);
        }
        if input.len() > MAX_MESSAGE {
            return Err(format!(
                "the server sent a message larger than {MAX_MESSAGE} bytes"
            ));
        }
        let mut chunk = [0u8; 8192];
        let n = probe::read_some(stream, &mut chunk, deadline)?;
        input.extend_from_slice(&chunk[..n]);
    }
}

fn error(body: &backend::ErrorResponseBody) -> ServerError {
    let mut code = String::new();
    let mut message = String::new();
    let mut fields = body.fields();
    while let Ok(Some(field)) = fields.next() {
        match field.type_() {
            b'C' => code = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            b'M' => message = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            _ => {}
        }
    }
    ServerError { code, message }
}

/// Terminate, best effort (the server logs a clean end instead of a broken connection).
fn close(stream: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>, deadline: Instant) {
    let mut out = BytesMut::new();
    frontend::terminate(&mut out);
    let _ = probe::write_all(stream, &out, deadline);
    stream.conn.send_close_notify();
    let _ = stream.conn.complete_io(&mut stream.sock);
}
