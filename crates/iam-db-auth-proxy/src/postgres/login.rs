//! The upstream login: SSLRequest, 'S', TLS verified for the signing host, only then the token;
//! the client's startup parameters; the token as the answer to AuthenticationCleartextPassword;
//! then what the server says until ReadyForQuery, kept for the client.
//!
//! A server that asks for another method (MD5, SCRAM, GSS, ...) is refused: the user is not an
//! IAM user there, and the proxy logs in with IAM tokens only (the client never sees the
//! server's challenge, so no password crosses the local leg).

use super::wire::{self, Startup};
use crate::failure::{Failure, FailureKind};
use crate::session::SessionContext;
use crate::upstream::Upstream;
use bytes::{Bytes, BytesMut};
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::{ErrorResponseBody, Message};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use zeroize::Zeroize;

/// A cap on one server message during the login (ParameterStatus, notices, errors).
const MAX_LOGIN_MESSAGE: usize = 64 * 1024;
/// A cap on all the server says during the login.
const MAX_LOGIN_TOTAL: usize = 1024 * 1024;

/// A logged-in upstream session, and what the server said after AuthenticationOk (for the
/// client: ParameterStatus, notices, BackendKeyData, ReadyForQuery), in its order.
pub struct LoggedIn {
    pub stream: TlsStream<TcpStream>,
    pub messages: Vec<Bytes>,
    /// The index in `messages` of the server's BackendKeyData, and its key.
    pub key: Option<(usize, i32, i32)>,
}

/// A failed login: the failure, and the server's own ErrorResponse when the server refused
/// after authentication (a database that does not exist, too many connections): the client
/// gets that one as it is, with the server's SQLSTATE.
pub struct LoginError {
    pub failure: Failure,
    pub server_error: Option<Bytes>,
}

impl From<Failure> for LoginError {
    fn from(failure: Failure) -> Self {
        LoginError {
            failure,
            server_error: None,
        }
    }
}

/// TCP, SSLRequest, 'S', TLS verified for the signing host.
pub async fn open_tls(upstream: &Upstream) -> Result<TlsStream<TcpStream>, Failure> {
    let mut tcp = upstream.connect().await?;
    let mut buf = BytesMut::new();
    frontend::ssl_request(&mut buf);
    let unreachable = |e: std::io::Error| {
        Failure::new(
            FailureKind::UpstreamUnreachable,
            format!("{} closed the connection: {e}", upstream.target()),
        )
    };
    tcp.write_all(&buf).await.map_err(unreachable)?;
    match tcp.read_u8().await.map_err(unreachable)? {
        b'S' => upstream.tls(tcp).await,
        b'N' => Err(Failure::new(
            FailureKind::UpstreamTls,
            format!(
                "{} does not offer TLS: the proxy never sends a token over plain text",
                upstream.target()
            ),
        )),
        other => Err(Failure::new(
            FailureKind::UpstreamProtocol,
            format!(
                "{} answered the SSLRequest with '{}': not a PostgreSQL server?",
                upstream.target(),
                other.escape_ascii()
            ),
        )),
    }
}

/// Logs in upstream as the client's user with a fresh token; bounded by `deadline`.
pub async fn login(
    ctx: &SessionContext,
    startup: &Startup,
    user: &str,
    deadline: Instant,
) -> Result<LoggedIn, LoginError> {
    let target = ctx.upstream.target().to_owned();
    match tokio::time::timeout_at(deadline, login_unbounded(ctx, startup, user)).await {
        Ok(result) => result,
        Err(_) => Err(Failure::new(
            FailureKind::UpstreamUnreachable,
            format!("the login at {target} did not finish within the login timeout"),
        )
        .into()),
    }
}

