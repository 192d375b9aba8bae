//! The `iam-db-auth` command. See `iam-db-auth --help` and the README.

#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    iam_db_auth_cli::cli::run()
}
