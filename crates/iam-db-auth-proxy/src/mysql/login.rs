//! The login, in order. Nothing of the client's reaches the database before TLS with it is
//! verified, and the token is asked for only after that.

use super::ClientSide;
use super::handshake::{self, ClientHello, ServerReply};
use super::packet::{self, MAX_LOGIN_PACKET, Packet, ReadError};
use crate::failure::{Failure, FailureKind};
use crate::session::{SessionContext, SessionReport};
use mysql_common::constants::CapabilityFlags;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// The sequence id of the proxy's first packet upstream (the server's greeting is 0).
const UPSTREAM_FIRST_SEQ: u8 = 1;

/// The upstream connection, logged in.
pub(crate) struct LoggedIn {
    pub stream: TlsStream<TcpStream>,
    /// The capabilities of the upstream login (COM_CHANGE_USER's layout depends on them).
    pub caps: CapabilityFlags,
    /// The client's collation (COM_CHANGE_USER's default character set).
    pub collation: u8,
}

fn client_error(what: &str) -> impl Fn(ReadError) -> Failure + '_ {
    move |e| Failure::new(FailureKind::ClientProtocol, format!("{what}: {e}"))
}

fn upstream_error(what: &str) -> impl Fn(ReadError) -> Failure + '_ {
    move |e| match e {
        ReadError::Io(_) => Failure::new(FailureKind::UpstreamUnreachable, format!("{what}: {e}")),
        ReadError::TooLong(_) => {
            Failure::new(FailureKind::UpstreamProtocol, format!("{what}: {e}"))
        }
    }
}

fn client_io(e: std::io::Error) -> Failure {
    Failure::new(
        FailureKind::ClientProtocol,
        format!("writing to the client: {e}"),
    )
}

fn upstream_io(e: std::io::Error) -> Failure {
    Failure::new(
        FailureKind::UpstreamUnreachable,
        format!("writing to the database: {e}"),
    )
}

/// A packet from the client; the reply's sequence id follows it.
pub(crate) async fn read_client(client: &mut ClientSide, what: &str) -> Result<Packet, Failure> {
    let p = packet::read_packet(&mut client.stream, MAX_LOGIN_PACKET)
        .await
        .map_err(client_error(what))?;
    client.seq = p.seq.wrapping_add(1);
    Ok(p)
}

/// Sends `payload` to the client with the next sequence id.
pub(crate) async fn write_client(client: &mut ClientSide, payload: &[u8]) -> Result<(), Failure> {
    client.seq = packet::write_packet(&mut client.stream, client.seq, payload)
        .await
        .map_err(client_io)?;
    Ok(())
}

pub(super) async fn login(
    client: &mut ClientSide,
    ctx: &SessionContext,
    report: &mut SessionReport,
) -> Result<LoggedIn, Failure> {
    let mut tcp = ctx.upstream.connect().await?;
    let greeting = packet::read_packet(&mut tcp, MAX_LOGIN_PACKET)
        .await
        .map_err(upstream_error("reading the database's greeting"))?;
    if greeting.payload.first() == Some(&0xFF) {
        // The server turned the connection away (too many connections, host blocked): the
        // client gets the server's own packet.
        write_client(client, &greeting.payload).await?;
        client.answered = true;
        return Err(Failure::new(
            FailureKind::Unavailable,
            format!(
                "the database turned the connection away: {}",
                handshake::err_message(&greeting.payload)
            ),
        ));
    }
    let server = handshake::parse_server_greeting(&greeting.payload)
        .map_err(|m| Failure::new(FailureKind::UpstreamProtocol, m))?;
    if !server.offers_tls() {
        return Err(Failure::new(
            FailureKind::UpstreamTls,
            format!(
                "the database at {} does not offer TLS; the proxy sends tokens only over verified TLS",
                ctx.upstream.target()
            ),
        ));
    }
    let (greeting, _) = handshake::client_greeting(&server, ctx.client_tls.is_some());
    client.nonce = server.nonce.clone();
    write_client(client, &greeting).await?;

    // The client's handshake response, inside TLS if it asked for it.
    let mut hello = read_client(client, "reading the client's handshake response").await?;
    let asked_tls = matches!(
        handshake::parse_client_hello(&hello.payload),
        Ok(ClientHello::SslRequest)
    );
    if asked_tls {
        let Some(acceptor) = ctx.client_tls.clone() else {
            return Err(Failure::new(
                FailureKind::ClientProtocol,
                "the client asked for TLS, which this listener does not offer",
            ));
        };
        let seq = client.seq;
        let plain = std::mem::replace(&mut client.stream, Box::new(tokio::io::duplex(1).0));
        let tls = acceptor.accept(plain).await.map_err(|e| {
            Failure::new(
                FailureKind::ClientProtocol,
                format!("TLS with the client failed: {e}"),
            )
        })?;
        client.stream = Box::new(tls);
        client.seq = seq;
        report.client_tls = true;
        hello = read_client(client, "reading the client's handshake response").await?;
    } else if ctx.require_client_tls {
        return Err(Failure::new(
            FailureKind::NotAllowed,
            "this listener requires TLS: connect with ssl-mode=REQUIRED (or stricter)",
        ));
    }
    let response = match handshake::parse_client_hello(&hello.payload) {
        Ok(ClientHello::Response(response)) => response,
        Ok(ClientHello::SslRequest) => {
            return Err(Failure::new(
                FailureKind::ClientProtocol,
                "a second SSLRequest",
            ));
        }
        Err(m) => return Err(Failure::new(FailureKind::ClientProtocol, m)),
    };
    client.caps = response.capabilities();
    if let Some(why) = handshake::unsupported_request(client.caps) {
        return Err(Failure::new(FailureKind::ClientProtocol, why));
    }
    let user = handshake::text(response.user(), "user name")
        .map_err(|m| Failure::new(FailureKind::ClientProtocol, m))?;
    report.user = Some(user.clone());
    report.database = response
        .db_name()
        .filter(|d| !d.is_empty())
        .map(|d| String::from_utf8_lossy(d).into_owned());
    check_user(
        client,
        ctx,
        &user,
        response.auth_plugin().map(|p| p.as_bytes()),
        response.scramble_buf(),
    )
    .await?;

    // Upstream: TLS, verified, before the token exists.
    let caps = handshake::upstream_capabilities(client.caps, server.capabilities());
    packet::write_packet(
        &mut tcp,
        UPSTREAM_FIRST_SEQ,
        &handshake::upstream_ssl_request(&response, caps),
    )
    .await
    .map_err(upstream_io)?;
    let mut stream = ctx.upstream.tls(tcp).await?;
    let token = ctx.tokens.token(&user).await?;
    let login = handshake::upstream_response(&response, caps, token.as_str());
    packet::write_packet(&mut stream, UPSTREAM_FIRST_SEQ + 1, &login)
        .await
        .map_err(upstream_io)?;
    drop(login);
    finish_auth(client, &mut stream, token.as_str(), &user).await?;
    Ok(LoggedIn {
        stream,
        caps,
        collation: response.collation(),
    })
}

