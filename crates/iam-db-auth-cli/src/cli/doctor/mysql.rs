//! The MySQL/MariaDB side of the probes, with mysql_common's packets and framing: the server's
//! greeting (does it offer SSL?), SSLRequest, the handshake response as a client without a
//! password sends it, the server's answer (RDS switches IAM users to `mysql_clear_password`),
//! and the token in answer to that switch, as the `mysql_clear_password` client plugin sends it.

use super::probe::{self, Ask, Login, ProbeError, ServerError, Session};
use super::tls;
use bytes::BytesMut;
use mysql_common::constants::CapabilityFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthPlugin, AuthSwitchRequest, ErrPacket, HandshakePacket, HandshakeResponse, SslRequest,
};
use mysql_common::proto::MySerialize as _;
use mysql_common::proto::codec::PacketCodec;
use std::io::{Read, Write};
use std::time::Instant;
use zeroize::Zeroize as _;

/// The largest packet a client announces (and the most a login answer may hold here).
const MAX_PACKET: u32 = 16 * 1024 * 1024;
/// utf8mb4_general_ci.
const COLLATION: u8 = 45;

/// What the server's greeting said, and the packet framing state after it.
pub struct Greeting {
    pub server_version: String,
    capabilities: CapabilityFlags,
    version: (u16, u16, u16),
    codec: PacketCodec,
}

/// The capabilities a modern client asks for (those the server also has are used).
fn wanted() -> CapabilityFlags {
    CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_LONG_FLAG
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_SSL
}

/// The greeting, SSLRequest, then the TLS handshake for `name`.
pub fn open(
    mut socket: std::net::TcpStream,
    client: &tls::Client,
    name: &str,
    deadline: Instant,
) -> Result<Session, ProbeError> {
    let mut codec = PacketCodec::default();
    let mut input = BytesMut::new();
    let payload =
        read_packet(&mut socket, &mut codec, &mut input, deadline).map_err(ProbeError::Broken)?;
    if payload.first() == Some(&0xFF) {
        let err = server_error(&payload, CapabilityFlags::empty());
        return Err(ProbeError::Broken(format!(
            "the server refused the connection before the handshake: {err}"
        )));
    }
    let greeting: HandshakePacket<'_> = ParseBuf(&payload).parse(()).map_err(|e| {
        ProbeError::Broken(format!(
            "the server's first packet is not a MySQL greeting ({e}): is it PostgreSQL? pass --engine postgres"
        ))
    })?;
    let server_version = greeting.server_version_str().into_owned();
    let server_caps = greeting.capabilities();
    if !server_caps.contains(CapabilityFlags::CLIENT_SSL) {
        return Err(ProbeError::NoTls(format!(
            "the server's greeting ({server_version}) does not offer SSL"
        )));
    }
    let capabilities = wanted() & server_caps;
    let version = greeting.server_version_parsed().unwrap_or((5, 7, 0));
    let mut request = Vec::new();
    SslRequest::new(capabilities, MAX_PACKET, COLLATION).serialize(&mut request);
    write_packet(&mut socket, &mut codec, request, deadline).map_err(ProbeError::Broken)?;
    let handshake = client
        .handshake(socket, name, deadline)
        .map_err(ProbeError::Tls)?;
    Ok(Session {
        stream: handshake.stream,
        handshake_chain: handshake.chain,
        protocol: handshake.protocol,
        handshake_time: handshake.elapsed,
        greeting: Some(Greeting {
            server_version,
            capabilities,
            version,
            codec,
        }),
    })
}

