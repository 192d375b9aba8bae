//! A sandbox for running the real `iam-db-auth` binary: a private HOME with its own `.aws/`,
//! no AWS or IAM_DB_AUTH settings from outside, the real metadata endpoint disabled. Shared by
//! the integration tests that drive the CLI (bad_input.rs, secrets.rs).

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_iam-db-auth");

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
