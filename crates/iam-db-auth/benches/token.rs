//! `cargo bench`: the per-call costs that BENCHMARKS.md reports and scripts/bench.sh compares
//! with boto3 and the AWS CLI.
//!
//! - `token/*`: the whole Rust API call (`token_for`): validation, region, credential snapshot,
//!   cache, signing. `uncached` bypasses the token cache (the signing key stays cached, as in a
//!   long-running process); `cached` is a cache hit.
//! - `c_abi/*`: `iam_token_get` / `iam_token_get_ext` through the rlib's extern fns, plus
//!   `iam_token_free`: what a C, Python or Go caller pays, minus the dynamic call.
//! - `region/*`: region inference from endpoint names (`infer_region_ref`, as the engine calls it).
//! - `sign/*`: the pure signer, deriving the day's signing key or with it given.
//!
//! Credentials come from the environment (the demo key, set below before anything reads it),
//! so nothing here touches the network or the machine's AWS files.
//!
//! Times are the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall-clock time:
//! on a machine shared with other work (builds, other benchmarks) a thread that is not
//! scheduled spends no CPU time, so the numbers stay those of the code. On an idle machine the
//! two agree. `IAM_BENCH_CLOCK=wall` measures wall-clock time instead.
//!
//! `IAM_BENCH_LOOP=token/cached:N` (or `token/uncached:N`) skips criterion and makes N tokens
//! in a plain loop, for `perf stat -e cycles:u,instructions:u`: counts per call that do not
//! depend on what else the machine runs.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, criterion_group};
use iam_db_auth::ffi::{
    IAM_FLAG_NO_CACHE, IamTokenOptions, iam_token_free, iam_token_get, iam_token_get_ext,
    iam_token_options_init,
};
use iam_db_auth::sign::{Presign, SigningCredentials, SigningKey, presign, presign_with_key};
use iam_db_auth::{TokenKind, TokenRequest, UtcSeconds, endpoint};
use std::ffi::CString;
use std::hint::black_box;
use std::time::Duration;

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

/// The calling thread's CPU time.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Criterion measurement: CPU time of the benchmark thread (see the module comment).
struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;

    fn start(&self) -> Duration {
        thread_cpu_time()
    }

    fn end(&self, started: Duration) -> Duration {
        thread_cpu_time() - started
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

/// The clock the benchmarks use: CPU time unless `IAM_BENCH_CLOCK=wall`.
enum Clock {
    Cpu(ThreadCpuTime),
    Wall(WallTime),
}

impl Measurement for Clock {
    type Intermediate = (Duration, std::time::Instant);
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        match self {
            Clock::Cpu(c) => (c.start(), std::time::Instant::now()),
            Clock::Wall(_) => (Duration::ZERO, std::time::Instant::now()),
        }
    }

    fn end(&self, (cpu, wall): Self::Intermediate) -> Duration {
        match self {
            Clock::Cpu(c) => c.end(cpu),
            Clock::Wall(_) => wall.elapsed(),
        }
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        ThreadCpuTime.formatter()
    }
}

type Bench = Criterion<Clock>;

fn token(c: &mut Bench) {
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

fn c_abi(c: &mut Bench) {
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

fn region(c: &mut Bench) {
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
            b.iter(|| endpoint::infer_region_ref(black_box(host)))
        });
    }
    g.finish();
}

fn sign(c: &mut Bench) {
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

fn config() -> Bench {
    let clock = if std::env::var("IAM_BENCH_CLOCK").as_deref() == Ok("wall") {
        Clock::Wall(WallTime)
    } else {
        Clock::Cpu(ThreadCpuTime)
    };
    Criterion::default()
        .with_measurement(clock)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .configure_from_args()
}

criterion_group! {
    name = benches;
    config = config();
    targets = token, c_abi, region, sign
}

/// The plain loop of `IAM_BENCH_LOOP`.
fn plain_loop(spec: &str) {
    let (name, count) = spec.split_once(':').expect("IAM_BENCH_LOOP=NAME:COUNT");
    let count: u64 = count.parse().expect("a count");
    let request = match name {
        "token/cached" => TokenRequest::new(HOST, PORT, USER),
        "token/uncached" => TokenRequest::new(HOST, PORT, USER).use_cache(false),
        _ => panic!("IAM_BENCH_LOOP: token/cached or token/uncached, not {name}"),
    };
    iam_db_auth::token_for(&request).expect("a token from the demo credentials");
    let (cpu, wall) = (thread_cpu_time(), std::time::Instant::now());
    for _ in 0..count {
        black_box(iam_db_auth::token_for(black_box(&request)).unwrap());
    }
    let per_call = |d: Duration| d.as_nanos() as f64 / count as f64;
    println!(
        "{name}: {count} calls, {:.1} ns CPU time a call, {:.1} ns wall clock",
        per_call(thread_cpu_time() - cpu),
        per_call(wall.elapsed())
    );
}

fn main() {
    use_demo_environment();
    if let Ok(spec) = std::env::var("IAM_BENCH_LOOP") {
        plain_loop(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
