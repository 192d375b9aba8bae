"""End-to-end tests against the local RDS stand-ins, with real clients.

Shared fixtures only; each area's tests live in their own module (test_standins.py,
test_mysql_plugin.py, test_postgres.py, ...). Every test can be run alone:

    .venv/bin/pytest tests/e2e -k NAME

The stand-ins (scripts/standin/{mariadb,postgres}.sh) are started once per session by the
fixtures that need them and stopped at the end. The release artifacts are used as a user gets
them: target/release/iam-db-auth and target/release/libiam_db_auth.so (IAM_DB_AUTH_BIN and
IAM_DB_AUTH_LIB override them); build them first (`cargo build --release`).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("IAM_TEST_WORK", ROOT / ".work"))
BIN = Path(os.environ.get("IAM_DB_AUTH_BIN", ROOT / "target/release/iam-db-auth"))
LIB = Path(os.environ.get("IAM_DB_AUTH_LIB", ROOT / "target/release/libiam_db_auth.so"))
STANDIN = ROOT / "scripts/standin"

# Demo credentials: a long-term key the stand-ins' verifier knows (not an AWS key). The same
# values as scripts/lib.sh.
DEMO_ACCESS_KEY_ID = "AKIAIAMDBAUTHDEMO001"
DEMO_SECRET_ACCESS_KEY = "iamDbAuthDemoSecret/0123456789+abcdefghijkl"

# Every subprocess a test starts gets a bound: a hang is a failure, never a stuck suite.
DEFAULT_TIMEOUT = 60


def aws_env(**extra: str | None) -> dict[str, str]:
    """The process environment less every AWS_* and IAM_DB_AUTH_* variable, with the real
    metadata endpoint disabled and no shared AWS files, plus `extra` (None removes a name)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAM_DB_AUTH_"))}
    env.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE=str(WORK / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(WORK / "no-aws-credentials"),
    )
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def demo_env(**extra: str | None) -> dict[str, str]:
    """[`aws_env`] with the demo credentials."""
    return aws_env(
        AWS_ACCESS_KEY_ID=DEMO_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=DEMO_SECRET_ACCESS_KEY,
        **extra,
    )


def run(
    args: list[str | os.PathLike],
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    check: bool = False,
    **kwargs,
) -> subprocess.CompletedProcess:
    """Runs a command with a time limit, capturing text output."""
    result = subprocess.run(
        [str(a) for a in args],
        env=env if env is not None else aws_env(),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{shlex.join(str(a) for a in args)} exited {result.returncode}\n"
            f"stdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
        )
    return result


def token(host: str, port: int, user: str, env: dict[str, str] | None = None, *extra: str) -> str:
    """A token from the CLI (demo credentials unless `env` says otherwise)."""
    out = run(
        [BIN, "token", "--host", host, "--port", str(port), "--user", user, *extra],
        env=env if env is not None else demo_env(),
        check=True,
    )
    return out.stdout.strip()


