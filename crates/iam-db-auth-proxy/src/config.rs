//! The proxy's settings: one listener from the command line, or several from a TOML file
//! (`--config`, re-read on SIGHUP). Pure: text in, settings or an error naming the line out;
//! files named inside (CA, certificates, password file) are read when a listener is built.
//!
//! The file (docs/proxy.md has the full schema):
//!
//! ```toml
//! max_connections = 1000      # process-wide, read at start
//! shutdown_grace = "30s"      # read at start
//! http = "127.0.0.1:9187"     # read at start
//! idle_timeout = "1h"         # default for listeners
//!
//! [[listener]]
//! name = "orders"             # default: the listen address
//! engine = "postgres"
//! listen = "unix:/run/iam-db-auth"
//! target = "orders.cluster-x.eu-west-1.rds.amazonaws.com:5432"
//! ```

use crate::session::Engine;
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Where a listener accepts clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Tcp(SocketAddr),
    /// `unix:PATH`: for PostgreSQL a directory (the socket is `.s.PGSQL.<port>` in it), for
    /// MySQL the socket file itself.
    Unix(PathBuf),
}

impl ListenAddr {
    /// Parses `127.0.0.1:PORT`, `[::1]:PORT`, `localhost:PORT` (127.0.0.1) or `unix:PATH`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("'unix:' needs a path, e.g. unix:/run/iam-db-auth".into());
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        if let Some(port) = text.strip_prefix("localhost:") {
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("'{text}': the port must be a number from 0 to 65535"))?;
            return Ok(ListenAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], port))));
        }
        text.parse::<SocketAddr>()
            .map(ListenAddr::Tcp)
            .map_err(|_| {
                format!(
                    "'{text}' is not a listen address: use 127.0.0.1:PORT, [::1]:PORT or unix:PATH \
                 (an IP address, not a host name)"
                )
            })
    }

    /// Loopback TCP or a unix socket: reachable only from this host.
    pub fn is_local(&self) -> bool {
        match self {
            ListenAddr::Tcp(addr) => is_loopback(addr.ip()),
            ListenAddr::Unix(_) => true,
        }
    }
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "{addr}"),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// One listener: where it accepts clients, which database it leads to, who may use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    pub name: String,
    pub engine: Engine,
    pub listen: ListenAddr,
    /// `host:port` to connect to.
    pub target: String,
    /// The endpoint the token is signed for and the certificate must name (default: the
    /// target's host and port).
    pub signing_host: Option<String>,
    pub signing_port: Option<u16>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub ca: Option<PathBuf>,
    /// PostgreSQL unix listeners: the port in the socket's name (default: the target's).
    pub socket_port: Option<u16>,
    /// Mode of a unix socket (default 0600).
    pub socket_mode: u32,
    /// Unix listeners: only these peer uids (empty: any uid that can open the socket).
    pub allow_uid: Vec<u32>,
    /// Database users clients may log in as (empty: any).
    pub user_allow: Vec<String>,
    /// Local password file: clients prove a password before the proxy logs in for them.
    pub local_auth: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub idle_timeout: Option<Duration>,
    pub login_timeout: Duration,
}

/// The default mode of a unix socket: the owner only.
pub const DEFAULT_SOCKET_MODE: u32 = 0o600;
/// The default bound on a login (client hello to relay start).
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// The default bound on draining sessions at SIGTERM.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// The default process-wide connection limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;
/// The largest connection limit (far above what one process's descriptors allow).
pub const MAX_MAX_CONNECTIONS: usize = 1_000_000;

impl ListenerConfig {
    /// The target's host and port.
    pub fn target_host_port(&self) -> Result<(String, u16), String> {
        split_host_port(&self.target)
    }

    /// The host the token is signed for and the certificate must name.
    pub fn signing_host(&self) -> Result<String, String> {
        match &self.signing_host {
            Some(h) => Ok(h.clone()),
            None => self.target_host_port().map(|(h, _)| h),
        }
    }

    pub fn signing_port(&self) -> Result<u16, String> {
        match self.signing_port {
            Some(p) => Ok(p),
            None => self.target_host_port().map(|(_, p)| p),
        }
    }

    /// The checks that need no file: the address, the exposure rule, the TLS pair.
    pub fn validate(&self) -> Result<(), String> {
        let (host, _) = self.target_host_port()?;
        if host.is_empty() {
            return Err(format!("target '{}' has no host", self.target));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(
                "client TLS needs both tls_cert and tls_key (--tls-cert, --tls-key)".into(),
            );
        }
        if !self.listen.is_local() && (self.local_auth.is_none() || self.tls_cert.is_none()) {
            return Err(format!(
                "listen address {} is not loopback: every client would log in to the database \
                 as an IAM user, so a listener reachable from other hosts needs local \
                 authentication (--local-auth FILE) and client TLS (--tls-cert, --tls-key); \
                 use 127.0.0.1, [::1] or a unix socket otherwise",
                self.listen
            ));
        }
        if !self.allow_uid.is_empty() && !matches!(self.listen, ListenAddr::Unix(_)) {
            return Err("allow_uid (--allow-uid) works on unix socket listeners only".into());
        }
        if self.socket_mode & !0o777 != 0 {
            return Err(format!(
                "socket mode {:o} is not a permission mode",
                self.socket_mode
            ));
        }
        if self.login_timeout.is_zero() {
            return Err("the login timeout must be more than 0".into());
        }
        Ok(())
    }
}

