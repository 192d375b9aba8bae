//! Link settings for the shared library.
//!
//! `-z nodelete`: the library is loaded by hosts that unload it (MariaDB Connector/C
//! `dlclose`s client plugins at `mysql_library_end`). A blocking-pool thread of our runtime,
//! or a thread-local destructor, could still reference its code; keeping it mapped makes
//! `dlclose` safe, and a second load in the same process finds the same, still-initialised
//! library.
//!
//! `-soname libiam_db_auth.so.<major>`: the name programs linked against the library record
//! and the dynamic loader looks for. It changes only with the major version, when the ABI
//! breaks (docs/c-api.md, "ABI policy"), and stays the same however the file is installed
//! (as `mysql_clear_password.so`, for instance). cargo writes `libiam_db_auth.so`; the install
//! script names it `libiam_db_auth.so.<version>` with the usual links, and the test scripts
//! link the SONAME beside a build tree's library (scripts/lib.sh, `soname_link`).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libiam_db_auth.so.{major}");
    }
}
