//! `iam-db-auth pgpass`: puts fresh tokens into a PostgreSQL passfile, once or (`--watch`)
//! for as long as it runs, so that psql, pg_dump and every libpq program log in unchanged.
//!
//! The file format and the edit are in `crate::pgpass` (pure); the disk in `passfile`.
//! Tokens are made before the file is touched, so a failure leaves the file as it was. Log
//! lines go to stderr and name entries (`host:port:database:user`), never tokens.

use super::login_kind::LoginKind;
use super::passfile::{Editing, FileError, default_path};
use super::signals::{self, Blocked};
use super::{EXIT_FAILURE, EXIT_USAGE, given, libpq_probe, print_error};
use crate::pgpass::{
    EntryKey, Passfile, Shadow, Upserted, libpq_reads_long_lines, libpq_version_text, token_expiry,
};
use clap::Args;
use iam_db_auth::config;
use iam_db_auth::{Error, Token, TokenRequest, UtcSeconds};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// The longest refresh interval accepted (a token must still be valid when it is replaced).
const MAX_REFRESH: Duration = Duration::from_secs(600);
/// Refresh at least this long before a token's end (when credentials expiring early cut it
/// short).
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Retry backoff after failures: 1 s, doubling, at most this.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How many times an edit is redone when the file changes under it.
const EDIT_ATTEMPTS: usize = 5;

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
    #[arg(long, env = config::PROFILE_ENV)]
    profile: Option<String>,
    /// Sign for this host instead of the entry's host (tunnels, port-forwards)
    #[arg(long, env = config::SIGNING_HOST_ENV)]
    signing_host: Option<String>,
    /// Sign for this port instead of the entry's port
    #[arg(long, env = config::SIGNING_PORT_ENV)]
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

/// One entry to keep: where it points and how its token is made.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    user: String,
    dbname: String,
    region: Option<String>,
    profile: Option<String>,
    signing_host: Option<String>,
    signing_port: Option<u16>,
    kind: Option<LoginKind>,
}

impl Target {
    fn request(&self) -> TokenRequest<'_> {
        let signing_host = self.signing_host.as_deref().unwrap_or(&self.host);
        TokenRequest {
            kind: self
                .kind
                .unwrap_or_default()
                .token_kind(signing_host, &self.user),
            region: self.region.as_deref(),
            profile: self.profile.as_deref(),
            signing_host: self.signing_host.as_deref(),
            signing_port: self.signing_port,
            // Every refresh must be a new token: the cache would hand back the last one.
            use_cache: false,
            ..TokenRequest::new(&self.host, self.port, &self.user)
        }
    }

    fn key(&self) -> Result<EntryKey, String> {
        EntryKey::new(&self.host, self.port, &self.dbname, &self.user)
    }

    /// Fills what the spec left unset from the command line's shared settings.
    fn with_defaults(mut self, args: &PgpassArgs) -> Target {
        let non_empty = |v: &Option<String>| given(v).map(str::to_owned);
        self.region = self.region.or_else(|| non_empty(&args.region));
        self.profile = self.profile.or_else(|| non_empty(&args.profile));
        self.signing_host = self.signing_host.or_else(|| non_empty(&args.signing_host));
        self.signing_port = self.signing_port.or(args.signing_port);
        self.kind = self.kind.or(Some(args.kind));
        self
    }
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

