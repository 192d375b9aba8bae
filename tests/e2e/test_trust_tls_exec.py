"""`exec` hands its child the database password and nothing more: the AWS secret key and session
token stay with `exec` (unless `--keep-aws-credentials`), and the child does not outlive an
`exec` that was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import BIN, demo_env, run

HOST = "mydb.c9akciq32.us-east-1.rds.amazonaws.com"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLEsessionTokenForTheExecTest"


def exec_env(tmp_path: Path) -> dict[str, str]:
    env = demo_env(AWS_REGION="us-east-1", AWS_SESSION_TOKEN=SESSION_TOKEN,
                   XDG_CACHE_HOME=str(tmp_path))
    env.pop("PGSSLMODE", None)
    return env


def child_env(tmp_path: Path, *flags: str) -> dict[str, str]:
    result = run([BIN, "exec", "--host", HOST, "--user", "app", *flags, "--", "env"],
                 env=exec_env(tmp_path), check=True)
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


def test_the_child_gets_no_aws_secret(tmp_path):
    env = child_env(tmp_path)
    assert "PGPASSWORD" in env
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"):
        assert name not in env, f"{name} reached the child"
    assert not any("iamDbAuthDemoSecret" in v for v in env.values())
    # The token carries the session token inside its signed query (X-Amz-Security-Token), as
    # every token made from temporary credentials does; nothing else may.
    assert not any(SESSION_TOKEN in v for k, v in env.items() if k != "PGPASSWORD")


def test_keep_aws_credentials_passes_them_on(tmp_path):
    env = child_env(tmp_path, "--keep-aws-credentials")
    assert env.get("AWS_SESSION_TOKEN") == SESSION_TOKEN
    assert env.get("AWS_SECRET_ACCESS_KEY", "").startswith("iamDbAuthDemoSecret")


def test_the_child_does_not_outlive_a_killed_exec(tmp_path):
    pidfile = tmp_path / "child.pid"
    proc = subprocess.Popen(
        [str(BIN), "exec", "--host", HOST, "--user", "app", "--", "sh", "-c",
         f'echo $$ > "{pidfile}"; exec sleep 60'],
        env=exec_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = None
    try:
        deadline = time.monotonic() + 10
        while child is None and time.monotonic() < deadline:
            text = pidfile.read_text().strip() if pidfile.exists() else ""
            child = int(text) if text.endswith(tuple("0123456789")) else None
            time.sleep(0.05)
        assert child is not None, "the child did not start"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and alive(child):
            time.sleep(0.05)
        assert not alive(child), "the child outlived the killed exec"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie (an orphan is reaped by init, or by us)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
