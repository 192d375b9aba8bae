//! MySQL packet framing: a 3-byte little-endian length, a sequence id, the payload. Login packets
//! are read whole with a size cap (a peer cannot make the proxy buffer more than that); the
//! relay frames the client's stream itself (`relay.rs`).

use mysql_common::packets::{ErrPacket, ServerError, SqlState};
use mysql_common::proto::MySerialize;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest payload of one frame; a payload this long continues in the next frame.
pub const MAX_FRAME: usize = 0xFF_FFFF;

/// The cap on any packet the proxy reads whole during a login (greetings, handshake responses,
/// auth switches, OK/ERR): real ones are a few hundred bytes, a session token's login a few KB;
/// connect attributes are what may grow.
pub const MAX_LOGIN_PACKET: usize = 64 * 1024;

/// The longest message the proxy puts in an ERR packet (clients show it whole).
const MAX_ERR_MESSAGE: usize = 1024;

/// One packet read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub seq: u8,
    pub payload: Vec<u8>,
}

/// Why reading a packet failed.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    /// The peer announced a packet longer than the cap (or one spread over several frames).
    TooLong(usize),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                f.write_str("the connection was closed")
            }
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::TooLong(n) => write!(f, "a packet of {n} bytes, more than a login needs"),
        }
    }
}

/// Reads one packet of at most `cap` bytes (one frame: a login never needs more).
pub async fn read_packet<R>(reader: &mut R, cap: usize) -> Result<Packet, ReadError>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let mut header = [0u8; 4];
    reader
        .read_exact(&mut header)
        .await
        .map_err(ReadError::Io)?;
    let (len, seq) = parse_header(header);
    if len > cap || len == MAX_FRAME {
        return Err(ReadError::TooLong(len));
    }
    let mut payload = vec![0u8; len];
    reader
        .read_exact(&mut payload)
        .await
        .map_err(ReadError::Io)?;
    Ok(Packet { seq, payload })
}

/// The payload length and sequence id of a frame header.
pub fn parse_header(header: [u8; 4]) -> (usize, u8) {
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    (len, header[3])
}

/// `payload` framed with sequence ids from `seq` (split into frames as the protocol says); the
/// returned id is the next one to use.
pub fn frame(seq: u8, payload: &[u8], out: &mut Vec<u8>) -> u8 {
    let mut seq = seq;
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX_FRAME);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        out.push(seq);
        out.extend_from_slice(&rest[..n]);
        seq = seq.wrapping_add(1);
        rest = &rest[n..];
        if n < MAX_FRAME {
            return seq;
        }
    }
}

/// Writes (and flushes: TLS streams hold data until then) one packet; returns the next id.
pub async fn write_packet<W>(writer: &mut W, seq: u8, payload: &[u8]) -> io::Result<u8>
where
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut out = Vec::with_capacity(payload.len() + 4);
    let next = frame(seq, payload, &mut out);
    writer.write_all(&out).await?;
    writer.flush().await?;
    Ok(next)
}

/// An ERR packet's payload (protocol 4.1 form, with the SQL state) holding `message`.
pub fn err_payload(code: u16, sqlstate: &str, message: &str) -> Vec<u8> {
    let mut state = [b'H', b'Y', b'0', b'0', b'0'];
    if sqlstate.len() == 5 {
        state.copy_from_slice(sqlstate.as_bytes());
    }
    let mut message = message.to_owned();
    if message.len() > MAX_ERR_MESSAGE {
        let mut cut = MAX_ERR_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
    }
    let packet = ErrPacket::Error(ServerError::new(
        code,
        Some(SqlState::new(state)),
        message.into_bytes(),
    ));
    let mut out = Vec::new();
    packet.serialize(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_at_the_protocol_limit() {
        let mut out = Vec::new();
        let next = frame(3, &vec![7u8; MAX_FRAME + 2], &mut out);
        assert_eq!(next, 5);
        assert_eq!(&out[..4], &[0xFF, 0xFF, 0xFF, 3]);
        assert_eq!(&out[4 + MAX_FRAME..8 + MAX_FRAME], &[2, 0, 0, 4]);
        // A payload of exactly one full frame ends with an empty frame.
        let mut out = Vec::new();
        assert_eq!(frame(0, &vec![1u8; MAX_FRAME], &mut out), 2);
        assert_eq!(&out[out.len() - 4..], &[0, 0, 0, 1]);
    }

    #[tokio::test]
    async fn reads_are_capped() {
        let mut big: &[u8] = &[0x01, 0x00, 0x01, 0, 0];
        assert!(matches!(
            read_packet(&mut big, 1024).await,
            Err(ReadError::TooLong(65537))
        ));
        let mut ok: &[u8] = &[2, 0, 0, 9, b'h', b'i'];
        let p = read_packet(&mut ok, 1024).await.unwrap();
        assert_eq!((p.seq, p.payload.as_slice()), (9, &b"hi"[..]));
    }

    #[test]
    fn err_packets_carry_code_state_and_message() {
        let p = err_payload(1045, "28000", "no");
        assert_eq!(p, b"\xff\x15\x04#28000no");
    }
}
