//! `iam-db-auth pgpass`: puts fresh tokens into a PostgreSQL passfile, once or (`--watch`)
//! for as long as it runs, so that psql, pg_dump and every libpq program log in unchanged.
//!
//! The file format, libpq's rules and the `--watch` schedule are in `crate::pgpass` (pure);
//! here are the command's parts, one a file:
//! - `targets.rs`: the entries to keep, from the command line, specs and targets files;
//! - `passfile.rs`: the passfile on disk (where it is, reading it, replacing it atomically);
//! - `os.rs`: the two system calls that takes (flock, geteuid), its only unsafe code;
//! - `edit.rs`: one edit of the file with every new token;
//! - `report.rs`: what the helper says on stderr;
//! - `watch.rs`: the `--watch` loop (tokens, edits, sleeps, signals).
//!
//! Tokens are made before the file is touched, so a failure leaves the file as it was. Log
//! lines go to stderr and name entries (`host:port:database:user`), never tokens.

#[forbid(unsafe_code)]
mod edit;
// flock(2) and geteuid(2), which std offers no safe call for at this crate's minimum Rust.
#[allow(unsafe_code)]
mod os;
#[forbid(unsafe_code)]
mod passfile;
#[forbid(unsafe_code)]
mod report;
#[forbid(unsafe_code)]
mod targets;
#[forbid(unsafe_code)]
mod watch;

use super::login_kind::LoginKind;
use super::signals::Blocked;
use super::{EXIT_FAILURE, EXIT_USAGE, print_error};
use clap::Args;
use edit::{Failure, write_entries};
use passfile::default_path;
use report::{Log, check_system_libpq, report};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use targets::{Target, collect_targets};

/// The longest refresh interval accepted (a token must still be valid when it is replaced).
const MAX_REFRESH: Duration = Duration::from_secs(600);

#[derive(Args, Debug)]
pub struct PgpassArgs {
    /// Database endpoint the client connects to (what it passes as host=)
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// Database port
    #[arg(long, default_value_t = 5432)]
    port: u16,
    /// Database user
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Database name, or * for any
    #[arg(long, default_value = "*")]
    dbname: String,
    /// Another entry, as `host=H port=P user=U dbname=D` plus optional region=, profile=,
    /// signing-host=, signing-port= (values with spaces in single quotes); repeatable
    #[arg(long = "target", value_name = "SPEC")]
    targets: Vec<String>,
    /// A file of entries, one target spec a line (as --target; # starts a comment)
    #[arg(long = "targets-file", value_name = "PATH")]
    targets_files: Vec<PathBuf>,
    /// The passfile [default: PGPASSFILE, else ~/.pgpass]
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// AWS region (for targets that do not set one) [default: from the endpoint name, else
    /// AWS_REGION, AWS_DEFAULT_REGION, the profile]
    #[arg(long)]
    region: Option<String>,
    /// AWS profile to take credentials from [default: IAM_DB_AUTH_PROFILE, else the default chain]
    #[arg(long)]
    profile: Option<String>,
    /// Sign for this host instead of the entry's host (tunnels, port-forwards)
    /// [default: IAM_DB_AUTH_SIGNING_HOST]
    #[arg(long)]
    signing_host: Option<String>,
    /// Sign for this port instead of the entry's port [default: IAM_DB_AUTH_SIGNING_PORT]
    #[arg(long)]
    signing_port: Option<u16>,
    /// Token kind (for targets that do not set one): auto picks DSQL for Aurora DSQL endpoints
    /// (the admin token for user admin) and RDS otherwise
    #[arg(long, value_enum, default_value = "auto")]
    kind: LoginKind,
    /// Keep every entry fresh until SIGINT or SIGTERM; SIGHUP reads the targets files again
    /// and refreshes every entry at once
    #[arg(long)]
    watch: bool,
    /// With --watch: how often to replace the tokens (e.g. 300, 90s, 5m; at most 10m). The
    /// default, 5m, leaves every entry at least 10 minutes of life, which is also how long
    /// credential failures are retried before the helper gives up
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    refresh_every: Duration,
    /// Say only warnings and errors
    #[arg(long, short)]
    quiet: bool,
}

/// Parses a duration: seconds (`90`), or a number with `s`, `m` or `h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 300, 90s or 5m"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        _ => return Err(format!("'{text}' is not a duration such as 300, 90s or 5m")),
    };
    let d = Duration::from_secs(seconds);
    if d.is_zero() || d > MAX_REFRESH {
        return Err(format!(
            "the refresh interval must be between 1 s and {} s (a token lasts 900 s)",
            MAX_REFRESH.as_secs()
        ));
    }
    Ok(d)
}

pub fn run(args: &PgpassArgs) -> ExitCode {
    // Before anything starts a thread (see `signals`).
    let blocked = if args.watch {
        match Blocked::block(&[libc::SIGINT, libc::SIGTERM, libc::SIGHUP]) {
            Ok(b) => Some(b),
            Err(e) => {
                print_error(format!("cannot block signals: {e}"));
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    } else {
        None
    };
    let targets = match collect_targets(args) {
        Ok(t) => t,
        Err(e) => {
            print_error(e);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let path = match args.file.clone().map_or_else(default_path, Ok) {
        Ok(p) => p,
        Err(e) => {
            print_error(e);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let log = Log {
        quiet: args.quiet,
        stamp: args.watch,
    };
    check_system_libpq(&log);
    if let Some(first) = targets.first() {
        log.info(&super::libpq_tls::passfile_note(
            first.request().effective_signing_host(),
        ));
    }
    match blocked {
        None => once(&path, &targets, &log),
        Some(blocked) => watch::watch(args, &path, &targets, &blocked, &log),
    }
}

/// One refresh of every target: all tokens first, then one edit; nothing written unless every
/// token was made.
fn once(path: &Path, targets: &[Target], log: &Log) -> ExitCode {
    let mut entries = Vec::with_capacity(targets.len());
    for target in targets {
        let key = match target.key() {
            Ok(k) => k,
            Err(e) => {
                print_error(e);
                return ExitCode::from(EXIT_USAGE);
            }
        };
        match iam_db_auth::token_for(&target.request()) {
            Ok(token) => entries.push((key, token)),
            Err(e) => {
                print_error(format!(
                    "{}; {} left unchanged",
                    Failure::token(&key, &e).message,
                    path.display()
                ));
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    }
    match write_entries(path, &entries, log) {
        Ok(placed) => {
            for ((key, token), placed) in entries.iter().zip(&placed) {
                report(log, path, key, placed, token, true);
            }
            ExitCode::SUCCESS
        }
        Err(f) => {
            print_error(f.message);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("11m").is_err());
        assert!(parse_duration("1h").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }
}
