//! Refusing a client before its protocol started: the framework's refusals (the peer's uid not
//! allowed, the connection limit, shutting down) are sent as the first thing the client reads,
//! as the servers themselves do it: PostgreSQL's postmaster sends an ErrorResponse at once when
//! it cannot start a backend (libpq and pgjdbc show it, also in answer to an SSLRequest), and
//! mysqld's first packet is an ERR packet when it is at its connection limit.

use crate::failure::Failure;
use crate::session::Engine;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// How long a refused client gets to take its error message.
const WRITE_BOUND: std::time::Duration = std::time::Duration::from_secs(2);

/// The bytes that refuse a client of `engine` before anything else was said.
pub fn first_message(engine: Engine, failure: &Failure) -> Vec<u8> {
    match engine {
        Engine::Postgres => postgres_error_response(failure),
        Engine::Mysql => mysql_err_packet(failure, 0),
    }
}

/// Sends the refusal and closes the write side, within a short bound; a client that is gone
/// costs nothing.
pub async fn send<W: AsyncWrite + Unpin + ?Sized>(
    client: &mut W,
    engine: Engine,
    failure: &Failure,
) {
    let message = first_message(engine, failure);
    let _ = tokio::time::timeout(WRITE_BOUND, async {
        client.write_all(&message).await?;
        client.shutdown().await
    })
    .await;
}

/// A PostgreSQL ErrorResponse: severity FATAL, the kind's SQLSTATE, the message.
pub fn postgres_error_response(failure: &Failure) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', failure.kind.sqlstate()),
        (b'M', failure.message.as_str()),
    ] {
        body.push(field);
        // A NUL would end the field early: the message is ours, but be exact.
        body.extend(value.bytes().filter(|&b| b != 0));
        body.push(0);
    }
    body.push(0);
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(b'E');
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// A MySQL ERR packet with sequence number `seq`. As the first packet of a connection it has
/// no `#SQLSTATE` part: the client has not said it speaks protocol 4.1 yet, and libmariadb would
/// show the marker as part of the message.
pub fn mysql_err_packet(failure: &Failure, seq: u8) -> Vec<u8> {
    let (code, _) = failure.kind.mysql_code();
    let mut payload = Vec::with_capacity(failure.message.len() + 3);
    payload.push(0xff);
    payload.extend_from_slice(&code.to_le_bytes());
    payload.extend_from_slice(failure.message.as_bytes());
    payload.truncate(0xff_ffff);
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&len.to_le_bytes()[..3]);
    out.push(seq);
    out.extend_from_slice(&payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::FailureKind;

    #[test]
    fn postgres_error_response_is_framed_with_its_sqlstate() {
        let f = Failure::new(FailureKind::Unavailable, "too many connections");
        let bytes = postgres_error_response(&f);
        assert_eq!(bytes[0], b'E');
        let len = u32::from_be_bytes(bytes[1..5].try_into().unwrap()) as usize;
        assert_eq!(len + 1, bytes.len());
        let text = String::from_utf8_lossy(&bytes[5..]);
        assert!(text.contains("C53300\0"), "{text:?}");
        assert!(text.contains("Mtoo many connections\0"), "{text:?}");
        assert!(text.ends_with("\0\0"));
    }

    #[test]
    fn mysql_err_packet_carries_the_code_without_sqlstate_marker() {
        let f = Failure::new(FailureKind::NotAllowed, "uid 65534 may not use this proxy");
        let bytes = mysql_err_packet(&f, 0);
        let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], 0]) as usize;
        assert_eq!(len + 4, bytes.len());
        assert_eq!(bytes[3], 0);
        assert_eq!(bytes[4], 0xff);
        assert_eq!(u16::from_le_bytes([bytes[5], bytes[6]]), 1045);
        assert_eq!(&bytes[7..], b"uid 65534 may not use this proxy");
    }
}
