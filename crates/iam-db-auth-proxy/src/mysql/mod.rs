//! MySQL/MariaDB: the server's greeting read upstream, the client greeted with the same version
//! and capabilities, TLS upstream, the client's login answered with the token for
//! `mysql_clear_password` (also after an AuthSwitchRequest), COM_CHANGE_USER, then the relay.
//!
//! - `packet`: framing, capped reads, ERR packets;
//! - `handshake`: the login's packets as pure functions (what is offered, asked, answered);
//! - `login`: the login, in order: upstream greeting, client greeting, client TLS, the
//!   client's handshake response and the checks on it, upstream TLS, the token, the server's
//!   answers;
//! - `relay`: bytes both ways, the client's stream framed to catch COM_CHANGE_USER.
//!
//! Decisions (docs/proxy.md, "MySQL and MariaDB"): compression is not offered to clients (a
//! client that asks anyway is refused); a user the server asks another plugin for (not an IAM
//! user) is refused, never passed through; COM_CHANGE_USER logs in again upstream with a token
//! for the new user.

pub mod handshake;
mod login;
pub mod packet;
pub mod relay;

use crate::failure::{Failure, FailureKind};
use crate::session::{ClientStream, SessionContext, SessionReport};
use mysql_common::constants::CapabilityFlags;
use std::time::Duration;

/// The bound on writing the proxy's ERR packet to a client that stopped reading.
const ERR_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The client's side of a session, as far as the login and the relay got.
pub(crate) struct ClientSide {
    pub stream: ClientStream,
    /// The next sequence id of a packet to the client.
    pub seq: u8,
    /// The client has had its final answer already (the server's own ERR, or the session was
    /// relaying): the proxy adds no ERR of its own.
    pub answered: bool,
    /// The capabilities the client chose.
    pub caps: CapabilityFlags,
    /// The nonce the client scrambled its password with (the greeting's).
    pub nonce: Vec<u8>,
}

impl ClientSide {
    fn new(stream: ClientStream) -> Self {
        ClientSide {
            stream,
            seq: 0,
            answered: false,
            caps: CapabilityFlags::empty(),
            nonce: Vec::new(),
        }
    }

    /// Sends `failure` as an ERR packet, unless the client has had its answer.
    async fn refuse(&mut self, failure: &Failure) {
        if self.answered {
            return;
        }
        self.answered = true;
        let (code, state) = wire_code(failure.kind);
        let payload = packet::err_payload(
            code,
            state,
            &format!("iam-db-auth proxy: {}", failure.message),
        );
        let _ = tokio::time::timeout(
            ERR_WRITE_TIMEOUT,
            packet::write_packet(&mut self.stream, self.seq, &payload),
        )
        .await;
    }
}

/// The error code and SQL state of the ERR packet for `kind`: `FailureKind::mysql_code`, except
/// that a code in the client library's own range (2000-2999, e.g. 2013 "lost connection") is
/// sent as 1429 (ER_CONNECT_TO_FOREIGN_DATA_SOURCE, "unable to connect to foreign data
/// source"): libmariadb takes an ERR packet carrying a client-range code as malformed ("ERROR
/// 2027 Received malformed packet") and drops the reason.
pub fn wire_code(kind: FailureKind) -> (u16, &'static str) {
    match kind.mysql_code() {
        (2000..=2999, _) => (1429, "HY000"),
        other => other,
    }
}

/// Serves one MySQL client (see `session` for the contract).
pub async fn serve(
    client: ClientStream,
    ctx: &SessionContext,
    report: &mut SessionReport,
) -> Result<(), Failure> {
    let mut client = ClientSide::new(client);
    let logged_in =
        match tokio::time::timeout(ctx.login_timeout, login::login(&mut client, ctx, report)).await
        {
            Ok(Ok(logged_in)) => logged_in,
            Ok(Err(failure)) => {
                client.refuse(&failure).await;
                return Err(failure);
            }
            Err(_) => {
                let failure = Failure::new(
                    FailureKind::ClientProtocol,
                    format!(
                        "the login did not finish within {} s",
                        ctx.login_timeout.as_secs_f32()
                    ),
                );
                client.refuse(&failure).await;
                return Err(failure);
            }
        };
    report.logged_in = true;
    let mut upstream = logged_in;
    match relay::relay(&mut client, &mut upstream, ctx, report).await {
        Ok(()) => Ok(()),
        Err(failure) => {
            client.refuse(&failure).await;
            Err(failure)
        }
    }
}
