//! PostgreSQL: the client-facing leg (startup, SSLRequest, CancelRequest, optional local SCRAM),
//! the upstream login (SSLRequest, TLS, the client's startup parameters, the token as the
//! cleartext password), BackendKeyData of the proxy's own, then the relay.
//!
//! One job a module: `wire` (the client leg's packets), `scram` (local authentication),
//! `login` (the upstream login), `cancel` (cancel keys and forwarding).
//!
//! Both legs speak protocol 3.0: a client asking for a newer minor version or for protocol
//! options gets a NegotiateProtocolVersion, as from a 3.0 server.

mod cancel;
mod login;
pub mod scram;
pub mod wire;

pub use cancel::{CancelKeys, KeyGuard};

use crate::failure::{Failure, FailureKind};
use crate::session::{ClientStream, SessionContext, SessionReport};
use bytes::BytesMut;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;
use wire::{FirstPacket, Startup};

/// How long the client gets to read the proxy's error before the connection closes.
const ERROR_WRITE_BOUND: Duration = Duration::from_secs(5);
/// SSLRequest and GSSENCRequest may each come once before the startup packet.
const MAX_NEGOTIATIONS: usize = 2;

/// Serves one PostgreSQL client (see `session` for the contract).
pub async fn serve(
    client: ClientStream,
    ctx: &SessionContext,
    report: &mut SessionReport,
) -> Result<(), Failure> {
    let deadline = Instant::now() + ctx.login_timeout;
    let (mut client, opening) = match negotiate(client, ctx, report, deadline).await {
        Ok(opened) => opened,
        Err((client, failure)) => {
            if let Some(mut client) = client {
                send_error(&mut client, &failure).await;
            }
            return Err(failure);
        }
    };
    let startup = match opening {
        Opening::Cancel {
            process_id,
            secret_key,
        } => {
            report.cancel_request = true;
            // The client's connection closes only once the server has the request: libpq
            // waits for that close, so a query sent after a cancel is not the one cancelled.
            let forwarded =
                cancel::forward(&ctx.cancel_keys, process_id, secret_key, deadline).await;
            drop(client);
            return forwarded;
        }
        Opening::Startup(startup) => startup,
    };
    match session(&mut client, ctx, &startup, report, deadline).await {
        Ok(()) => Ok(()),
        Err(login::LoginError {
            failure,
            server_error,
        }) => {
            match server_error {
                Some(frame) => write_bounded(&mut client, &frame).await,
                None => send_error(&mut client, &failure).await,
            }
            Err(failure)
        }
    }
}

enum Opening {
    Cancel { process_id: i32, secret_key: i32 },
    Startup(Startup),
}

type Refused = (Option<ClientStream>, Failure);

