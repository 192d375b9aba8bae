//! The proxy's log: one line per event on stderr, time-stamped (it runs for days under a
//! service manager), each written in one `write` and a failed write ignored, as the CLI's other
//! long-running command (`pgpass --watch`) does: a stderr whose reader has gone costs a line,
//! never the proxy. Lines name clients, users, hosts and reasons; never a token or a password.

use iam_db_auth::UtcSeconds;
use std::io::Write as _;
use std::time::SystemTime;

fn line(level: &str, message: &str) {
    let stamp = UtcSeconds::from_system_time(SystemTime::now())
        .map_or_else(String::new, |t| format!("{} ", t.rfc3339()));
    let text = format!("{stamp}iam-db-auth proxy: {level}{message}\n");
    let _ = std::io::stderr().write_all(text.as_bytes());
}

pub fn info(message: &str) {
    line("", message);
}

pub fn warn(message: &str) {
    line("warning: ", message);
}

pub fn error(message: &str) {
    line("error: ", message);
}