/// Splits `host:port` (`[v6]:port` too).
pub fn split_host_port(text: &str) -> Result<(String, u16), String> {
    let bad = || format!("'{text}' is not HOST:PORT");
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, port) = rest.split_once("]:").ok_or_else(bad)?;
        (host, port)
    } else {
        text.rsplit_once(':').ok_or_else(bad)?
    };
    let port = port.parse::<u16>().map_err(|_| bad())?;
    if port == 0 || host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}

/// The whole process: its listeners and the settings read once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    pub listeners: Vec<ListenerConfig>,
    pub max_connections: usize,
    pub shutdown_grace: Duration,
    pub http: Option<SocketAddr>,
    /// The metrics endpoint may listen on a non-loopback address.
    pub http_public: bool,
}

impl ProxyConfig {
    /// Checks every listener and that names and addresses are unique.
    pub fn validate(&self) -> Result<(), String> {
        if self.listeners.is_empty() {
            return Err("no listener configured".into());
        }
        if !(1..=MAX_MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(format!(
                "max_connections must be from 1 to {MAX_MAX_CONNECTIONS}, not {}",
                self.max_connections
            ));
        }
        let mut names = HashSet::new();
        let mut addresses = HashSet::new();
        for l in &self.listeners {
            l.validate()
                .map_err(|e| format!("listener '{}': {e}", l.name))?;
            if !names.insert(&l.name) {
                return Err(format!("two listeners are named '{}'", l.name));
            }
            // Port 0 (the kernel picks one) never collides.
            let any_port = matches!(l.listen, ListenAddr::Tcp(a) if a.port() == 0);
            if !any_port && !addresses.insert(l.listen.to_string()) {
                return Err(format!("two listeners listen on {}", l.listen));
            }
        }
        if let Some(http) = self.http
            && !is_loopback(http.ip())
            && !self.http_public
        {
            return Err(format!(
                "the metrics address {http} is not loopback: say so with http_public = true \
                 (--http-public) if it should be reachable from other hosts"
            ));
        }
        Ok(())
    }
}

/// Parses `30s`, `5m`, `1h`, `500ms` or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("'{text}' is not a duration (e.g. 30s, 5m, 1h, 500ms)");
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let d = match unit.trim() {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" | "min" => Duration::from_secs(n.checked_mul(60).ok_or_else(bad)?),
        "h" => Duration::from_secs(n.checked_mul(3600).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    Ok(d)
}

/// Parses a mode written in octal (`600`, `0600`, `0o660`).
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let t = text.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    u32::from_str_radix(digits, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("'{text}' is not an octal permission mode (e.g. 0600, 0660)"))
}

pub fn parse_engine(text: &str) -> Result<Engine, String> {
    match text.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" | "pg" => Ok(Engine::Postgres),
        "mysql" | "mariadb" => Ok(Engine::Mysql),
        _ => Err(format!("'{text}' is not an engine: use postgres or mysql")),
    }
}

// ---- The TOML file ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTop {
    max_connections: Option<usize>,
    shutdown_grace: Option<DurationText>,
    http: Option<String>,
    http_public: Option<bool>,
    idle_timeout: Option<DurationText>,
    login_timeout: Option<DurationText>,
    #[serde(default)]
    listener: Vec<toml::Spanned<FileListener>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileListener {
    name: Option<String>,
    engine: String,
    listen: String,
    target: String,
    signing_host: Option<String>,
    signing_port: Option<u16>,
    region: Option<String>,
    profile: Option<String>,
    ca: Option<PathBuf>,
    socket_port: Option<u16>,
    socket_mode: Option<ModeText>,
    #[serde(default)]
    allow_uid: Vec<u32>,
    #[serde(default)]
    user_allow: Vec<String>,
    local_auth: Option<PathBuf>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    idle_timeout: Option<DurationText>,
    login_timeout: Option<DurationText>,
}

/// A duration in the file: `"30s"` or a number of seconds.
#[derive(Deserialize)]
#[serde(untagged)]
enum DurationText {
    Seconds(u64),
    Text(String),
}

impl DurationText {
    fn get(&self) -> Result<Duration, String> {
        match self {
            DurationText::Seconds(s) => Ok(Duration::from_secs(*s)),
            DurationText::Text(t) => parse_duration(t),
        }
    }
}

