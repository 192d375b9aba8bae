//! The committed C header is exactly what the pinned cbindgen makes of the sources.

use std::path::Path;

#[test]
fn committed_header_matches_the_sources() {
    let crate_dir = env!("CARGO_MANIFEST_DIR");
    let config = cbindgen::Config::from_file(Path::new(crate_dir).join("cbindgen.toml"))
        .expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header")
        .write(&mut generated);
    let path = Path::new(crate_dir).join("../../include/iam_db_auth.h");
    if std::env::var_os("UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write header");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/iam_db_auth.h is out of date; regenerate it with: UPDATE_HEADER=1 cargo test -p iam-db-auth --test header"
    );
}

/// The header's version string (written in cbindgen.toml: cbindgen exports no string
/// constant) is the package's, which the numeric macros are held to in src/ffi/version.rs.
#[test]
fn the_header_version_string_is_the_package_version() {
    let header = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../include/iam_db_auth.h"),
    )
    .expect("include/iam_db_auth.h");
    let wanted = format!(
        "#define IAM_DB_AUTH_VERSION \"{}\"\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        header.contains(&wanted),
        "include/iam_db_auth.h does not say {wanted:?}: update IAM_DB_AUTH_VERSION in cbindgen.toml"
    );
}
