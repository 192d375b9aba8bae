//! Hidden commands that write the program's own documentation, for installers and packagers
//! (scripts/install.sh): `generate-man DIR` writes a man page for the program and each visible
//! subcommand (iam-db-auth.1, iam-db-auth-token.1, ...), `completions SHELL` prints a
//! completion script. Both are made from the same command-line definition the program parses,
//! so they cannot drift from it.

use super::{EXIT_FAILURE, print_error};
use clap::{Args, CommandFactory};
use clap_complete::Shell;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ManArgs {
    /// The directory to write the pages into (created if missing)
    dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to write a completion script for
    shell: Shell,
}

/// Runs `generate-man DIR`.
pub fn man(args: &ManArgs) -> ExitCode {
    let written = std::fs::create_dir_all(&args.dir)
        .and_then(|()| clap_mangen::generate_to(super::Cli::command(), &args.dir));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            print_error(format!(
                "could not write man pages into {}: {err}",
                args.dir.display()
            ));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Runs `completions SHELL`: the script goes to stdout.
pub fn completions(args: &CompletionsArgs) -> ExitCode {
    let mut command = super::Cli::command();
    clap_complete::generate(
        args.shell,
        &mut command,
        "iam-db-auth",
        &mut std::io::stdout(),
    );
    ExitCode::SUCCESS
}
