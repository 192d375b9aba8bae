//! The running proxy: its runtime, listeners, sessions, signals and reloads.
//!
//! - Each listener is a task accepting clients; each client is a task running its protocol's
//!   `serve` (see `session`) inside the process-wide connection limit.
//! - Refusals decided before the protocol starts (peer uid, limit, shutting down) are sent as
//!   the protocol's first message (`refuse`).
//! - SIGHUP re-reads `--config`: listeners added start, removed or changed ones stop accepting,
//!   sessions keep running; a file that does not parse or build changes nothing.
//! - SIGTERM/SIGINT: stop accepting, wait for sessions up to the grace, then close the rest
//!   (a second signal closes them at once).
//! - One log line per session (`log`), counters for `/metrics` (`metrics`, `http`).

use crate::config::{ListenAddr, ListenerConfig, ProxyConfig};
use crate::failure::{Failure, FailureKind};
use crate::listen::{Listener, Peer, unix_socket_path};
use crate::metrics::Metrics;
use crate::session::{ClientStream, Engine, SessionContext, SessionReport};
use crate::{context, http, log, refuse};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

/// Where the configuration comes from.
#[derive(Debug, Clone)]
pub enum ConfigSource {
    /// The command line's one listener (SIGHUP has nothing to re-read).
    Given(ProxyConfig),
    /// `--config FILE`, re-read on SIGHUP; `overrides` are the command line's process-wide
    /// settings, which win over the file's.
    File { path: PathBuf, overrides: Overrides },
}

/// Process-wide settings given on the command line next to `--config`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub max_connections: Option<usize>,
    pub shutdown_grace: Option<Duration>,
    pub http: Option<std::net::SocketAddr>,
    pub http_public: bool,
}

/// The largest config file read.
const MAX_CONFIG: u64 = 1 << 20;
/// How long stopped listeners' tasks and closed sessions get to finish.
const STOP_BOUND: Duration = Duration::from_secs(5);

impl ConfigSource {
    /// Reads (for a file) and checks the configuration.
    pub fn load(&self) -> Result<ProxyConfig, String> {
        match self {
            ConfigSource::Given(c) => {
                c.validate()?;
                Ok(c.clone())
            }
            ConfigSource::File { path, overrides } => {
                let text = iam_db_auth::files::read_regular_text(path, MAX_CONFIG)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let mut c = crate::config::parse_file(&text)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                if let Some(m) = overrides.max_connections {
                    c.max_connections = m;
                }
                if let Some(g) = overrides.shutdown_grace {
                    c.shutdown_grace = g;
                }
                if overrides.http.is_some() {
                    c.http = overrides.http;
                }
                c.http_public |= overrides.http_public;
                c.validate()
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                Ok(c)
            }
        }
    }
}

/// Why the proxy did not run.
#[derive(Debug)]
pub enum RunError {
    /// The settings, or a file they name, do not hold (a usage error).
    Config(String),
    /// A listener or the runtime could not start.
    Start(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Config(m) | RunError::Start(m) => f.write_str(m),
        }
    }
}

