//! What `exec` tells a libpq child about TLS, so that the token it hands over goes only to a
//! server libpq has verified: `PGSSLMODE=verify-full` (libpq checks the chain and the host
//! name) and `PGSSLROOTCERT` from the CA lookup (the RDS bundle unless told otherwise).
//! `sslmode=require` encrypts but verifies nothing: any server gets the token.
//!
//! A `PGSSLMODE` already set is the user's: `verify-full` and `verify-ca` are kept, the others
//! refuse to run the command unless the user opted out: `require` with
//! `IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS=1`, `disable`, `allow` and `prefer` (which may send the
//! token without TLS at all) with `IAM_DB_AUTH_ALLOW_CLEARTEXT=1`. A `PGSSLROOTCERT` already set
//! is the connection's own CA and is kept; `--ca-file` comes before it.

use iam_db_auth::ca::{self, Given};
use iam_db_auth::config::{self, EnvDefaults};
use std::path::Path;

/// The variables to set for the child (set even when already set: the decision took the
/// preset values into account).
pub type Settings = Vec<(&'static str, String)>;

/// Decides the TLS variables. `preset` reads the current environment (non-empty values only);
/// `ca_path` is the CA lookup (given CA or none -> a file).
pub fn settings(
    preset: &dyn Fn(&str) -> Option<String>,
    ca_file: Option<&Path>,
    defaults: &EnvDefaults,
    ca_path: &dyn Fn(Option<Given<'_>>) -> iam_db_auth::Result<std::path::PathBuf>,
) -> Result<Settings, String> {
    let mode = preset("PGSSLMODE");
    let verifying = match mode.as_deref() {
        None => true,
        Some("verify-full" | "verify-ca") => true,
        Some("require") if defaults.allow_unverified_tls => false,
        Some("require") => {
            return Err(format!(
                "PGSSLMODE=require encrypts but verifies nothing: any server would get the \
                 token. Unset it (exec then sets verify-full with the RDS CA bundle), set \
                 PGSSLMODE=verify-full (or verify-ca), or set {}=1 to accept the risk",
                config::ALLOW_UNVERIFIED_TLS_ENV
            ));
        }
        Some("disable" | "allow" | "prefer") if defaults.allow_cleartext => false,
        Some(weak @ ("disable" | "allow" | "prefer")) => {
            return Err(format!(
                "PGSSLMODE={weak} may send the token without TLS, to any server. Unset it \
                 (exec then sets verify-full with the RDS CA bundle), set \
                 PGSSLMODE=verify-full (or verify-ca), or set {}=1 to accept the risk",
                config::ALLOW_CLEARTEXT_ENV
            ));
        }
        Some(other) => {
            return Err(format!(
                "PGSSLMODE={other} is not an sslmode libpq knows (verify-full, verify-ca, ...)"
            ));
        }
    };
    let mut settings = Settings::new();
    if mode.is_none() {
        settings.push(("PGSSLMODE", "verify-full".to_string()));
    }
    let given = ca_file.map(|path| Given {
        path,
        by: "--ca-file",
    });
    // Only where libpq verifies: with require, a root certificate file would quietly turn it
    // into verify-ca, which is not what the user who opted out asked for.
    if given.is_some() || (verifying && preset("PGSSLROOTCERT").is_none()) {
        let path = ca_path(given).map_err(|e| e.message().to_string())?;
        settings.push(("PGSSLROOTCERT", path.to_string_lossy().into_owned()));
    }
    Ok(settings)
}

/// What `pgpass` says once: the passfile holds only the password, and which connection settings
/// make libpq verify the server before it sends it. `endpoint` is the name the token is for.
pub fn passfile_note(endpoint: &str) -> String {
    // Named, not written out: pgpass has no business creating files beside the passfile's.
    let bundle = ca::locate(None)
        .ok()
        .and_then(|source| source.path().map(|p| p.display().to_string()))
        .unwrap_or_else(|| "$(iam-db-auth ca path)".to_string());
    format!(
        "the passfile gives libpq the password only; connect with verified TLS so that only \
         the real server gets it: sslmode=verify-full sslrootcert={bundle} (iam-db-auth ca path \
         prints the bundle's file), and through a tunnel host={endpoint} hostaddr=127.0.0.1 \
         (libpq then checks the certificate for {endpoint})"
    )
}

/// The process's CA lookup, as a file for libpq.
pub fn lookup(given: Option<Given<'_>>) -> iam_db_auth::Result<std::path::PathBuf> {
    ca::path_for_clients(given).map(|(path, _)| path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn decide(
        preset: &[(&str, &str)],
        ca_file: Option<&str>,
        defaults: EnvDefaults,
    ) -> Result<Settings, String> {
        let preset: Vec<(String, String)> = preset
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let read = move |name: &str| {
            preset
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let lookup = |given: Option<Given<'_>>| {
            Ok(given.map_or(PathBuf::from("/lookup/rds.pem"), |g| g.path.to_path_buf()))
        };
        settings(&read, ca_file.map(Path::new), &defaults, &lookup)
    }

    fn vars(list: &[(&'static str, &str)]) -> Settings {
        list.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[test]
    fn by_default_verify_full_with_the_lookups_ca() {
        assert_eq!(
            decide(&[], None, EnvDefaults::default()),
            Ok(vars(&[
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", "/lookup/rds.pem")
            ]))
        );
        assert_eq!(
            decide(&[], Some("/mine.pem"), EnvDefaults::default()),
            Ok(vars(&[
                ("PGSSLMODE", "verify-full"),
                ("PGSSLROOTCERT", "/mine.pem")
            ]))
        );
    }

    #[test]
    fn verifying_presets_and_their_ca_are_kept() {
        for mode in ["verify-full", "verify-ca"] {
            assert_eq!(
                decide(&[("PGSSLMODE", mode)], None, EnvDefaults::default()),
                Ok(vars(&[("PGSSLROOTCERT", "/lookup/rds.pem")]))
            );
            let own = [("PGSSLMODE", mode), ("PGSSLROOTCERT", "/own.pem")];
            assert_eq!(decide(&own, None, EnvDefaults::default()), Ok(vec![]));
            assert_eq!(
                decide(&own, Some("/flag.pem"), EnvDefaults::default()),
                Ok(vars(&[("PGSSLROOTCERT", "/flag.pem")]))
            );
        }
    }

    #[test]
    fn weak_presets_are_refused_unless_opted_out() {
        let err = decide(&[("PGSSLMODE", "require")], None, EnvDefaults::default()).unwrap_err();
        assert!(err.contains("IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS=1"), "{err}");
        let unverified = EnvDefaults {
            allow_unverified_tls: true,
            ..EnvDefaults::default()
        };
        assert_eq!(
            decide(&[("PGSSLMODE", "require")], None, unverified.clone()),
            Ok(vec![])
        );
        for weak in ["disable", "allow", "prefer"] {
            let err = decide(&[("PGSSLMODE", weak)], None, unverified.clone()).unwrap_err();
            assert!(
                err.contains("IAM_DB_AUTH_ALLOW_CLEARTEXT=1"),
                "{weak}: {err}"
            );
            let cleartext = EnvDefaults {
                allow_cleartext: true,
                ..EnvDefaults::default()
            };
            assert_eq!(decide(&[("PGSSLMODE", weak)], None, cleartext), Ok(vec![]));
        }
        assert!(
            decide(
                &[("PGSSLMODE", "verify_full")],
                None,
                EnvDefaults::default()
            )
            .is_err()
        );
    }
}
