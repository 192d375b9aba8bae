//! `iam-db-auth mysql-plugin install DIR`: makes DIR a MariaDB Connector/C client plugin
//! directory in which `mysql_clear_password.so` is this project's library, and every other
//! client plugin of the system's libmariadb (caching_sha2_password, client_ed25519, dialog,
//! sha256_password, ...) is a symbolic link to the system's file, so connections that need them
//! keep working when clients are pointed at DIR (`--plugin-dir`, `MARIADB_PLUGIN_DIR`,
//! `plugin-dir=` under `[client]`).
//!
//! Running it again refreshes DIR: links are re-pointed, links whose target is gone are
//! removed, and files that are not links (someone else's plugins) are left alone.
//!
//! `mysql_clear_password.so` is a symbolic link to the library by default: an upgrade that
//! replaces the library file is picked up by the next process without reinstalling, and a
//! process that also links the library (the C API) finds the same file (same inode), so
//! the dynamic loader maps it once and there is one token cache. `--copy` puts a copy instead,
//! for a library that is about to move or disappear (a build tree); the copy is written
//! beside and renamed into place, so running processes keep the file they mapped.

use super::{EXIT_FAILURE, EXIT_USAGE, print_error};
use clap::{Args, Subcommand};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The file name Connector/C loads for the plugin (name + ".so").
const PLUGIN_FILE: &str = "mysql_clear_password.so";
/// The library's file name as programs load it (its SONAME), a link in installed trees.
const LIBRARY_SONAME: &str = concat!("libiam_db_auth.so.", env!("CARGO_PKG_VERSION_MAJOR"));
/// The library's file name in a build tree (and the development link in installed trees).
const LIBRARY_FILE: &str = "libiam_db_auth.so";
/// The symbol every Connector/C client plugin exports.
const DECLARATION_SYMBOL: &[u8] = b"_mysql_client_plugin_declaration_";
/// Where distributions put Connector/C's client plugins, tried in order when neither
/// `--system-plugin-dir` nor `mariadb_config`/`pkg-config` tells. `*` is any multiarch triplet.
const KNOWN_PLUGIN_DIRS: &[&str] = &[
    "/usr/lib/*/libmariadb3/plugin", // Debian, Ubuntu
    "/usr/lib64/mariadb/plugin",     // Fedora, RHEL (mariadb-connector-c)
    "/usr/lib/mariadb/plugin",       // Arch, Alpine
    "/usr/local/lib/mariadb/plugin", // built from source
    "/usr/lib/*/mariadb/plugin",
];

#[derive(Subcommand, Debug)]
pub enum MysqlPluginCommand {
    /// Create or refresh a client plugin directory for libmariadb clients
    Install(InstallArgs),
}

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// The directory to create or refresh
    dir: PathBuf,
    /// The iam-db-auth library [default: libiam_db_auth.so.1 or libiam_db_auth.so next to this
    /// program, or in ../lib]
    #[arg(long, value_name = "PATH")]
    library: Option<PathBuf>,
    /// The system's libmariadb client plugin directory [default: `mariadb_config --plugindir`,
    /// `pkg-config --variable=plugindir libmariadb`, then the usual distribution paths]
    #[arg(long, value_name = "DIR")]
    system_plugin_dir: Option<PathBuf>,
    /// Copy the library instead of linking to it
    #[arg(long)]
    copy: bool,
}

/// Runs `mysql-plugin ...`.
pub fn run(command: &MysqlPluginCommand) -> ExitCode {
    match command {
        MysqlPluginCommand::Install(args) => match install(args) {
            Ok(report) => {
                // A closed stdout (`| head`) is not a failure of the install.
                let _ = writeln!(std::io::stdout(), "{report}");
                ExitCode::SUCCESS
            }
            Err(Failure::Usage(message)) => {
                print_error(message);
                ExitCode::from(EXIT_USAGE)
            }
            Err(Failure::Io(message)) => {
                print_error(message);
                ExitCode::from(EXIT_FAILURE)
            }
        },
    }
}

enum Failure {
    /// Something to fix in the command or the system (no library, no plugin directory).
    Usage(String),
    /// The file system refused.
    Io(String),
}

fn io_error(what: &str, path: &Path, err: std::io::Error) -> Failure {
    Failure::Io(format!("{what} {}: {err}", path.display()))
}

