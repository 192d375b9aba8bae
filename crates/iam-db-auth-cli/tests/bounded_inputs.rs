//! Files a user names on the command line are read bounded: a FIFO, a device or a huge file gets
//! a clear error at once, never a hang or an out-of-memory (`verify --keystore`,
//! `pgpass --targets-file`).

mod common;
use common::*;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `c` with a bound: a run that has not ended after 20 s is killed and the test fails
/// (before the fix, a FIFO made these commands wait for ever).
fn run_bounded(c: &mut Command, row: &str) -> Output {
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn iam-db-auth");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{row}: still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &std::path::Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

/// A FIFO, a device and a 64 MiB (sparse) file, each with the words its refusal must carry.
fn unreadable_files(s: &Sandbox) -> [(std::path::PathBuf, &'static str); 3] {
    mkfifo(&s.path("fifo"));
    let huge = s.path("huge");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    [
        (s.path("fifo"), "is a FIFO (named pipe), not a regular file"),
        ("/dev/zero".into(), "is a device, not a regular file"),
        (huge, "is larger than"),
    ]
}

#[test]
fn verify_refuses_a_keystore_that_is_a_fifo_a_device_or_too_large() {
    let s = Sandbox::new("bounded-keystore");
    for (path, needle) in unreadable_files(&s) {
        let row = format!("keystore {}", path.display());
        let o = run_bounded(&mut s.verify(&path, &[]), &row);
        assert_eq!(o.status.code(), Some(2), "{row}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{row}: {}", stderr(&o));
    }
}

#[test]
fn pgpass_refuses_a_targets_file_that_is_a_fifo_a_device_or_too_large() {
    let s = Sandbox::new("bounded-targets");
    let passfile = s.path("pgpass");
    for (path, needle) in unreadable_files(&s) {
        let row = format!("targets file {}", path.display());
        let mut c = s.cmd(&[
            "pgpass",
            "--file",
            passfile.to_str().unwrap(),
            "--targets-file",
            path.to_str().unwrap(),
        ]);
        let o = run_bounded(&mut c, &row);
        assert_ne!(o.status.code(), Some(0), "{row}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{row}: {}", stderr(&o));
    }
    assert!(!passfile.exists(), "nothing written");
}
