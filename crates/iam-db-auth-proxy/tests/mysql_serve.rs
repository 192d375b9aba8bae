//! `mysql::serve` with a client on an in-memory pipe and upstreams that fail in each way a client
//! must be told about: every failure arrives as an ERR packet with its code and reason, and
//! nothing of the client's (let alone a token) leaves before verified TLS. (Logins through the
//! real server and real clients: tests/e2e/test_proxy_mysql.py.)

use iam_db_auth_proxy::mysql;
use iam_db_auth_proxy::{Engine, Failure, FailureKind, SessionContext, SessionReport};
use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::packets::{AuthPlugin, HandshakePacket, HandshakeResponse};
use mysql_common::proto::MySerialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpListener;

mod common;
use common::closed_port;

fn context(target: &str) -> SessionContext {
    common::context(Engine::Mysql, target)
}

fn server_caps(tls: bool) -> CapabilityFlags {
    let mut caps = CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB
        | CapabilityFlags::CLIENT_CONNECT_ATTRS
        | CapabilityFlags::CLIENT_COMPRESS;
    if tls {
        caps |= CapabilityFlags::CLIENT_SSL;
    }
    caps
}

fn greeting(tls: bool) -> Vec<u8> {
    let p = HandshakePacket::new(
        10,
        &b"5.5.5-10.11.6-MariaDB"[..],
        7,
        *b"12345678",
        Some(&b"123456789012\0"[..]),
        server_caps(tls),
        45,
        StatusFlags::SERVER_STATUS_AUTOCOMMIT,
        Some(&b"mysql_native_password"[..]),
    );
    let mut payload = Vec::new();
    p.serialize(&mut payload);
    framed(0, &payload)
}

fn framed(seq: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    out.push(seq);
    out.extend_from_slice(payload);
    out
}

/// A database that sends `greeting` and records what it is sent afterwards (until the proxy
/// closes or a second passes).
async fn fake_database(greeting: Vec<u8>) -> (String, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let task = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(&greeting).await.unwrap();
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(1), s.read_to_end(&mut got)).await;
        got
    });
    (addr, task)
}

fn response(user: &str, caps: CapabilityFlags) -> Vec<u8> {
    response_with(user, caps, None)
}

fn response_with(user: &str, caps: CapabilityFlags, scramble: Option<Vec<u8>>) -> Vec<u8> {
    let r = HandshakeResponse::new(
        scramble,
        (10, 11, 6),
        Some(user.as_bytes()),
        Some(&b"iam_test"[..]),
        Some(AuthPlugin::MysqlNativePassword),
        caps | CapabilityFlags::CLIENT_PROTOCOL_41 | CapabilityFlags::CLIENT_SECURE_CONNECTION,
        None,
        1 << 24,
    );
    let mut payload = Vec::new();
    r.serialize(&mut payload);
    framed(1, &payload)
}

/// Runs `serve` with a client that answers a greeting with `answer` (if any) and reads
/// everything back; returns serve's result and the packets the client got.
async fn exchange(
    ctx: SessionContext,
    answer: Option<Vec<u8>>,
) -> (Result<(), Failure>, SessionReport, Vec<(u8, Vec<u8>)>) {
    let (mut client, server): (DuplexStream, DuplexStream) = tokio::io::duplex(64 * 1024);
    let serving = tokio::spawn(async move {
        let mut report = SessionReport::default();
        let result = mysql::serve(Box::new(server), &ctx, &mut report).await;
        (result, report)
    });
    let mut packets = Vec::new();
    let mut first = true;
    let mut data = Vec::new();
    loop {
        let mut header = [0u8; 4];
        let read = tokio::time::timeout(Duration::from_secs(20), client.read_exact(&mut header))
            .await
            .expect("the proxy neither answered nor closed");
        if read.is_err() {
            break;
        }
        let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        let mut payload = vec![0u8; len];
        client.read_exact(&mut payload).await.unwrap();
        packets.push((header[3], payload));
        if first {
            first = false;
            if let Some(answer) = &answer {
                // The proxy may have answered with an ERR and closed already.
                let _ = client.write_all(answer).await;
            }
        }
    }
    let _ = client.read_to_end(&mut data).await;
    let (result, report) = serving.await.unwrap();
    (result, report, packets)
}

