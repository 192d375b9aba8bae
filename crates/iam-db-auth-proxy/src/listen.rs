//! Accepting clients: TCP (loopback unless the listener has local authentication and client
//! TLS) and unix sockets, and who the peer is.
//!
//! A unix socket gets its mode before it listens (bind, chmod, listen), so no client can
//! connect through the umask's wider mode in between; a stale socket file nobody listens on is
//! replaced, a live one is an error. TCP connections get keepalive, so a peer that vanished
//! without a FIN (a laptop put to sleep, a dropped NAT entry) does not hold a session for ever.

use crate::config::ListenAddr;
use crate::session::{ClientStream, Engine};
use socket2::{Domain, SockAddr, Socket, TcpKeepalive, Type};
use std::fmt;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::{TcpListener, UnixListener};

/// Keepalive on both legs: first probe after a minute idle, then every 15 s, 4 probes.
pub const KEEPALIVE_TIME: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEPALIVE_RETRIES: u32 = 4;

/// Turns TCP keepalive on for `socket` (best effort: a socket that refuses keeps working).
pub fn set_keepalive(socket: socket2::SockRef<'_>) {
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_TIME)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    let _ = socket.set_tcp_keepalive(&keepalive);
}

/// A bound listener.
pub enum Listener {
    Tcp(TcpListener),
    Unix {
        listener: UnixListener,
        path: PathBuf,
    },
}

/// Who connected.
#[derive(Debug, Clone)]
pub enum Peer {
    Tcp(SocketAddr),
    /// A unix socket peer: its uid and pid when the kernel said.
    Unix {
        uid: Option<u32>,
        pid: Option<i32>,
    },
}

impl Peer {
    pub fn uid(&self) -> Option<u32> {
        match self {
            Peer::Unix { uid, .. } => *uid,
            Peer::Tcp(_) => None,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => write!(f, "{addr}"),
            Peer::Unix { uid, pid } => {
                write!(f, "unix")?;
                if let Some(uid) = uid {
                    write!(f, "(uid={uid}")?;
                    if let Some(pid) = pid {
                        write!(f, ",pid={pid}")?;
                    }
                    write!(f, ")")?;
                }
                Ok(())
            }
        }
    }
}

/// The socket file of a unix listener: for PostgreSQL `DIR/.s.PGSQL.<port>`, for MySQL the
/// path itself.
pub fn unix_socket_path(engine: Engine, path: &Path, port: u16) -> PathBuf {
    match engine {
        Engine::Postgres => path.join(format!(".s.PGSQL.{port}")),
        Engine::Mysql => path.to_owned(),
    }
}

impl Listener {
    /// Binds `addr`; `socket_path` is the unix socket file (see `unix_socket_path`).
    pub fn bind(addr: &ListenAddr, socket_path: Option<&Path>, mode: u32) -> Result<Self, String> {
        match addr {
            ListenAddr::Tcp(a) => bind_tcp(*a).map(Listener::Tcp),
            ListenAddr::Unix(_) => {
                let path = socket_path.expect("a unix listener has a socket path");
                bind_unix(path, mode).map(|listener| Listener::Unix {
                    listener,
                    path: path.to_owned(),
                })
            }
        }
    }

    /// Where it listens, for log lines (a TCP port 0 resolved).
    pub fn describe(&self) -> String {
        match self {
            Listener::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "tcp".into(), |a| a.to_string()),
            Listener::Unix { path, .. } => format!("unix:{}", path.display()),
        }
    }

    /// The next client, with keepalive set on TCP.
    pub async fn accept(&self) -> std::io::Result<(ClientStream, Peer)> {
        match self {
            Listener::Tcp(l) => {
                let (stream, addr) = l.accept().await?;
                let _ = stream.set_nodelay(true);
                set_keepalive(socket2::SockRef::from(&stream));
                Ok((Box::new(stream), Peer::Tcp(addr)))
            }
            Listener::Unix { listener, .. } => {
                let (stream, _) = listener.accept().await?;
                let cred = stream.peer_cred().ok();
                let peer = Peer::Unix {
                    uid: cred.map(|c| c.uid()),
                    pid: cred.and_then(|c| c.pid()),
                };
                Ok((Box::new(stream), peer))
            }
        }
    }

    /// Removes a unix socket file (when the listener stops), if it is still ours.
    pub fn remove_socket_file(&self) {
        if let Listener::Unix { path, .. } = self
            && std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn bind_tcp(addr: SocketAddr) -> Result<TcpListener, String> {
    let fail = |what: &str, e: std::io::Error| format!("cannot {what} {addr}: {e}");
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)
        .map_err(|e| fail("open a socket for", e))?;
    socket
        .set_reuse_address(true)
        .map_err(|e| fail("set SO_REUSEADDR on", e))?;
    if addr.is_ipv6() {
        let _ = socket.set_only_v6(true);
    }
    socket
        .bind(&SockAddr::from(addr))
        .map_err(|e| fail("listen on", e))?;
    socket.listen(1024).map_err(|e| fail("listen on", e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| fail("set up", e))?;
    TcpListener::from_std(std::net::TcpListener::from(socket)).map_err(|e| fail("set up", e))
}

fn bind_unix(path: &Path, mode: u32) -> Result<UnixListener, String> {
    let shown = path.display();
    let fail = |what: &str, e: std::io::Error| format!("cannot {what} unix:{shown}: {e}");
    remove_stale_socket(path)?;
    let socket =
        Socket::new(Domain::UNIX, Type::STREAM, None).map_err(|e| fail("open a socket for", e))?;
    let address = SockAddr::unix(path).map_err(|e| fail("use", e))?;
    socket.bind(&address).map_err(|e| fail("bind", e))?;
    // The mode before listen(2): until then a connect is refused, whatever the file's mode.
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        let _ = std::fs::remove_file(path);
        return Err(fail("set the mode of", e));
    }
    let listening = socket
        .listen(1024)
        .and_then(|()| socket.set_nonblocking(true))
        .map_err(|e| fail("listen on", e))
        .and_then(|()| {
            UnixListener::from_std(std::os::unix::net::UnixListener::from(socket))
                .map_err(|e| fail("set up", e))
        });
    if listening.is_err() {
        let _ = std::fs::remove_file(path);
    }
    listening
}

/// A socket file left by a process that died is replaced; one somebody listens on is not,
/// and neither is anything that is not a socket.
fn remove_stale_socket(path: &Path) -> Result<(), String> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if !meta.file_type().is_socket() {
        return Err(format!(
            "{} exists and is not a socket: remove it or listen elsewhere",
            path.display()
        ));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(format!(
            "{} is in use: another process listens on it",
            path.display()
        ));
    }
    std::fs::remove_file(path)
        .map_err(|e| format!("cannot remove the stale socket {}: {e}", path.display()))
}