/// Parses one target spec: `key=value` words, values optionally in single quotes (with `\'`
/// and `\\` inside), as in a libpq connection string.
fn parse_target(spec: &str) -> Result<Target, String> {
    let mut host = None;
    let mut port = None;
    let mut user = None;
    let mut dbname = None;
    let mut region = None;
    let mut profile = None;
    let mut signing_host = None;
    let mut signing_port = None;
    let mut kind = None;
    let parse_port = |key: &str, v: &str| -> Result<u16, String> {
        v.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("{key}='{v}' is not a port"))
    };
    for (key, value) in conninfo_words(spec)? {
        let slot = match key.as_str() {
            "host" => &mut host,
            "user" => &mut user,
            "dbname" => &mut dbname,
            "region" => &mut region,
            "profile" => &mut profile,
            "signing-host" | "signing_host" => &mut signing_host,
            "port" => {
                port = Some(parse_port("port", &value)?);
                continue;
            }
            "signing-port" | "signing_port" => {
                signing_port = Some(parse_port("signing-port", &value)?);
                continue;
            }
            "kind" => {
                if kind.is_some() {
                    return Err("'kind' is given twice".into());
                }
                kind = Some(
                    LoginKind::from_name(&value)
                        .ok_or_else(|| format!("kind='{value}' is not one of auto, rds, dsql"))?,
                );
                continue;
            }
            other => {
                return Err(format!(
                    "unknown key '{other}' (known: host, port, user, dbname, region, profile, \
                     signing-host, signing-port, kind)"
                ));
            }
        };
        if slot.is_some() {
            return Err(format!("'{key}' is given twice"));
        }
        *slot = Some(value);
    }
    Ok(Target {
        host: host.ok_or("host= is missing")?,
        port: port.unwrap_or(5432),
        user: user.ok_or("user= is missing")?,
        dbname: dbname.unwrap_or_else(|| "*".into()),
        region,
        profile,
        signing_host,
        signing_port,
        kind,
    })
}

/// Splits `a=b c='d e'` into pairs.
fn conninfo_words(spec: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = spec.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("expected '=' after '{key}'"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => return Err(format!("unterminated quote in {key}=")),
                    },
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("unterminated quote in {key}=")),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                value.push(c);
            }
        }
        if key.is_empty() {
            return Err("a value without a key".into());
        }
        out.push((key, value));
    }
}

/// Reads a targets file: one spec a line; blank lines and `#` comments skipped.
fn read_targets_file(path: &Path) -> Result<Vec<Target>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read targets file {}: {e}", path.display()))?;
    let mut targets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        targets.push(parse_target(line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?);
    }
    Ok(targets)
}

/// All targets the command line names, checked.
fn collect_targets(args: &PgpassArgs) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    match (&args.host, &args.user) {
        (Some(host), Some(user)) => targets.push(Target {
            host: host.clone(),
            port: args.port,
            user: user.clone(),
            dbname: args.dbname.clone(),
            region: None,
            profile: None,
            signing_host: None,
            signing_port: None,
            kind: None,
        }),
        (Some(_), None) => return Err("--host needs --user".into()),
        (None, Some(_)) => return Err("--user needs --host".into()),
        (None, None) => {}
    }
    for spec in &args.targets {
        targets.push(parse_target(spec).map_err(|e| format!("--target '{spec}': {e}"))?);
    }
    for path in &args.targets_files {
        targets.extend(read_targets_file(path)?);
    }
    if targets.is_empty() {
        return Err("no entry to write: pass --host and --user, --target or --targets-file".into());
    }
    let targets: Vec<Target> = targets.into_iter().map(|t| t.with_defaults(args)).collect();
    for (i, t) in targets.iter().enumerate() {
        let key = t.key()?;
        t.request().validate().map_err(|e| format!("{key}: {e}"))?;
        if targets[..i]
            .iter()
            .any(|o| o.key().ok().as_ref() == Some(&key))
        {
            return Err(format!("{key} is named twice"));
        }
    }
    Ok(targets)
}

/// Writes a line to stderr, with the time when watching.
struct Log {
    quiet: bool,
    stamp: bool,
}

impl Log {
    fn line(&self, level: &str, message: &str) {
        let stamp = if self.stamp {
            format!(
                "{} ",
                UtcSeconds::from_system_time(SystemTime::now())
                    .map_or_else(String::new, |t| t.rfc3339())
            )
        } else {
            String::new()
        };
        eprintln!("{stamp}iam-db-auth pgpass: {level}{message}");
    }
    fn info(&self, message: &str) {
        if !self.quiet {
            self.line("", message);
        }
    }
    fn warn(&self, message: &str) {
        self.line("warning: ", message);
    }
    fn error(&self, message: &str) {
        self.line("error: ", message);
    }
}

