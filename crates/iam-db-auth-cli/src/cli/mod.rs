//! The command line: one file a subcommand. Exit status 0 on success, 1 when the work failed
//! (no token, token rejected), 2 for usage errors. Errors go to stderr, one line, saying what
//! to do; tokens go to stdout only.

// Unsafe code is forbidden in every module but these, which call libc where the standard
// library has no safe call for it:
// - libpq_probe: dlopen/dlsym/dladdr of the system libpq, to ask its version;
// - signals: sigprocmask, sigtimedwait, kill, and the child's mask between fork and exec;
// - pgpass: only its `os` module (flock and geteuid); it forbids unsafe code in the others.
#[forbid(unsafe_code)]
mod ca;
#[forbid(unsafe_code)]
mod doctor;
#[forbid(unsafe_code)]
mod dsql;
#[forbid(unsafe_code)]
mod exec;
#[forbid(unsafe_code)]
mod generate;
#[forbid(unsafe_code)]
mod https_get;
#[allow(unsafe_code)]
mod libpq_probe;
#[forbid(unsafe_code)]
mod libpq_tls;
#[forbid(unsafe_code)]
mod login_kind;
#[forbid(unsafe_code)]
mod mysql_plugin;
mod pgpass;
#[forbid(unsafe_code)]
mod policy;
#[forbid(unsafe_code)]
mod proxy;
#[allow(unsafe_code)]
mod signals;
#[forbid(unsafe_code)]
mod token;
#[forbid(unsafe_code)]
mod verify;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Exit status when the work failed (as opposed to a usage error, 2).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for usage and configuration errors.
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "iam-db-auth",
    version,
    about = "AWS IAM database authentication tokens for RDS, Aurora, DSQL, ElastiCache and MemoryDB",
    long_about = "Makes AWS IAM database authentication tokens (the password for an IAM-enabled database user), \
                  from the AWS default credential chain. A drop-in for `aws rds generate-db-auth-token`: \
                  `iam-db-auth rds generate-db-auth-token --hostname H --port P --username U --region R` works as is."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a token for a database user
    Token(token::TokenArgs),
    /// `aws rds ...` compatible commands
    Rds {
        #[command(subcommand)]
        command: RdsCommand,
    },
    /// `aws dsql ...` compatible commands (Aurora DSQL tokens)
    Dsql {
        #[command(subcommand)]
        command: dsql::DsqlCommand,
    },
    /// Write fresh tokens into a PostgreSQL passfile (~/.pgpass), once or (--watch) continuously
    Pgpass(pgpass::PgpassArgs),
    /// Run a command with a fresh token in PGPASSWORD (or MYSQL_PWD)
    Exec(exec::ExecArgs),
    /// Check a token (read from stdin) as AWS would, against a keystore of known keys; for the
    /// local RDS stand-ins and tests
    Verify(verify::VerifyArgs),
    /// Say why an IAM login fails, and what to change: checks the endpoint, DNS, credentials,
    /// the token, the clock, TCP, TLS and a real login, one line each
    Doctor(doctor::DoctorArgs),
    /// Print the IAM policy statement and the SQL a database user needs for IAM logins
    Policy(policy::PolicyArgs),
    /// A local PostgreSQL/MySQL proxy: clients log in without a password, the proxy logs in to
    /// the database with a fresh IAM token over verified TLS (docs/proxy.md)
    Proxy(proxy::ProxyArgs),
    /// The MariaDB/MySQL client plugin (mysql_clear_password) that logs in with IAM tokens
    MysqlPlugin {
        #[command(subcommand)]
        command: mysql_plugin::MysqlPluginCommand,
    },
    /// The CA bundle database servers' certificates are verified with (RDS's, unless told
    /// otherwise): where it is, and updating it from AWS
    Ca {
        #[command(subcommand)]
        command: ca::CaCommand,
    },
    /// Write the man pages into a directory (for installers)
    #[command(hide = true)]
    GenerateMan(generate::ManArgs),
    /// Print a shell completion script (for installers)
    #[command(hide = true)]
    Completions(generate::CompletionsArgs),
}

#[derive(Subcommand)]
enum RdsCommand {
    /// Same as `iam-db-auth token` (the AWS CLI's name and flags)
    GenerateDbAuthToken(token::TokenArgs),
}

/// Parses the command line and runs the command.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    match cli.command {
        Command::Token(args)
        | Command::Rds {
            command: RdsCommand::GenerateDbAuthToken(args),
        } => token::run(&args),
        Command::Dsql { command } => dsql::run(&command),
        Command::Pgpass(args) => pgpass::run(&args),
        Command::Exec(args) => exec::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Policy(args) => policy::run(&args),
        Command::Proxy(args) => proxy::run(&args),
        Command::MysqlPlugin { command } => mysql_plugin::run(&command),
        Command::Ca { command } => ca::run(&command),
        Command::GenerateMan(args) => generate::man(&args),
        Command::Completions(args) => generate::completions(&args),
    }
}

/// Prints `iam-db-auth: error: <message>` to stderr.
pub fn print_error(message: impl std::fmt::Display) {
    eprintln!("iam-db-auth: error: {message}");
}

/// A flag's value, unless it is empty: `IAM_DB_AUTH_PROFILE=` in the environment, or
/// `--profile ""` from a script with nothing to fill in, means "not given".
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}
