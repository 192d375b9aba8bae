//! The relay: the server's bytes go to the client as they come; the client's stream is framed
//! (headers only, payloads pass through in whatever pieces they arrive) so that a
//! COM_CHANGE_USER, which would log in upstream with the client's own (empty) password, is taken
//! out and done by the proxy with a token for the new user.
//!
//! One task does both directions: MySQL is a request/response protocol, so while the proxy
//! writes one way the other side is waiting for that data, not sending.

use super::ClientSide;
use super::handshake::{self, COM_CHANGE_USER};
use super::login::{self, LoggedIn};
use super::packet::{self, MAX_FRAME, MAX_LOGIN_PACKET};
use crate::failure::{Failure, FailureKind};
use crate::session::{SessionContext, SessionReport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What to do with the start of the client's unforwarded bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Pass this many bytes upstream.
    Forward(usize),
    /// A COM_CHANGE_USER packet of this payload length (header excluded) is complete at the
    /// start: the proxy handles it.
    ChangeUser(usize),
    /// A COM_CHANGE_USER longer than a login packet may be.
    TooLong(usize),
    /// Not enough bytes to decide.
    NeedMore,
}

/// Where the client's stream is: inside a frame, or at a header.
#[derive(Debug, Default, Clone)]
pub struct Framer {
    /// Payload bytes of the current frame still to pass.
    remaining: usize,
    /// The next frame continues a packet (the last one was a full 16 MB frame).
    continuation: bool,
}

impl Framer {
    /// The next step for `buf`, the client's bytes not yet forwarded.
    pub fn step(&mut self, buf: &[u8]) -> Step {
        if self.remaining > 0 {
            let n = self.remaining.min(buf.len());
            if n == 0 {
                return Step::NeedMore;
            }
            self.remaining -= n;
            return Step::Forward(n);
        }
        let Some(header) = buf.get(..4) else {
            return Step::NeedMore;
        };
        let (len, seq) = packet::parse_header([header[0], header[1], header[2], header[3]]);
        // A command starts a packet with sequence id 0; continuation frames and the client's
        // later packets of an exchange (LOAD DATA LOCAL's file) do not.
        if seq == 0 && !self.continuation && len > 0 {
            let Some(&command) = buf.get(4) else {
                return Step::NeedMore;
            };
            if command == COM_CHANGE_USER {
                if len > MAX_LOGIN_PACKET {
                    return Step::TooLong(len);
                }
                return if buf.len() >= 4 + len {
                    Step::ChangeUser(len)
                } else {
                    Step::NeedMore
                };
            }
        }
        self.continuation = len == MAX_FRAME;
        self.remaining = len;
        Step::Forward(4)
    }
}

