//! `postgres::serve` with a client on an in-memory pipe and upstreams that fail in each way a
//! client must be told about: every failure arrives as a FATAL ErrorResponse with its SQLSTATE,
//! and no token leaves before verified TLS. (Logins through real servers and clients:
//! tests/e2e/test_proxy_postgres.py.)

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use iam_db_auth_proxy::postgres;
use iam_db_auth_proxy::{Engine, FailureKind, SessionContext, SessionReport};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpListener;

mod common;
use common::closed_port;

fn context(target: &str) -> SessionContext {
    common::context(Engine::Postgres, target)
}

/// Runs `serve` against a client that writes `client_bytes` and reads everything back.
async fn exchange(
    ctx: SessionContext,
    client_bytes: Vec<u8>,
) -> (
    Result<(), iam_db_auth_proxy::Failure>,
    SessionReport,
    Vec<u8>,
) {
    let (mut client, server): (DuplexStream, DuplexStream) = tokio::io::duplex(64 * 1024);
    let serving = tokio::spawn(async move {
        let mut report = SessionReport::default();
        let result = postgres::serve(Box::new(server), &ctx, &mut report).await;
        (result, report)
    });
    client.write_all(&client_bytes).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), client.read_to_end(&mut answer))
        .await
        .expect("the proxy neither answered nor closed")
        .unwrap();
    let (result, report) = serving.await.unwrap();
    (result, report, answer)
}

fn startup(user: &str, version_minor: i32) -> Vec<u8> {
    let mut buf = BytesMut::new();
    frontend::startup_message([("user", user), ("database", "sales")], &mut buf).unwrap();
    if version_minor != 0 {
        buf[4..8].copy_from_slice(&(0x0003_0000 | version_minor).to_be_bytes());
    }
    buf.to_vec()
}

/// A message's tag, and an ErrorResponse's severity, SQLSTATE and message.
type Reply = (u8, Option<(String, String, String)>);

/// The messages in the proxy's answer.
fn messages(answer: &[u8]) -> Vec<Reply> {
    let mut buf = BytesMut::from(answer);
    let mut out = Vec::new();
    while !buf.is_empty() {
        let tag = buf[0];
        if tag == b'v' {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            let _ = buf.split_to(len + 1);
            out.push((tag, None));
            continue;
        }
        match Message::parse(&mut buf).unwrap().expect("a whole message") {
            Message::ErrorResponse(body) => {
                let mut fields = body.fields();
                let (mut severity, mut code, mut text) = Default::default();
                while let Some(f) = fields.next().unwrap() {
                    let value = String::from_utf8_lossy(f.value_bytes()).into_owned();
                    match f.type_() {
                        b'S' => severity = value,
                        b'C' => code = value,
                        b'M' => text = value,
                        _ => {}
                    }
                }
                out.push((b'E', Some((severity, code, text))));
            }
            _ => out.push((tag, None)),
        }
    }
    out
}

fn the_error(answer: &[u8]) -> (String, String) {
    let all = messages(answer);
    let (_, Some((severity, code, text))) = all.last().expect("no answer").clone() else {
        panic!("the last message is not an ErrorResponse: {all:?}")
    };
    assert_eq!(severity, "FATAL");
    (code, text)
}

#[tokio::test]
async fn upstream_down_is_an_error_response_08006() {
    let ctx = context(&closed_port().await);
    let (result, report, answer) = exchange(ctx, startup("app", 0)).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::UpstreamUnreachable);
    let (code, text) = the_error(&answer);
    assert_eq!(code, "08006");
    assert!(text.contains("cannot connect"), "{text}");
    assert_eq!(report.user.as_deref(), Some("app"));
    assert_eq!(report.database.as_deref(), Some("sales"));
    assert!(!report.logged_in);
}

