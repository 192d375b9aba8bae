//! No copy of a secret is left behind in freed memory by our code paths.
//!
//! This test binary runs under a global allocator that, while armed, scans every block freed
//! for known secrets: a secret access key, a session token (raw and as tokens encode it), a
//! token's signature, and anything shaped like a token (`X-Amz-Signature=` and 64 hex digits).
//! `Zeroizing`/`SecretString` buffers are wiped before they are freed, so they pass; a
//! `format!` intermediate, a reallocated buffer or a `CString` copy that holds a secret is
//! caught here with the first bytes of the block.
//!
//! One residue is known and allowed, in a dependency: aws-sigv4's `generate_signing_key`
//! builds `format!("AWS4{secret}")` and frees it unwiped (once per signing key; keys are cached
//! per day, region and credentials). A block that starts with `AWS4<secret>` is counted, not
//! failed; the count is printed.
//!
//! `harness = false`: one thread, so every block freed while armed is ours to judge.

use iam_db_auth::SecretString;
use iam_db_auth::ffi::{
    iam_last_error_message, iam_token_free, iam_token_get, iam_token_get_ext,
    iam_token_options_init,
};
use iam_db_auth::{AwsCredentials, TokenKind, TokenRequest, UtcSeconds, token_with};
use iam_db_auth_verify::{Expectation, Keystore, verify};
use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{CStr, CString};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

const AKID: &str = "AKIARESIDUETEST00001";
const SECRET: &str = "ResidueSecretKey/abcdefghijklmnopqrstuvwx+0123";
const TEMP_ID: &str = "ASIARESIDUETEST00002";
const TEMP_SECRET: &str = "ResidueTempSecret/abcdefghijklmnopqrstuv+0123";
const SESSION: &str = "ResidueSessionToken//////////wEaDH+abc/def+ghi==";
const SESSION_ENCODED: &str =
    "ResidueSessionToken%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaDH%2Babc%2Fdef%2Bghi%3D%3D";

/// Fixed-size needle storage: the allocator must never allocate or free to read it.
struct Needles {
    items: [([u8; 128], usize); 8],
    count: usize,
}

static NEEDLES: Mutex<Needles> = Mutex::new(Needles {
    items: [([0; 128], 0); 8],
    count: 0,
});
static ARMED: AtomicBool = AtomicBool::new(false);
static ALLOWED: AtomicUsize = AtomicUsize::new(0);
static FOUND: AtomicUsize = AtomicUsize::new(0);
static FIRST: Mutex<([u8; 96], usize)> = Mutex::new(([0; 96], 0));

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// `X-Amz-Signature=` followed by 64 lower-case hex digits: a token, whoever made it.
fn holds_a_token(block: &[u8]) -> bool {
    const MARK: &[u8] = b"X-Amz-Signature=";
    block.windows(MARK.len() + 64).any(|w| {
        w.starts_with(MARK)
            && w[MARK.len()..]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    })
}

fn judge(block: &[u8]) {
    let secret_prefix = |s: &str| {
        let mut prefix = [0u8; 64];
        prefix[..4].copy_from_slice(b"AWS4");
        prefix[4..4 + s.len()].copy_from_slice(s.as_bytes());
        (prefix, 4 + s.len())
    };
    let needles = NEEDLES.lock().unwrap_or_else(|p| p.into_inner());
    let hit = needles.items[..needles.count]
        .iter()
        .any(|(n, len)| contains(block, &n[..*len]))
        || holds_a_token(block);
    drop(needles);
    if !hit {
        return;
    }
    let allowed = [SECRET, TEMP_SECRET].iter().any(|s| {
        let (p, len) = secret_prefix(s);
        block.starts_with(&p[..len])
    });
    if allowed {
        ALLOWED.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if FOUND.fetch_add(1, Ordering::Relaxed) == 0 {
        let mut first = FIRST.lock().unwrap_or_else(|p| p.into_inner());
        let n = block.len().min(96);
        first.0[..n].copy_from_slice(&block[..n]);
        first.1 = n;
    }
}

struct Scanner;

// SAFETY: forwards to the system allocator; the scan only reads the block being freed, which
// is valid for `layout.size()` bytes until it is handed back.
unsafe impl GlobalAlloc for Scanner {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's `layout` contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::Relaxed) {
            // SAFETY: `ptr` is a live block of `layout.size()` bytes (this call frees it).
            judge(unsafe { std::slice::from_raw_parts(ptr, layout.size()) });
        }
        // SAFETY: `ptr` came from `alloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    // realloc is GlobalAlloc's default (alloc, copy, dealloc): the old block is judged too.
}

#[global_allocator]
static SCANNER: Scanner = Scanner;

fn set_needles(list: &[&[u8]]) {
    let mut needles = NEEDLES.lock().unwrap();
    for (slot, n) in needles.items.iter_mut().zip(list) {
        slot.0[..n.len()].copy_from_slice(n);
        slot.1 = n.len();
    }
    needles.count = list.len();
}

