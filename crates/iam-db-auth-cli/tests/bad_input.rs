//! The CLI rows of the bad-input table (docs/bad-input.md): the real binary against empty strings, long
//! arguments, hosts with schemes, paths, ports, spaces and userinfo, unknown and malformed
//! regions, garbage profile names, unreadable and malformed AWS config files, out-of-range and
//! expired signing times, bad environment settings, and `verify` against bad stdin and bad
//! keystores. Every case must end with the documented exit status (0 token, 1 failure, 2
//! usage), a one-line reason on stderr that stays short, and nothing on stdout unless a token
//! was made. (The C rows are c-tests/test_bad_input.c; invalid UTF-8 arguments are
//! tests/cli.rs::invalid_utf8_arguments_are_refused_not_crashed_on.)

mod common;

use common::{Sandbox, args, run, run_with_stdin, stderr, stdout, token_args, wrapped};
use std::process::Command;

const AKID: &str = "AKIABADINPUTTEST0001";
const SECRET: &str = "BadInputSecret/abcdefghijklmnopqrstuvwxyz+012";

/// `token` with these arguments after `--port 5432 --user app` (tests add host and region).
fn token_with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["token", "--port", "5432", "--user", "app"];
    args.extend_from_slice(extra);
    args
}

/// `token_with(extra)` with this file's keys in the environment, so that the row's own bad
/// input, not missing credentials, is what fails.
fn keyed_token(s: &Sandbox, extra: &[&str]) -> Command {
    s.with_keys(&token_with(extra), AKID, SECRET)
}

/// Runs and checks the exit status, that stderr contains `needle` and stays under 1 KB, and
/// that stdout is empty unless the command succeeded.
fn expect(c: &mut Command, code: i32, needle: &str, row: &str) -> String {
    let o = run(c);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{row}: {err}");
    assert!(err.contains(needle), "{row}: {err:?} lacks {needle:?}");
    assert!(err.len() < 1024, "{row}: {} bytes on stderr", err.len());
    if code != 0 {
        assert!(stdout(&o).is_empty(), "{row}: printed to stdout");
    }
    stdout(&o)
}

#[test]
fn empty_strings() {
    let s = Sandbox::new("bad-empty");
    expect(
        &mut keyed_token(&s, &["--host", "", "--region", "us-east-1"]),
        1,
        "host is empty",
        "empty host",
    );
    expect(
        &mut s.with_keys(
            &[
                "token",
                "--host",
                "db.internal",
                "--port",
                "5432",
                "--user",
                "",
                "--region",
                "us-east-1",
            ],
            AKID,
            SECRET,
        ),
        1,
        "user is empty",
        "empty user",
    );
    expect(
        &mut keyed_token(&s, &["--host", "db.internal", "--region", ""]),
        1,
        "region is empty",
        "empty region",
    );
    // An empty profile or signing host means "not given", as in the C API.
    let token = expect(
        &mut keyed_token(
            &s,
            &[
                "--host",
                "db.internal",
                "--region",
                "us-east-1",
                "--profile",
                "",
                "--signing-host",
                "",
            ],
        ),
        0,
        "",
        "empty profile and signing host",
    );
    assert!(token.starts_with("db.internal:5432/?"), "{token}");
}

