"""The Rust recipes (examples/rust: sqlx pools through iam_db_auth::DatabaseLogin) against the
stand-ins: a pool logs in to PostgreSQL and MariaDB over verified TLS with no password given,
keeps logging in after its first token expired (the clocks of the pool and of the stand-in's
verifier moved 16 minutes by libfaketime, the token cache on), and a server that cannot prove
it is the endpoint gets no token.

The example binary is built by scripts/tests/59-package-rust.sh (IAM_RUST_EXAMPLES points at
it); the whole module is deep-tier.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import STANDIN, WORK, StandIn, _standin_env, aws_env, demo_env, run
from pg_support import Pg
from trust_tls_fakes import Certs, FakeMysql, FakePostgres

pytestmark = pytest.mark.deep
pytest_plugins = ["pg_support"]

EXAMPLES = Path(os.environ.get("IAM_RUST_EXAMPLES", "examples/rust/target/debug/examples"))
POOL = EXAMPLES / "pool_logins"
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
RDS_HOST = "mydb.c9akciq32.us-east-1.rds.amazonaws.com"


@pytest.fixture(scope="module")
def pool_logins() -> Path:
    if not POOL.exists():
        pytest.fail(f"build the Rust examples first (scripts/tests/59-package-rust.sh): {POOL} is missing")
    return POOL


def start_pool(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([str(POOL), *args], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, lines_in: str = "") -> tuple[int, str, str]:
    out, err = proc.communicate(lines_in, timeout=60)
    return proc.returncode, out, err


def test_a_postgres_pool_logs_in_over_verified_tls(pool_logins, pg: Pg):
    env = pg.env(IAM_DB_AUTH_CA_FILE=pg.ca)
    code, out, err = finish(start_pool(["postgres", "localhost", str(pg.port), pg.user, pg.db, pg.region, "2"], env), "\n")
    assert code == 0, err
    assert out.splitlines() == [f"login 1: {pg.user} tls=true", f"login 2: {pg.user} tls=true"], out


def test_a_mariadb_pool_logs_in_with_the_cleartext_plugin_over_verified_tls(pool_logins, mariadb):
    env = demo_env(AWS_REGION=mariadb["IAM_STANDIN_REGION"], IAM_DB_AUTH_CA_FILE=mariadb["IAM_STANDIN_MARIADB_CA"])
    user = mariadb["IAM_STANDIN_MARIADB_USER"]
    args = ["mysql", "localhost", mariadb["IAM_STANDIN_MARIADB_PORT"], user,
            mariadb["IAM_STANDIN_MARIADB_DATABASE"], mariadb["IAM_STANDIN_REGION"], "2"]
    code, out, err = finish(start_pool(args, env), "\n")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(f": {user}@" in l and l.endswith("tls=true") for l in lines), out


@pytest.fixture
def faketime_postgres():
    """A PostgreSQL stand-in of its own whose verifier reads its clock offset from a file (one
    the server's user can read: pytest's tmp_path is private to root, and libfaketime ignores a
    file it cannot read)."""
    clock = WORK / "faketime-rust-clock"
    clock.write_text("+0\n")
    clock.chmod(0o644)
    port = str(int(os.environ.get("IAM_STANDIN_PG_PORT", "15452")) + 7)
    env = aws_env(IAM_STANDIN_PG_PORT=port, IAM_STANDIN_FAKETIME_FILE=str(clock))
    script = STANDIN / "postgres.sh"
    run(["bash", script, "start"], env=env, timeout=300, check=True)
    try:
        yield Pg(StandIn("postgres", _standin_env(script, env))), clock
    finally:
        run(["bash", script, "stop"], env=env, timeout=120)


@pytest.mark.parametrize("refresh", [True, False], ids=["iam_pool", "fixed_password_control"])
def test_a_pool_keeps_logging_in_after_its_first_token_expired(pool_logins, faketime_postgres, refresh):
    pg, clock = faketime_postgres
    env = pg.env(IAM_DB_AUTH_CA_FILE=pg.ca, LD_PRELOAD=LIBFAKETIME, FAKETIME_TIMESTAMP_FILE=str(clock),
                 FAKETIME_NO_CACHE="1")
    args = ["postgres", "localhost", str(pg.port), pg.user, pg.db, pg.region, "3"]
    if not refresh:
        args.append("--no-refresh")
    proc = start_pool(args, env)
    assert proc.stdout.readline().startswith("login 1: "), proc.stderr.read()
    for step, offset in ((2, "+16m"), (3, "+32m")):
        clock.write_text(offset + "\n")  # both clocks, 16 minutes on: the first token has expired
        proc.stdin.write("\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not refresh:
            # The control: a pool that keeps its first password cannot log in any more, so the
            # test above can fail.
            assert line == "", line
            code, _, err = finish(proc)
            assert code == 1 and "authentication failed" in err.lower(), err
            return
        assert line == f"login {step}: {pg.user} tls=true\n", (line, proc.stderr.read() if not line else "")
    code, _, err = finish(proc)
    assert code == 0, err


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"), RDS_HOST)


@pytest.mark.parametrize("engine, fake_class", [("postgres", FakePostgres), ("mysql", FakeMysql)])
def test_a_server_with_a_self_signed_certificate_gets_no_token(pool_logins, certs, engine, fake_class):
    fake = fake_class(*certs.pair("self_signed"))
    try:
        # No CA given: the lookup's built-in RDS bundle, which did not sign the fake's certificate.
        env = demo_env(AWS_REGION="us-east-1")
        port = str(fake.listener.getsockname()[1])
        code, out, err = finish(start_pool([engine, "127.0.0.1", port, "iam_user", "iam_test", "us-east-1", "1"], env))
    finally:
        fake.close()
    assert code == 1 and out == "", (out, err)
    assert not fake.got_token(), "the fake server received a token"
