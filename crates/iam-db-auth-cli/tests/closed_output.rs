//! The command with its stdout or stderr closed (`>&-`, `2>&-`) or a pipe whose reader has
//! gone: it never panics (exit 101) writing a message, `pgpass --watch` keeps the passfile
//! fresh through log lines nobody reads, and a token that cannot be printed is a failure,
//! not a silent success.

mod common;

use common::{Sandbox, args, stderr, token_args, wrapped};
use std::io::{BufRead as _, BufReader};
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const AKID: &str = "AKIACLOSEDOUTPUT0001";
const SECRET: &str = "ClosedOutputSecret/abcdefghijklmnopqrstuv+01";

/// The write end of a pipe whose read end is already closed: every write fails with EPIPE.
fn broken_pipe() -> OwnedFd {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe2(2) requires.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: pipe2 just created both descriptors; nothing else owns them.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    write
}

/// Where a standard stream of the command goes.
#[derive(Clone, Copy, Debug)]
enum Stream {
    /// Closed before the command starts (the shell's `>&-`).
    Closed,
    /// A pipe whose reader has gone.
    BrokenPipe,
}

/// Runs `c` with stdin from `/dev/null`, the stream `fd` (1 or 2) set up as `how`, and the other
/// captured. Returns the status and what the other stream received.
fn run_with(c: &Command, fd: i32, how: Stream) -> (ExitStatus, String) {
    let mut c = match how {
        Stream::Closed => {
            let script = format!("exec \"$@\" {fd}>&-");
            wrapped(&["sh", "-c", &script, "sh"], c)
        }
        Stream::BrokenPipe => wrapped(&["env"], c),
    };
    c.stdin(Stdio::null());
    let broken = || match how {
        Stream::Closed => Stdio::piped(),
        Stream::BrokenPipe => Stdio::from(broken_pipe()),
    };
    if fd == 1 {
        c.stdout(broken()).stderr(Stdio::piped());
    } else {
        c.stdout(Stdio::piped()).stderr(broken());
    }
    let child = c.spawn().expect("run iam-db-auth");
    let out = wait_bounded(child, Duration::from_secs(30));
    let other = if fd == 1 { &out.stderr } else { &out.stdout };
    (out.status, String::from_utf8_lossy(other).into_owned())
}

/// The child's output, or a failed test (and the child killed) after `limit`.
fn wait_bounded(mut child: Child, limit: Duration) -> std::process::Output {
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the command did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("collect output")
}

#[test]
fn messages_to_a_closed_or_broken_stderr_never_panic() {
    let s = Sandbox::new("closed-stderr");
    let keystore = s.write("keystore", &format!("{AKID} {SECRET}\n"));
    let mut logging = s.with_keys(&token_args(&[]), AKID, SECRET);
    logging.env("IAM_DB_AUTH_LOG", "debug");
    // (what, command, the exit status it has with stderr open)
    let cases: Vec<(&str, Command, i32)> = vec![
        (
            "an error (no region)",
            s.with_keys(
                &args("token --host db.internal --port 5432 --user app"),
                AKID,
                SECRET,
            ),
            1,
        ),
        // stdin is /dev/null: an empty token, rejected.
        ("verify's rejection", s.verify(&keystore, &[]), 1),
        ("a usage error", s.cmd(&args("token --no-such-flag")), 2),
        ("a token with debug log lines", logging, 0),
    ];
    for (what, c, code) in &cases {
        for how in [Stream::Closed, Stream::BrokenPipe] {
            let (status, _) = run_with(c, 2, how);
            assert_eq!(
                status.code(),
                Some(*code),
                "{what}, stderr {how:?}: {status} (101 is a panic)"
            );
        }
    }
}

#[test]
fn a_token_that_cannot_be_printed_is_a_failure() {
    let s = Sandbox::new("closed-stdout");
    let commands = [
        token_args(&[]),
        args(
            "rds generate-db-auth-token --hostname db.internal --port 5432 --username app --region us-east-1",
        ),
        args(
            "dsql generate-db-connect-admin-auth-token --hostname abc.dsql.us-east-1.on.aws --region us-east-1",
        ),
    ];
    for argv in &commands {
        let c = s.with_keys(argv, AKID, SECRET);
        for how in [Stream::Closed, Stream::BrokenPipe] {
            let (status, err) = run_with(&c, 1, how);
            assert_eq!(
                status.code(),
                Some(1),
                "{argv:?} with stdout {how:?}: {status}; {err}"
            );
            assert!(
                err.contains("stdout"),
                "{argv:?} with stdout {how:?}: {err}"
            );
        }
        // The control: stdout open (on /dev/null, which the user chose) is a success.
        let out = s
            .with_keys(argv, AKID, SECRET)
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{argv:?}: {}", stderr(&out));
    }
}

#[test]
fn pgpass_watch_keeps_refreshing_when_nobody_reads_its_log() {
    let s = Sandbox::new("watch-broken-stderr");
    let file = s.path("pgpass");
    let mut c = s.pgpass(&file, AKID, SECRET);
    c.args(["--watch", "--refresh-every", "1s"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run pgpass --watch");
    // Read its log up to the line that says it is watching (notes may come first), then close
    // the pipe: every later line meets EPIPE.
    let stderr_pipe = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr_pipe);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0
            && !line.contains("keeping 1 entry fresh")
        {
            line.clear();
        }
        let _ = tx.send(line);
        // `reader` (the pipe's only read end) is dropped here.
    });
    let first = rx.recv_timeout(Duration::from_secs(20));
    let first = match first {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            panic!("no log line from pgpass --watch: {e}");
        }
    };
    assert!(first.contains("keeping 1 entry fresh"), "{first}");
    // Each refresh (every second) writes a new token and logs a line nobody reads.
    let mut seen = std::fs::read(&file).unwrap_or_default();
    let mut changes = 0;
    let started = Instant::now();
    while changes < 3 && started.elapsed() < Duration::from_secs(15) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("pgpass --watch ended ({status}, 101 is a panic) after {changes} refreshes");
        }
        std::thread::sleep(Duration::from_millis(100));
        let now = std::fs::read(&file).unwrap_or_default();
        if now != seen {
            changes += 1;
            seen = now;
        }
    }
    if changes < 3 {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the passfile changed {changes} times in 15 s with a 1 s schedule");
    }
    // SAFETY: plain kill(2) on our own child, which has not been waited for (still running).
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = wait_bounded(child, Duration::from_secs(10)).status;
    assert_eq!(
        status.code(),
        Some(0),
        "pgpass --watch on SIGTERM: {status}"
    );
}