/// The client's first packets: TLS or not, then a CancelRequest or a StartupMessage.
async fn negotiate(
    mut client: ClientStream,
    ctx: &SessionContext,
    report: &mut SessionReport,
    deadline: Instant,
) -> Result<(ClientStream, Opening), Refused> {
    let client_protocol = |m: String| Failure::new(FailureKind::ClientProtocol, m);
    let mut negotiations = 0;
    loop {
        let body = match tokio::time::timeout_at(deadline, wire::read_first(&mut client)).await {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => {
                return Err((
                    Some(client),
                    client_protocol(format!("reading the client's startup: {e}")),
                ));
            }
            Err(_) => {
                return Err((
                    Some(client),
                    client_protocol("the client sent no startup packet in time".into()),
                ));
            }
        };
        let packet = match wire::parse_first(&body) {
            Ok(packet) => packet,
            Err(e) => return Err((Some(client), client_protocol(e))),
        };
        let request = matches!(packet, FirstPacket::SslRequest | FirstPacket::GssEncRequest);
        if request {
            negotiations += 1;
            if negotiations > MAX_NEGOTIATIONS {
                return Err((
                    Some(client),
                    client_protocol("too many SSL/GSS requests".into()),
                ));
            }
        }
        match packet {
            FirstPacket::SslRequest => match (&ctx.client_tls, report.client_tls) {
                (Some(acceptor), false) => {
                    if let Err(e) = write_all(&mut client, b"S").await {
                        return Err((None, client_protocol(format!("answering SSLRequest: {e}"))));
                    }
                    let accepted = tokio::time::timeout_at(deadline, acceptor.accept(client)).await;
                    match accepted {
                        Ok(Ok(tls)) => {
                            client = Box::new(tls);
                            report.client_tls = true;
                        }
                        Ok(Err(e)) => {
                            return Err((None, client_protocol(format!("client TLS failed: {e}"))));
                        }
                        Err(_) => {
                            return Err((None, client_protocol("client TLS timed out".into())));
                        }
                    }
                }
                _ => {
                    if let Err(e) = write_all(&mut client, b"N").await {
                        return Err((None, client_protocol(format!("answering SSLRequest: {e}"))));
                    }
                }
            },
            // GSS encryption is not offered: the client goes on with SSL or in the clear.
            FirstPacket::GssEncRequest => {
                if let Err(e) = write_all(&mut client, b"N").await {
                    return Err((
                        None,
                        client_protocol(format!("answering GSSENCRequest: {e}")),
                    ));
                }
            }
            FirstPacket::Cancel {
                process_id,
                secret_key,
            } => {
                return Ok((
                    client,
                    Opening::Cancel {
                        process_id,
                        secret_key,
                    },
                ));
            }
            FirstPacket::Startup(startup) => {
                if ctx.require_client_tls && !report.client_tls {
                    return Err((
                        Some(client),
                        Failure::new(
                            FailureKind::NotAllowed,
                            "this listener requires TLS: connect with sslmode=require or \
                             stronger",
                        ),
                    ));
                }
                return Ok((client, Opening::Startup(startup)));
            }
        }
    }
}

/// A client's session after its startup packet: who it is, local authentication, the upstream
/// login, the proxy's own cancel key, then the relay.
async fn session(
    client: &mut ClientStream,
    ctx: &SessionContext,
    startup: &Startup,
    report: &mut SessionReport,
    deadline: Instant,
) -> Result<(), login::LoginError> {
    let user = startup
        .get("user")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            Failure::new(
                FailureKind::ClientProtocol,
                "no PostgreSQL user name specified in the startup packet",
            )
        })?
        .to_owned();
    report.user = Some(user.clone());
    report.database = Some(startup.get("database").unwrap_or(&user).to_owned());
    if !ctx.user_allowed(&user) {
        return Err(Failure::new(
            FailureKind::NotAllowed,
            format!("database user '{user}' is not allowed through this listener"),
        )
        .into());
    }

    let mut out = BytesMut::new();
    if startup.minor > 0 || !startup.protocol_options.is_empty() {
        wire::negotiate_protocol_version(&startup.protocol_options, &mut out);
    }
    if let Some(local) = &ctx.local_users {
        let Some(password) = local.password(&user) else {
            return Err(Failure::new(
                FailureKind::NotAllowed,
                format!("password authentication failed for user '{user}'"),
            )
            .into());
        };
        let password = zeroize::Zeroizing::new(password.to_owned());
        tokio::time::timeout_at(deadline, local_auth(client, &password, &user, &mut out))
            .await
            .map_err(|_| {
                Failure::new(
                    FailureKind::ClientProtocol,
                    "the client did not finish authenticating in time",
                )
            })??;
    } else if !out.is_empty() {
        write_all(client, &out).await.map_err(client_gone)?;
        out.clear();
    }

    let logged_in = login::login(ctx, startup, &user, deadline).await?;
    let login::LoggedIn {
        stream: mut upstream,
        mut messages,
        key,
    } = logged_in;
    // The client gets the proxy's key in place of the server's; it is forgotten when the
    // session ends (the guard lives until the relay returns).
    let _guard = match key {
        Some((index, process_id, secret_key)) => {
            let guard = ctx.cancel_keys.register(
                std::sync::Arc::clone(&ctx.upstream),
                process_id,
                secret_key,
            )?;
            let mut ours = BytesMut::new();
            cancel::key_data(&guard, &mut ours);
            messages[index] = ours.freeze();
            Some(guard)
        }
        None => None,
    };
    out.clear();
    wire::authentication(0, &[], &mut out);
    for message in &messages {
        out.extend_from_slice(message);
    }
    write_all(client, &out).await.map_err(client_gone)?;
    report.logged_in = true;
    // Once logged in, the session ends when either side closes; a reset is an ending too.
    let _ = crate::relay::relay(client, &mut upstream, report, ctx.idle_timeout).await;
    Ok(())
}

