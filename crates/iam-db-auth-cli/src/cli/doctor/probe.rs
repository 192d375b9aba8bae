//! What the login probes share: the engine, the TCP connection, and the server's answers as
//! the checks read them. Each engine's messages are in its own file (`postgres.rs`, `mysql.rs`).

use super::tls::{self, HandshakeError};
use rustls::{ClientConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The database protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    /// MySQL and MariaDB.
    Mysql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }

    /// The engine a well-known port implies.
    pub fn from_port(port: u16) -> Option<Engine> {
        match port {
            5432 => Some(Engine::Postgres),
            3306 => Some(Engine::Mysql),
            _ => None,
        }
    }
}

/// A server's error, as it sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    /// SQLSTATE (PostgreSQL) or the error number (MySQL).
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\" ({})", self.message.escape_debug(), self.code)
    }
}

/// How the server answered a login before any password was sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    /// A cleartext password: what an IAM login needs (MySQL: `mysql_clear_password`;
    /// PostgreSQL: AuthenticationCleartextPassword).
    Cleartext,
    /// Another method (named): the user is a password user, not an IAM user.
    Other(String),
    /// It let the user in without any password.
    NoPassword,
    /// It refused before asking for anything.
    Refused(ServerError),
}

/// How a login with the token ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Login {
    /// Logged in; the text says as what (server version, a note).
    Accepted(String),
    /// The server refused the token.
    Refused(ServerError),
    /// The token was never sent: the server did not ask for a cleartext password.
    NotAsked(Ask),
}

/// Why a probe could not get as far as the login.
pub enum ProbeError {
    /// The server does not offer TLS.
    NoTls(String),
    Tls(HandshakeError),
    /// The connection or the protocol broke (time-out, unexpected message).
    Broken(String),
}

/// A TLS connection to the server, with its handshake's facts.
pub struct Session {
    pub stream: StreamOwned<ClientConnection, TcpStream>,
    pub handshake_chain: Vec<tls::CertInfo>,
    pub protocol: String,
    pub handshake_time: Duration,
    /// Engine-specific state from before TLS (MySQL's greeting).
    pub greeting: Option<super::mysql::Greeting>,
}

/// A TCP connection to `addr` within `timeout`, with the time it took.
pub fn connect(addr: SocketAddr, timeout: Duration) -> std::io::Result<(TcpStream, Duration)> {
    let started = Instant::now();
    let stream = TcpStream::connect_timeout(&addr, timeout)?;
    let _ = stream.set_nodelay(true);
    Ok((stream, started.elapsed()))
}

/// Opens a verified TLS session with the server at `addr` for `name` (the signing host).
pub fn open(
    engine: Engine,
    addr: SocketAddr,
    client: &tls::Client,
    name: &str,
    deadline: Instant,
) -> Result<Session, ProbeError> {
    let left = deadline.saturating_duration_since(Instant::now());
    let (socket, _) = connect(addr, left.max(Duration::from_millis(1)))
        .map_err(|e| ProbeError::Broken(format!("could not connect to {addr} again ({e})")))?;
    match engine {
        Engine::Postgres => super::postgres::open(socket, client, name, deadline),
        Engine::Mysql => super::mysql::open(socket, client, name, deadline),
    }
}

/// Asks the server to log `user` in and reads its first answer; with `token`, sends it when
/// (and only when) the server asks for a cleartext password. The session ends either way.
pub fn authenticate(
    engine: Engine,
    session: Session,
    user: &str,
    database: &str,
    token: Option<&str>,
    deadline: Instant,
) -> Result<(Ask, Option<Login>), String> {
    match engine {
        Engine::Postgres => super::postgres::authenticate(session, user, database, token, deadline),
        Engine::Mysql => super::mysql::authenticate(session, user, token, deadline),
    }
}

/// Reads into `buf` within `deadline` (a time-out is an error that says so).
pub fn read_some(
    stream: &mut (impl Read + HasSocket),
    buf: &mut [u8],
    deadline: Instant,
) -> Result<usize, String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err("the server did not answer in time".into());
    }
    let _ = stream.socket().set_read_timeout(Some(left));
    match stream.read(buf) {
        Ok(0) => Err("the server closed the connection".into()),
        Ok(n) => Ok(n),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err("the server did not answer in time".into())
        }
        Err(e) => Err(format!("the connection broke ({e})")),
    }
}

/// Writes all of `bytes` within `deadline`.
pub fn write_all(
    stream: &mut (impl Write + HasSocket),
    bytes: &[u8],
    deadline: Instant,
) -> Result<(), String> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err("out of time while sending to the server".into());
    }
    let _ = stream.socket().set_write_timeout(Some(left));
    stream
        .write_all(bytes)
        .and_then(|_| stream.flush())
        .map_err(|e| format!("could not send to the server ({e})"))
}

/// Streams whose socket timeouts can be set.
pub trait HasSocket {
    fn socket(&self) -> &TcpStream;
}

impl HasSocket for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl HasSocket for StreamOwned<ClientConnection, TcpStream> {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }
}
