//! `cargo bench`: the per-call costs that BENCHMARKS.md reports and scripts/bench.sh compares
//! with boto3 and the AWS CLI.
//!
//! - `token/*`: the whole Rust API call (`token_for`): validation, region, credential snapshot,
//!   cache, signing. `uncached` bypasses the token cache (the signing key stays cached, as in a
//!   long-running process); `cached` is a cache hit.
//! - `c_abi/*`: `iam_token_get` / `iam_token_get_ext` through the rlib's extern fns, plus
//!   `iam_token_free`: what a C, Python or Go caller pays, minus the dynamic call.
//! - `region/*`: region inference from endpoint names.
//! - `sign/*`: the pure signer, deriving the day's signing key or with it given.
//!
//! Credentials come from the environment (the demo key, set below before anything reads it),
//! so nothing here touches the network or the machine's AWS files.

use criterion::{Criterion, criterion_group, criterion_main};
use iam_db_auth::ffi::{
    IAM_FLAG_NO_CACHE, IamTokenOptions, iam_token_free, iam_token_get, iam_token_get_ext,
    iam_token_options_init,
};
use iam_db_auth::sign::{Presign, SigningCredentials, SigningKey, presign, presign_with_key};
use iam_db_auth::{TokenKind, TokenRequest, UtcSeconds, endpoint};
use std::ffi::CString;
use std::hint::black_box;

const HOST: &str = "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com";
const PORT: u16 = 5432;
const USER: &str = "app_user";
const ACCESS_KEY_ID: &str = "AKIAIAMDBAUTHDEMO001";
const SECRET: &str = "iamDbAuthDemoSecret/0123456789+abcdefghijkl";

/// Demo credentials in the environment, and nothing else that could send the credential chain
/// elsewhere (the bench must never reach a real metadata endpoint).
fn use_demo_environment() {
    // SAFETY: called at the start of `main`, before any other thread exists and before the
    // library reads the environment.
    unsafe {
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("AWS_") || name.starts_with("IAM_DB_AUTH_") {
                std::env::remove_var(&name);
            }
        }
        std::env::set_var("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/iam-db-auth-bench/config");
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/iam-db-auth-bench/credentials",
        );
    }
}

fn token(c: &mut Criterion) {
    let cached = TokenRequest::new(HOST, PORT, USER);
    let uncached = cached.use_cache(false);
    // Warm the credential snapshot and both caches, and fail loudly if no token can be made.
    iam_db_auth::token_for(&cached).expect("a token from the demo credentials");
    let mut g = c.benchmark_group("token");
    g.bench_function("uncached", |b| {
        b.iter(|| iam_db_auth::token_for(black_box(&uncached)).unwrap())
    });
    g.bench_function("cached", |b| {
        b.iter(|| iam_db_auth::token_for(black_box(&cached)).unwrap())
    });
    g.finish();
}

fn c_abi(c: &mut Criterion) {
    let host = CString::new(HOST).unwrap();
    let user = CString::new(USER).unwrap();
    let mut options = std::mem::MaybeUninit::<IamTokenOptions>::uninit();
    // SAFETY: `options` is writable memory for one IamTokenOptions.
    let mut options = unsafe {
        iam_token_options_init(options.as_mut_ptr());
        options.assume_init()
    };
    options.host = host.as_ptr();
    options.port = PORT;
    options.user = user.as_ptr();
    options.flags = IAM_FLAG_NO_CACHE;

    let get_free = || {
        // SAFETY: valid NUL-terminated strings; the token is freed once, by the library.
        unsafe {
            let t = iam_token_get(
                black_box(host.as_ptr()),
                PORT,
                std::ptr::null(),
                user.as_ptr(),
            );
            assert!(!t.is_null());
            iam_token_free(t);
        }
    };
    get_free();
    let mut g = c.benchmark_group("c_abi");
    g.bench_function("iam_token_get+free/cached", |b| b.iter(get_free));
    g.bench_function("iam_token_get_ext+free/no_cache", |b| {
        b.iter(|| {
            // SAFETY: `options` was initialised by iam_token_options_init and points to live
            // strings; the token is freed once, by the library.
            unsafe {
                let t = iam_token_get_ext(black_box(&options));
                assert!(!t.is_null());
                iam_token_free(t);
            }
        })
    });
    g.finish();
}

fn region(c: &mut Criterion) {
    let mut g = c.benchmark_group("region");
    for (name, host) in [
        ("rds_instance", HOST),
        (
            "rds_china",
            "mydb.c1a2b3c4d5e6.rds.cn-northwest-1.amazonaws.com.cn",
        ),
        ("dsql", "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws"),
        ("not_aws", "db.internal.example.com"),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| endpoint::infer_region(black_box(host)))
        });
    }
    g.finish();
}

fn sign(c: &mut Criterion) {
    let time = UtcSeconds::from_unix(1_767_323_045);
    let input = Presign {
        kind: TokenKind::Rds,
        host: HOST,
        port: PORT,
        user: USER,
        region: "us-east-1",
        expires_in: 900,
        time,
        serverless: false,
    };
    let creds = SigningCredentials {
        access_key_id: ACCESS_KEY_ID,
        secret_access_key: SECRET,
        session_token: None,
    };
    let key = SigningKey::derive(SECRET, time, "us-east-1", "rds-db");
    let mut g = c.benchmark_group("sign");
    g.bench_function("derive_key", |b| {
        b.iter(|| SigningKey::derive(black_box(SECRET), time, "us-east-1", "rds-db"))
    });
    g.bench_function("presign/derive_key", |b| {
        b.iter(|| presign(black_box(&input), &creds))
    });
    g.bench_function("presign/cached_key", |b| {
        b.iter(|| presign_with_key(black_box(&input), &creds, &key))
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = token, c_abi, region, sign
}

fn main() {
    use_demo_environment();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