/// SCRAM-SHA-256 with the client against its local password (`pending`: what must reach the
/// client first).
async fn local_auth(
    client: &mut ClientStream,
    password: &str,
    user: &str,
    pending: &mut BytesMut,
) -> Result<(), Failure> {
    let refused = |why: String| {
        Failure::new(
            FailureKind::NotAllowed,
            format!("password authentication failed for user '{user}': {why}"),
        )
    };
    let mut mechanisms = scram::MECHANISM.as_bytes().to_vec();
    mechanisms.extend_from_slice(b"\0\0");
    wire::authentication(10, &mechanisms, pending);
    write_all(client, pending).await.map_err(client_gone)?;
    pending.clear();

    let (tag, body) = wire::read_tagged(client, wire::MAX_AUTH_MESSAGE_LEN)
        .await
        .map_err(client_gone)?;
    if tag != b'p' {
        return Err(refused(format!(
            "expected a SASLInitialResponse, got '{}'",
            tag.escape_ascii()
        )));
    }
    let (mechanism, data) = wire::parse_sasl_initial(&body).map_err(refused)?;
    if mechanism != scram::MECHANISM {
        return Err(refused(format!(
            "the mechanism '{mechanism}' is not offered"
        )));
    }
    let mut random = [0u8; 34];
    getrandom::fill(&mut random).map_err(|e| refused(format!("no randomness: {e}")))?;
    let (nonce_bytes, salt) = random.split_at(18);
    let nonce = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(nonce_bytes)
    };
    let (exchange, server_first) = scram::first(password, data, &nonce, salt).map_err(refused)?;
    wire::authentication(11, server_first.as_bytes(), pending);
    write_all(client, pending).await.map_err(client_gone)?;
    pending.clear();

    let (tag, body) = wire::read_tagged(client, wire::MAX_AUTH_MESSAGE_LEN)
        .await
        .map_err(client_gone)?;
    if tag != b'p' {
        return Err(refused(format!(
            "expected a SASLResponse, got '{}'",
            tag.escape_ascii()
        )));
    }
    let server_final = scram::finish(&exchange, &body).map_err(refused)?;
    wire::authentication(12, server_final.as_bytes(), pending);
    write_all(client, pending).await.map_err(client_gone)?;
    pending.clear();
    Ok(())
}

fn client_gone(e: std::io::Error) -> Failure {
    Failure::new(
        FailureKind::ClientProtocol,
        format!("the client connection failed: {e}"),
    )
}

async fn write_all<W: AsyncWrite + Unpin + ?Sized>(
    io: &mut W,
    bytes: &[u8],
) -> std::io::Result<()> {
    io.write_all(bytes).await?;
    io.flush().await
}

/// Writes `bytes` to the client within a bound, ignoring failure (the client may be gone).
async fn write_bounded<W: AsyncRead + AsyncWrite + Unpin + ?Sized>(io: &mut W, bytes: &[u8]) {
    let _ = tokio::time::timeout(ERROR_WRITE_BOUND, async {
        write_all(io, bytes).await?;
        io.shutdown().await
    })
    .await;
}

/// The failure as a FATAL ErrorResponse with its SQLSTATE.
async fn send_error<W: AsyncRead + AsyncWrite + Unpin + ?Sized>(io: &mut W, failure: &Failure) {
    let mut buf = BytesMut::new();
    wire::error_response(failure.kind.sqlstate(), &failure.message, &mut buf);
    write_bounded(io, &buf).await;
}
