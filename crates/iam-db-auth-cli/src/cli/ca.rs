//! `iam-db-auth ca`: the CA bundle the doors verify database servers with.
//! - `ca path` prints the file the lookup finds (the built-in bundle written out when nothing
//!   else is configured), for `PGSSLROOTCERT=$(iam-db-auth ca path)`, `--ssl-ca=...`;
//! - `ca update` fetches AWS's RDS bundle over verified HTTPS, checks that it is a bundle of CA
//!   certificates, and replaces the per-user (or, `--system`, the system) cache copy, which the
//!   lookup then takes before the built-in one.

use super::https_get::{self, HttpsUrl};
use super::{EXIT_FAILURE, EXIT_USAGE, print_error};
use clap::{Args, Subcommand};
use iam_db_auth::ca::{self, Given, Locator};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// A bundle is about 160 KB; this leaves room for growth and stops a runaway download.
const MAX_BUNDLE_BYTES: usize = 4 << 20;

#[derive(Subcommand)]
pub enum CaCommand {
    /// Print the CA file used to verify database servers: --ca-file, else IAM_DB_AUTH_CA_FILE,
    /// else `ca update`'s copy (per-user, then system), else the installed RDS bundle, else the
    /// built-in one (written out to a file)
    Path(PathArgs),
    /// Fetch the RDS CA bundle from AWS into the cache (per-user, or the system's with
    /// --system); the doors use it before the built-in copy
    Update(UpdateArgs),
}

#[derive(Args)]
pub struct PathArgs {
    /// A CA file given explicitly (printed as it is, if it can be read)
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
}

#[derive(Args)]
pub struct UpdateArgs {
    /// Where to fetch the bundle (https:// only)
    #[arg(long, default_value = ca::UPDATE_URL)]
    url: String,
    /// Write the system cache (/var/cache/iam-db-auth) instead of the per-user one
    #[arg(long)]
    system: bool,
    /// Give up after this many seconds
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
}

pub fn run(command: &CaCommand) -> ExitCode {
    match command {
        CaCommand::Path(args) => path(args),
        CaCommand::Update(args) => update(args),
    }
}

fn path(args: &PathArgs) -> ExitCode {
    let given = args.ca_file.as_deref().map(|path| Given {
        path,
        by: "--ca-file",
    });
    match ca::path_for_clients(given) {
        Ok((path, source)) => {
            eprintln!("iam-db-auth: {}", source.describe());
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_error(e.message());
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn update(args: &UpdateArgs) -> ExitCode {
    let url = match HttpsUrl::parse(&args.url) {
        Ok(url) => url,
        Err(e) => {
            print_error(format!(
                "{e}: the bundle is fetched over verified HTTPS only"
            ));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let locator = Locator::from_env();
    let target = if args.system {
        locator.system_cache.clone()
    } else {
        match locator.user_cache.clone() {
            Some(path) => path,
            None => {
                print_error("no cache directory: set HOME or XDG_CACHE_HOME, or use --system");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    };
    // The fetch runs on its own thread so that every part of it, name resolution included, is
    // bounded by --timeout: past it, this process reports and exits, leaving the thread.
    let timeout = Duration::from_secs(args.timeout);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(https_get::get(&url, timeout, MAX_BUNDLE_BYTES));
    });
    let fetched = receiver
        .recv_timeout(timeout + Duration::from_secs(1))
        .unwrap_or_else(|_| Err(format!("timed out after {} s", args.timeout)));
    let bundle = match fetched {
        Ok(body) => body,
        Err(e) => {
            print_error(format!(
                "cannot fetch {}: {e}; nothing was changed",
                args.url
            ));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let count = match ca::check_bundle(&bundle) {
        Ok(count) => count,
        Err(e) => {
            print_error(format!(
                "{} is not a CA bundle: {e}; nothing was changed",
                args.url
            ));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    if let Err(e) = replace(&target, &bundle) {
        print_error(format!("cannot write {}: {e}", target.display()));
        return ExitCode::from(EXIT_FAILURE);
    }
    eprintln!(
        "iam-db-auth: wrote {count} certificates to {} (from {})",
        target.display(),
        args.url
    );
    ExitCode::SUCCESS
}

/// Replaces `target` atomically: a new file beside it (mode 0644), synced, renamed over it, the
/// directory synced. A reader sees the old bundle or the new one.
fn replace(target: &Path, content: &[u8]) -> std::io::Result<()> {
    let dir = target.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)?;
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&temporary)?;
        file.write_all(content)?;
        file.sync_all()?;
        std::fs::rename(&temporary, target)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}
