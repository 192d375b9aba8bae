"""Fixtures for the credential-source tests.

Every scenario runs in a fresh child process (child.py) that uses the library through its C ABI,
with an environment built from scratch: no AWS_* or IAM_DB_AUTH_* variable from outside, HOME in
a temporary directory (so ~/.aws/... is the test's own), the real EC2 metadata endpoint
disabled unless the test points it at a loopback stand-in, every other AWS endpoint on
loopback, and debug logging on, so every scenario also checks that no secret reaches the log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from iamlib import Signed
from standins import Creds

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = Path(os.environ.get("IAM_DB_AUTH_BIN", ROOT / "target/release/iam-db-auth"))
LIB = Path(os.environ.get("IAM_DB_AUTH_LIB", ROOT / "target/release/libiam_db_auth.so"))

HOST = "mydb.cluster-abc123xyz.us-west-2.rds.amazonaws.com"
PORT = 5432
REGION = "us-west-2"


@dataclass
class Run:
    results: list[dict]
    stderr: str

    def tokens(self) -> list[dict]:
        out = []
        for r in self.results:
            if r["op"] == "token":
                out.append(r)
            elif r["op"] == "repeat":
                out.extend(r["results"])
        return out


@dataclass
class Scenario:
    home: Path
    env: dict[str, str]
    secrets: list[str] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)

    @property
    def aws(self) -> Path:
        p = self.home / ".aws"
        p.mkdir(parents=True, exist_ok=True)
        return p

    def secret(self, *values: str | None) -> None:
        """Strings that must never appear in the library's output."""
        self.secrets.extend(v for v in values if v)

    def creds_secret(self, creds: Creds) -> Creds:
        self.secret(*creds.secrets())
        return creds

    def write(self, rel: str, text: str, mode: int = 0o600) -> Path:
        path = self.home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        return path

    def run(self, steps: list[dict], timeout: float = 60, **extra_env: str) -> Run:
        env = dict(self.env, **extra_env)
        proc = subprocess.run(
            [sys.executable, str(HERE / "child.py"), json.dumps(steps)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert proc.returncode == 0, f"child failed ({proc.returncode}): {proc.stderr[-3000:]}"
        run = Run([json.loads(line) for line in proc.stdout.splitlines() if line.strip()], proc.stderr)
        self.runs.append(run)
        return run

    def token(self, timeout: float = 60, **kw) -> dict:
        """One token in a fresh process; UPPER_CASE keywords are environment variables."""
        step = {"op": "token", "host": HOST, "port": PORT, "user": "app"}
        step.update({k: v for k, v in kw.items() if not k.isupper()})
        env = {k: v for k, v in kw.items() if k.isupper()}
        return self.run([step], timeout=timeout, **env).results[0]

    def assert_no_secret_leaked(self) -> None:
        texts = []
        for run in self.runs:
            texts.append(run.stderr)
            for r in run.tokens():
                if not r["ok"]:
                    texts.append(r["message"])
        tokens = [r["token"] for run in self.runs for r in run.tokens() if r["ok"]]
        sigs = [t.rsplit("X-Amz-Signature=", 1)[-1] for t in tokens]
        for text in texts:
            for s in self.secrets + tokens + sigs:
                assert s not in text, f"a secret ({s[:6]}...) appears in the library's output"


@pytest.fixture
def scenario(tmp_path) -> Scenario:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAM_DB_AUTH_"))}
    env.update(
        HOME=str(home),
        AWS_EC2_METADATA_DISABLED="true",
        # A catch-all: any AWS service a test did not point at a stand-in (SSO OIDC, say) goes
        # to a closed loopback port, never to the internet.
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        IAM_DB_AUTH_LOG="debug",
        IAM_DB_AUTH_LIB=str(LIB),
        PYTHONPATH=str(HERE),
    )
    s = Scenario(home, env)
    yield s
    # Every scenario doubles as a leak check of the debug log and the error messages.
    s.assert_no_secret_leaked()


def verify(token: str, creds: Creds, user: str = "app", region: str = REGION, endpoint: str = f"{HOST}:{PORT}"):
    """Checks the token with the project's verifier and a keystore holding only `creds`."""
    keystore = Path(os.environ.get("TMPDIR", "/tmp")) / f"keystore-{os.getpid()}-{creds.key_id}"
    keystore.write_text(creds.keystore_line() + "\n")
    keystore.chmod(0o600)
    try:
        proc = subprocess.run(
            [str(BIN), "verify", "--keystore", str(keystore), "--endpoint", endpoint, "--region", region, "--user", user],
            input=token,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        keystore.unlink()
    assert proc.returncode == 0, f"verifier rejected the token: {proc.stderr.strip()}"


def assert_signed_by(
    result: dict, creds: Creds, user: str = "app", region: str = REGION, endpoint: str = f"{HOST}:{PORT}"
) -> Signed:
    """The token is good, carries exactly `creds`' key id and session token, and verifies."""
    assert result["ok"], f"no token: [{result.get('code')}] {result.get('message')}"
    signed = Signed.parse(result["token"])
    assert signed.key_id == creds.key_id, f"signed by {signed.key_id}, expected {creds.key_id} ({creds.source})"
    assert signed.session_token == creds.token, "session token differs from the one the source handed out"
    assert signed.region == region and signed.user == user
    verify(result["token"], creds, user=user, region=region, endpoint=endpoint)
    return signed