fn install(args: &InstallArgs) -> Result<String, Failure> {
    let library = find_library(args.library.as_deref())?;
    let system_dir = find_system_plugin_dir(args.system_plugin_dir.as_deref())?;
    let dir = &args.dir;
    fs::create_dir_all(dir).map_err(|e| io_error("could not create", dir, e))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| io_error("could not resolve", dir, e))?;
    if dir == system_dir {
        return Err(Failure::Usage(format!(
            "{} is the system's plugin directory; install into a directory of its own",
            dir.display()
        )));
    }

    let mut linked = Vec::new();
    let mut kept = Vec::new();
    for plugin in system_plugins(&system_dir)? {
        let name = plugin
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let target = dir.join(&name);
        match fs::symlink_metadata(&target) {
            Ok(meta) if !meta.file_type().is_symlink() => {
                kept.push(name);
                continue;
            }
            _ => {}
        }
        replace_with_symlink(&plugin, &target)?;
        linked.push(name);
    }

    let plugin_path = dir.join(PLUGIN_FILE);
    if args.copy {
        replace_with_copy(&library, &plugin_path)?;
    } else {
        replace_with_symlink(&library, &plugin_path)?;
    }
    let removed = remove_dangling_links(&dir)?;

    let mut report = format!(
        "{} -> {} ({})\nlinked from {}: {}",
        plugin_path.display(),
        library.display(),
        if args.copy { "copy" } else { "symbolic link" },
        system_dir.display(),
        if linked.is_empty() {
            "nothing".to_string()
        } else {
            linked.join(", ")
        }
    );
    if !kept.is_empty() {
        report += &format!("\nleft alone (not links): {}", kept.join(", "));
    }
    if !removed.is_empty() {
        report += &format!("\nremoved dangling links: {}", removed.join(", "));
    }
    let shown = dir.display();
    report += &format!(
        "\npoint libmariadb clients at it with one of:\n  mariadb --plugin-dir={shown} ...\n  export MARIADB_PLUGIN_DIR={shown}\n  [client]\n  plugin-dir={shown}    (in ~/.my.cnf or /etc/mysql/my.cnf)"
    );
    Ok(report)
}

