//! Link settings for the shared library.
//!
//! `-z nodelete`: the library is loaded by hosts that unload it (MariaDB Connector/C
//! `dlclose`s client plugins at `mysql_library_end`). A blocking-pool thread of our runtime,
//! or a thread-local destructor, could still reference its code; keeping it mapped makes
//! `dlclose` safe, and a second load in the same process finds the same, still-initialised
//! library.
//!
//! `-soname`: one stable name however the file is installed (as `mysql_clear_password.so`,
//! for instance).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libiam_db_auth.so");
    }
}