/// Runs `f` armed and fails (with the first offending block) if it left a secret behind.
fn armed(what: &str, f: impl FnOnce()) {
    FOUND.store(0, Ordering::Relaxed);
    ARMED.store(true, Ordering::SeqCst);
    f();
    ARMED.store(false, Ordering::SeqCst);
    let found = FOUND.load(Ordering::Relaxed);
    if found > 0 {
        let first = FIRST.lock().unwrap();
        panic!(
            "{what}: {found} freed block(s) held a secret; the first began {:?}",
            String::from_utf8_lossy(&first.0[..first.1])
        );
    }
    println!("ok   {what}");
}

fn signature_of(token: &str) -> [u8; 64] {
    let sig = token.rsplit_once("X-Amz-Signature=").unwrap().1.as_bytes();
    sig.try_into().unwrap()
}

fn main() {
    // SAFETY: single-threaded; before the library reads the environment.
    unsafe {
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("AWS_") || name.starts_with("IAM_DB_AUTH_") {
                std::env::remove_var(&name);
            }
        }
        std::env::set_var("AWS_ACCESS_KEY_ID", AKID);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", SECRET);
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/iam-db-auth/config");
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/iam-db-auth/creds",
        );
    }
    let at = UtcSeconds::from_unix(1_767_323_045);
    let request = TokenRequest::new("db.internal", 5432, "app+user@x").signing_time(at);
    let temporary = || {
        AwsCredentials::new(
            TEMP_ID,
            TEMP_SECRET,
            Some(SESSION.to_string()),
            None,
            "test",
        )
    };

    // The signature of the token the armed runs will make (learned unarmed).
    let signature = {
        let token = token_with(&request, "eu-west-1", &temporary(), UNIX_EPOCH).unwrap();
        signature_of(token.as_str())
    };
    set_needles(&[
        SECRET.as_bytes(),
        TEMP_SECRET.as_bytes(),
        SESSION.as_bytes(),
        SESSION_ENCODED.as_bytes(),
        &signature,
    ]);

    armed(
        "making a token with temporary credentials (signer, engine)",
        || {
            let creds = temporary();
            let token = token_with(&request, "eu-west-1", &creds, UNIX_EPOCH).unwrap();
            assert_eq!(signature_of(token.as_str()), signature);
        },
    );

    let token = token_with(&request, "eu-west-1", &temporary(), UNIX_EPOCH).unwrap();
    armed("verifying it (parser, canonical request, keystore)", || {
        // The file's text, as the CLI holds it: in a buffer wiped on drop.
        let mut text = SecretString::with_capacity(256);
        for part in [
            AKID,
            " ",
            SECRET,
            "\n",
            TEMP_ID,
            " ",
            TEMP_SECRET,
            " ",
            SESSION,
            "\n",
        ] {
            text.push_str(part);
        }
        let keys = Keystore::parse(&text).unwrap();
        let endpoints = ["db.internal:5432".to_string()];
        let expect = Expectation {
            kind: TokenKind::Rds,
            endpoints: &endpoints,
            region: "eu-west-1",
            user: "app+user@x",
        };
        assert!(verify(token.as_str(), &expect, &keys, at.plus(10)).is_ok());
        // And a rejection after the signature was computed (one altered signature digit).
        let mut altered = String::from(token.as_str());
        let last = altered.pop().unwrap();
        altered.push(if last == '0' { '1' } else { '0' });
        let why = verify(&altered, &expect, &keys, at.plus(10)).unwrap_err();
        assert!(why.0.contains("signature does not match"), "{why}");
        zeroize::Zeroize::zeroize(&mut altered);
    });
    drop(token);

    // The C ABI, credentials from the environment through aws-config's provider.
    let host = CString::new("mydb.c9akciq32.us-east-1.rds.amazonaws.com").unwrap();
    let user = CString::new("app").unwrap();
    armed("C ABI: a fresh token, copied to C and freed", || {
        let mut options = std::mem::MaybeUninit::uninit();
        // SAFETY: a writable options struct; its strings outlive the call.
        let token = unsafe {
            iam_token_options_init(options.as_mut_ptr());
            let mut options = options.assume_init();
            options.host = host.as_ptr();
            options.port = 5432;
            options.user = user.as_ptr();
            options.flags = iam_db_auth::ffi::IAM_FLAG_NO_CACHE;
            iam_token_get_ext(&options)
        };
        // SAFETY: the library returns a NUL-terminated string valid until this thread's next call.
        let message = unsafe { CStr::from_ptr(iam_last_error_message()) };
        assert!(!token.is_null(), "{message:?}");
        // SAFETY: returned by the library, freed once.
        unsafe { iam_token_free(token) };
    });
    armed("C ABI: a cached token, copied to C and freed", || {
        for _ in 0..2 {
            // SAFETY: NUL-terminated strings that outlive the call.
            let token =
                unsafe { iam_token_get(host.as_ptr(), 5432, std::ptr::null(), user.as_ptr()) };
            assert!(!token.is_null());
            // SAFETY: returned by the library, freed once.
            unsafe { iam_token_free(token) };
        }
        iam_db_auth::clear_caches();
    });

    println!(
        "no secret left in freed memory; aws-sigv4's AWS4+secret key buffer seen {} time(s)",
        ALLOWED.load(Ordering::Relaxed)
    );
}
