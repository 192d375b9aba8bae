//! The pgpass helper killed mid-write never leaves a token where anyone but its owner can read
//! it, and the next run cleans up after it.
//!
//! gdb stops the real binary at a chosen system call of the replacement (the first write to
//! the temporary file, or the fsync after the whole new file is in it) and kills it there
//! (SIGKILL: no handler, no cleanup), under the umask 000 that would make a carelessly created
//! file world-readable. Then: the passfile is what it was, the only other file is the
//! temporary one, mode 0600, and a normal run removes it and writes the entry. gdb must be
//! installed (scripts/setup.sh installs it); without it this test fails rather than skips.

mod common;

use common::{Sandbox, run, stderr, wrapped};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

const AKID: &str = "AKIAPGPASSKILLTEST01";
const SECRET: &str = "PgpassKillSecret/abcdefghijklmnopqrstuvwx+012";

fn listing(dir: &Path) -> Vec<(String, u32, Vec<u8>)> {
    let mut out: Vec<(String, u32, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let mode = e.metadata().unwrap().permissions().mode() & 0o777;
            let bytes = std::fs::read(e.path()).unwrap_or_default();
            (e.file_name().to_string_lossy().into_owned(), mode, bytes)
        })
        .collect();
    out.sort();
    out
}

/// Runs `pgpass` for db.internal under gdb with umask 000, stopping at the first system call
/// matched by `catch` (gdb commands) and killing it there.
fn kill_at(s: &Sandbox, file: &Path, catch: &[&str]) {
    // sh sets the umask and execs the rest: gdb, its commands, then the helper.
    let mut wrapper = vec![
        "sh",
        "-c",
        "umask 000; exec \"$@\"",
        "sh",
        "gdb",
        "-q",
        "-batch",
    ];
    // Then run, and at the stop SIGKILL: nothing of the program runs after it.
    for c in catch.iter().chain(&["run", "kill"]) {
        wrapper.extend(["-ex", c]);
    }
    wrapper.push("--args");
    let o = wrapped(&wrapper, &s.pgpass(file, AKID, SECRET))
        .output()
        .expect("run gdb (scripts/setup.sh installs it)");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("Catchpoint") && out.contains("killed"),
        "gdb did not stop and kill the helper:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn check_killed(dir: &Path, passfile: &Path, before: &[u8], expect_token: bool) {
    assert_eq!(
        std::fs::read(passfile).unwrap(),
        before,
        "the passfile changed"
    );
    let files = listing(dir);
    assert_eq!(files.len(), 2, "{files:?}");
    for (name, mode, bytes) in &files {
        assert_eq!(*mode, 0o600, "{name} is mode {mode:o} under umask 000");
        if name.starts_with(".pgpass.iam-db-auth.") {
            let holds = String::from_utf8_lossy(bytes).contains("X-Amz-Signature=");
            assert_eq!(holds, expect_token, "{name}");
        }
    }
}

#[test]
fn killed_mid_write_the_token_stays_owner_only_and_the_next_run_cleans_up() {
    let s = Sandbox::new("pgpass-kill");
    let dir = s.path("db");
    std::fs::create_dir(&dir).unwrap();
    let passfile = dir.join(".pgpass");
    let before = b"other.example.com:5432:*:someone:keep\n".to_vec();
    std::fs::write(&passfile, &before).unwrap();
    std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();

    // At the first write into the temporary file (fd > 2: not a log line): created, empty.
    kill_at(
        &s,
        &passfile,
        &["catch syscall write", "condition 1 $rdi > 2"],
    );
    check_killed(&dir, &passfile, &before, false);

    // At the fsync of the temporary file: the whole new file, token included, is in it.
    kill_at(&s, &passfile, &["catch syscall fsync"]);
    check_killed(&dir, &passfile, &before, true);

    // A normal run: the leftover is removed, the entry written, the file 0600.
    let o = run(&mut s.pgpass(&passfile, AKID, SECRET));
    assert!(o.status.success(), "{}", stderr(&o));
    let files = listing(&dir);
    assert_eq!(files.len(), 1, "a temporary file was left: {files:?}");
    let (name, mode, bytes) = &files[0];
    assert_eq!((name.as_str(), *mode), (".pgpass", 0o600));
    let text = String::from_utf8_lossy(bytes);
    assert!(
        text.starts_with("other.example.com:5432:*:someone:keep\n"),
        "{text}"
    );
    assert!(
        text.contains("db.internal:5432:*:app:db.internal\\:5432/?Action=connect&"),
        "{text}"
    );
}
