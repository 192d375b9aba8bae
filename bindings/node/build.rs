// Links libiam_db_auth (the C ABI) from IAM_DB_AUTH_LIB_DIR (scripts/package/node.sh points it at
// the library it ships), and has the addon find it beside itself at run time ($ORIGIN).
fn main() {
    napi_build::setup();
    println!("cargo:rerun-if-env-changed=IAM_DB_AUTH_LIB_DIR");
    if let Ok(dir) = std::env::var("IAM_DB_AUTH_LIB_DIR") {
        println!("cargo:rustc-link-search=native={dir}");
    }
    println!("cargo:rustc-link-lib=dylib=iam_db_auth");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-rpath,$ORIGIN");
}