/// Relays until either side closes. A COM_CHANGE_USER that fails ends the session (the client
/// gets the reason as its answer).
pub(crate) async fn relay(
    client: &mut ClientSide,
    upstream: &mut LoggedIn,
    ctx: &SessionContext,
    report: &mut SessionReport,
) -> Result<(), Failure> {
    // From here on the proxy adds an ERR only as the answer to a COM_CHANGE_USER.
    client.answered = true;
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_server = vec![0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut framer = Framer::default();
    loop {
        let idle = async {
            match ctx.idle_timeout {
                Some(bound) => tokio::time::sleep(bound).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = client.stream.read(&mut from_client) => {
                let n = read.map_err(|e| io_failure(FailureKind::ClientProtocol, "reading from the client", e))?;
                if n == 0 {
                    let _ = upstream.stream.shutdown().await;
                    return Ok(());
                }
                report.bytes_from_client += n as u64;
                pending.extend_from_slice(&from_client[..n]);
                forward(client, upstream, ctx, report, &mut pending, &mut framer).await?;
            }
            read = upstream.stream.read(&mut from_server) => {
                // Servers close after COM_QUIT without TLS's close_notify: that is an end too.
                let n = match read {
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                    other => other.map_err(|e| io_failure(FailureKind::UpstreamUnreachable, "reading from the database", e))?,
                };
                if n == 0 {
                    let _ = client.stream.shutdown().await;
                    return Ok(());
                }
                client.stream.write_all(&from_server[..n]).await
                    .map_err(|e| io_failure(FailureKind::ClientProtocol, "writing to the client", e))?;
                client.stream.flush().await
                    .map_err(|e| io_failure(FailureKind::ClientProtocol, "writing to the client", e))?;
                report.bytes_to_client += n as u64;
            }
            _ = idle => return Ok(()),
        }
    }
}

fn io_failure(kind: FailureKind, what: &str, e: std::io::Error) -> Failure {
    Failure::new(kind, format!("{what}: {e}"))
}

/// Passes what can be passed of `pending` upstream, handling a COM_CHANGE_USER at its start.
async fn forward(
    client: &mut ClientSide,
    upstream: &mut LoggedIn,
    ctx: &SessionContext,
    report: &mut SessionReport,
    pending: &mut Vec<u8>,
    framer: &mut Framer,
) -> Result<(), Failure> {
    loop {
        let mut passed = 0;
        let mut change = None;
        loop {
            match framer.step(&pending[passed..]) {
                Step::Forward(n) => passed += n,
                Step::NeedMore => break,
                Step::ChangeUser(len) => {
                    change = Some(len);
                    break;
                }
                Step::TooLong(len) => {
                    client.answered = false;
                    client.seq = 1;
                    return Err(Failure::new(
                        FailureKind::ClientProtocol,
                        format!("a COM_CHANGE_USER of {len} bytes"),
                    ));
                }
            }
        }
        if passed > 0 {
            upstream
                .stream
                .write_all(&pending[..passed])
                .await
                .map_err(|e| {
                    io_failure(
                        FailureKind::UpstreamUnreachable,
                        "writing to the database",
                        e,
                    )
                })?;
            upstream.stream.flush().await.map_err(|e| {
                io_failure(
                    FailureKind::UpstreamUnreachable,
                    "writing to the database",
                    e,
                )
            })?;
            pending.drain(..passed);
        }
        let Some(len) = change else {
            return Ok(());
        };
        let payload: Vec<u8> = pending[4..4 + len].to_vec();
        pending.drain(..4 + len);
        client.answered = false;
        client.seq = 1;
        tokio::time::timeout(
            ctx.login_timeout,
            change_user(client, upstream, ctx, report, &payload),
        )
        .await
        .map_err(|_| {
            Failure::new(
                FailureKind::UpstreamUnreachable,
                "COM_CHANGE_USER did not finish in time",
            )
        })??;
        client.answered = true;
    }
}

/// COM_CHANGE_USER: the same checks as a login, then a login upstream for the new user with a
/// token of its own.
async fn change_user(
    client: &mut ClientSide,
    upstream: &mut LoggedIn,
    ctx: &SessionContext,
    report: &mut SessionReport,
    payload: &[u8],
) -> Result<(), Failure> {
    let change = handshake::parse_change_user(payload, client.caps)
        .map_err(|m| Failure::new(FailureKind::ClientProtocol, m))?;
    let user = handshake::text(&change.user, "user name")
        .map_err(|m| Failure::new(FailureKind::ClientProtocol, m))?;
    report.user = Some(user.clone());
    login::check_user(
        client,
        ctx,
        &user,
        change.plugin.as_deref(),
        &change.auth_response,
    )
    .await?;
    let token = ctx.tokens.token(&user).await?;
    let packet = handshake::upstream_change_user(&change, upstream.caps, upstream.collation);
    packet::write_packet(&mut upstream.stream, 0, &packet)
        .await
        .map_err(|e| {
            io_failure(
                FailureKind::UpstreamUnreachable,
                "writing to the database",
                e,
            )
        })?;
    login::finish_auth(client, &mut upstream.stream, token.as_str(), &user).await?;
    report.database =
        Some(String::from_utf8_lossy(&change.database).into_owned()).filter(|d| !d.is_empty());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(framer: &mut Framer, mut buf: &[u8]) -> Vec<Step> {
        let mut out = Vec::new();
        loop {
            let s = framer.step(buf);
            out.push(s);
            match s {
                Step::Forward(n) => buf = &buf[n..],
                _ => return out,
            }
        }
    }

    #[test]
    fn commands_pass_and_change_user_is_caught() {
        let mut f = Framer::default();
        // COM_QUERY "SELECT 1", then a COM_CHANGE_USER.
        let mut bytes = vec![9, 0, 0, 0, 3];
        bytes.extend_from_slice(b"SELECT 1");
        bytes.extend_from_slice(&[3, 0, 0, 0, COM_CHANGE_USER, b'u', 0]);
        assert_eq!(
            steps(&mut f, &bytes),
            vec![Step::Forward(4), Step::Forward(9), Step::ChangeUser(3)]
        );
        // Half of a change user waits for the rest.
        let mut f = Framer::default();
        assert_eq!(
            steps(&mut f, &[3, 0, 0, 0, COM_CHANGE_USER]),
            vec![Step::NeedMore]
        );
        // 0x11 inside an exchange (sequence id 2: LOAD DATA's file) is data.
        let mut f = Framer::default();
        assert_eq!(
            steps(&mut f, &[1, 0, 0, 2, COM_CHANGE_USER]),
            vec![Step::Forward(4), Step::Forward(1), Step::NeedMore]
        );
    }

    #[test]
    fn payloads_pass_in_pieces() {
        let mut f = Framer::default();
        assert_eq!(f.step(&[5, 0, 0, 0, 3, 1]), Step::Forward(4));
        assert_eq!(f.step(&[3, 1]), Step::Forward(2));
        assert_eq!(f.step(&[]), Step::NeedMore);
        assert_eq!(f.step(&[2, 3, 4, 9]), Step::Forward(3));
        assert_eq!(f.step(&[9]), Step::NeedMore);
    }
}