/// The ERR packet's code, SQL state and message.
fn err(packet: &(u8, Vec<u8>)) -> (u16, String, String) {
    let p = &packet.1;
    assert_eq!(p[0], 0xFF, "not an ERR packet: {p:?}");
    (
        u16::from_le_bytes([p[1], p[2]]),
        String::from_utf8_lossy(&p[4..9]).into_owned(),
        String::from_utf8_lossy(&p[9..]).into_owned(),
    )
}

#[tokio::test]
async fn upstream_down_is_an_err_packet_with_the_reason() {
    let target = closed_port().await;
    let (result, _, packets) = exchange(context(&target), None).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::UpstreamUnreachable);
    assert_eq!(packets.len(), 1, "{packets:?}");
    assert_eq!(
        packets[0].0, 0,
        "an ERR in place of the greeting has sequence id 0"
    );
    let (code, state, message) = err(&packets[0]);
    // 1429, not FailureKind's 2013: libmariadb refuses client-range codes from a server.
    assert_eq!((code, state.as_str()), (1429, "HY000"));
    assert!(
        message.contains("cannot connect to") && message.contains(&target),
        "{message}"
    );
}

#[tokio::test]
async fn a_database_without_tls_gets_nothing() {
    let (target, database) = fake_database(greeting(false)).await;
    let (result, _, packets) = exchange(
        context(&target),
        Some(response("iam_user", CapabilityFlags::empty())),
    )
    .await;
    let failure = result.unwrap_err();
    assert_eq!(failure.kind, FailureKind::UpstreamTls);
    assert!(failure.message.contains("does not offer TLS"), "{failure}");
    let (_, _, message) = err(packets.last().unwrap());
    assert!(message.contains("does not offer TLS"), "{message}");
    assert!(
        database.await.unwrap().is_empty(),
        "the database was sent something"
    );
}

#[tokio::test]
async fn the_client_greeting_is_the_servers_less_tls_and_compression() {
    let (target, _database) = fake_database(greeting(true)).await;
    let mut ctx = context(&target);
    ctx.user_allow = Arc::new(vec!["alice".into()]);
    let (_, _, packets) = exchange(ctx, Some(response("bob", CapabilityFlags::empty()))).await;
    let (seq, payload) = &packets[0];
    assert_eq!(*seq, 0);
    let mut buf = mysql_common::io::ParseBuf(payload);
    let hello: HandshakePacket<'_> = buf.parse(()).unwrap();
    assert_eq!(hello.server_version_ref(), b"5.5.5-10.11.6-MariaDB");
    assert_eq!(hello.connection_id(), 7);
    assert_eq!(hello.nonce(), b"12345678123456789012");
    let caps = hello.capabilities();
    assert!(!caps.contains(CapabilityFlags::CLIENT_SSL));
    assert!(!caps.contains(CapabilityFlags::CLIENT_COMPRESS));
    assert!(caps.contains(CapabilityFlags::CLIENT_CONNECT_ATTRS));
}

#[tokio::test]
async fn a_user_off_the_allow_list_is_refused_before_anything_goes_upstream() {
    let (target, database) = fake_database(greeting(true)).await;
    let mut ctx = context(&target);
    ctx.user_allow = Arc::new(vec!["alice".into()]);
    let (result, report, packets) =
        exchange(ctx, Some(response("bob", CapabilityFlags::empty()))).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::NotAllowed);
    assert_eq!(report.user.as_deref(), Some("bob"));
    let last = packets.last().unwrap();
    assert_eq!(
        last.0, 2,
        "the answer to the handshake response has sequence id 2"
    );
    let (code, state, message) = err(last);
    assert_eq!((code, state.as_str()), (1045, "28000"));
    assert!(message.contains("'bob' is not allowed"), "{message}");
    assert!(
        database.await.unwrap().is_empty(),
        "the database was sent something"
    );
}

#[tokio::test]
async fn compression_is_refused_clearly() {
    let (target, database) = fake_database(greeting(true)).await;
    let (result, _, packets) = exchange(
        context(&target),
        Some(response("iam_user", CapabilityFlags::CLIENT_COMPRESS)),
    )
    .await;
    assert_eq!(result.unwrap_err().kind, FailureKind::ClientProtocol);
    let (code, _, message) = err(packets.last().unwrap());
    assert_eq!(code, 1043);
    assert!(message.contains("compression"), "{message}");
    assert!(database.await.unwrap().is_empty());
}

