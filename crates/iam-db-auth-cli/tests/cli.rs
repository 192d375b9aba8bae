//! The `iam-db-auth` binary as a user runs it: each case starts the real binary with a
//! controlled environment (no AWS settings from outside, the real metadata endpoint disabled,
//! a private HOME) and checks stdout, stderr and the exit status.

mod common;

use common::{DB_ARGS, Sandbox, args, run, run_with_stdin, token_args};
use std::process::Output;

// The botocore example keys: the byte-for-byte vectors are signed with them.
const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

// Strict, unlike common's: the CLI's output must be UTF-8.
fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

const BOTOCORE_BASIC: &str = "mydb.123456789012.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app_user&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260102%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20260102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=fafff7935111cbb54ca90bede42d353f425f273545c60a8050866bedd9775508";

/// The command line of the botocore vectors (with the example keys; the region from the host).
const BOTOCORE_LINE: &str = "token --host mydb.123456789012.us-east-1.rds.amazonaws.com \
    --port 5432 --user app_user --signing-time 2026-01-02T03:04:05Z";

#[test]
fn token_with_signing_time_is_the_botocore_token_byte_for_byte() {
    let s = Sandbox::new("vector");
    let o = run(&mut s.with_keys(&args(BOTOCORE_LINE), AKID, SECRET));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{BOTOCORE_BASIC}\n"));
}

#[test]
fn aws_cli_command_line_works_by_changing_the_program_name() {
    let s = Sandbox::new("awscli");
    let aws_cli = args(
        "rds generate-db-auth-token --hostname mydb.123456789012.us-east-1.rds.amazonaws.com \
         --port 5432 --region us-east-1 --username app_user --signing-time 2026-01-02T03:04:05Z",
    );
    let o = run(&mut s.with_keys(&aws_cli, AKID, SECRET));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{BOTOCORE_BASIC}\n"));
}

