//! The `iam-db-auth` command. See `iam-db-auth --help` and the README.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
