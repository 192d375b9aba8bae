//! The version a program was compiled against (the header's macros) and the version it runs
//! against (`iam_version()`). The numbers follow the ABI policy in docs/c-api.md: the major
//! changes only when the ABI breaks (and with it the SONAME, `libiam_db_auth.so.<major>`), a minor
//! release only adds. Written out here because cbindgen copies literals, not `env!`; a test
//! holds them to the package version. The string form, `IAM_DB_AUTH_VERSION`, is written in
//! cbindgen.toml (cbindgen does not export string constants); tests/header.rs checks it.

/// The major version of the header: the library's SONAME is `libiam_db_auth.so.<major>`.
pub const IAM_DB_AUTH_VERSION_MAJOR: u32 = 1;
/// The minor version of the header: a program that uses what it added needs a library of at
/// least this minor version.
pub const IAM_DB_AUTH_VERSION_MINOR: u32 = 0;
/// The patch version of the header.
pub const IAM_DB_AUTH_VERSION_PATCH: u32 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_version_is_the_package_version() {
        assert_eq!(
            format!(
                "{IAM_DB_AUTH_VERSION_MAJOR}.{IAM_DB_AUTH_VERSION_MINOR}.{IAM_DB_AUTH_VERSION_PATCH}"
            ),
            env!("CARGO_PKG_VERSION"),
            "update src/ffi/version.rs (and freeze the header, c-tests/abi) with the version"
        );
    }
}