#[test]
fn session_token_is_signed_and_encoded_as_botocore_does() {
    // The "botocore-b64-session-token" vector: a session token full of '/', '+' and '='.
    let s = Sandbox::new("session");
    let o = run(s.with_keys(&args(BOTOCORE_LINE), AKID, SECRET).env(
        "AWS_SESSION_TOKEN",
        "FwoGZXIvYXdzEJr//////////wEaDH+abc/def+ghi==",
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim_end(),
        "mydb.123456789012.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser=app_user&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20260102%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20260102T030405Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FwoGZXIvYXdzEJr%2F%2F%2F%2F%2F%2F%2F%2F%2F%2FwEaDH%2Babc%2Fdef%2Bghi%3D%3D&X-Amz-Signature=30a64f51245b60d9cd0ad66da6bee70d78441560ab73803135615948b8da1bd1"
    );
    // An empty AWS_SESSION_TOKEN is no session token: never an empty parameter.
    let empty = run(s
        .with_keys(&token_args(&[]), AKID, SECRET)
        .env("AWS_SESSION_TOKEN", ""));
    assert!(empty.status.success(), "{}", stderr(&empty));
    assert!(!stdout(&empty).contains("X-Amz-Security-Token"));
}

#[test]
fn empty_profile_and_signing_host_mean_not_given() {
    // `IAM_DB_AUTH_PROFILE=` left in an environment, or `--signing-host ""` from a script that
    // had nothing to fill in: the default chain and --host, not a profile named "" (no such
    // profile: an error) nor a token signed for an empty host.
    let s = Sandbox::new("empty-flags");
    let plain = run(&mut s.with_keys(&token_args(&[]), AKID, SECRET));
    assert!(plain.status.success(), "{}", stderr(&plain));
    let empty = run(s
        .with_keys(&token_args(&["--signing-host", ""]), AKID, SECRET)
        .env("IAM_DB_AUTH_PROFILE", ""));
    assert!(empty.status.success(), "{}", stderr(&empty));
    let (host, port) = (DB_ARGS[1], DB_ARGS[3]);
    assert!(stdout(&empty).starts_with(&format!("{host}:{port}/?Action=connect&")));
    let named = run(s
        .with_keys(&token_args(&[]), AKID, SECRET)
        .env("IAM_DB_AUTH_PROFILE", "nosuch"));
    assert!(
        !named.status.success(),
        "a named profile that does not exist is an error"
    );
}

#[test]
fn a_fresh_token_verifies_and_a_tampered_one_does_not() {
    let s = Sandbox::new("verify");
    let keystore = s.write("keystore", &format!("# test keys\n{AKID} {SECRET}\n"));
    let eu_west = args("token --host db.internal --port 3306 --user app --region eu-west-1");
    let o = run(&mut s.with_keys(&eu_west, AKID, SECRET));
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o);
    let verify = |token: &str, user| {
        let mut c = s.verify_for(&keystore, "db.internal:3306", "eu-west-1", user, &[]);
        run_with_stdin(&mut c, token.as_bytes())
    };
    let ok = verify(&token, "app");
    assert!(ok.status.success(), "{}", stderr(&ok));
    let other_user = verify(&token, "root");
    assert_eq!(other_user.status.code(), Some(1));
    assert!(stderr(&other_user).contains("not 'root'"));
    assert!(
        !stderr(&other_user).contains("X-Amz-Signature"),
        "never print the token"
    );
    let tampered = token.replace("DBUser=app", "DBUser=apq");
    let bad = verify(&tampered, "apq");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("signature does not match"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn exact_stdin_takes_the_password_as_sent_so_a_trailing_newline_is_refused() {
    let s = Sandbox::new("verify-exact");
    let keystore = s.write("keystore", &format!("{AKID} {SECRET}\n"));
    let o = run(&mut s.with_keys(&token_args(&[]), AKID, SECRET));
    assert!(o.status.success(), "{}", stderr(&o));
    let line = stdout(&o);
    let token = line.trim_end_matches('\n');
    let verify = |token: &str, extra: &[&str]| {
        run_with_stdin(&mut s.verify(&keystore, extra), token.as_bytes())
    };
    // The PAM module's way (--exact): only the token itself is accepted, as on RDS.
    let exact_ok = verify(token, &["--exact"]);
    assert!(exact_ok.status.success(), "{}", stderr(&exact_ok));
    for with_newline in [format!("{token}\n"), format!("{token}\r\n")] {
        let refused = verify(&with_newline, &["--exact"]);
        assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("X-Amz-Signature is not"));
        // Without --exact (a shell's `echo | verify`), one trailing newline is dropped.
        let lenient = verify(&with_newline, &[]);
        assert!(lenient.status.success(), "{}", stderr(&lenient));
    }
}

#[test]
fn signing_host_override_signs_for_the_real_endpoint() {
    let s = Sandbox::new("signing-host");
    // A tunnel on this host to the real endpoint.
    let tunnel = args("token --host 127.0.0.1 --port 13306 --user app");
    let mut signing = tunnel.clone();
    signing.extend(args(
        "--signing-host prod.cluster-c9akciq32.eu-central-1.rds.amazonaws.com --signing-port 3306",
    ));
    let o = run(&mut s.with_keys(&signing, AKID, SECRET));
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o);
    assert!(token.starts_with("prod.cluster-c9akciq32.eu-central-1.rds.amazonaws.com:3306/?"));
    assert!(
        token.contains("%2Feu-central-1%2Frds-db%2F"),
        "region inferred from the signing host"
    );
    // The same through the environment setting every door shares.
    let o = run(s
        .with_keys(&tunnel, AKID, SECRET)
        .env(
            "IAM_DB_AUTH_SIGNING_HOST",
            "prod.cluster-c9akciq32.eu-central-1.rds.amazonaws.com",
        )
        .env("IAM_DB_AUTH_SIGNING_PORT", "3306"));
    assert!(stdout(&o).starts_with("prod.cluster-c9akciq32.eu-central-1.rds.amazonaws.com:3306/?"));
}

