//! The `iam-db-auth` command. See `iam-db-auth --help` and the README.

#![deny(unsafe_code)]

/// Runs before std's start-up code, which opens /dev/null on a closed standard descriptor
/// (see `stdio`). glibc calls the functions listed in `.init_array` before `main`.
#[cfg(target_os = "linux")]
#[allow(
    unsafe_code,
    reason = "a start-up hook in .init_array is an unsafe attribute"
)]
#[used]
#[unsafe(link_section = ".init_array")]
static NOTE_CLOSED_STDOUT: extern "C" fn() = {
    extern "C" fn note() {
        iam_db_auth_cli::stdio::note_closed_stdout();
    }
    note
};

fn main() -> std::process::ExitCode {
    iam_db_auth_cli::cli::run()
}
