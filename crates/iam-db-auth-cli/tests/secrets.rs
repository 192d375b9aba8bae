//! Secrets never show: `Debug` of every type that carries a credential or a token is redacted,
//! and no secret key, session token or token signature appears in any message or log line the
//! CLI prints, on success (with debug logging) or on any failure we can drive with known
//! secret strings: bad credential files, credential processes that fail after printing keys,
//! expired credentials, a failed verification.
//!
//! (Freed memory is checked by tests/secret_residue.rs; the C ABI's messages by the c_abi fuzz
//! target and c-tests/test_bad_input.c.)

mod common;

use common::{Sandbox, run, run_with_stdin, stderr, stdout, token_args};
use iam_db_auth::SecretString;
use iam_db_auth::sign::{SigningCredentials, SigningKey};
use iam_db_auth::{AwsCredentials, TokenRequest, UtcSeconds, token_with};
use iam_db_auth_verify::Keystore;
use std::time::UNIX_EPOCH;

const AKID: &str = "AKIASECRETSTEST00001";
const SECRET: &str = "KnownSecretKey/abcdefghijklmnopqrstuvw+01234";
const SESSION: &str = "KnownSessionToken//////////wEaDH+abc/def+ghi==";
const SESSION_ENCODED: &str =
    "KnownSessionToken%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaDH%2Babc%2Fdef%2Bghi%3D%3D";

/// Panics if `text` holds a known secret or a token signature.
fn assert_clean(what: &str, text: &str) {
    for needle in [
        SECRET,
        SESSION,
        SESSION_ENCODED,
        "KnownSecret",
        "KnownSession",
    ] {
        assert!(!text.contains(needle), "{what} shows {needle:?}:\n{text}");
    }
    assert!(
        !text.contains("X-Amz-Signature"),
        "{what} shows a token:\n{text}"
    );
}

fn temporary() -> AwsCredentials {
    AwsCredentials::new(AKID, SECRET, Some(SESSION.to_string()), None, "test")
}

#[test]
fn debug_of_every_credential_carrying_type_is_redacted() {
    let creds = temporary();
    assert_clean("AwsCredentials", &format!("{creds:?}"));
    assert!(
        format!("{creds:?}").contains(AKID),
        "the key id is not secret"
    );
    let signing = creds.signing();
    assert_clean("SigningCredentials", &format!("{signing:?}"));
    let long_term = SigningCredentials {
        session_token: None,
        ..signing
    };
    assert_clean("SigningCredentials (long-term)", &format!("{long_term:?}"));
    let key = SigningKey::derive(SECRET, UtcSeconds::from_unix(0), "us-east-1", "rds-db");
    assert!(format!("{key:?}").contains("redacted"));
    let request =
        TokenRequest::new("db.internal", 5432, "app").signing_time(UtcSeconds::from_unix(1));
    let token = token_with(&request, "us-east-1", &creds, UNIX_EPOCH).unwrap();
    assert!(token.as_str().contains(SESSION_ENCODED));
    let shown = format!("{token:?}");
    assert_clean("Token", &shown);
    assert!(!shown.contains(token.as_str().rsplit_once('=').unwrap().1));
    let mut keys = Keystore::default();
    keys.add(AKID, SECRET, Some(SESSION));
    assert_clean("Keystore", &format!("{keys:?}"));
    let text = SecretString::from(SECRET);
    assert_clean("SecretString", &format!("{text:?}"));
    // The SDK's own credentials type, which passes through the credential chain.
    let sdk = aws_credential_types::Credentials::new(AKID, SECRET, Some(SESSION.into()), None, "t");
    assert_clean("aws_credential_types::Credentials", &format!("{sdk:?}"));
}

#[test]
fn a_successful_run_with_debug_logging_logs_no_secret() {
    let s = Sandbox::new("secrets-ok");
    let o = run(s
        .with_keys(&token_args(&[]), AKID, SECRET)
        .env("AWS_SESSION_TOKEN", SESSION)
        .env("IAM_DB_AUTH_LOG", "debug"));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(SESSION_ENCODED), "the token carries it");
    assert!(stderr(&o).contains("debug:"), "debug logging was on");
    assert_clean("debug log", &stderr(&o));
}

/// Runs the token command with the shared files `config` and `credentials` and debug logging;
/// asserts it fails and prints no secret; returns stderr.
fn failing_with_files(
    name: &str,
    config: &str,
    credentials: &str,
    extra_env: &[(&str, &str)],
) -> String {
    let s = Sandbox::new(name);
    s.write(".aws/config", config);
    s.write(".aws/credentials", credentials);
    let mut c = s.cmd(&token_args(&[]));
    c.env("IAM_DB_AUTH_LOG", "debug");
    for (k, v) in extra_env {
        c.env(k, v);
    }
    let o = run(&mut c);
    assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{name}: printed a token");
    assert_clean(name, &stderr(&o));
    stderr(&o)
}

