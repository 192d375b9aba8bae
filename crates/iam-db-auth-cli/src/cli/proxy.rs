//! `iam-db-auth proxy`: the command line of the local proxy (crates/iam-db-auth-proxy), turned
//! into its settings. Runs until SIGTERM or SIGINT (exit 0); a configuration that does not hold
//! or a listener that cannot start is exit 2 or 1 with one line saying why. docs/proxy.md.

use super::{EXIT_FAILURE, EXIT_USAGE, given, print_error};
use clap::Args;
use iam_db_auth_proxy::config::{
    self, DEFAULT_LOGIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_GRACE,
    DEFAULT_SOCKET_MODE, ListenAddr, ListenerConfig, ProxyConfig,
};
use iam_db_auth_proxy::server::{self, ConfigSource, Overrides, RunError};
use iam_db_auth_proxy::session::Engine;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The options that make the one listener of the command line; `--config` replaces them.
/// (Not the signing host and port: they also come from the environment, which a `--config`
/// run ignores, as each listener names its own.)
const LISTENER_FLAGS: [&str; 15] = [
    "engine",
    "listen",
    "target",
    "region",
    "profile",
    "ca",
    "socket_port",
    "socket_mode",
    "allow_uid",
    "user_allow",
    "local_auth",
    "tls_cert",
    "tls_key",
    "idle_timeout",
    "login_timeout",
];

#[derive(Args, Debug)]
pub struct ProxyArgs {
    /// The database's protocol
    #[arg(long, value_parser = config::parse_engine, required_unless_present = "config")]
    engine: Option<Engine>,
    /// Where clients connect: 127.0.0.1:PORT, [::1]:PORT or unix:PATH (PostgreSQL: a directory,
    /// the socket is PATH/.s.PGSQL.<port>, so `psql -h PATH` works; MySQL: the socket file)
    #[arg(long, value_name = "ADDR", value_parser = ListenAddr::parse, required_unless_present = "config")]
    listen: Option<ListenAddr>,
    /// The database, HOST:PORT (an RDS endpoint, or a tunnel's local end with --signing-host)
    #[arg(long, value_name = "HOST:PORT", required_unless_present = "config")]
    target: Option<String>,
    /// Sign tokens for this host, and require the database's certificate to name it
    /// [default: the target's host, else IAM_DB_AUTH_SIGNING_HOST]
    #[arg(long, env = "IAM_DB_AUTH_SIGNING_HOST", value_name = "H")]
    signing_host: Option<String>,
    /// Sign tokens for this port [default: the target's port, else IAM_DB_AUTH_SIGNING_PORT]
    #[arg(long, env = "IAM_DB_AUTH_SIGNING_PORT", value_name = "P")]
    signing_port: Option<u16>,
    /// AWS region [default: from the endpoint name, else AWS_REGION, the profile]
    #[arg(long, value_name = "R")]
    region: Option<String>,
    /// AWS profile to take credentials from [default: IAM_DB_AUTH_PROFILE, else the default chain]
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// CA bundle the database's certificate must verify against [default: the CA lookup,
    /// `iam-db-auth ca path`, and the system's roots]
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// PostgreSQL unix listeners: the port in the socket's name [default: the target's port]
    #[arg(long, value_name = "PORT")]
    socket_port: Option<u16>,
    /// Mode of a unix socket, octal [default: 0600, the proxy's user only]
    #[arg(long, value_name = "MODE", value_parser = config::parse_mode)]
    socket_mode: Option<u32>,
    /// Unix listeners: only these peer uids may connect (repeatable or comma-separated)
    #[arg(long, value_name = "UID", value_delimiter = ',')]
    allow_uid: Vec<u32>,
    /// Only these database users may be logged in as (repeatable or comma-separated)
    #[arg(long, value_name = "USER", value_delimiter = ',')]
    user_allow: Vec<String>,
    /// Local password file (`user:password` lines, mode 0600): clients prove a local password
    /// first; required, with client TLS, for a listener that is not loopback
    #[arg(long, value_name = "FILE")]
    local_auth: Option<PathBuf>,
    /// Certificate chain (PEM) for TLS on the client leg
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM, mode 0600) for TLS on the client leg
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Close a session with no traffic either way for this long (e.g. 30m; 0: never)
    /// [default: never]
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration)]
    idle_timeout: Option<Duration>,
    /// Bound on a client's login, from its first byte to the relay [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration)]
    login_timeout: Option<Duration>,
    /// Several listeners from a TOML file (docs/proxy.md), re-read on SIGHUP
    #[arg(long, value_name = "FILE", conflicts_with_all = LISTENER_FLAGS)]
    config: Option<PathBuf>,
    /// Sessions open at once, all listeners together; a client over the limit gets its
    /// protocol's "too many connections" error [default: 1000]
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// At SIGTERM/SIGINT: how long sessions may run on before they are closed [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = config::parse_duration)]
    shutdown_grace: Option<Duration>,
    /// Serve /metrics (Prometheus), /healthz and /readyz on this address (loopback unless
    /// --http-public)
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Let --http listen on an address that is not loopback
    #[arg(long)]
    http_public: bool,
}

pub fn run(args: &ProxyArgs) -> ExitCode {
    let source = match source(args) {
        Ok(s) => s,
        Err(e) => {
            print_error(e);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // A configuration error is a usage error; a listener that cannot start is a failure.
    match server::run(source) {
        Ok(()) => ExitCode::SUCCESS,
        Err(RunError::Config(e)) => {
            print_error(e);
            ExitCode::from(EXIT_USAGE)
        }
        Err(RunError::Start(e)) => {
            print_error(e);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn source(args: &ProxyArgs) -> Result<ConfigSource, String> {
    if let Some(path) = &args.config {
        return Ok(ConfigSource::File {
            path: path.clone(),
            overrides: Overrides {
                max_connections: args.max_connections,
                shutdown_grace: args.shutdown_grace,
                http: args.http,
                http_public: args.http_public,
            },
        });
    }
    let (Some(engine), Some(listen), Some(target)) = (args.engine, &args.listen, &args.target)
    else {
        return Err("give --engine, --listen and --target, or --config FILE".into());
    };
    let listener = ListenerConfig {
        name: listen.to_string(),
        engine,
        listen: listen.clone(),
        target: target.clone(),
        signing_host: given(&args.signing_host).map(str::to_owned),
        signing_port: args.signing_port,
        region: given(&args.region).map(str::to_owned),
        profile: given(&args.profile).map(str::to_owned),
        ca: args.ca.clone(),
        socket_port: args.socket_port,
        socket_mode: args.socket_mode.unwrap_or(DEFAULT_SOCKET_MODE),
        allow_uid: args.allow_uid.clone(),
        user_allow: args.user_allow.clone(),
        local_auth: args.local_auth.clone(),
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        idle_timeout: args.idle_timeout.filter(|d| !d.is_zero()),
        login_timeout: args.login_timeout.unwrap_or(DEFAULT_LOGIN_TIMEOUT),
    };
    Ok(ConfigSource::Given(ProxyConfig {
        listeners: vec![listener],
        max_connections: args.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
        shutdown_grace: args.shutdown_grace.unwrap_or(DEFAULT_SHUTDOWN_GRACE),
        http: args.http,
        http_public: args.http_public,
    }))
}