/// The library to install: the one given, else the one installed beside this program.
fn find_library(given: Option<&Path>) -> Result<PathBuf, Failure> {
    let candidates: Vec<PathBuf> = match given {
        Some(path) => vec![path.to_path_buf()],
        None => {
            let exe = std::env::current_exe()
                .and_then(|p| p.canonicalize())
                .map_err(|e| Failure::Io(format!("cannot locate this program: {e}")))?;
            let bin_dir = exe.parent().unwrap_or(Path::new("/")).to_path_buf();
            let mut dirs = vec![
                bin_dir.clone(),
                bin_dir.join("../lib"),
                bin_dir.join("../lib64"),
            ];
            dirs.extend(glob_dirs(&bin_dir.join("../lib/*").to_string_lossy()));
            dirs.iter()
                .flat_map(|d| [d.join(LIBRARY_SONAME), d.join(LIBRARY_FILE)])
                .collect()
        }
    };
    let found = candidates.iter().find(|p| p.is_file()).ok_or_else(|| {
        Failure::Usage(format!(
            "no {LIBRARY_FILE} found (looked at {}); pass --library PATH",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    // The directory is resolved, the file name kept: in an installed tree the plugin then
    // links to the SONAME link (libiam_db_auth.so.1), which an upgrade re-points, rather than
    // to one version's file, which an upgrade removes.
    let dir = found
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let found = dir
        .canonicalize()
        .map(|dir| dir.join(found.file_name().unwrap_or_default()))
        .map_err(|e| io_error("could not resolve", dir, e))?;
    let bytes = fs::read(&found).map_err(|e| io_error("could not read", &found, e))?;
    if !contains(&bytes, DECLARATION_SYMBOL) || !contains(&bytes, b"mysql_clear_password\0") {
        return Err(Failure::Usage(format!(
            "{} does not contain the mysql_clear_password plugin (built for another platform, or not iam-db-auth's library)",
            found.display()
        )));
    }
    Ok(found)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The system's Connector/C plugin directory.
fn find_system_plugin_dir(given: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(dir) = given {
        if !has_client_plugins(dir) {
            return Err(Failure::Usage(format!(
                "{} holds no libmariadb client plugins (*.so)",
                dir.display()
            )));
        }
        return dir
            .canonicalize()
            .map_err(|e| io_error("could not resolve", dir, e));
    }
    let mut tried = Vec::new();
    for (program, args) in [
        ("mariadb_config", &["--plugindir"][..]),
        ("pkg-config", &["--variable=plugindir", "libmariadb"][..]),
    ] {
        if let Some(dir) = ask(program, args) {
            if has_client_plugins(&dir) {
                return Ok(dir.canonicalize().unwrap_or(dir));
            }
            tried.push(format!("{} ({program})", dir.display()));
        }
    }
    for pattern in KNOWN_PLUGIN_DIRS {
        for dir in glob_dirs(pattern) {
            if has_client_plugins(&dir) {
                return Ok(dir.canonicalize().unwrap_or(dir));
            }
        }
        tried.push(pattern.to_string());
    }
    Err(Failure::Usage(format!(
        "found no libmariadb client plugin directory (tried {}); install libmariadb (Debian: libmariadb3) or pass --system-plugin-dir DIR",
        tried.join(", ")
    )))
}

/// A program's one-line answer, if it runs and answers.
fn ask(program: &str, args: &[&str]) -> Option<PathBuf> {
    let out = std::process::Command::new(program)
        .args(args)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| PathBuf::from(text))
}

/// Directories matching a path whose components may be `*` (any name).
fn glob_dirs(pattern: &str) -> impl Iterator<Item = PathBuf> {
    let mut current = vec![PathBuf::from("/")];
    for part in Path::new(pattern).components().skip(1) {
        let part = part.as_os_str();
        current = current
            .into_iter()
            .flat_map(|base| -> Vec<PathBuf> {
                if part == "*" {
                    let mut names: Vec<PathBuf> = fs::read_dir(&base)
                        .into_iter()
                        .flatten()
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_dir())
                        .collect();
                    names.sort();
                    names
                } else {
                    vec![base.join(part)]
                }
            })
            .collect();
    }
    current.into_iter().filter(|p| p.is_dir())
}

fn has_client_plugins(dir: &Path) -> bool {
    system_plugins(dir).is_ok_and(|list| !list.is_empty())
}

/// The `*.so` files of the system directory, except its own `mysql_clear_password.so`.
fn system_plugins(dir: &Path) -> Result<Vec<PathBuf>, Failure> {
    let mut list: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| io_error("could not list", dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "so")
                && p.file_name().is_some_and(|n| n != PLUGIN_FILE)
                && p.is_file()
        })
        .collect();
    list.sort();
    Ok(list)
}

/// A temporary name beside `path`, for write-then-rename.
fn temporary(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Points `link` at `target`, atomically (a process opening `link` meanwhile sees the old or
/// the new link, never none).
fn replace_with_symlink(target: &Path, link: &Path) -> Result<(), Failure> {
    let tmp = temporary(link);
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .map_err(|e| io_error("could not create a link", &tmp, e))?;
    fs::rename(&tmp, link).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_error("could not put a link at", link, e)
    })
}

/// Puts a copy of `source` at `path`, atomically; running processes keep the inode they mapped.
fn replace_with_copy(source: &Path, path: &Path) -> Result<(), Failure> {
    let tmp = temporary(path);
    let _ = fs::remove_file(&tmp);
    fs::copy(source, &tmp).map_err(|e| io_error("could not copy the library to", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_error("could not put the copy at", path, e)
    })
}

/// Removes the links in `dir` whose targets no longer exist (plugins the system dropped).
fn remove_dangling_links(dir: &Path) -> Result<Vec<String>, Failure> {
    let mut removed = Vec::new();
    for entry in fs::read_dir(dir)
        .map_err(|e| io_error("could not list", dir, e))?
        .flatten()
    {
        let path = entry.path();
        let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
        if is_link && !path.exists() {
            fs::remove_file(&path).map_err(|e| io_error("could not remove", &path, e))?;
            removed.push(entry.file_name().to_string_lossy().to_string());
        }
    }
    removed.sort();
    Ok(removed)
}