/// Runs the proxy until SIGTERM or SIGINT. Errors: the configuration, or a listener that
/// cannot start (the message says which and why).
pub fn run(source: ConfigSource) -> Result<(), RunError> {
    let config = source.load().map_err(RunError::Config)?;
    // Everything that can fail is built before anything binds.
    let mut contexts = Vec::new();
    for l in &config.listeners {
        contexts.push(
            context::build(l)
                .map_err(|e| RunError::Config(format!("listener '{}': {e}", l.name)))?,
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("iam-db-auth-proxy")
        .build()
        .map_err(|e| RunError::Start(format!("cannot start the proxy's runtime: {e}")))?;
    let result = runtime
        .block_on(main_loop(source, config, contexts))
        .map_err(RunError::Start);
    // Sessions still running were closed; tasks left are done within the bound.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// State shared by every listener and session.
pub(crate) struct Shared {
    pub(crate) metrics: Arc<Metrics>,
    limit: Arc<Semaphore>,
    max_connections: usize,
    /// Set after the grace: every session still open closes.
    closing: watch::Sender<bool>,
    /// Set at SIGTERM: accept nothing more.
    draining: AtomicBool,
    /// Listeners configured but not running (a failed bind on reload): not ready.
    pub(crate) listeners_missing: std::sync::atomic::AtomicUsize,
    /// A listener's signing target, for the readiness check's token.
    pub(crate) ready_target: std::sync::Mutex<Option<crate::tokens::SigningTarget>>,
}

impl Shared {
    pub(crate) fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }
}

/// A listener that is accepting.
struct Running {
    config: ListenerConfig,
    stop: watch::Sender<bool>,
    /// The context new sessions get: a reload that keeps the listener replaces it (files
    /// re-read), sessions already running keep theirs.
    unit: watch::Sender<Arc<ListenerUnit>>,
    task: JoinHandle<()>,
}

async fn main_loop(
    source: ConfigSource,
    config: ProxyConfig,
    contexts: Vec<SessionContext>,
) -> Result<(), String> {
    let (closing, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        metrics: Arc::new(Metrics::default()),
        limit: Arc::new(Semaphore::new(config.max_connections)),
        max_connections: config.max_connections,
        closing,
        draining: AtomicBool::new(false),
        listeners_missing: Default::default(),
        ready_target: Default::default(),
    });
    let signal_error = |e: std::io::Error| format!("cannot watch signals: {e}");
    let mut sigterm = signal(SignalKind::terminate()).map_err(signal_error)?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(signal_error)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(signal_error)?;

    let mut running: HashMap<String, Running> = HashMap::new();
    for (l, ctx) in config.listeners.iter().zip(contexts) {
        match start_listener(l, ctx, &shared) {
            Ok(r) => {
                running.insert(l.name.clone(), r);
            }
            Err(e) => {
                stop_all(&mut running, &shared).await;
                return Err(format!("listener '{}': {e}", l.name));
            }
        }
    }
    set_ready_target(&shared, &config);
    let http_task = match config.http {
        Some(addr) => Some(http::start(addr, shared.clone()).await?),
        None => None,
    };
    let mut current = config;

    loop {
        tokio::select! {
            _ = sigterm.recv() => { log::info("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { log::info("SIGINT: shutting down"); break; }
            _ = sighup.recv() => {
                match &source {
                    ConfigSource::Given(_) => log::info(
                        "SIGHUP: nothing to reload (the listener comes from the command line; use --config FILE)",
                    ),
                    ConfigSource::File { path, .. } => {
                        log::info(&format!("SIGHUP: reloading {}", path.display()));
                        reload(&source, &mut current, &mut running, &shared).await;
                    }
                }
            }
        }
    }

    // Drain: accept nothing more, let sessions finish up to the grace, then close them.
    shared.draining.store(true, Ordering::SeqCst);
    stop_all(&mut running, &shared).await;
    let open = shared.metrics.sessions_open.load(Ordering::SeqCst);
    if open > 0 {
        log::info(&format!(
            "waiting up to {:?} for {open} session(s) to finish",
            current.shutdown_grace
        ));
        let drained = tokio::select! {
            d = wait_sessions(&shared, current.shutdown_grace) => d,
            _ = sigterm.recv() => false,
            _ = sigint.recv() => false,
        };
        if !drained {
            let left = shared.metrics.sessions_open.load(Ordering::SeqCst);
            log::info(&format!("closing {left} session(s) still open"));
            let _ = shared.closing.send(true);
            if !wait_sessions(&shared, STOP_BOUND).await {
                log::warn("some sessions did not close in time");
            }
        }
    }
    if let Some(task) = http_task {
        task.abort();
    }
    log::info("stopped");
    Ok(())
}

/// Waits until no session is open, up to `bound`; true when none is.
async fn wait_sessions(shared: &Shared, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    loop {
        if shared.metrics.sessions_open.load(Ordering::SeqCst) == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn set_ready_target(shared: &Shared, config: &ProxyConfig) {
    let target = config.listeners.first().and_then(|l| {
        Some(crate::tokens::SigningTarget {
            host: l.signing_host().ok()?,
            port: l.signing_port().ok()?,
            region: l.region.clone(),
            profile: l.profile.clone(),
        })
    });
    *shared
        .ready_target
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = target;
}

/// Re-reads the file: a bad file keeps everything as it is; otherwise listeners removed or
/// changed stop accepting (their sessions go on), new or changed ones start, and unchanged
/// ones get a context built afresh (the CA, certificate, key and password files re-read: a
/// rotated certificate or password takes effect) with the same token source and cancel keys.
async fn reload(
    source: &ConfigSource,
    current: &mut ProxyConfig,
    running: &mut HashMap<String, Running>,
    shared: &Arc<Shared>,
) {
    let new = match source.load() {
        Ok(c) => c,
        Err(e) => {
            log::error(&format!(
                "reload failed, the running configuration stays: {e}"
            ));
            return;
        }
    };
    // Build every listener's context first: any failure keeps the old config.
    let mut to_start = Vec::new();
    let mut to_refresh = Vec::new();
    for l in &new.listeners {
        let kept = running.get(&l.name).filter(|r| r.config == *l);
        match context::build(l) {
            Ok(mut ctx) => match kept {
                Some(r) => {
                    let old = r.unit.borrow().clone();
                    ctx.tokens = old.ctx.tokens.clone();
                    ctx.cancel_keys = old.ctx.cancel_keys.clone();
                    to_refresh.push((l.name.clone(), ListenerUnit::new(l, ctx)));
                }
                None => to_start.push((l.clone(), ctx)),
            },
            Err(e) => {
                log::error(&format!(
                    "reload failed, the running configuration stays: listener '{}': {e}",
                    l.name
                ));
                return;
            }
        }
    }
    if new.max_connections != current.max_connections
        || new.shutdown_grace != current.shutdown_grace
        || new.http != current.http
    {
        log::warn(
            "max_connections, shutdown_grace and http are read at start only: restart to change them",
        );
    }
    let keep: Vec<String> = new
        .listeners
        .iter()
        .filter(|l| running.get(&l.name).is_some_and(|r| r.config == **l))
        .map(|l| l.name.clone())
        .collect();
    let stopping: Vec<String> = running
        .keys()
        .filter(|name| !keep.contains(name))
        .cloned()
        .collect();
    for name in stopping {
        if let Some(r) = running.remove(&name) {
            stop_listener(&name, r, shared).await;
        }
    }
    for (name, unit) in to_refresh {
        if let Some(r) = running.get(&name) {
            let _ = r.unit.send(Arc::new(unit));
        }
    }
    let mut missing = 0;
    for (l, ctx) in to_start {
        match start_listener(&l, ctx, shared) {
            Ok(r) => {
                running.insert(l.name.clone(), r);
            }
            Err(e) => {
                missing += 1;
                log::error(&format!("listener '{}' did not start: {e}", l.name));
            }
        }
    }
    shared.listeners_missing.store(missing, Ordering::SeqCst);
    set_ready_target(shared, &new);
    log::info(&format!("reloaded: {} listener(s) running", running.len()));
    *current = new;
}

async fn stop_all(running: &mut HashMap<String, Running>, shared: &Arc<Shared>) {
    for (name, r) in running.drain() {
        stop_listener(&name, r, shared).await;
    }
}

async fn stop_listener(name: &str, r: Running, shared: &Arc<Shared>) {
    let _ = r.stop.send(true);
    let mut task = r.task;
    if tokio::time::timeout(STOP_BOUND, &mut task).await.is_err() {
        task.abort();
    }
    shared.metrics.listeners.fetch_sub(1, Ordering::SeqCst);
    log::info(&format!("listener '{name}' stopped accepting"));
}

fn start_listener(
    config: &ListenerConfig,
    ctx: SessionContext,
    shared: &Arc<Shared>,
) -> Result<Running, String> {
    let socket_path = match &config.listen {
        ListenAddr::Unix(path) => {
            let port = match config.socket_port {
                Some(p) => p,
                None => config.target_host_port()?.1,
            };
            Some(unix_socket_path(config.engine, path, port))
        }
        ListenAddr::Tcp(_) => None,
    };
    let listener = Listener::bind(&config.listen, socket_path.as_deref(), config.socket_mode)?;
    shared.metrics.add_token_source(ctx.tokens.clone());
    let target = ctx.tokens.target();
    log::info(&format!(
        "listening on {} ({}, listener '{}') for {} (tokens for {}:{}{}){}",
        listener.describe(),
        config.engine.name(),
        config.name,
        config.target,
        target.host,
        target.port,
        target
            .region
            .as_deref()
            .map_or_else(String::new, |r| format!(" in {r}")),
        if ctx.client_tls.is_some() {
            "; client TLS offered"
        } else {
            ""
        },
    ));
    let (stop, stop_rx) = watch::channel(false);
    let (unit, unit_rx) = watch::channel(Arc::new(ListenerUnit::new(config, ctx)));
    let task = tokio::spawn(accept_loop(listener, unit_rx, shared.clone(), stop_rx));
    shared.metrics.listeners.fetch_add(1, Ordering::SeqCst);
    Ok(Running {
        config: config.clone(),
        stop,
        unit,
        task,
    })
}

/// What a listener's sessions share.
struct ListenerUnit {
    name: String,
    ctx: SessionContext,
    allow_uid: Vec<u32>,
}

impl ListenerUnit {
    fn new(config: &ListenerConfig, ctx: SessionContext) -> Self {
        ListenerUnit {
            name: config.name.clone(),
            ctx,
            allow_uid: config.allow_uid.clone(),
        }
    }
}

async fn accept_loop(
    listener: Listener,
    unit: watch::Receiver<Arc<ListenerUnit>>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = until_set(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let current = unit.borrow().clone();
                    spawn_session(stream, peer, current, shared.clone());
                }
                Err(e) => {
                    // Out of descriptors or a client gone before accept: say it, pause, go on.
                    let name = unit.borrow().name.clone();
                    log::warn(&format!("listener '{name}': accept failed: {e}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    listener.remove_socket_file();
}

/// Returns once the flag is set (or its sender is gone).
async fn until_set(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await.map(|_| ());
}

/// Counts a session open for as long as it lives.
struct OpenSession(Arc<Shared>);

impl Drop for OpenSession {
    fn drop(&mut self) {
        self.0.metrics.sessions_open.fetch_sub(1, Ordering::SeqCst);
    }
}

fn spawn_session(
    mut stream: ClientStream,
    peer: Peer,
    unit: Arc<ListenerUnit>,
    shared: Arc<Shared>,
) {
    shared
        .metrics
        .sessions_total
        .fetch_add(1, Ordering::Relaxed);
    shared.metrics.sessions_open.fetch_add(1, Ordering::SeqCst);
    let open = OpenSession(shared.clone());
    let permit = shared.limit.clone().try_acquire_owned().ok();
    tokio::spawn(async move {
        let _open = open;
        let started = Instant::now();
        let mut report = SessionReport::default();
        let engine = unit.ctx.engine;
        let refusal = if shared.draining.load(Ordering::SeqCst) {
            Some(Failure::new(
                FailureKind::Unavailable,
                "the proxy is shutting down",
            ))
        } else if permit.is_none() {
            Some(Failure::new(
                FailureKind::Unavailable,
                format!(
                    "too many connections: the proxy's limit is {}",
                    shared.max_connections
                ),
            ))
        } else {
            peer_refusal(&peer, &unit.allow_uid)
        };
        let result = match refusal {
            Some(failure) => {
                refuse::send(&mut stream, engine, &failure).await;
                Err(failure)
            }
            None => {
                let mut closing = shared.closing.subscribe();
                let ctx = &unit.ctx;
                let report_ref = &mut report;
                let serve = async move {
                    match engine {
                        Engine::Postgres => crate::postgres::serve(stream, ctx, report_ref).await,
                        Engine::Mysql => crate::mysql::serve(stream, ctx, report_ref).await,
                    }
                };
                tokio::select! {
                    r = serve => r,
                    _ = until_set(&mut closing) => Err(Failure::new(
                        FailureKind::Unavailable,
                        "closed: the proxy shut down and the grace ran out",
                    )),
                }
            }
        };
        finish(&unit, &shared, &peer, &report, started.elapsed(), result);
    });
}

/// A unix peer whose uid is not on the listener's allow list.
fn peer_refusal(peer: &Peer, allow_uid: &[u32]) -> Option<Failure> {
    if allow_uid.is_empty() {
        return None;
    }
    match peer.uid() {
        Some(uid) if allow_uid.contains(&uid) => None,
        Some(uid) => Some(Failure::new(
            FailureKind::NotAllowed,
            format!("uid {uid} may not use this proxy"),
        )),
        None => Some(Failure::new(
            FailureKind::NotAllowed,
            "the peer's uid is unknown and this proxy allows listed uids only",
        )),
    }
}

/// The session's log line and counters.
fn finish(
    unit: &ListenerUnit,
    shared: &Shared,
    peer: &Peer,
    report: &SessionReport,
    elapsed: Duration,
    result: Result<(), Failure>,
) {
    let m = &shared.metrics;
    m.bytes_from_clients
        .fetch_add(report.bytes_from_client, Ordering::Relaxed);
    m.bytes_to_clients
        .fetch_add(report.bytes_to_client, Ordering::Relaxed);
    let outcome = match &result {
        Ok(()) if report.cancel_request => "outcome=cancel_forwarded".to_owned(),
        Ok(()) => "outcome=ok".to_owned(),
        Err(f) if report.logged_in => {
            m.sessions_failed_after_login
                .fetch_add(1, Ordering::Relaxed);
            format!(
                "outcome=error reason={} message={:?}",
                f.kind.label(),
                f.message
            )
        }
        Err(f) => {
            m.refused(f.kind);
            format!(
                "outcome=refused reason={} message={:?}",
                f.kind.label(),
                f.message
            )
        }
    };
    let mut line = format!("session listener={:?} client={peer}", unit.name);
    if let Some(user) = &report.user {
        line.push_str(&format!(" user={user:?}"));
    }
    if let Some(db) = &report.database {
        line.push_str(&format!(" database={db:?}"));
    }
    line.push_str(&format!(
        " upstream={} client_tls={} bytes_from_client={} bytes_to_client={} duration={:.3}s {outcome}",
        unit.ctx.upstream.target(),
        if report.client_tls { "yes" } else { "no" },
        report.bytes_from_client,
        report.bytes_to_client,
        elapsed.as_secs_f64(),
    ));
    log::info(&line);
}