#[tokio::test]
async fn a_server_without_tls_gets_no_token() {
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ctx = context(&fake.local_addr().unwrap().to_string());
    let server = tokio::spawn(async move {
        let (mut s, _) = fake.accept().await.unwrap();
        let mut request = [0u8; 8];
        s.read_exact(&mut request).await.unwrap();
        s.write_all(b"N").await.unwrap();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
        (request, rest)
    });
    let (result, _, answer) = exchange(ctx, startup("app", 0)).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::UpstreamTls);
    let (code, text) = the_error(&answer);
    assert_eq!(code, "08006");
    assert!(text.contains("does not offer TLS"), "{text}");
    let (request, rest) = server.await.unwrap();
    assert_eq!(
        &request[4..],
        &80_877_103i32.to_be_bytes(),
        "not an SSLRequest"
    );
    assert!(
        rest.is_empty(),
        "the proxy sent {} bytes after 'N'",
        rest.len()
    );
}

#[tokio::test]
async fn ssl_is_declined_without_a_certificate_and_newer_protocols_negotiated() {
    let ctx = context(&closed_port().await);
    let mut bytes = Vec::new();
    let mut ssl = BytesMut::new();
    frontend::ssl_request(&mut ssl);
    bytes.extend_from_slice(&ssl);
    bytes.extend_from_slice(&startup("app", 2));
    let (result, report, answer) = exchange(ctx, bytes).await;
    assert!(result.is_err());
    assert!(!report.client_tls);
    assert_eq!(answer[0], b'N');
    let tags: Vec<u8> = messages(&answer[1..]).iter().map(|m| m.0).collect();
    assert_eq!(tags, vec![b'v', b'E']);
}

#[tokio::test]
async fn refusals_before_the_upstream_is_contacted() {
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = fake.local_addr().unwrap().to_string();

    let mut ctx = context(&target);
    ctx.user_allow = Arc::new(vec!["reporting".into()]);
    let (result, _, answer) = exchange(ctx, startup("app", 0)).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::NotAllowed);
    let (code, text) = the_error(&answer);
    assert_eq!(code, "28000");
    assert!(text.contains("'app' is not allowed"), "{text}");

    let mut ctx = context(&target);
    ctx.require_client_tls = true;
    let (result, _, answer) = exchange(ctx, startup("app", 0)).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::NotAllowed);
    assert_eq!(the_error(&answer).0, "28000");

    let (result, _, answer) = exchange(context(&target), startup("", 0)).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::ClientProtocol);
    assert_eq!(the_error(&answer).0, "08P01");

    let (result, _, answer) = exchange(context(&target), b"\0\0\0\x08\0\x02\0\0".to_vec()).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::ClientProtocol);
    assert!(the_error(&answer).1.contains("protocol 2.0"));

    let (result, _, answer) = exchange(context(&target), b"\x7f\0\0\0".to_vec()).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::ClientProtocol);
    assert_eq!(the_error(&answer).0, "08P01");

    let accepted = tokio::time::timeout(Duration::from_millis(200), fake.accept()).await;
    assert!(accepted.is_err(), "the upstream was contacted");
}

#[tokio::test]
async fn a_cancel_request_with_an_unknown_key_goes_nowhere() {
    let fake = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ctx = context(&fake.local_addr().unwrap().to_string());
    let mut buf = BytesMut::new();
    frontend::cancel_request(1234, 5678, &mut buf);
    let (result, report, answer) = exchange(ctx, buf.to_vec()).await;
    assert!(report.cancel_request);
    assert_eq!(result.unwrap_err().kind, FailureKind::NotAllowed);
    assert!(answer.is_empty(), "a CancelRequest has no answer");
    let accepted = tokio::time::timeout(Duration::from_millis(200), fake.accept()).await;
    assert!(accepted.is_err(), "the upstream was contacted");
}

#[tokio::test]
async fn a_silent_client_is_bounded_by_the_login_timeout() {
    let mut ctx = context(&closed_port().await);
    ctx.login_timeout = Duration::from_millis(300);
    let (mut client, server) = tokio::io::duplex(1024);
    let serving = tokio::spawn(async move {
        let mut report = SessionReport::default();
        postgres::serve(Box::new(server), &ctx, &mut report).await
    });
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut answer))
        .await
        .expect("no answer within the login timeout")
        .unwrap();
    assert_eq!(
        serving.await.unwrap().unwrap_err().kind,
        FailureKind::ClientProtocol
    );
    assert_eq!(the_error(&answer).0, "08P01");
}