async fn login_unbounded(
    ctx: &SessionContext,
    startup: &Startup,
    user: &str,
) -> Result<LoggedIn, LoginError> {
    let mut stream = open_tls(&ctx.upstream).await?;
    let token = ctx.tokens.token(user).await?;

    let io = |e: std::io::Error| {
        Failure::new(
            FailureKind::UpstreamUnreachable,
            format!("the connection to {} failed: {e}", ctx.upstream.target()),
        )
    };
    let mut buf = BytesMut::new();
    frontend::startup_message(
        startup.params.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        &mut buf,
    )
    .map_err(|e| Failure::new(FailureKind::ClientProtocol, format!("startup packet: {e}")))?;
    stream.write_all(&buf).await.map_err(io)?;

    let mut token_sent = false;
    let mut authenticated = false;
    let mut total = 0usize;
    let mut messages = Vec::new();
    let mut key = None;
    loop {
        let frame = wire::read_backend(&mut stream, MAX_LOGIN_MESSAGE)
            .await
            .map_err(io)?;
        total += frame.len();
        if total > MAX_LOGIN_TOTAL {
            return Err(protocol("the server said more than 1 MiB during the login").into());
        }
        let raw = frame.clone().freeze();
        let mut parse_buf = frame;
        let message = match Message::parse(&mut parse_buf) {
            Ok(Some(message)) => message,
            _ => {
                return Err(protocol(format!(
                    "a message the proxy cannot read during the login ('{}')",
                    raw[0].escape_ascii()
                ))
                .into());
            }
        };
        match message {
            Message::AuthenticationCleartextPassword if !token_sent && !authenticated => {
                let mut password = BytesMut::new();
                frontend::password_message(token.as_str().as_bytes(), &mut password)
                    .map_err(|e| protocol(format!("password message: {e}")))?;
                let written = stream.write_all(&password).await;
                password.as_mut().zeroize();
                written.map_err(io)?;
                token_sent = true;
            }
            Message::AuthenticationOk if !authenticated => authenticated = true,
            Message::AuthenticationMd5Password(_) => return Err(not_iam(user, "MD5").into()),
            Message::AuthenticationSasl(_) => return Err(not_iam(user, "SCRAM").into()),
            Message::AuthenticationGss | Message::AuthenticationSspi => {
                return Err(not_iam(user, "GSSAPI/SSPI").into());
            }
            Message::AuthenticationKerberosV5 | Message::AuthenticationScmCredential => {
                return Err(not_iam(user, "an obsolete method").into());
            }
            Message::ErrorResponse(body) => {
                let said = server_error_text(&body);
                let failure = if authenticated {
                    Failure::new(
                        FailureKind::LoginRefused,
                        format!("the database refused the session: {said}"),
                    )
                } else if token_sent {
                    Failure::new(
                        FailureKind::LoginRefused,
                        format!(
                            "the database refused the IAM token for user '{user}': {said}; \
                             check the IAM policy (rds-db:connect for this user and \
                             endpoint), the region and that the user has the rds_iam role"
                        ),
                    )
                } else {
                    Failure::new(
                        FailureKind::LoginRefused,
                        format!("the database refused the login: {said}"),
                    )
                };
                return Err(LoginError {
                    failure,
                    server_error: authenticated.then_some(raw),
                });
            }
            Message::NoticeResponse(_) | Message::ParameterStatus(_) => messages.push(raw),
            Message::BackendKeyData(body) if authenticated => {
                key = Some((messages.len(), body.process_id(), body.secret_key()));
                messages.push(raw);
            }
            Message::ReadyForQuery(_) if authenticated => {
                messages.push(raw);
                return Ok(LoggedIn {
                    stream,
                    messages,
                    key,
                });
            }
            _ => {
                return Err(protocol(format!(
                    "an unexpected '{}' message during the login",
                    raw[0].escape_ascii()
                ))
                .into());
            }
        }
    }
}

fn protocol(message: impl Into<String>) -> Failure {
    Failure::new(FailureKind::UpstreamProtocol, message)
}

fn not_iam(user: &str, method: &str) -> Failure {
    Failure::new(
        FailureKind::LoginRefused,
        format!(
            "the database asked for {method} authentication: '{user}' is not an IAM user there \
             (the proxy logs in with IAM tokens only; connect to the database directly for \
             password users)"
        ),
    )
}

/// "message (SQLSTATE code)" from a server's ErrorResponse.
fn server_error_text(body: &ErrorResponseBody) -> String {
    let mut code = String::new();
    let mut text = String::new();
    let mut fields = body.fields();
    while let Ok(Some(field)) = fields.next() {
        match field.type_() {
            b'C' => code = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            b'M' => text = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            _ => {}
        }
    }
    if text.is_empty() {
        text = "no message".into();
    }
    format!("{text} (SQLSTATE {code})")
}
