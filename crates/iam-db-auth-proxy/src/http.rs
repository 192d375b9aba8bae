//! The opt-in HTTP endpoint (`--http ADDR`): `/metrics` (Prometheus text), `/healthz` (the
//! process answers) and `/readyz` (listeners up and a token can be made; the token check is
//! cached). A request is one bounded read of its head (8 KiB, 5 s); every answer closes the
//! connection; at most 16 requests are served at a time.

use crate::server::Shared;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinHandle;

const MAX_HEAD: usize = 8 * 1024;
const REQUEST_BOUND: Duration = Duration::from_secs(5);
const CONCURRENT: usize = 16;
/// How long a token check's answer is reused.
const READY_OK_FOR: Duration = Duration::from_secs(60);
const READY_FAILED_FOR: Duration = Duration::from_secs(5);
/// The bound on making the readiness token (a credential lookup may be slow).
const TOKEN_BOUND: Duration = Duration::from_secs(15);
/// The user the readiness token is made for: any name works, the token is never sent.
const READY_USER: &str = "iam_db_auth_readyz";

struct State {
    shared: Arc<Shared>,
    token_check: Mutex<Option<(Instant, Result<(), String>)>>,
}

/// Binds `addr` and serves until the task is aborted.
pub(crate) async fn start(
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
) -> Result<JoinHandle<()>, String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr} for --http: {e}"))?;
    let shown = listener.local_addr().map_or(addr, |a| a);
    crate::log::info(&format!(
        "metrics and health checks on http://{shown}/metrics, /healthz, /readyz"
    ));
    let state = Arc::new(State {
        shared,
        token_check: Mutex::new(None),
    });
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                continue; // dropped: closes the connection
            };
            let state = state.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let _ = tokio::time::timeout(REQUEST_BOUND, serve(stream, &state)).await;
            });
        }
    }))
}

async fn serve(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let path = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(_)) => {
                if request.method != Some("GET") && request.method != Some("HEAD") {
                    return respond(&mut stream, 405, "method not allowed\n", "text/plain").await;
                }
                break request.path.unwrap_or("/").to_owned();
            }
            Ok(httparse::Status::Partial) if head.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => {
                return respond(&mut stream, 431, "request head too large\n", "text/plain").await;
            }
            Err(_) => return respond(&mut stream, 400, "bad request\n", "text/plain").await,
        }
    };
    let path = path.split('?').next().unwrap_or("/");
    match path {
        "/metrics" => {
            let body = state.shared.metrics.render();
            respond(&mut stream, 200, &body, "text/plain; version=0.0.4").await
        }
        "/healthz" => respond(&mut stream, 200, "ok\n", "text/plain").await,
        "/readyz" => match ready(state).await {
            Ok(()) => respond(&mut stream, 200, "ready\n", "text/plain").await,
            Err(why) => {
                respond(
                    &mut stream,
                    503,
                    &format!("not ready: {why}\n"),
                    "text/plain",
                )
                .await
            }
        },
        _ => {
            respond(
                &mut stream,
                404,
                "not found: try /metrics, /healthz, /readyz\n",
                "text/plain",
            )
            .await
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    body: &str,
    kind: &str,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}

/// Ready: not draining, every configured listener up, and a token can be made.
async fn ready(state: &State) -> Result<(), String> {
    let shared = &state.shared;
    if shared.draining() {
        return Err("shutting down".into());
    }
    if shared.metrics.listeners.load(Ordering::SeqCst) == 0 {
        return Err("no listener is accepting".into());
    }
    let missing = shared.listeners_missing.load(Ordering::SeqCst);
    if missing > 0 {
        return Err(format!("{missing} listener(s) did not start"));
    }
    let mut cached = state.token_check.lock().await;
    if let Some((at, result)) = cached.as_ref() {
        let good_for = if result.is_ok() {
            READY_OK_FOR
        } else {
            READY_FAILED_FOR
        };
        if at.elapsed() < good_for {
            return result.clone();
        }
    }
    let target = shared
        .ready_target
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let result = match target {
        None => Err("no listener to make a token for".into()),
        Some(t) => {
            let made = tokio::task::spawn_blocking(move || {
                let mut request = iam_db_auth::TokenRequest::new(&t.host, t.port, READY_USER)
                    .signing_host(&t.host)
                    .signing_port(t.port);
                if let Some(region) = &t.region {
                    request = request.region(region);
                }
                if let Some(profile) = &t.profile {
                    request = request.profile(profile);
                }
                iam_db_auth::config::env_defaults()
                    .apply(request)
                    .and_then(|r| iam_db_auth::token_for(&r))
                    .map(drop)
                    .map_err(|e| format!("no token can be made: {e}"))
            });
            match tokio::time::timeout(TOKEN_BOUND, made).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err("the token check failed".into()),
                Err(_) => Err(format!("making a token took more than {TOKEN_BOUND:?}")),
            }
        }
    };
    *cached = Some((Instant::now(), result.clone()));
    result
}
