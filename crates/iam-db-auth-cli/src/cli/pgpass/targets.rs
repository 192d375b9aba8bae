//! The entries the helper keeps: from `--host`/`--user`, `--target` specs and targets files,
//! each completed from the command line's shared settings and checked before any token is
//! made.

use super::PgpassArgs;
use crate::cli::given;
use crate::cli::login_kind::LoginKind;
use crate::pgpass::EntryKey;
use crate::pgpass::conninfo;
use iam_db_auth::TokenRequest;
use iam_db_auth::config;
use std::path::Path;

/// One entry to keep: where it points and how its token is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Target {
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
    pub(super) fn request(&self) -> TokenRequest<'_> {
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

    pub(super) fn key(&self) -> Result<EntryKey, String> {
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

    /// Completes what is still unset from the shared settings (`IAM_DB_AUTH_*`), through the
    /// step every door takes (`EnvDefaults::apply`).
    fn with_settings(mut self) -> Result<Target, String> {
        let base = TokenRequest {
            profile: self.profile.as_deref(),
            signing_host: self.signing_host.as_deref(),
            signing_port: self.signing_port,
            ..TokenRequest::new(&self.host, self.port, &self.user)
        };
        let settled = config::env_defaults()
            .apply(base)
            .map_err(|e| e.message().to_string())?;
        let (profile, signing_host, signing_port) = (
            settled.profile.map(str::to_owned),
            settled.signing_host.map(str::to_owned),
            settled.signing_port,
        );
        (self.profile, self.signing_host, self.signing_port) =
            (profile, signing_host, signing_port);
        Ok(self)
    }
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
    for (key, value) in conninfo::words(spec)? {
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

/// The largest targets file read, bytes (a line is a few hundred bytes at most).
const MAX_TARGETS_FILE_LEN: u64 = 1 << 20;

/// Reads a targets file: one spec a line; blank lines and `#` comments skipped.
fn read_targets_file(path: &Path) -> Result<Vec<Target>, String> {
    let text = iam_db_auth::files::read_regular_text(path, MAX_TARGETS_FILE_LEN)
        .map_err(|e| format!("targets file {} {e}", path.display()))?;
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
pub(super) fn collect_targets(args: &PgpassArgs) -> Result<Vec<Target>, String> {
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
    let targets = targets
        .into_iter()
        .map(|t| t.with_defaults(args).with_settings())
        .collect::<Result<Vec<Target>, String>>()?;
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
}