/// The checks on the client before anything is sent for it: the user allow list, and with local
/// users the client's `mysql_native_password` answer (`plugin`, `answer`) against the nonce.
pub(crate) async fn check_user(
    client: &mut ClientSide,
    ctx: &SessionContext,
    user: &str,
    plugin: Option<&[u8]>,
    answer: &[u8],
) -> Result<(), Failure> {
    if user.is_empty() {
        return Err(Failure::new(FailureKind::NotAllowed, "no user name given"));
    }
    if !ctx.user_allowed(user) {
        return Err(Failure::new(
            FailureKind::NotAllowed,
            format!("database user '{user}' is not allowed on this listener (--user-allow)"),
        ));
    }
    let Some(users) = &ctx.local_users else {
        return Ok(());
    };
    let refused = || {
        Failure::new(
            FailureKind::NotAllowed,
            format!("local authentication failed for user '{user}'"),
        )
    };
    let password = users.password(user).ok_or_else(refused)?;
    let answer = if plugin.is_none_or(|p| p == handshake::CLIENT_PLUGIN) {
        answer.to_vec()
    } else {
        // The client answered for another plugin: ask for mysql_native_password.
        write_client(client, &handshake::switch_to_native(&client.nonce)).await?;
        read_client(client, "reading the client's password answer")
            .await?
            .payload
    };
    if handshake::native_password_ok(&client.nonce, password, &answer) {
        Ok(())
    } else {
        Err(refused())
    }
}

/// The server's answers to a login (or COM_CHANGE_USER) until it says yes or no: switches to
/// `mysql_clear_password` are answered with the token; the final OK or ERR goes to the client.
pub(crate) async fn finish_auth(
    client: &mut ClientSide,
    stream: &mut TlsStream<TcpStream>,
    token: &str,
    user: &str,
) -> Result<(), Failure> {
    // A server asks at most once per plugin; a few rounds is plenty.
    for _ in 0..4 {
        let reply = packet::read_packet(stream, MAX_LOGIN_PACKET)
            .await
            .map_err(upstream_error("reading the database's answer to the login"))?;
        match handshake::server_reply(&reply.payload) {
            ServerReply::Ok => {
                write_client(client, &reply.payload).await?;
                return Ok(());
            }
            ServerReply::Err => {
                write_client(client, &reply.payload).await?;
                client.answered = true;
                return Err(Failure::new(
                    FailureKind::LoginRefused,
                    format!(
                        "the database refused the login of '{user}': {}",
                        handshake::err_message(&reply.payload)
                    ),
                ));
            }
            ServerReply::SwitchToClear => {
                let answer = handshake::clear_answer(token);
                packet::write_packet(stream, reply.seq.wrapping_add(1), &answer)
                    .await
                    .map_err(upstream_io)?;
            }
            ServerReply::SwitchTo(plugin) => {
                return Err(Failure::new(
                    FailureKind::LoginRefused,
                    format!(
                        "database user '{user}' is not an IAM user: the database asks for {plugin}; \
                         the proxy logs in only with IAM tokens (mysql_clear_password)"
                    ),
                ));
            }
            ServerReply::Unexpected(what) => {
                return Err(Failure::new(
                    FailureKind::UpstreamProtocol,
                    format!("the database answered the login with {what}"),
                ));
            }
        }
    }
    Err(Failure::new(
        FailureKind::UpstreamProtocol,
        "the database kept asking for authentication",
    ))
}