/// The handshake response for `user`, the server's answer, and with `token` the token when
/// the server switches to `mysql_clear_password`.
pub fn authenticate(
    mut session: Session,
    user: &str,
    token: Option<&str>,
    deadline: Instant,
) -> Result<(Ask, Option<Login>), String> {
    let mut greeting = session
        .greeting
        .take()
        .ok_or("no greeting kept from the connection")?;
    let stream = &mut session.stream;
    let caps = greeting.capabilities;
    let mut response = Vec::new();
    HandshakeResponse::new(
        Some(&[][..]),
        greeting.version,
        Some(user.as_bytes()),
        None::<&[u8]>,
        Some(AuthPlugin::MysqlNativePassword),
        caps,
        None,
        MAX_PACKET,
    )
    .serialize(&mut response);
    write_packet(stream, &mut greeting.codec, response, deadline)?;
    let mut input = BytesMut::new();
    let answer = read_packet(stream, &mut greeting.codec, &mut input, deadline)?;
    let ask = match answer.first() {
        Some(0xFE) => {
            let switch: AuthSwitchRequest<'_> = ParseBuf(&answer)
                .parse(())
                .map_err(|e| format!("the server sent a malformed auth switch request ({e})"))?;
            match switch.auth_plugin() {
                AuthPlugin::MysqlClearPassword => Ask::Cleartext,
                other => Ask::Other(format!(
                    "the {} plugin",
                    String::from_utf8_lossy(other.as_bytes())
                )),
            }
        }
        Some(0x00) => Ask::NoPassword,
        Some(0xFF) => Ask::Refused(server_error(&answer, caps)),
        Some(0x01) => {
            Ask::Other("more data for mysql_native_password/caching_sha2_password".into())
        }
        _ => return Err("the server sent an unexpected answer to the handshake".into()),
    };
    let Some(token) = token else {
        return Ok((ask, None));
    };
    if ask != Ask::Cleartext {
        return Ok((ask.clone(), Some(Login::NotAsked(ask))));
    }
    // As the mysql_clear_password client plugin sends it: the password and a NUL.
    let mut secret = Vec::with_capacity(token.len() + 1);
    secret.extend_from_slice(token.as_bytes());
    secret.push(0);
    write_packet(stream, &mut greeting.codec, secret, deadline)?;
    let answer = read_packet(stream, &mut greeting.codec, &mut input, deadline)?;
    let login = match answer.first() {
        Some(0x00) => Login::Accepted(format!(
            "MySQL protocol, server {}",
            greeting.server_version
        )),
        Some(0xFF) => Login::Refused(server_error(&answer, caps)),
        _ => return Err("the server sent an unexpected answer to the token".into()),
    };
    if matches!(login, Login::Accepted(_)) {
        // COM_QUIT, so the server logs a clean end.
        greeting.codec.reset_seq_id();
        let _ = write_packet(stream, &mut greeting.codec, vec![0x01], deadline);
    }
    Ok((Ask::Cleartext, Some(login)))
}

fn server_error(payload: &[u8], caps: CapabilityFlags) -> ServerError {
    match ParseBuf(payload).parse::<ErrPacket<'_>>(caps) {
        Ok(ErrPacket::Error(err)) => ServerError {
            code: err.error_code().to_string(),
            message: err.message_str().into_owned(),
        },
        _ => ServerError {
            code: "?".into(),
            message: String::from_utf8_lossy(payload.get(3..).unwrap_or_default()).into_owned(),
        },
    }
}

/// Frames and sends one packet; the payload is wiped afterwards (it may hold the token).
fn write_packet(
    stream: &mut (impl Write + probe::HasSocket),
    codec: &mut PacketCodec,
    mut payload: Vec<u8>,
    deadline: Instant,
) -> Result<(), String> {
    let mut out = BytesMut::new();
    let mut src = &payload[..];
    let encoded = codec
        .encode(&mut src, &mut out)
        .map_err(|e| format!("could not frame a packet ({e})"));
    let sent = encoded.and_then(|_| probe::write_all(stream, &out, deadline));
    out[..].zeroize();
    payload.zeroize();
    sent
}

/// Reads one whole packet (bounded in size and time).
fn read_packet(
    stream: &mut (impl Read + probe::HasSocket),
    codec: &mut PacketCodec,
    input: &mut BytesMut,
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    codec.max_allowed_packet = MAX_PACKET as usize;
    loop {
        let mut packet = Vec::new();
        if codec
            .decode(input, &mut packet)
            .map_err(|e| format!("the server sent a malformed packet ({e})"))?
        {
            return Ok(packet);
        }
        let mut chunk = [0u8; 8192];
        let n = probe::read_some(stream, &mut chunk, deadline)?;
        input.extend_from_slice(&chunk[..n]);
    }
}