/// A mode in the file: `"0660"` (a string, read as octal) or a number written `0o660`.
#[derive(Deserialize)]
#[serde(untagged)]
enum ModeText {
    Number(u32),
    Text(String),
}

impl ModeText {
    fn get(&self) -> Result<u32, String> {
        match self {
            ModeText::Number(n) if *n <= 0o777 => Ok(*n),
            ModeText::Number(n) => Err(format!(
                "socket_mode {n} is not a permission mode: write it as a string (\"0660\") or 0o660"
            )),
            ModeText::Text(t) => parse_mode(t),
        }
    }
}

/// The line (1-based) of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses a config file's text. Errors name the line: TOML errors carry it, and a listener's
/// errors name the line its `[[listener]]` table starts on.
pub fn parse_file(text: &str) -> Result<ProxyConfig, String> {
    let top: FileTop = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        let message = e.message().trim_end().to_owned();
        match line {
            Some(line) => format!("line {line}: {message}"),
            None => message,
        }
    })?;
    let at_top = |what: &str, r: Result<Duration, String>| r.map_err(|e| format!("{what}: {e}"));
    let idle_default = top
        .idle_timeout
        .as_ref()
        .map(|d| at_top("idle_timeout", d.get()))
        .transpose()?;
    let login_default = top
        .login_timeout
        .as_ref()
        .map(|d| at_top("login_timeout", d.get()))
        .transpose()?
        .unwrap_or(DEFAULT_LOGIN_TIMEOUT);
    let mut listeners = Vec::new();
    for spanned in &top.listener {
        let line = line_of(text, spanned.span().start);
        let l = spanned.get_ref();
        let built = file_listener(l, idle_default, login_default)
            .and_then(|c| c.validate().map(|()| c))
            .map_err(|e| format!("line {line}: listener: {e}"))?;
        listeners.push(built);
    }
    let config = ProxyConfig {
        listeners,
        max_connections: top.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
        shutdown_grace: top
            .shutdown_grace
            .as_ref()
            .map(|d| at_top("shutdown_grace", d.get()))
            .transpose()?
            .unwrap_or(DEFAULT_SHUTDOWN_GRACE),
        http: top
            .http
            .as_deref()
            .map(|h| {
                h.parse::<SocketAddr>()
                    .map_err(|_| format!("http: '{h}' is not an address such as 127.0.0.1:9187"))
            })
            .transpose()?,
        http_public: top.http_public.unwrap_or(false),
    };
    config.validate()?;
    Ok(config)
}

