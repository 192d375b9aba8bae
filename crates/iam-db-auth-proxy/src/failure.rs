//! Why a session failed, in terms a client's protocol can show: every failure reaches the client
//! as a protocol error (PostgreSQL ErrorResponse, MySQL ERR packet) with this message, never a
//! bare reset. Messages never hold a token or a secret.

use std::fmt;

/// The classes of failure; each maps to a PostgreSQL SQLSTATE, a MySQL error code and a metrics
/// label (the "logins refused by reason" counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The client broke its protocol (bad packet, unsupported request).
    ClientProtocol,
    /// The client may not use this proxy or this database user (peer, user allow list, local
    /// authentication).
    NotAllowed,
    /// The database could not be reached (connect refused, timed out, DNS).
    UpstreamUnreachable,
    /// TLS to the database failed: refused, or its certificate did not verify for the name.
    UpstreamTls,
    /// No token could be made (no credentials, no region, bad request).
    Token,
    /// The database refused the login (token rejected, unknown user, non-IAM user refused).
    LoginRefused,
    /// The database broke its protocol.
    UpstreamProtocol,
    /// The proxy is at its connection limit or shutting down.
    Unavailable,
}

impl FailureKind {
    /// The label in metrics and log lines.
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::ClientProtocol => "client_protocol",
            FailureKind::NotAllowed => "not_allowed",
            FailureKind::UpstreamUnreachable => "upstream_unreachable",
            FailureKind::UpstreamTls => "upstream_tls",
            FailureKind::Token => "token",
            FailureKind::LoginRefused => "login_refused",
            FailureKind::UpstreamProtocol => "upstream_protocol",
            FailureKind::Unavailable => "unavailable",
        }
    }

    /// The PostgreSQL SQLSTATE a client sees.
    pub fn sqlstate(self) -> &'static str {
        match self {
            FailureKind::ClientProtocol => "08P01",
            FailureKind::NotAllowed | FailureKind::LoginRefused => "28000",
            FailureKind::Token => "28P01",
            FailureKind::UpstreamUnreachable | FailureKind::UpstreamTls => "08006",
            FailureKind::UpstreamProtocol => "08P01",
            FailureKind::Unavailable => "53300",
        }
    }

    /// The MySQL error code (and SQL state) a client sees.
    pub fn mysql_code(self) -> (u16, &'static str) {
        match self {
            FailureKind::ClientProtocol => (1043, "08S01"), // ER_HANDSHAKE_ERROR
            FailureKind::NotAllowed | FailureKind::LoginRefused | FailureKind::Token => {
                (1045, "28000")
            } // ER_ACCESS_DENIED_ERROR
            FailureKind::UpstreamUnreachable
            | FailureKind::UpstreamTls
            | FailureKind::UpstreamProtocol => (2013, "HY000"), // lost connection to upstream
            FailureKind::Unavailable => (1040, "08004"),    // ER_CON_COUNT_ERROR
        }
    }
}

/// A failure: its class and a one-line reason for the client and the log.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.label(), self.message)
    }
}

impl std::error::Error for Failure {}