@dataclass
class StandIn:
    """A running stand-in: its `env` output (IAM_STANDIN_* names) and its log."""

    engine: str
    env: dict[str, str]

    def __getitem__(self, name: str) -> str:
        return self.env[name]

    @property
    def log(self) -> Path:
        prefix = "IAM_STANDIN_MARIADB_" if self.engine == "mariadb" else "IAM_STANDIN_PG_"
        return Path(self.env[prefix + "LOG"])

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, offset: int) -> str:
        """The server log's text written after `offset` (from `log_size()` before an action)."""
        with open(self.log, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def add_key(self, line: str) -> None:
        """Appends `ACCESS_KEY_ID SECRET [SESSION_TOKEN [EXPIRATION]]` to the verifier's keystore
        (read at every login)."""
        with open(self.env["IAM_STANDIN_KEYSTORE"], "a") as f:
            f.write(line.rstrip("\n") + "\n")


def _standin_env(script: Path, env: dict[str, str]) -> dict[str, str]:
    out = run(["bash", script, "env"], env=env, check=True)
    parsed: dict[str, str] = {}
    for line in out.stdout.splitlines():
        if line.startswith("export "):
            # `export NAME=value`, value quoted with printf %q: let the shell undo it.
            name, _, _ = line[len("export ") :].partition("=")
            parsed[name] = ""
    # One shell prints every value unquoted, NUL-separated.
    names = " ".join(parsed)
    dump = run(
        ["bash", "-c", f'eval "$(bash {shlex.quote(str(script))} env)"; for n in {names}; do printf "%s\\0%s\\0" "$n" "${{!n}}"; done'],
        env=env,
        check=True,
    )
    parts = dump.stdout.split("\0")
    return dict(zip(parts[0:-1:2], parts[1:-1:2]))


def _start(engine: str, script: Path, port_var: str, port: str):
    env = aws_env(**{port_var: os.environ.get(port_var, port)})
    run(["bash", script, "start"], env=env, timeout=300, check=True)
    try:
        yield StandIn(engine, _standin_env(script, env))
    finally:
        run(["bash", script, "stop"], env=env, timeout=120)


@pytest.fixture(scope="session")
def built() -> None:
    """The release artifacts exist (the suite builds them; a lone pytest run says so)."""
    missing = [p for p in (BIN, LIB) if not p.exists()]
    if missing:
        pytest.fail(f"build first: cargo build --release (missing {', '.join(map(str, missing))})")


@pytest.fixture(scope="session")
def mariadb(built) -> StandIn:
    """The MariaDB stand-in for RDS (port IAM_STANDIN_MARIADB_PORT, default 13316 here)."""
    yield from _start("mariadb", STANDIN / "mariadb.sh", "IAM_STANDIN_MARIADB_PORT", "13316")


@pytest.fixture(scope="session")
def postgres(built) -> StandIn:
    """The PostgreSQL stand-in for RDS (port IAM_STANDIN_PG_PORT, default 15452 here)."""
    yield from _start("postgres", STANDIN / "postgres.sh", "IAM_STANDIN_PG_PORT", "15452")


def wait_until(cond, timeout: float = 5.0, interval: float = 0.02):
    """Calls `cond()` until it returns something truthy or `timeout` seconds have passed; returns
    its last result (falsy on time-out), for the caller to assert on."""
    deadline = time.monotonic() + timeout
    while True:
        result = cond()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


def have_ipv6_loopback() -> bool:
    """Whether this machine has ::1 (Linux lists it in /proc/net/if_inet6)."""
    try:
        with open("/proc/net/if_inet6") as f:
            return any(line.startswith("0" * 31 + "1 ") for line in f)
    except OSError:
        return False


def pytest_configure(config):
    # The MariaDB stand-in listens on ::1 too when the machine has it, for the IPv6 client checks.
    if have_ipv6_loopback():
        os.environ.setdefault("IAM_STANDIN_MARIADB_BIND", "127.0.0.1,::1")


# --- Credentials of a test's own. ---
import secrets  # noqa: E402
import string  # noqa: E402
from contextlib import contextmanager  # noqa: E402

# Helper modules that test modules load as plugins get pytest's assertion messages too.
pytest.register_assert_rewrite("pg_support")


BASE64_CHARS = string.ascii_letters + string.digits + "/+"


def random_text(length: int, alphabet: str = BASE64_CHARS) -> str:
    """Random text; by default shaped like AWS secrets and session tokens (base64 letters)."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class TempKey:
    """Credentials known to the stand-ins' verifier, made for one test."""

    access_key_id: str
    secret: str
    session_token: str | None

    def env(self, **extra: str | None) -> dict[str, str]:
        """[`aws_env`] with these credentials."""
        return aws_env(
            AWS_ACCESS_KEY_ID=self.access_key_id,
            AWS_SECRET_ACCESS_KEY=self.secret,
            AWS_SESSION_TOKEN=self.session_token,
            **extra,
        )


@contextmanager
def temporary_key(standin: StandIn, session_token: str | None = None, expiration: str | None = None):
    """A key of its own (a fresh id, so reruns never meet an older secret) in the keystore while
    the block runs; `expiration` (RFC 3339) makes the verifier treat it as expiring then."""
    key = TempKey(
        "ASIAE2E" + random_text(13, string.ascii_uppercase + string.digits),
        "e2eSecret/" + random_text(30),
        session_token,
    )
    fields = [key.access_key_id, key.secret] + ([session_token] if session_token else [])
    if expiration:
        assert session_token, "an expiration needs a session token (the keystore's 4th field)"
        fields.append(expiration)
    standin.add_key(" ".join(fields))
    try:
        yield key
    finally:
        # Rewritten in place, so the keystore keeps its owner and mode.
        path = standin.env["IAM_STANDIN_KEYSTORE"]
        with open(path, "r+") as f:
            kept = [line for line in f if not line.startswith(key.access_key_id + " ")]
            f.seek(0)
            f.writelines(kept)
            f.truncate()
