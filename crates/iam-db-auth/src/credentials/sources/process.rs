//! `credential_process` run by us, bounded: the tool in its own process group, its stdout read
//! up to [`MAX_STDOUT_BYTES`] and its stderr up to [`MAX_STDERR_BYTES`], the whole group killed
//! when the lookup's time runs out (the future is dropped) or the output passes the cap, and
//! the tool reaped. aws-config's provider waits for the tool's whole output however long and
//! large, and leaves it running when its future is dropped.
//!
//! The error texts are aws-config's, so the redaction rules in `redact.rs` (a tool's stderr is
//! quoted short and dropped if it names a credential field) apply as before.

use super::document;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// The most of a tool's stdout read, bytes: a credentials document is about 1-2 KiB.
const MAX_STDOUT_BYTES: u64 = 64 * 1024;
/// The most of a tool's stderr kept, bytes (the rest is read and dropped).
const MAX_STDERR_BYTES: u64 = 16 * 1024;
/// How often the lookup looks whether the tool is done.
const POLL: Duration = Duration::from_millis(5);

/// The `credential_process` of a profile.
#[derive(Debug)]
pub(crate) struct CredentialProcess {
    command: String,
}

impl CredentialProcess {
    pub(crate) fn new(command: &str) -> Self {
        CredentialProcess {
            command: command.to_string(),
        }
    }
}

impl ProvideCredentials for CredentialProcess {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            let output = run(&self.command).await?;
            let parsed = parse(&output.stdout);
            let mut stdout = output.stdout;
            zeroize::Zeroize::zeroize(&mut stdout);
            parsed
        })
    }
}

struct Output {
    stdout: Vec<u8>,
}

/// Kills the tool's process group when the lookup stops waiting before the tool is done.
struct GroupGuard {
    pgid: u32,
    done: Arc<AtomicBool>,
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if !self.done.load(Ordering::SeqCst) {
            kill_group(self.pgid);
        }
    }
}

/// Kills every process of the group `pgid` (our child leads it).
fn kill_group(pgid: u32) {
    crate::process_group::kill(pgid);
}

/// Runs the tool and waits, without blocking the runtime, for its output and exit.
async fn run(command: &str) -> Result<Output, CredentialsError> {
    use std::os::unix::process::CommandExt as _;
    let spawn_error = |e: std::io::Error| {
        CredentialsError::provider_error(format!(
            "Error retrieving credentials from external process: {e}"
        ))
    };
    let mut child = Command::new("sh")
        .args(["-c", command])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(spawn_error)?;
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let guard = GroupGuard {
        pgid: pid,
        done: done.clone(),
    };
    let (Some(mut stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        kill_group(pid);
        let _ = child.wait();
        return Err(spawn_error(std::io::Error::other(
            "no pipes to the process",
        )));
    };
    let (tx, rx) = mpsc::channel();
    let thread_done = done.clone();
    let waiter = std::thread::Builder::new()
        .name("iam-db-auth-credential-process".into())
        .spawn(move || {
            let errors = std::thread::spawn(move || {
                let mut kept = Vec::new();
                let mut stderr = stderr;
                let _ = (&mut stderr).take(MAX_STDERR_BYTES).read_to_end(&mut kept);
                let _ = std::io::copy(&mut stderr, &mut std::io::sink());
                kept
            });
            let mut out = Vec::new();
            let read = (&mut stdout)
                .take(MAX_STDOUT_BYTES + 1)
                .read_to_end(&mut out);
            let too_much = out.len() as u64 > MAX_STDOUT_BYTES;
            if too_much {
                kill_group(pid);
            }
            let status = child.wait();
            thread_done.store(true, Ordering::SeqCst);
            drop(stdout);
            let err_text = errors.join().unwrap_or_default();
            let _ = tx.send((read.map(|_| out), too_much, status, err_text));
        })
        .map_err(spawn_error);
    if let Err(e) = waiter {
        drop(guard);
        return Err(e);
    }
    let (read, too_much, status, stderr) = loop {
        match rx.try_recv() {
            Ok(done) => break done,
            Err(mpsc::TryRecvError::Empty) => tokio::time::sleep(POLL).await,
            Err(mpsc::TryRecvError::Disconnected) => {
                return Err(spawn_error(std::io::Error::other(
                    "the process waiter stopped",
                )));
            }
        }
    };
    drop(guard);
    let mut stdout = read.map_err(spawn_error)?;
    if too_much {
        zeroize::Zeroize::zeroize(&mut stdout);
        return Err(CredentialsError::provider_error(format!(
            "Error retrieving credentials from external process: it printed more than {MAX_STDOUT_BYTES} bytes"
        )));
    }
    let status = status.map_err(spawn_error)?;
    if !status.success() {
        zeroize::Zeroize::zeroize(&mut stdout);
        let code = status
            .code()
            .map_or_else(|| "(killed by a signal)".to_string(), |c| c.to_string());
        let said = std::str::from_utf8(&stderr).unwrap_or("could not decode stderr as UTF-8");
        // The text goes through `redact::scrub`, which quotes the stderr short or withholds it.
        return Err(CredentialsError::provider_error(format!(
            "Error retrieving credentials: external process exited with code {code}. Stderr: {said}"
        )));
    }
    Ok(Output { stdout })
}

/// The credentials a tool printed: Version 1 and the fields `document::parse` reads.
fn parse(stdout: &[u8]) -> Result<aws_credential_types::Credentials, CredentialsError> {
    let invalid = |why: &str| {
        CredentialsError::provider_error(format!(
            "Error retrieving credentials from external process, could not parse response: {why}"
        ))
    };
    let doc: serde_json::Value = serde_json::from_slice(stdout)
        .map_err(|e| invalid(&format!("the output is not JSON ({e})")))?;
    let version = doc
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("Version")))
        .map(|(_, v)| v);
    match version.and_then(serde_json::Value::as_i64) {
        Some(1) => {}
        Some(_) => return Err(invalid("unknown Version (only 1 is known)")),
        None => return Err(invalid("Version is missing or not a number")),
    }
    document::parse(stdout, "CredentialProcess").map_err(|e| invalid(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_must_be_version_1_with_keys() {
        let ok = br#"{"Version":1,"AccessKeyId":"AKID","SecretAccessKey":"s","SessionToken":"t","Expiration":"2026-11-29T08:40:00Z"}"#;
        assert_eq!(parse(ok).unwrap().access_key_id(), "AKID");
        for bad in [
            &br#"{"Version":2,"AccessKeyId":"AKID","SecretAccessKey":"s"}"#[..],
            br#"{"AccessKeyId":"AKID","SecretAccessKey":"s"}"#,
            br#"{"Version":1,"AccessKeyId":"AKID"}"#,
            b"garbage",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                super::super::super::redact::error_chain(&err).contains("could not parse response"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_tool_is_run_and_its_failure_quoted() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let out = rt.block_on(run("printf hello")).ok().unwrap();
        assert_eq!(out.stdout, b"hello");
        let err = rt.block_on(run("echo oops >&2; exit 3")).err().unwrap();
        let text = super::super::super::redact::error_chain(&err);
        assert!(text.contains("exited with code 3. Stderr: oops"), "{text}");
        let big = rt.block_on(run("yes")).err().unwrap();
        assert!(super::super::super::redact::error_chain(&big).contains("more than 65536 bytes"));
    }
}