#[test]
fn long_arguments() {
    let s = Sandbox::new("bad-long");
    let big = "a".repeat(100_000);
    let big_profile = format!("--host db.internal --region us-east-1 --profile {big}");
    let big_user = format!("token --host db.internal --port 5432 --region us-east-1 --user {big}");
    expect(
        &mut keyed_token(&s, &["--host", &big, "--region", "us-east-1"]),
        1,
        "100000 bytes long",
        "100 KB host",
    );
    expect(
        &mut keyed_token(&s, &["--host", "db.internal", "--region", &big]),
        1,
        "(100000 bytes)",
        "100 KB region",
    );
    expect(
        &mut keyed_token(&s, &args(&big_profile)),
        1,
        "cannot name a profile",
        "100 KB profile",
    );
    expect(
        &mut s.with_keys(&args(&big_user), AKID, SECRET),
        1,
        "100000 bytes long",
        "100 KB user",
    );
    // 1 MB cannot reach the program: Linux refuses a single argument over 128 KiB
    // (MAX_ARG_STRLEN) at exec, with E2BIG.
    let mb = "a".repeat(1 << 20);
    let err = keyed_token(&s, &["--host", &mb, "--region", "us-east-1"])
        .output()
        .expect_err("the kernel refuses a 1 MB argument");
    assert_eq!(err.raw_os_error(), Some(libc::E2BIG), "{err}");
}

#[test]
fn hosts_with_schemes_paths_ports_spaces_and_userinfo() {
    let s = Sandbox::new("bad-hosts");
    for (host, needle) in [
        ("https://db.example.com", "URL scheme"),
        ("db.example.com/app", "path or query"),
        ("db.example.com:5432", "contains a port"),
        ("db .example.com", "whitespace"),
        ("user@db.example.com", "'@'"),
        ("db.example.com.", "empty label"),
        ("::1", "in brackets"),
    ] {
        expect(
            &mut keyed_token(&s, &["--host", host, "--region", "us-east-1"]),
            1,
            needle,
            host,
        );
    }
}

#[test]
fn unknown_but_well_formed_regions_are_signed_for_malformed_ones_refused() {
    let s = Sandbox::new("bad-region");
    let token = expect(
        &mut keyed_token(&s, &["--host", "db.internal", "--region", "xx-mars-7"]),
        0,
        "",
        "unknown region",
    );
    assert!(token.contains("%2Fxx-mars-7%2Frds-db%2F"), "{token}");
    expect(
        &mut keyed_token(&s, &["--host", "db.internal", "--region", "Mars"]),
        1,
        "not a region name",
        "malformed region",
    );
    expect(
        keyed_token(&s, &["--host", "db.internal"]).env("AWS_REGION", "garbage"),
        1,
        "AWS_REGION='garbage' is not a region name",
        "malformed AWS_REGION",
    );
}

#[test]
fn garbage_and_missing_profiles() {
    let s = Sandbox::new("bad-profile");
    let k = |profile: &str| s.cmd(&token_args(&["--profile", profile]));
    expect(
        &mut k("a]b"),
        1,
        "profile name 'a]b' cannot name a profile",
        "garbage profile",
    );
    expect(
        &mut k("x\u{7}y"),
        1,
        "cannot name a profile",
        "profile with a control character",
    );
    expect(
        &mut k("no-such-profile"),
        1,
        "no AWS credentials found; tried: profile 'no-such-profile'",
        "profile that does not exist",
    );
    expect(
        s.cmd(&token_args(&[])).env("IAM_DB_AUTH_PROFILE", "a]b"),
        1,
        "cannot name a profile",
        "garbage IAM_DB_AUTH_PROFILE",
    );
}

#[test]
fn unreadable_aws_config_files() {
    let s = Sandbox::new("bad-unreadable");
    std::fs::create_dir(s.path("config-dir")).unwrap();
    let dir = s.path("config-dir");
    // No region given: the error names the file and why it could not be read.
    expect(
        keyed_token(&s, &["--host", "db.internal"]).env("AWS_CONFIG_FILE", &dir),
        1,
        "(AWS_CONFIG_FILE) is a directory, not a regular file",
        "config file is a directory (region needed)",
    );
    // A region given, keys in the environment: the file is not needed.
    expect(
        s.with_keys(&token_args(&[]), AKID, SECRET)
            .env("AWS_CONFIG_FILE", &dir),
        0,
        "",
        "config file is a directory (not needed)",
    );
    // No keys anywhere: the files that cannot be read are named, not taken for missing.
    expect(
        s.cmd(&token_args(&[]))
            .env("AWS_CONFIG_FILE", &dir)
            .env("AWS_SHARED_CREDENTIALS_FILE", &dir),
        1,
        "(AWS_CONFIG_FILE) is a directory, not a regular file",
        "config and credentials files are directories",
    );
}

