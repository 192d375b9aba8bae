//! `iam-db-auth exec`: runs a command with a fresh token in the environment variable its
//! database client reads (`PGPASSWORD` for libpq programs, `MYSQL_PWD` for MySQL/MariaDB
//! clients), for programs that cannot be pointed at a passfile.
//!
//! For libpq programs the token goes only over verified TLS: `PGSSLMODE=verify-full` and
//! `PGSSLROOTCERT` from the CA lookup (`libpq_tls`). Through a tunnel (`--host` an IP address,
//! `--signing-host` the endpoint), libpq is pointed at the address with the endpoint's name
//! (`PGHOST=<signing host> PGHOSTADDR=<address>`), so it checks the certificate for the name the
//! token is for.
//!
//! The child gets the database password and not the AWS credentials it was made with
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`; `--keep-aws-credentials`
//! passes them on), and it dies with this process (SIGKILL when `exec` dies, however).
//!
//! The command runs as a child; this process waits for it, forwards SIGINT, SIGTERM, SIGHUP
//! and SIGQUIT sent to it by other processes (a terminal's Ctrl-C already reaches the child,
//! which is in the same process group, so that one is not sent twice), and exits with the
//! child's status: its exit code, or 128 + the signal number if a signal ended it, as shells
//! report it. Exit 125 means no token could be made (the command did not run), 126 that the
//! command could not be run, 127 that it was not found (the conventions of `env` and
//! `timeout`).

use super::libpq_tls;
use super::login_kind::LoginKind;
use super::signals::{self, Blocked};
use super::{given, print_error};
use clap::{Args, ValueEnum};
use iam_db_auth::config;
use iam_db_auth::{TokenKind, TokenRequest};
use std::borrow::Cow;
use std::ffi::OsString;
use std::net::IpAddr;
use std::os::unix::process::ExitStatusExt as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::Duration;

/// The command did not run: no token.
const EXIT_NO_TOKEN: u8 = 125;
/// The command was found but could not be run.
const EXIT_CANNOT_RUN: u8 = 126;
/// The command was not found.
const EXIT_NOT_FOUND: u8 = 127;

/// The AWS credentials the token was made with: the child needs the token, not these.
const AWS_CREDENTIAL_VARIABLES: [&str; 4] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
];

/// Which client's environment variable gets the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Engine {
    /// libpq programs (psql, pg_dump, psycopg...): PGPASSWORD, PGSSLMODE=verify-full with the
    /// RDS CA bundle
    Postgres,
    /// MySQL/MariaDB clients: MYSQL_PWD
    Mysql,
}

impl Engine {
    fn default_port(self) -> u16 {
        match self {
            Engine::Postgres => 5432,
            Engine::Mysql => 3306,
        }
    }

    /// (variable, value, only if unset) pairs for the child. The token is borrowed, not copied:
    /// `Command::env` makes the one copy the child needs (std keeps it, unwiped, until the
    /// command is dropped; the child's environment holds it for the child's life anyway).
    /// `signing_host` is the endpoint's name when the token is signed for another host than
    /// `host` (TLS settings are `libpq_tls`'s).
    fn environment<'a>(
        self,
        host: &'a str,
        signing_host: Option<&'a str>,
        port: u16,
        user: &'a str,
        token: &'a str,
    ) -> Vec<(&'static str, Cow<'a, str>, bool)> {
        // A bracketed IPv6 host is how tokens name it; clients take it bare.
        let bare = |h: &'a str| {
            h.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(h)
        };
        let bare_host = bare(host);
        match self {
            Engine::Postgres => {
                let mut vars = vec![("PGPASSWORD", token.into(), false)];
                match signing_host.filter(|_| bare_host.parse::<IpAddr>().is_ok()) {
                    // A tunnel or port-forward on an address: libpq connects to the address and
                    // checks the certificate for the endpoint's name (verify-full).
                    Some(endpoint) if !bare(endpoint).eq_ignore_ascii_case(bare_host) => {
                        vars.push(("PGHOST", bare(endpoint).into(), true));
                        vars.push(("PGHOSTADDR", bare_host.into(), true));
                    }
                    _ => vars.push(("PGHOST", bare_host.into(), true)),
                }
                vars.push(("PGPORT", port.to_string().into(), true));
                vars.push(("PGUSER", user.into(), true));
                vars
            }
            Engine::Mysql => vec![
                ("MYSQL_PWD", token.into(), false),
                ("MYSQL_HOST", bare_host.into(), true),
                ("MYSQL_TCP_PORT", port.to_string().into(), true),
            ],
        }
    }
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Database endpoint the command connects to
    #[arg(long, value_name = "HOST")]
    host: String,
    /// Database port [default: 5432 for postgres, 3306 for mysql]
    #[arg(long)]
    port: Option<u16>,
    /// Database user
    #[arg(long, value_name = "USER")]
    user: String,
    /// Which client variables to set
    #[arg(long, value_enum, default_value = "postgres")]
    engine: Engine,
    /// AWS region [default: from the endpoint name, else AWS_REGION, AWS_DEFAULT_REGION, the profile]
    #[arg(long)]
    region: Option<String>,
    /// AWS profile to take credentials from [default: IAM_DB_AUTH_PROFILE, else the default chain]
    #[arg(long)]
    profile: Option<String>,
    /// Sign for this host instead of --host (tunnels, port-forwards) [default: IAM_DB_AUTH_SIGNING_HOST]
    #[arg(long)]
    signing_host: Option<String>,
    /// Sign for this port instead of --port [default: IAM_DB_AUTH_SIGNING_PORT]
    #[arg(long)]
    signing_port: Option<u16>,
    /// Token kind: auto picks DSQL for Aurora DSQL endpoints (the admin token for user admin)
    /// and RDS otherwise
    #[arg(long, value_enum, default_value = "auto")]
    kind: LoginKind,
    /// CA file (PEM) libpq verifies the server with (PGSSLROOTCERT) [default: PGSSLROOTCERT if
    /// set, else IAM_DB_AUTH_CA_FILE, else `ca update`'s copy, else the RDS bundle]
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Pass AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN on to the command
    /// (by default it gets the database password only)
    #[arg(long)]
    keep_aws_credentials: bool,
    /// The command and its arguments, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Signals handed on to the child when another process sends them to us.
const FORWARDED: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

pub fn run(args: &ExecArgs) -> ExitCode {
    // Before the token (and the credential runtime's threads): see `signals`.
    signals::reset_default(libc::SIGCHLD);
    let mut watched = FORWARDED.to_vec();
    watched.push(libc::SIGCHLD);
    let blocked = match Blocked::block(&watched) {
        Ok(b) => b,
        Err(e) => {
            print_error(format!("cannot block signals: {e}"));
            return ExitCode::from(EXIT_NO_TOKEN);
        }
    };
    let port = args.port.unwrap_or(args.engine.default_port());
    // The shared settings (IAM_DB_AUTH_*) fill what the command line left unset, as in every door.
    let request = TokenRequest {
        region: args.region.as_deref(),
        profile: given(&args.profile),
        signing_host: given(&args.signing_host),
        signing_port: args.signing_port,
        ..TokenRequest::new(&args.host, port, &args.user)
    };
    let request = match config::env_defaults().apply(request) {
        Ok(r) => r,
        Err(e) => {
            print_error(format!("{}; the command was not run", e.message()));
            return ExitCode::from(EXIT_NO_TOKEN);
        }
    };
    let signing_host = request.effective_signing_host();
    let kind = match (args.engine, args.kind) {
        (Engine::Mysql, LoginKind::Dsql) => {
            print_error(
                "Aurora DSQL speaks the PostgreSQL protocol: --kind dsql needs --engine postgres; the command was not run",
            );
            return ExitCode::from(EXIT_NO_TOKEN);
        }
        (Engine::Mysql, _) => TokenKind::Rds,
        (Engine::Postgres, kind) => kind.token_kind(signing_host, &args.user),
    };
    // Before the token: a command that would send it over unverified TLS does not run.
    let tls = match args.engine {
        Engine::Postgres => {
            let preset = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            match libpq_tls::settings(
                &preset,
                args.ca_file.as_deref(),
                config::env_defaults(),
                &libpq_tls::lookup,
            ) {
                Ok(settings) => settings,
                Err(why) => {
                    print_error(format!("{why}; the command was not run"));
                    return ExitCode::from(EXIT_NO_TOKEN);
                }
            }
        }
        Engine::Mysql => Vec::new(),
    };
    let request = TokenRequest { kind, ..request };
    let token = match iam_db_auth::token_for(&request) {
        Ok(t) => t,
        Err(e) => {
            print_error(format!(
                "no token for {}@{}:{port}: {}; the command was not run",
                args.user,
                args.host,
                e.message()
            ));
            return ExitCode::from(EXIT_NO_TOKEN);
        }
    };
    // Interrupted while the token was being made: do not start the command.
    if let Some(caught) = blocked.pending().filter(|c| c.signal != libc::SIGCHLD) {
        return ExitCode::from(128 + caught.signal as u8);
    }
    let mut command = Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    if !args.keep_aws_credentials {
        for name in AWS_CREDENTIAL_VARIABLES {
            command.env_remove(name);
        }
    }
    for (name, value) in &tls {
        command.env(name, value);
    }
    let environment = args.engine.environment(
        &args.host,
        request.signing_host,
        port,
        &args.user,
        token.as_str(),
    );
    // PGHOST and PGHOSTADDR go together: a user who set either chose where libpq connects.
    let chose_host = ["PGHOST", "PGHOSTADDR"]
        .iter()
        .any(|n| std::env::var_os(n).is_some_and(|v| !v.is_empty()));
    for (name, value, only_if_unset) in environment {
        if only_if_unset && matches!(name, "PGHOST" | "PGHOSTADDR") && chose_host {
            continue;
        }
        if !(only_if_unset && std::env::var_os(name).is_some_and(|v| !v.is_empty())) {
            command.env(name, value.as_ref());
        }
    }
    drop(token);
    signals::unblock_in_child(&mut command);
    signals::die_with_parent(&mut command);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            let shown = args.command[0].to_string_lossy();
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                EXIT_NOT_FOUND
            } else {
                EXIT_CANNOT_RUN
            };
            print_error(format!("cannot run {shown}: {e}"));
            return ExitCode::from(code);
        }
    };
    let pid = child.id();
    loop {
        // SIGCHLD wakes us when the child ends; the timeout is a backstop, not the mechanism.
        let caught = blocked.wait(Duration::from_secs(1));
        if let Some(c) = caught
            && c.signal != libc::SIGCHLD
            && c.from_process
        {
            signals::send(pid, c.signal);
        }
        match child.try_wait() {
            Ok(Some(status)) => {
                let code = match (status.code(), status.signal()) {
                    (Some(code), _) => code,
                    (None, Some(signal)) => 128 + signal,
                    (None, None) => EXIT_CANNOT_RUN as i32,
                };
                return ExitCode::from(code.clamp(0, 255) as u8);
            }
            Ok(None) => {}
            Err(e) => {
                print_error(format!("lost track of the command (pid {pid}): {e}"));
                return ExitCode::from(EXIT_CANNOT_RUN);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(
        env: &[(&'static str, Cow<'a, str>, bool)],
        name: &str,
    ) -> Option<(&'static str, Cow<'a, str>, bool)> {
        env.iter().find(|(k, _, _)| *k == name).cloned()
    }

    #[test]
    fn postgres_gets_the_token_and_the_connection() {
        let env = Engine::Postgres.environment("[::1]", None, 5432, "app", "TOKEN");
        assert_eq!(
            get(&env, "PGPASSWORD"),
            Some(("PGPASSWORD", "TOKEN".into(), false))
        );
        assert_eq!(get(&env, "PGHOST"), Some(("PGHOST", "::1".into(), true)));
        assert_eq!(get(&env, "PGHOSTADDR"), None);
        assert_eq!(get(&env, "PGSSLMODE"), None, "libpq_tls decides TLS");
        let env = Engine::Mysql.environment("db", None, 3306, "app", "TOKEN");
        assert_eq!(env[0], ("MYSQL_PWD", "TOKEN".into(), false));
        assert!(!env.iter().any(|(k, _, _)| k.starts_with("PG")));
    }

    #[test]
    fn a_tunnel_on_an_address_is_checked_for_the_endpoints_name() {
        let rds = "mydb.c9akciq32.us-east-1.rds.amazonaws.com";
        let env = Engine::Postgres.environment("127.0.0.1", Some(rds), 15432, "app", "T");
        assert_eq!(get(&env, "PGHOST"), Some(("PGHOST", rds.into(), true)));
        assert_eq!(
            get(&env, "PGHOSTADDR"),
            Some(("PGHOSTADDR", "127.0.0.1".into(), true))
        );
        let env = Engine::Postgres.environment("[::1]", Some(rds), 15432, "app", "T");
        assert_eq!(
            get(&env, "PGHOSTADDR"),
            Some(("PGHOSTADDR", "::1".into(), true))
        );
        // A host name the user gave is where libpq connects and what it checks.
        let env = Engine::Postgres.environment("bastion.internal", Some(rds), 5432, "app", "T");
        assert_eq!(
            get(&env, "PGHOST"),
            Some(("PGHOST", "bastion.internal".into(), true))
        );
        assert_eq!(get(&env, "PGHOSTADDR"), None);
    }
}
