//! A sandbox for running the real `iam-db-auth` binary: a private HOME with its own `.aws/`,
//! no AWS or IAM_DB_AUTH settings from outside, the real metadata endpoint disabled. Shared by
//! the integration tests that drive the CLI (cli.rs, bad_input.rs, secrets.rs, pgpass_kill.rs).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_iam-db-auth");

/// The database most tests sign for and verify against: db.internal:5432, user app.
pub const DB_ARGS: [&str; 6] = ["--host", "db.internal", "--port", "5432", "--user", "app"];

/// `line` split on whitespace: a test writes its arguments as a user would type them, on one
/// line, rather than as an array that rustfmt lays out one element a line. Only for arguments
/// that are not empty and hold no spaces: spell those out in an array.
pub fn args(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

/// `token` for `DB_ARGS` in us-east-1 (what `Sandbox::verify` checks), `extra` after.
pub fn token_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    [&["token"], &DB_ARGS[..], &["--region", "us-east-1"], extra].concat()
}

pub struct Sandbox {
    pub home: PathBuf,
}

impl Sandbox {
    pub fn new(name: &str) -> Sandbox {
        let home =
            std::env::temp_dir().join(format!("iam-db-auth-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(home.join(".aws")).unwrap();
        Sandbox { home }
    }

    /// Writes `text` to `rel` under HOME and returns its path.
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.home.join(rel);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The path of `rel` under HOME.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.home.join(rel)
    }

    /// The binary with only the variables a test sets (plus PATH and HOME).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.home.join(".aws/config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.join(".aws/credentials"),
            )
            .stdin(Stdio::null());
        c
    }

    /// As `cmd`, with long-term keys in the environment.
    pub fn with_keys(&self, args: &[&str], akid: &str, secret: &str) -> Command {
        let mut c = self.cmd(args);
        c.env("AWS_ACCESS_KEY_ID", akid)
            .env("AWS_SECRET_ACCESS_KEY", secret);
        c
    }

    /// `verify` against `keystore` for a token for `endpoint`, `region` and `user`, with
    /// `extra` arguments after those (the token goes on stdin: `run_with_stdin`).
    pub fn verify_for(
        &self,
        keystore: &Path,
        endpoint: &str,
        region: &str,
        user: &str,
        extra: &[&str],
    ) -> Command {
        let mut args = vec![
            "verify",
            "--keystore",
            keystore.to_str().unwrap(),
            "--endpoint",
            endpoint,
            "--region",
            region,
            "--user",
            user,
        ];
        args.extend_from_slice(extra);
        self.cmd(&args)
    }

    /// `verify_for` the database of `token_args`: db.internal:5432, us-east-1, user app.
    pub fn verify(&self, keystore: &Path, extra: &[&str]) -> Command {
        self.verify_for(keystore, "db.internal:5432", "us-east-1", "app", extra)
    }

    /// `pgpass` for db.internal:5432 user app into `file`, with long-term keys and the region
    /// (us-east-1) in the environment.
    pub fn pgpass(&self, file: &Path, akid: &str, secret: &str) -> Command {
        let args = [
            &["pgpass"],
            &DB_ARGS[..],
            &["--file", file.to_str().unwrap()],
        ]
        .concat();
        let mut c = self.with_keys(&args, akid, secret);
        c.env("AWS_REGION", "us-east-1");
        c
    }
}

/// `inner` (a sandbox command) run by another program, `wrapper` (its program and arguments,
/// followed by inner's program and arguments: setpriv, gdb --args, ...), with only the
/// environment `inner` was given.
pub fn wrapped(wrapper: &[&str], inner: &Command) -> Command {
    let mut c = Command::new(wrapper[0]);
    c.args(&wrapper[1..])
        .arg(inner.get_program())
        .args(inner.get_args())
        .env_clear()
        .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
    c
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

pub fn run(c: &mut Command) -> Output {
    c.output().expect("run iam-db-auth")
}

/// Runs with `input` on stdin.
pub fn run_with_stdin(c: &mut Command, input: &[u8]) -> Output {
    use std::io::Write as _;
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn iam-db-auth");
    let mut stdin = child.stdin.take().unwrap();
    // The child may stop reading early (bounded input): a broken pipe is not a failure.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