#[test]
fn malformed_aws_config_files() {
    let s = Sandbox::new("bad-malformed");
    s.write(
        ".aws/config",
        "[default\nregion = us-east-1\n[profile dbs]\nregion\n",
    );
    expect(
        &mut keyed_token(&s, &["--host", "db.internal"]),
        1,
        "could not parse profile file: error parsing",
        "malformed config (region needed)",
    );
    expect(
        &mut s.cmd(&token_args(&[])),
        1,
        "could not parse profile file",
        "malformed config (credentials needed)",
    );
    s.write(".aws/config", "");
    s.write(".aws/credentials", "aws_access_key_id = AKIA\n");
    expect(
        &mut s.cmd(&token_args(&[])),
        1,
        "could not parse profile file",
        "credentials file: a property outside any profile",
    );
}

#[test]
fn signing_times_expired_and_out_of_range() {
    let s = Sandbox::new("bad-time");
    let at = |time: &str| s.with_keys(&token_args(&["--signing-time", time]), AKID, SECRET);
    // An expired signing time makes a token (reproducible output), which servers refuse.
    let token = expect(
        &mut at("2020-01-01T00:00:00Z"),
        0,
        "",
        "expired signing time",
    );
    let keystore = s.write("keystore", &format!("{AKID} {SECRET}\n"));
    let o = run_with_stdin(&mut s.verify(&keystore, &[]), token.as_bytes());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("the token expired at 2020-01-01T00:15:00Z"),
        "{}",
        stderr(&o)
    );
    for (time, row) in [
        ("1969-12-31T23:59:59Z", "before 1970"),
        ("9999-12-31T23:59:59-01:00", "after 9999 through an offset"),
        ("10000-01-01T00:00:00Z", "a five-digit year"),
        ("2024-02-30T00:00:00Z", "a day that does not exist"),
        ("yesterday", "not a time"),
    ] {
        expect(&mut at(time), 2, "is not an RFC 3339 time", row);
    }
}

#[test]
fn bad_environment_settings() {
    let s = Sandbox::new("bad-env");
    let base = token_args(&[]);
    expect(
        s.with_keys(&base, AKID, SECRET)
            .env("IAM_DB_AUTH_SIGNING_PORT", "abc"),
        2,
        "IAM_DB_AUTH_SIGNING_PORT='abc' is not a port number",
        "IAM_DB_AUTH_SIGNING_PORT not a number",
    );
    expect(
        s.with_keys(&base, AKID, SECRET)
            .env("IAM_DB_AUTH_SIGNING_HOST", "https://x"),
        1,
        "signing host: host 'https://x' contains a URL scheme",
        "IAM_DB_AUTH_SIGNING_HOST with a scheme",
    );
    expect(
        s.cmd(&base)
            .env("AWS_ACCESS_KEY_ID", AKID)
            .env("AWS_SECRET_ACCESS_KEY", ""),
        1,
        "no AWS credentials found",
        "AWS_SECRET_ACCESS_KEY empty",
    );
}

#[test]
fn verify_against_bad_passwords() {
    let s = Sandbox::new("bad-verify-stdin");
    let keystore = s.write("keystore", &format!("{AKID} {SECRET}\n"));
    let megabyte = vec![b'a'; 1 << 20];
    for (input, needle, row) in [
        (&b""[..], "the password is empty", "empty password"),
        (&b"\xff\xfe"[..], "not UTF-8", "non-UTF-8 password"),
        (
            &megabyte[..],
            "at most 16384",
            "1 MB password (reading stops at 16 KB)",
        ),
        (&b"hunter2"[..], "not a token", "a plain password"),
        (
            &b"db.internal:5432/?Action=connect\0&X-Amz-Credential=a&X-Amz-Signature=b"[..],
            "the value of Action is not canonically encoded",
            "a NUL inside",
        ),
    ] {
        let o = run_with_stdin(&mut s.verify(&keystore, &[]), input);
        assert_eq!(o.status.code(), Some(1), "{row}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{row}: {}", stderr(&o));
        assert!(stderr(&o).len() < 1024, "{row}");
        assert!(
            !stderr(&o).contains("hunter2"),
            "{row}: a password was quoted"
        );
    }
}