#[test]
fn region_comes_from_env_then_profile_and_never_defaults() {
    let s = Sandbox::new("region");
    let argv = [&["token"], &DB_ARGS[..]].concat();
    let none = run(&mut s.with_keys(&argv, AKID, SECRET));
    assert_eq!(none.status.code(), Some(1));
    let msg = stderr(&none);
    assert!(
        msg.contains("no AWS region") && msg.contains("AWS_REGION"),
        "{msg}"
    );
    assert!(stdout(&none).is_empty());

    let env = run(s
        .with_keys(&argv, AKID, SECRET)
        .env("AWS_DEFAULT_REGION", "ap-south-1"));
    assert!(
        stdout(&env).contains("%2Fap-south-1%2F"),
        "{}",
        stderr(&env)
    );
    let both = run(s
        .with_keys(&argv, AKID, SECRET)
        .env("AWS_DEFAULT_REGION", "ap-south-1")
        .env("AWS_REGION", "sa-east-1"));
    assert!(stdout(&both).contains("%2Fsa-east-1%2F"));
    let bad_env = run(s.with_keys(&argv, AKID, SECRET).env("AWS_REGION", "Mars"));
    assert!(stderr(&bad_env).contains("AWS_REGION='Mars' is not a region name"));

    s.write(
        ".aws/config",
        "[default]\nregion = eu-north-1\n\n[profile other]\nregion = ca-west-1\n",
    );
    let profile = run(&mut s.with_keys(&argv, AKID, SECRET));
    assert!(
        stdout(&profile).contains("%2Feu-north-1%2F"),
        "{}",
        stderr(&profile)
    );
    let other = run(s.with_keys(&argv, AKID, SECRET).env("AWS_PROFILE", "other"));
    assert!(
        stdout(&other).contains("%2Fca-west-1%2F"),
        "{}",
        stderr(&other)
    );
    // An endpoint name beats the configuration; an explicit region beats everything.
    let rds_host =
        args("token --host x.c9akciq32.us-west-1.rds.amazonaws.com --port 5432 --user app");
    let endpoint = run(s
        .with_keys(&rds_host, AKID, SECRET)
        .env("AWS_REGION", "sa-east-1"));
    assert!(stdout(&endpoint).contains("%2Fus-west-1%2F"));
    let explicit = run(&mut s.with_keys(
        &[&rds_host[..], &["--region", "us-east-2"]].concat(),
        AKID,
        SECRET,
    ));
    assert!(stdout(&explicit).contains("%2Fus-east-2%2F"));
}

#[test]
fn explicit_profile_takes_its_credentials_from_the_shared_files() {
    let s = Sandbox::new("profile");
    s.write(
        ".aws/credentials",
        "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n\n[dbs]\naws_access_key_id = AKIADBS\naws_secret_access_key = s\n",
    );
    s.write(".aws/config", "[profile dbs]\nregion = us-west-2\n");
    let args = [&["token"], &DB_ARGS[..]].concat();
    // The environment wins in the default chain...
    let env = run(s
        .with_keys(&args, AKID, SECRET)
        .env("AWS_REGION", "us-east-1"));
    assert!(
        stdout(&env).contains("Credential=AKIDEXAMPLE%2F"),
        "{}",
        stderr(&env)
    );
    // ...but an explicit profile uses that profile (as the AWS CLI does), and its region.
    let mut with_profile = args.to_vec();
    with_profile.extend(["--profile", "dbs"]);
    let p = run(&mut s.with_keys(&with_profile, AKID, SECRET));
    assert!(
        stdout(&p).contains("Credential=AKIADBS%2F"),
        "{}",
        stderr(&p)
    );
    assert!(stdout(&p).contains("%2Fus-west-2%2F"));
    let via_env = run(s
        .with_keys(&args, AKID, SECRET)
        .env("IAM_DB_AUTH_PROFILE", "dbs"));
    assert!(
        stdout(&via_env).contains("Credential=AKIADBS%2F"),
        "{}",
        stderr(&via_env)
    );
    // Without environment keys the default chain reaches the default profile.
    let default = run(s.cmd(&args).env("AWS_REGION", "us-east-1"));
    assert!(
        stdout(&default).contains("Credential=AKIADEFAULT%2F"),
        "{}",
        stderr(&default)
    );
    let missing = run(&mut s.with_keys(&token_args(&["--profile", "nope"]), AKID, SECRET));
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("nope"), "{}", stderr(&missing));
}

