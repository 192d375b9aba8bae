//! The cache's fast paths end to end, through `token_for` with credentials from the
//! environment: a repeated request gets the cached token (through this thread's front and
//! through the shared cache from another thread), every token verifies, and a clear or new
//! credentials are honoured at once. One test function: it changes the process environment.

use iam_db_auth::{TokenRequest, UtcSeconds, clear_caches, token_for};
use iam_db_auth_verify::{Expectation, Keystore, verify};
use std::time::SystemTime;

const HOST: &str = "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com";
const KEY_ID: &str = "AKIAIAMDBAUTHTEST0001";
const SECRET_1: &str = "first/secret+0123456789abcdefghijklmnopq";
const SECRET_2: &str = "second/secret+0123456789abcdefghijklmnop";

fn use_secret(secret: &str) {
    // SAFETY: this test binary has one test, and it runs no other thread while changing the
    // environment.
    unsafe {
        std::env::set_var("AWS_ACCESS_KEY_ID", KEY_ID);
        std::env::set_var("AWS_SECRET_ACCESS_KEY", secret);
        std::env::remove_var("AWS_SESSION_TOKEN");
        std::env::remove_var("AWS_PROFILE");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_CONFIG_FILE", "/nonexistent/iam-db-auth-test/config");
        std::env::set_var(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/iam-db-auth-test/credentials",
        );
    }
}

fn accepted_with(token: &str, user: &str, secret: &str) -> bool {
    let mut keys = Keystore::default();
    keys.add(KEY_ID, secret, None);
    let endpoints = [format!("{HOST}:5432")];
    let expect = Expectation {
        kind: iam_db_auth::TokenKind::Rds,
        endpoints: &endpoints,
        region: "us-east-1",
        user,
    };
    let now = UtcSeconds::from_system_time(SystemTime::now()).unwrap();
    verify(token, &expect, &keys, now).is_ok()
}

#[test]
fn repeated_requests_reuse_the_token_until_cleared_or_credentials_change() {
    use_secret(SECRET_1);
    let app = TokenRequest::new(HOST, 5432, "app");
    let first = token_for(&app).unwrap();
    assert!(accepted_with(first.as_str(), "app", SECRET_1));

    // The same request again on this thread: this thread's front answers, same token.
    for _ in 0..3 {
        assert_eq!(token_for(&app).unwrap().as_str(), first.as_str());
    }
    // Another user in between, then the first again: each gets its own token.
    let other = token_for(&TokenRequest::new(HOST, 5432, "other")).unwrap();
    assert!(accepted_with(other.as_str(), "other", SECRET_1));
    assert!(!other.as_str().contains("DBUser=app&"));
    assert_eq!(token_for(&app).unwrap().as_str(), first.as_str());
    // Equal fields, distinct strings: still the same request.
    let (host, user) = (HOST.to_string(), "app".to_string());
    assert_eq!(
        token_for(&TokenRequest::new(&host, 5432, &user))
            .unwrap()
            .as_str(),
        first.as_str()
    );
    // The region given explicitly is a different request, with the same key: the shared cache.
    assert_eq!(
        token_for(&app.region("us-east-1")).unwrap().as_str(),
        first.as_str()
    );
    // A different port is a different token.
    let other_port = token_for(&TokenRequest::new(HOST, 3306, "app")).unwrap();
    assert!(other_port.as_str().starts_with(&format!("{HOST}:3306/?")));

    // Another thread: no front of its own yet, the shared cache answers.
    let from_thread = std::thread::spawn(move || token_for(&app).unwrap().as_str().to_string())
        .join()
        .unwrap();
    assert_eq!(from_thread, first.as_str());

    // New credentials, picked up after a clear: a token signed with them, at once.
    use_secret(SECRET_2);
    clear_caches();
    let rotated = token_for(&app).unwrap();
    assert!(accepted_with(rotated.as_str(), "app", SECRET_2));
    assert!(!accepted_with(rotated.as_str(), "app", SECRET_1));
    assert_eq!(token_for(&app).unwrap().as_str(), rotated.as_str());

    // Invalid requests fail every time, cache or not.
    let bad = TokenRequest::new("https://x", 5432, "app");
    assert!(token_for(&bad).is_err());
    assert!(token_for(&bad).is_err());
    // Uncached requests are signed anew and still verify.
    let fresh = token_for(&app.use_cache(false)).unwrap();
    assert!(accepted_with(fresh.as_str(), "app", SECRET_2));
}