#[test]
fn verify_with_bad_keystores() {
    let s = Sandbox::new("bad-verify-keystore");
    std::fs::create_dir(s.path("dir")).unwrap();
    let malformed = s.write("malformed", "AKIA\n");
    let empty = s.write("empty", "# no keys\n");
    for (path, code, needle, row) in [
        (s.path("missing"), 2, "not found", "missing keystore"),
        (
            s.path("dir"),
            2,
            "is a directory, not a regular file",
            "keystore is a directory",
        ),
        (
            malformed,
            2,
            "keystore line 1: expected",
            "malformed keystore line",
        ),
        (empty, 1, "unknown access key", "keystore without the key"),
    ] {
        let token = format!(
            "db.internal:5432/?Action=connect&DBUser=app&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AKID}%2F20260102%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20260102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature={}",
            "0".repeat(64)
        );
        let o = run_with_stdin(
            &mut s.verify(&path, &["--now", "2026-01-02T03:05:00Z"]),
            token.as_bytes(),
        );
        assert_eq!(o.status.code(), Some(code), "{row}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{row}: {}", stderr(&o));
    }
}

#[test]
fn pgpass_paths_that_are_directories_symlinks_or_not_writable() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = Sandbox::new("bad-pgpass");
    let real = s.write("real", "a:1:*:u:p\n");
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&real, s.path("link")).unwrap();
    std::fs::create_dir(s.path("dir")).unwrap();
    for (path, needle, row) in [
        (
            s.path("dir"),
            "is a directory, not a passfile",
            "passfile path is a directory",
        ),
        (
            s.path("link"),
            "is a symbolic link",
            "passfile path is a symlink",
        ),
        (
            s.path("missing/pgpass"),
            "cannot open the directory",
            "passfile's directory does not exist",
        ),
    ] {
        expect(&mut s.pgpass(&path, AKID, SECRET), 1, needle, row);
    }
    assert_eq!(
        std::fs::read(&real).unwrap(),
        b"a:1:*:u:p\n",
        "the link's target changed"
    );

    // A directory this user cannot write: the passfile is replaced by renaming a new file over
    // it, so nothing can be written. Root writes anywhere, so as root the helper runs as
    // nobody (setpriv, util-linux) against a root-owned directory.
    let locked = s.path("locked");
    std::fs::create_dir(&locked).unwrap();
    let file = locked.join("pgpass");
    let mut c = if effective_uid() == 0 {
        std::fs::set_permissions(&s.home, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        wrapped(
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ],
            &s.pgpass(&file, AKID, SECRET),
        )
    } else {
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        s.pgpass(&file, AKID, SECRET)
    };
    expect(
        &mut c,
        1,
        "cannot create a temporary file in",
        "passfile's directory not writable",
    );
    assert!(!file.exists());

    // A read-only passfile (0400) in a writable directory: replacing it needs only the
    // directory, so it is replaced, and left 0600.
    let ro = s.write("readonly", "a:1:*:u:p\n");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o400)).unwrap();
    expect(
        &mut s.pgpass(&ro, AKID, SECRET),
        0,
        "added db.internal:5432:*:app",
        "read-only passfile",
    );
    let mode = std::fs::metadata(&ro).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

/// The effective user id, from /proc (no unsafe code in tests).
fn effective_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    uid_line.split_whitespace().nth(2).unwrap().parse().unwrap()
}