fn file_listener(
    l: &FileListener,
    idle_default: Option<Duration>,
    login_default: Duration,
) -> Result<ListenerConfig, String> {
    let listen = ListenAddr::parse(&l.listen)?;
    let idle_timeout = match &l.idle_timeout {
        Some(d) => Some(d.get()?).filter(|d| !d.is_zero()),
        None => idle_default.filter(|d| !d.is_zero()),
    };
    Ok(ListenerConfig {
        name: l.name.clone().unwrap_or_else(|| listen.to_string()),
        engine: parse_engine(&l.engine)?,
        listen,
        target: l.target.clone(),
        signing_host: l.signing_host.clone(),
        signing_port: l.signing_port,
        region: l.region.clone(),
        profile: l.profile.clone(),
        ca: l.ca.clone(),
        socket_port: l.socket_port,
        socket_mode: l
            .socket_mode
            .as_ref()
            .map(ModeText::get)
            .transpose()?
            .unwrap_or(DEFAULT_SOCKET_MODE),
        allow_uid: l.allow_uid.clone(),
        user_allow: l.user_allow.clone(),
        local_auth: l.local_auth.clone(),
        tls_cert: l.tls_cert.clone(),
        tls_key: l.tls_key.clone(),
        idle_timeout,
        login_timeout: l
            .login_timeout
            .as_ref()
            .map(DurationText::get)
            .transpose()?
            .unwrap_or(login_default),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
max_connections = 50
shutdown_grace = "10s"
http = "127.0.0.1:9187"
idle_timeout = 600

[[listener]]
name = "pg"
engine = "postgres"
listen = "unix:/run/iam"
target = "db.example.com:5432"
socket_mode = "0660"
allow_uid = [1000]

[[listener]]
engine = "mysql"
listen = "127.0.0.1:3306"
target = "127.0.0.1:13306"
signing_host = "db.example.com"
signing_port = 3306
user_allow = ["app"]
idle_timeout = "5m"
"#;

    #[test]
    fn a_good_file_parses() {
        let c = parse_file(GOOD).unwrap();
        assert_eq!(c.max_connections, 50);
        assert_eq!(c.shutdown_grace, Duration::from_secs(10));
        assert_eq!(c.listeners.len(), 2);
        assert_eq!(c.listeners[0].socket_mode, 0o660);
        assert_eq!(c.listeners[0].idle_timeout, Some(Duration::from_secs(600)));
        assert_eq!(c.listeners[1].name, "127.0.0.1:3306");
        assert_eq!(c.listeners[1].idle_timeout, Some(Duration::from_secs(300)));
        assert_eq!(c.listeners[1].signing_host().unwrap(), "db.example.com");
    }

    /// (file, line the error must name, words the message must contain)
    #[test]
    fn bad_files_name_the_line() {
        let cases: &[(&str, &str, &str)] = &[
            ("max_connections = \"x\"\n", "line 1", "invalid type"),
            (
                "max_connections = 0\n[[listener]]\nengine = \"mysql\"\nlisten = \"127.0.0.1:1\"\ntarget = \"h:1\"\n",
                "",
                "from 1 to",
            ),
            (
                "\n\n[[listener]]\nengine = \"oracle\"\nlisten = \"127.0.0.1:1\"\ntarget = \"h:1\"\n",
                "line 3",
                "not an engine",
            ),
            (
                "[[listener]]\nengine = \"mysql\"\nlisten = \"10.0.0.1:3306\"\ntarget = \"h:1\"\n",
                "line 1",
                "not loopback",
            ),
            (
                "[[listener]]\nengine = \"mysql\"\nlisten = \"127.0.0.1:3306\"\ntarget = \"h:1\"\nbogus = 1\n",
                "line 5",
                "unknown field",
            ),
            (
                "[[listener]]\nengine = \"mysql\"\nlisten = \"127.0.0.1:3306\"\ntarget = \"nohost\"\n",
                "line 1",
                "HOST:PORT",
            ),
            (
                "[[listener]]\nengine = \"mysql\"\nlisten = \"db:3306\"\ntarget = \"h:1\"\n",
                "line 1",
                "not a listen address",
            ),
            ("[[listener\n", "line 1", ""),
        ];
        for (text, line, words) in cases {
            let e = parse_file(text).unwrap_err();
            assert!(e.contains(line), "{text:?}: {e}");
            assert!(e.contains(words), "{text:?}: {e}");
        }
    }

    /// The files users copy from: examples/proxy/proxy.toml and docs/proxy.md's schema.
    #[test]
    fn the_documented_files_parse() {
        let example = parse_file(include_str!("../../../examples/proxy/proxy.toml")).unwrap();
        assert_eq!(example.listeners.len(), 2);
        let doc = include_str!("../../../docs/proxy.md");
        let start = doc
            .find("```toml\n")
            .expect("docs/proxy.md has a TOML example")
            + 8;
        let end = start + doc[start..].find("```").unwrap();
        let documented = parse_file(&doc[start..end]).unwrap();
        assert_eq!(documented.listeners.len(), 2);
        assert_eq!(documented.listeners[0].allow_uid, vec![1000, 1001]);
    }

    #[test]
    fn a_listener_beyond_loopback_needs_local_auth_and_client_tls() {
        let base = "[[listener]]\nengine = \"postgres\"\nlisten = \"192.0.2.10:5432\"\ntarget = \"h:5432\"\n";
        let auth = "local_auth = \"/etc/iam/users\"\n";
        let tls = "tls_cert = \"/etc/iam/c.pem\"\ntls_key = \"/etc/iam/k.pem\"\n";
        assert!(parse_file(base).is_err());
        assert!(parse_file(&format!("{base}{auth}")).is_err());
        assert!(parse_file(&format!("{base}{tls}")).is_err());
        assert!(parse_file(&format!("{base}{auth}{tls}")).is_ok());
        let half_tls = "tls_cert = \"/etc/iam/c.pem\"\n";
        let e = parse_file(&format!("[[listener]]\nengine = \"mysql\"\nlisten = \"127.0.0.1:1\"\ntarget = \"h:1\"\n{half_tls}")).unwrap_err();
        assert!(e.contains("both tls_cert and tls_key"), "{e}");
    }

    #[test]
    fn durations_modes_and_addresses() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_mode("0660").unwrap(), 0o660);
        assert_eq!(parse_mode("0o600").unwrap(), 0o600);
        assert!(parse_mode("999").is_err());
        assert!(ListenAddr::parse("127.0.0.1:5432").unwrap().is_local());
        assert!(ListenAddr::parse("[::1]:5432").unwrap().is_local());
        assert!(ListenAddr::parse("unix:/tmp/x").unwrap().is_local());
        assert!(!ListenAddr::parse("0.0.0.0:5432").unwrap().is_local());
        assert!(!ListenAddr::parse("[::]:5432").unwrap().is_local());
        assert_eq!(
            split_host_port("[::1]:5432").unwrap(),
            ("::1".to_owned(), 5432)
        );
    }
}
