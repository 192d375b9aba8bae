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
        "include/iam_db_auth.h is out of date; regenerate it with: UPDATE_HEADER=1 cargo test --test header"
    );
}