#[test]
fn no_credentials_says_what_was_tried() {
    let s = Sandbox::new("nocreds");
    let o = run(&mut s.cmd(&token_args(&[])));
    assert_eq!(o.status.code(), Some(1));
    let msg = stderr(&o);
    assert!(msg.contains("no AWS credentials found"), "{msg}");
    for source in [
        "environment",
        "profile 'default'",
        "web identity",
        "container",
        "instance metadata",
    ] {
        assert!(msg.contains(source), "{source} missing from: {msg}");
    }
    assert!(stdout(&o).is_empty());
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_status() {
    let s = Sandbox::new("bad");
    let long_host = "a".repeat(300);
    let long_host_line =
        format!("token --host {long_host} --port 5432 --user u --region us-east-1");
    let table: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec![
                "token",
                "--host",
                "",
                "--port",
                "5432",
                "--user",
                "u",
                "--region",
                "us-east-1",
            ],
            1,
            "host is empty",
        ),
        (
            args("token --host https://db.example.com --port 5432 --user u --region us-east-1"),
            1,
            "URL scheme",
        ),
        (
            args("token --host db.example.com/x --port 5432 --user u --region us-east-1"),
            1,
            "path",
        ),
        (
            vec![
                "token",
                "--host",
                "db example.com",
                "--port",
                "5432",
                "--user",
                "u",
                "--region",
                "us-east-1",
            ],
            1,
            "whitespace",
        ),
        (
            args("token --host db.example.com:5432 --port 5432 --user u --region us-east-1"),
            1,
            "contains a port",
        ),
        (args(&long_host_line), 1, "at most 253"),
        (
            args("token --host db.example.com --port 0 --user u --region us-east-1"),
            1,
            "port is 0",
        ),
        (
            args("token --host db.example.com --port 99999 --user u"),
            2,
            "99999",
        ),
        (
            vec![
                "token",
                "--host",
                "db.example.com",
                "--port",
                "5432",
                "--user",
                "",
                "--region",
                "us-east-1",
            ],
            1,
            "user is empty",
        ),
        (
            args("token --host db.example.com --port 5432 --user u --region US-EAST-1"),
            1,
            "not a region name",
        ),
        (
            args(
                "token --host db.example.com --port 5432 --user u --region us-east-1 --expires-in 600",
            ),
            1,
            "always last 900",
        ),
        (
            args("token --host db.example.com --user u --region us-east-1"),
            2,
            "--port is required",
        ),
        (
            args("token --host db.example.com --port 5432 --region us-east-1"),
            2,
            "--user is required",
        ),
        (
            args("token --host db.example.com --port 5432 --user u --signing-time yesterday"),
            2,
            "RFC 3339",
        ),
        (
            args("token --host db.example.com --port 5432 --user u --kind redis"),
            2,
            "not a token kind",
        ),
        (args("frobnicate"), 2, "frobnicate"),
    ];
    for (args, code, needle) in &table {
        let o = run(&mut s.with_keys(args, AKID, SECRET));
        assert_eq!(o.status.code(), Some(*code), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains(needle),
            "{args:?}: {:?} lacks {needle:?}",
            stderr(&o)
        );
        assert!(stdout(&o).is_empty(), "{args:?} printed to stdout");
    }
}

#[test]
fn invalid_utf8_arguments_are_refused_not_crashed_on() {
    use std::os::unix::ffi::OsStrExt as _;
    let s = Sandbox::new("utf8");
    let mut c = s.with_keys(
        &args("token --port 5432 --user u --region us-east-1 --host"),
        AKID,
        SECRET,
    );
    c.arg(std::ffi::OsStr::from_bytes(b"db\xff.example.com"));
    let o = run(&mut c);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("UTF-8"), "{}", stderr(&o));
}

#[test]
fn json_output_is_a_json_string() {
    let s = Sandbox::new("json");
    let o = run(&mut s.with_keys(&token_args(&["--output", "json"]), AKID, SECRET));
    let text = stdout(&o);
    let parsed: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(
        parsed
            .as_str()
            .unwrap()
            .starts_with("db.internal:5432/?Action=connect")
    );
}

/// The command line a user would type for a vector, through the aliases where the AWS CLI has
/// a command of its own.
fn vector_command(v: &serde_json::Value) -> Vec<String> {
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let time = s("time");
    let expires = v["expires"].as_u64().unwrap().to_string();
    let mut args: Vec<String> = match s("kind").as_str() {
        "dsql" => vec!["dsql".into(), "generate-db-connect-auth-token".into()],
        "dsql-admin" => vec!["dsql".into(), "generate-db-connect-admin-auth-token".into()],
        kind => {
            let mut a = vec!["token".into(), "--kind".into(), kind.into()];
            a.extend(["--username".into(), s("user")]);
            if let Some(port) = v["port"].as_u64() {
                a.extend(["--port".into(), port.to_string()]);
            }
            if kind != "rds" {
                a.extend(["--expires-in".into(), expires.clone()]);
            }
            a
        }
    };
    args.extend([
        "--hostname".into(),
        s("host"),
        "--region".into(),
        s("region"),
    ]);
    args.extend(["--signing-time".into(), time]);
    if args[0] == "dsql" {
        args.extend(["--expires-in".into(), expires]);
    }
    args
}