#[tokio::test]
async fn required_client_tls_is_enforced() {
    let (target, database) = fake_database(greeting(true)).await;
    let mut ctx = context(&target);
    ctx.require_client_tls = true;
    let (result, _, packets) =
        exchange(ctx, Some(response("iam_user", CapabilityFlags::empty()))).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::NotAllowed);
    let (_, _, message) = err(packets.last().unwrap());
    assert!(message.contains("requires TLS"), "{message}");
    assert!(database.await.unwrap().is_empty());
}

#[tokio::test]
async fn a_silent_client_is_bounded_by_the_login_timeout() {
    let (target, _database) = fake_database(greeting(true)).await;
    let mut ctx = context(&target);
    ctx.login_timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let (result, _, packets) = exchange(ctx, None).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let failure = result.unwrap_err();
    assert!(failure.message.contains("did not finish"), "{failure}");
    assert_eq!(packets.len(), 2, "greeting, then the ERR: {packets:?}");
    err(&packets[1]);
}

#[tokio::test]
async fn garbage_from_the_client_is_an_err() {
    let (target, _database) = fake_database(greeting(true)).await;
    let (result, _, packets) =
        exchange(context(&target), Some(framed(1, b"GET / HTTP/1.1\r\n\r\n"))).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::ClientProtocol);
    err(packets.last().unwrap());
}

/// The fake greeting's nonce.
const NONCE: &[u8] = b"12345678123456789012";

fn native(password: &str) -> Vec<u8> {
    mysql_common::auth::plugins::mysql_native_password::scramble_native(NONCE, password.as_bytes())
        .unwrap()
        .to_vec()
}

fn with_local_users(target: &str) -> SessionContext {
    let mut ctx = context(target);
    ctx.local_users = Some(Arc::new(iam_db_auth_proxy::session::LocalUsers::new([(
        "iam_user".to_owned(),
        "s3cret".to_owned(),
    )])));
    ctx
}

#[tokio::test]
async fn a_wrong_local_password_is_refused_before_anything_goes_upstream() {
    let (target, database) = fake_database(greeting(true)).await;
    let answer = response_with(
        "iam_user",
        CapabilityFlags::CLIENT_PLUGIN_AUTH,
        Some(native("wrong")),
    );
    let (result, _, packets) = exchange(with_local_users(&target), Some(answer)).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::NotAllowed);
    let (code, _, message) = err(packets.last().unwrap());
    assert_eq!(code, 1045);
    assert!(message.contains("local authentication failed"), "{message}");
    assert!(
        database.await.unwrap().is_empty(),
        "the database was sent something"
    );
    // No password at all, and a user without a local password, are refused the same way.
    for (user, scramble) in [("iam_user", None), ("other", Some(native("s3cret")))] {
        let (target, database) = fake_database(greeting(true)).await;
        let answer = response_with(user, CapabilityFlags::CLIENT_PLUGIN_AUTH, scramble);
        let (result, _, _) = exchange(with_local_users(&target), Some(answer)).await;
        assert_eq!(result.unwrap_err().kind, FailureKind::NotAllowed, "{user}");
        assert!(database.await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn the_right_local_password_goes_on_to_tls_upstream() {
    // The fake database does not speak TLS: the proxy gets as far as its SSLRequest.
    let (target, database) = fake_database(greeting(true)).await;
    let answer = response_with(
        "iam_user",
        CapabilityFlags::CLIENT_PLUGIN_AUTH,
        Some(native("s3cret")),
    );
    let (result, _, _) = exchange(with_local_users(&target), Some(answer)).await;
    assert_eq!(result.unwrap_err().kind, FailureKind::UpstreamTls);
    let sent = database.await.unwrap();
    assert!(sent.len() >= 36, "{sent:?}");
    assert_eq!(
        &sent[..4],
        &[32, 0, 0, 1],
        "an SSLRequest with sequence id 1"
    );
    let caps = u32::from_le_bytes([sent[4], sent[5], sent[6], sent[7]]);
    assert!(caps & CapabilityFlags::CLIENT_SSL.bits() != 0);
    // After the SSLRequest only a TLS ClientHello (record type 22), never a login.
    assert_eq!(sent[36], 22, "not a TLS handshake record");
}