#[test]
fn failures_in_credential_files_never_quote_the_secrets_in_them() {
    let err = failing_with_files(
        "secrets-malformed",
        "",
        &format!(
            "[default\naws_access_key_id = {AKID}\naws_secret_access_key = {SECRET}\naws_session_token = {SESSION}\n"
        ),
        &[],
    );
    assert!(err.contains("could not parse profile file"), "{err}");
    let err = failing_with_files(
        "secrets-no-equals",
        "",
        &format!("[default]\naws_access_key_id = {AKID}\naws_secret_access_key {SECRET}\n"),
        &[],
    );
    assert!(err.contains("could not parse profile file"), "{err}");
    let err = failing_with_files(
        "secrets-no-key-id",
        "",
        &format!("[default]\naws_secret_access_key = {SECRET}\naws_session_token = {SESSION}\n"),
        &[],
    );
    assert!(
        err.contains("no AWS credentials") || err.contains("failed"),
        "{err}"
    );
    // A profile that exists only in the credentials file, selected explicitly, whose keys are
    // incomplete.
    let err = failing_with_files(
        "secrets-profile",
        "",
        &format!("[dbs]\naws_secret_access_key = {SECRET}\n"),
        &[("AWS_PROFILE", "dbs")],
    );
    assert!(err.contains("dbs"), "{err}");
}

/// A credential_process script printing `stdout_text`, then exiting with `code`.
fn process_config(s: &Sandbox, stdout_text: &str, code: i32) -> String {
    let script = s.write(
        "cred-process.sh",
        &format!("#!/bin/sh\ncat <<'JSON'\n{stdout_text}\nJSON\nexit {code}\n"),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    format!("[default]\ncredential_process = {}\n", script.display())
}

#[test]
fn failing_credential_processes_never_have_their_keys_quoted() {
    let cases = [
        // Keys and a session token, but an expiration that is not a date.
        format!(
            r#"{{"Version": 1, "AccessKeyId": "{AKID}", "SecretAccessKey": "{SECRET}", "SessionToken": "{SESSION}", "Expiration": "soon"}}"#
        ),
        // An unknown version.
        format!(r#"{{"Version": 2, "AccessKeyId": "{AKID}", "SecretAccessKey": "{SECRET}"}}"#),
        // Not JSON at all, the secret in the middle.
        format!("garbage {SECRET} {{"),
        // Keys that expired an hour before the epoch-relative now.
        format!(
            r#"{{"Version": 1, "AccessKeyId": "{AKID}", "SecretAccessKey": "{SECRET}", "SessionToken": "{SESSION}", "Expiration": "2001-01-01T00:00:00Z"}}"#
        ),
    ];
    for (i, json) in cases.iter().enumerate() {
        let s = Sandbox::new(&format!("secrets-process-{i}"));
        let config = process_config(&s, json, 0);
        s.write(".aws/config", &config);
        let o = run(s.cmd(&token_args(&[])).env("IAM_DB_AUTH_LOG", "debug"));
        assert_eq!(o.status.code(), Some(1), "case {i}: {}", stderr(&o));
        assert_clean(&format!("credential_process case {i}"), &stderr(&o));
    }
}

#[test]
fn a_failed_verification_quotes_neither_token_nor_keys() {
    let s = Sandbox::new("secrets-verify");
    let keystore = s.write(
        "keystore",
        &format!("{AKID} {SECRET}-but-another {SESSION}\n"),
    );
    let made = run(s
        .with_keys(&token_args(&[]), AKID, SECRET)
        .env("AWS_SESSION_TOKEN", SESSION));
    assert!(made.status.success(), "{}", stderr(&made));
    let o = run_with_stdin(
        s.verify(&keystore, &["--verbose"])
            .env("IAM_DB_AUTH_LOG", "debug"),
        stdout(&made).as_bytes(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("signature does not match"),
        "{}",
        stderr(&o)
    );
    assert_clean("verify rejection", &stderr(&o));
    assert_clean("verify stdout", &stdout(&o));
    // A keystore line whose fourth field is not a date: the message does not quote it (it
    // might be a misplaced secret).
    let bad = s.write(
        "bad-keystore",
        &format!("{AKID} {SECRET} {SESSION} {SECRET}\n"),
    );
    let o = run_with_stdin(&mut s.verify(&bad, &[]), b"x");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_clean("keystore error", &stderr(&o));
}