fn params(token: &str) -> (String, std::collections::BTreeMap<String, String>) {
    let (host, query) = token.trim_end().split_once("/?").unwrap();
    let map = query
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    (host.to_string(), map)
}

#[test]
fn every_vector_kind_through_the_command_line() {
    let s = Sandbox::new("all-vectors");
    let mut checked = Vec::new();
    for line in include_str!("../../iam-db-auth/tests/vectors/tokens.jsonl")
        .lines()
        .filter(|l| !l.is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let args = vector_command(&v);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut c = s.cmd(&args);
        c.env("AWS_ACCESS_KEY_ID", v["access_key_id"].as_str().unwrap())
            .env(
                "AWS_SECRET_ACCESS_KEY",
                v["secret_access_key"].as_str().unwrap(),
            );
        if let Some(token) = v["session_token"].as_str() {
            c.env("AWS_SESSION_TOKEN", token);
        }
        let o = run(&mut c);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert_eq!(
            params(&stdout(&o)),
            params(v["expected"].as_str().unwrap()),
            "{args:?}"
        );
        checked.push(v["kind"].as_str().unwrap().to_string());
    }
    for kind in ["rds", "dsql", "dsql-admin", "elasticache"] {
        assert!(
            checked.iter().any(|k| k == kind),
            "no {kind} vector checked"
        );
    }
}

#[test]
fn cache_kinds_need_a_region_and_verify() {
    let s = Sandbox::new("cache-kinds");
    let keystore = s.write("keystore", &format!("{AKID} {SECRET}\n"));
    // A cache name carries no region: without one configured, a clear error.
    let no_region = args("token --kind memorydb --host my-cluster --user app");
    let o = run(&mut s.with_keys(&no_region, AKID, SECRET));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no AWS region"), "{}", stderr(&o));
    for (kind, extra) in [("memorydb", None), ("elasticache", Some("--serverless"))] {
        let line = format!("token --kind {kind} --host My-Cache --user app --region eu-west-1");
        let mut cache_args = args(&line);
        cache_args.extend(extra);
        let o = run(&mut s.with_keys(&cache_args, AKID, SECRET));
        assert!(o.status.success(), "{}", stderr(&o));
        let token = stdout(&o);
        assert!(token.starts_with("my-cache/?Action=connect&"), "{token}");
        assert_eq!(
            token.contains("ResourceType=ServerlessCache"),
            extra.is_some()
        );
        let out = run_with_stdin(
            &mut s.verify_for(&keystore, "my-cache", "eu-west-1", "app", &["--kind", kind]),
            token.as_bytes(),
        );
        assert!(out.status.success(), "{kind}: {}", stderr(&out));
    }
    // DSQL: region from the endpoint; admin and custom roles verified against the right action.
    let dsql_host = "abcdefghijklmnopqrst.dsql.us-east-2.on.aws";
    let admin_line = format!(
        "dsql generate-db-connect-admin-auth-token --hostname {dsql_host} --expires-in 604800"
    );
    let admin = run(&mut s.with_keys(&args(&admin_line), AKID, SECRET));
    assert!(
        stdout(&admin).contains("Action=DbConnectAdmin&")
            && stdout(&admin).contains("%2Fus-east-2%2Fdsql%2F")
            && stdout(&admin).contains("X-Amz-Expires=604800&"),
        "{}",
        stderr(&admin)
    );
    let too_long_line =
        format!("dsql generate-db-connect-auth-token --hostname {dsql_host} --expires-in 604801");
    let too_long = run(&mut s.with_keys(&args(&too_long_line), AKID, SECRET));
    assert_eq!(too_long.status.code(), Some(1));
    assert!(stderr(&too_long).contains("1 to 604800"));
}