/// Why a refresh failed, and whether trying again can help.
struct Failure {
    message: String,
    transient: bool,
}

impl Failure {
    fn token(key: &EntryKey, err: &Error) -> Failure {
        let code = err.code() as i32;
        Failure {
            message: format!("no token for {key}: {}", err.message()),
            // Credential lookups (20-29) fail for passing reasons: an SSO session to renew,
            // a metadata endpoint that did not answer, a role being rotated.
            transient: (20..30).contains(&code),
        }
    }
}

/// Puts the tokens into the file in one edit. Returns where each entry went.
fn write_entries(
    path: &Path,
    entries: &[(EntryKey, Token)],
    log: &Log,
) -> Result<Vec<Upserted>, Failure> {
    let file_failure = |e: FileError| Failure {
        transient: !matches!(e, FileError::Refused(_)),
        message: format!("{} not updated: {e}", path.display()),
    };
    let editing = Editing::begin(path).map_err(file_failure)?;
    for attempt in 1..=EDIT_ATTEMPTS {
        let snapshot = editing.read().map_err(file_failure)?;
        let mut passfile = Passfile::parse(&snapshot.contents).map_err(|e| Failure {
            message: format!(
                "{} not updated: {e} (libpq reads this file too: fix it by hand)",
                path.display()
            ),
            transient: true,
        })?;
        let placed: Vec<Upserted> = entries
            .iter()
            .map(|(key, token)| passfile.upsert(key, token.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|e| Failure {
                message: format!("{} not updated: {e}", path.display()),
                transient: false,
            })?;
        match editing.replace(&passfile.to_bytes(), &snapshot) {
            Ok(()) => {
                if let Some(mode) = snapshot.mode.filter(|m| m & 0o077 != 0) {
                    log.warn(&format!(
                        "{} was mode {mode:04o}, so libpq ignored it; it is now 0600",
                        path.display()
                    ));
                }
                return Ok(placed);
            }
            Err(FileError::Changed) if attempt < EDIT_ATTEMPTS => continue,
            Err(e) => return Err(file_failure(e)),
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// Reports an entry written and (when `shadows`) any earlier line that libpq would use instead.
fn report(log: &Log, path: &Path, key: &EntryKey, placed: &Upserted, token: &Token, shadows: bool) {
    let until = UtcSeconds::from_system_time(token.expires_at())
        .map_or_else(|| "?".into(), |t| t.rfc3339());
    log.info(&format!(
        "{} {key} in {} (line {}); token valid until {until}",
        if placed.replaced { "updated" } else { "added" },
        path.display(),
        placed.line,
    ));
    for shadow in placed.shadowed_by.iter().filter(|_| shadows) {
        if shadow.complete {
            log.warn(&format!(
                "line {} ({}) comes first and matches every connection {key} is for: libpq \
                 will use that line, not the token. Remove it or move it below line {}",
                shadow.line, shadow.key, placed.line
            ));
        } else {
            log.warn(&format!(
                "line {} ({}) comes first and matches some connections {key} is for: those use \
                 that line, not the token",
                shadow.line, shadow.key
            ));
        }
    }
}

/// Warns when the machine's libpq cuts passfile lines (all token lines are longer).
fn check_system_libpq(log: &Log) {
    match libpq_probe::system_libpq() {
        Some(lib) if !libpq_reads_long_lines(lib.version) => log.warn(&format!(
            "the system libpq ({}, version {}) reads at most about 320 bytes of a passfile line; \
             token lines are longer, so programs using it will send a cut token and fail. \
             Upgrade libpq (13.0+, 12.5+, 11.10+, 10.15+, 9.6.20+ or 9.5.24+) or use \
             `iam-db-auth exec`",
            lib.path,
            libpq_version_text(lib.version)
        )),
        _ => {}
    }
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
        Some(blocked) => watch(args, &path, &targets, &blocked, &log),
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

/// A target's schedule in `--watch`.
struct Slot {
    target: Target,
    key: EntryKey,
    /// When the token in the file stops being valid (None: no valid token known).
    valid_until: Option<SystemTime>,
    due: SystemTime,
    failures: u32,
    /// The earlier lines that hid the entry at the last refresh (reported when they change).
    shadows: Option<Vec<Shadow>>,
}

fn watch(
    args: &PgpassArgs,
    path: &Path,
    targets: &[Target],
    blocked: &Blocked,
    log: &Log,
) -> ExitCode {
    let every = args.refresh_every;
    let mut slots = match schedule(path, targets) {
        Ok(slots) => slots,
        Err(e) => {
            print_error(e);
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    log.info(&format!(
        "keeping {} entr{} fresh in {}, every {} s",
        slots.len(),
        if slots.len() == 1 { "y" } else { "ies" },
        path.display(),
        every.as_secs()
    ));
    loop {
        let now = SystemTime::now();
        let due: Vec<usize> = (0..slots.len()).filter(|&i| slots[i].due <= now).collect();
        if !due.is_empty() {
            // Look the credentials up again each round, so rotated keys are picked up.
            iam_db_auth::clear_caches();
            if let Err(code) = refresh(path, &mut slots, &due, every, log) {
                return code;
            }
        }
        let next = slots.iter().map(|s| s.due).min().unwrap_or(now + every);
        let wait = next
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO);
        let Some(caught) = blocked.wait(wait) else {
            continue;
        };
        if caught.signal == libc::SIGHUP {
            // A reload: the targets again (a targets file may have changed), all due now. A
            // targets file that no longer parses keeps the old targets: the watcher goes on.
            match collect_targets(args).and_then(|targets| schedule(path, &targets)) {
                Ok(new) => {
                    log.info(&format!(
                        "SIGHUP: refreshing every entry now ({} target{})",
                        new.len(),
                        if new.len() == 1 { "" } else { "s" }
                    ));
                    slots = new;
                }
                Err(e) => {
                    log.warn(&format!("SIGHUP: {e}; keeping the old targets"));
                    slots.iter_mut().for_each(|slot| slot.due = now);
                }
            }
            continue;
        }
        log.info(&format!(
            "stopping on {}; the entries stay in {} until their tokens expire",
            signals::name(caught.signal),
            path.display()
        ));
        return ExitCode::SUCCESS;
    }
}

/// A slot per target, all due now; a valid token already in the file counts, so the first
/// refresh can be retried while it lasts.
fn schedule(path: &Path, targets: &[Target]) -> Result<Vec<Slot>, String> {
    let existing = Editing::begin(path)
        .and_then(|e| e.read())
        .map_err(|e| e.to_string())
        .and_then(|s| Passfile::parse(&s.contents).map_err(|e| e.to_string()))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let start = SystemTime::now();
    let mut slots: Vec<Slot> = Vec::with_capacity(targets.len());
    for target in targets {
        let key = target.key()?;
        let valid_until = existing
            .entry_password(&key)
            .and_then(|p| token_expiry(&p))
            .map(UtcSeconds::to_system_time)
            .filter(|t| *t > start);
        slots.push(Slot {
            target: target.clone(),
            key,
            valid_until,
            due: start,
            failures: 0,
            shadows: None,
        });
    }
    Ok(slots)
}

/// Refreshes the due slots; schedules their next refresh or retry. Err when giving up.
fn refresh(
    path: &Path,
    slots: &mut [Slot],
    due: &[usize],
    every: Duration,
    log: &Log,
) -> Result<(), ExitCode> {
    let mut made = Vec::new();
    let mut failed: Vec<(usize, Failure)> = Vec::new();
    for &i in due {
        match iam_db_auth::token_for(&slots[i].target.request()) {
            Ok(token) => made.push((i, token)),
            Err(e) => failed.push((i, Failure::token(&slots[i].key, &e))),
        }
    }
    if !made.is_empty() {
        let entries: Vec<(EntryKey, Token)> = made
            .iter()
            .map(|(i, t)| (slots[*i].key.clone(), t.clone()))
            .collect();
        match write_entries(path, &entries, log) {
            Ok(placed) => {
                let now = SystemTime::now();
                for ((i, token), placed) in made.iter().zip(&placed) {
                    let slot = &mut slots[*i];
                    // Say which lines hide an entry when that changes, not at every refresh.
                    let shadows = slot.shadows.as_ref() != Some(&placed.shadowed_by);
                    report(log, path, &slot.key, placed, token, shadows);
                    slot.shadows = Some(placed.shadowed_by.clone());
                    let expires = token.expires_at();
                    slot.valid_until = Some(expires);
                    slot.failures = 0;
                    let latest = expires
                        .checked_sub(REFRESH_MARGIN)
                        .unwrap_or(now)
                        .max(now + Duration::from_secs(5));
                    slot.due = (now + every).min(latest);
                }
            }
            Err(f) => {
                let message = f.message;
                for (i, _) in &made {
                    failed.push((
                        *i,
                        Failure {
                            message: message.clone(),
                            transient: f.transient,
                        },
                    ));
                }
            }
        }
    }
    let now = SystemTime::now();
    for (i, failure) in failed {
        let slot = &mut slots[i];
        slot.failures += 1;
        let still_valid = slot.valid_until.filter(|t| *t > now);
        match still_valid {
            Some(until) if failure.transient => {
                let backoff =
                    Duration::from_secs(1u64 << (slot.failures - 1).min(6)).min(MAX_BACKOFF);
                slot.due = (now + backoff).min(until);
                log.warn(&format!(
                    "{} (attempt {}); retrying in {} s; the current entry is valid until {}",
                    failure.message,
                    slot.failures,
                    backoff.as_secs(),
                    UtcSeconds::from_system_time(until).map_or_else(|| "?".into(), |t| t.rfc3339())
                ));
            }
            _ => {
                let why = if !failure.transient {
                    "this will not fix itself"
                } else if slot.valid_until.is_some() {
                    "the entry's token has expired"
                } else {
                    "there is no valid token in the file to fall back on"
                };
                log.error(&format!("{}; giving up: {why}", failure.message));
                return Err(ExitCode::from(EXIT_FAILURE));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_specs_parse_like_connection_strings() {
        let t =
            parse_target("host=db.example.com port=6432 user=app dbname='my db' region=us-east-1")
                .unwrap();
        assert_eq!(t.host, "db.example.com");
        assert_eq!(t.port, 6432);
        assert_eq!(t.user, "app");
        assert_eq!(t.dbname, "my db");
        assert_eq!(t.region.as_deref(), Some("us-east-1"));
        let t =
            parse_target("  host = h  user='o\\'brien' signing-host=x signing_port=5432").unwrap();
        assert_eq!((t.port, t.dbname.as_str()), (5432, "*"));
        assert_eq!(t.user, "o'brien");
        assert_eq!(t.signing_host.as_deref(), Some("x"));
        assert_eq!(t.signing_port, Some(5432));
    }

    #[test]
    fn bad_target_specs_say_what_is_wrong() {
        let table = [
            ("user=u", "host= is missing"),
            ("host=h", "user= is missing"),
            ("host=h user=u port=0", "not a port"),
            ("host=h user=u port=x", "not a port"),
            ("host=h user=u colour=red", "unknown key 'colour'"),
            ("host=h host=i user=u", "given twice"),
            ("host=h user='u", "unterminated"),
            ("host h", "expected '='"),
            ("=x", "without a key"),
        ];
        for (spec, needle) in table {
            let e = parse_target(spec).unwrap_err();
            assert!(e.contains(needle), "{spec}: {e}");
        }
    }

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
