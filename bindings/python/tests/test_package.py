"""The wheel as a user gets it: `pip install` into a fresh venv (no compiler, no Rust), its
platform tag and glibc floor, and every helper with its real driver against the stand-ins and
against a fake server.

- a pool keeps logging in after its first token expired: the client and the stand-ins' verifier
  both run under libfaketime reading one file; after the first login the test writes +16m into
  it and the pool opens a second connection (the token cache is on: the library must notice that
  its cached token is no longer valid);
- a fake server with a self-signed certificate for the right names gets no token from any
  helper at its defaults; the same fake with a certificate from a CA the helper is told to
  trust does get one (so the check could fail).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import FAKETIME_FILE, ROOT, e2e
from trust_tls_fakes import Certs, FakeMysql, FakePostgres, openssl

pytestmark = pytest.mark.deep

HERE = Path(__file__).resolve().parent
CLIENT = HERE / "client.py"
LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
RDS_HOST = "mydb.c9akciq32.us-east-1.rds.amazonaws.com"
GLIBC_FLOOR = (2, 28)

PG_SCENARIOS = ["psycopg-pool", "psycopg-async-pool", "psycopg2-pool", "asyncpg-pool",
                "sqlalchemy-psycopg", "sqlalchemy-psycopg2", "sqlalchemy-asyncpg"]
MY_SCENARIOS = ["pymysql-creator-pool", "sqlalchemy-pymysql", "aiomysql", "sqlalchemy-aiomysql",
                "mysqlclient", "sqlalchemy-mysqldb"]
# mysqlclient logs in through the plugin, which reads its token settings from the environment.
PLUGIN_SCENARIOS = {"mysqlclient", "sqlalchemy-mysqldb"}


@pytest.fixture(scope="session")
def wheel() -> Path:
    """dist/python's wheel (IAM_PYTHON_WHEEL names another)."""
    if os.environ.get("IAM_PYTHON_WHEEL"):
        return Path(os.environ["IAM_PYTHON_WHEEL"])
    found = sorted((ROOT / "dist/python").glob("iam_db_auth-*.whl"))
    if len(found) != 1:
        pytest.fail(f"expected one wheel in dist/python (scripts/package.sh python), found {found}")
    return found[0]


@pytest.fixture(scope="session")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel and the drivers, installed by pip as a user would."""
    path = tmp_path_factory.mktemp("pkg") / "venv"
    subprocess.run([sys.executable, "-m", "venv", path], check=True, timeout=120)
    pip = [path / "bin/python", "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, wheel], check=True, timeout=300)
    subprocess.run([*pip, "-r", HERE / "requirements-drivers.txt"], check=True, timeout=900)
    return path


def test_wheel_holds_the_library_and_no_sources_or_symlinks(wheel, venv):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        # A symbolic link would be stored with the S_IFLNK bits in external_attr.
        links = [i.filename for i in zf.infolist() if (i.external_attr >> 16) & 0o170000 == 0o120000]
    assert "iam_db_auth/libiam_db_auth.so" in names and "iam_db_auth/py.typed" in names
    assert not links
    assert not [n for n in names if n.endswith((".c", ".rs", "Cargo.toml"))]
    assert wheel.name.endswith("-py3-none-manylinux_2_28_x86_64.whl")
    out = e2e.run([venv / "bin/python", "-c", "import iam_db_auth; print(iam_db_auth.library_path())"], check=True)
    assert out.stdout.strip().startswith(str(venv)), out.stdout


def test_auditwheel_says_manylinux_2_28_or_older(wheel, venv):
    out = e2e.run([venv / "bin/auditwheel", "show", wheel], check=True, timeout=120)
    text = " ".join(out.stdout.split())
    match = re.search(r'consistent with the following platform tag: "manylinux_2_(\d+)_x86_64"', text)
    assert match, out.stdout
    assert int(match.group(1)) <= GLIBC_FLOOR[1], out.stdout


def test_library_needs_glibc_2_28_at_most(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as zf:
        lib = Path(zf.extract("iam_db_auth/libiam_db_auth.so", tmp_path))
    symbols = e2e.run(["objdump", "-T", lib], check=True).stdout
    versions = {tuple(int(p) for p in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", symbols)}
    assert versions, "no GLIBC_ versions: not a glibc build?"
    assert max(versions) <= GLIBC_FLOOR, f"needs GLIBC_{'.'.join(map(str, max(versions)))}"


def test_token_from_the_wheel_is_accepted_and_errors_carry_codes(venv, tmp_path):
    program = (
        "import iam_db_auth, json\n"
        f"t = iam_db_auth.token({RDS_HOST!r}, 5432, 'app')\n"
        "try:\n    iam_db_auth.token('db.internal', 5432, 'app')\n"
        "except iam_db_auth.RegionNotFoundError as e:\n    err = [type(e).__name__, e.code, isinstance(e, iam_db_auth.Error)]\n"
        "print(json.dumps([t, err]))\n"
    )
    out = e2e.run([venv / "bin/python", "-c", program], env=e2e.demo_env(HOME=str(tmp_path)), check=True)
    token, err = json.loads(out.stdout)
    assert err == ["RegionNotFoundError", 7, True]
    keystore = tmp_path / "keystore"
    keystore.write_text(f"{e2e.DEMO_ACCESS_KEY_ID} {e2e.DEMO_SECRET_ACCESS_KEY}\n")
    keystore.chmod(0o600)
    e2e.run([e2e.BIN, "verify", "--keystore", keystore, "--endpoint", f"{RDS_HOST}:5432", "--region",
             "us-east-1", "--user", "app"], input=token, check=True)


def client_env(home: Path, faketime: bool, **extra: str) -> dict[str, str]:
    env = e2e.demo_env(AWS_REGION="us-east-1", HOME=str(home), XDG_CACHE_HOME=str(home / "cache"),
                       PGPASSFILE=str(home / "no-pgpass"), **extra)
    for name in [n for n in env if n.startswith(("PG", "MYSQL", "MARIADB")) and n != "PGPASSFILE"]:
        del env[name]
    if faketime:
        # Only the wall clock moves (what a token's validity and the cache's expiry are measured
        # in): a monotonic clock jumping 16 minutes makes the drivers' own timers (pool
        # maintenance, thread joins) misfire, which is not what this test is about.
        env.update(LD_PRELOAD=LIBFAKETIME, FAKETIME_TIMESTAMP_FILE=str(FAKETIME_FILE), FAKETIME_NO_CACHE="1",
                   FAKETIME_DONT_FAKE_MONOTONIC="1")
    return env


class Client:
    """client.py SCENARIO in the venv; reads its JSON lines, releases it step by step."""

    def __init__(self, venv: Path, scenario: str, cfg: dict, env: dict[str, str]):
        env = dict(env, IAM_PKG_TEST=json.dumps(cfg))
        self.proc = subprocess.Popen([venv / "bin/python", CLIENT, scenario], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)

    def line(self, timeout: float = 60) -> dict:
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            self.proc.kill()
            pytest.fail(f"no answer from the client in {timeout} s; stderr: {self.proc.stderr.read()[-3000:]}")
        text = self.proc.stdout.readline()
        if not text:
            self.proc.wait(timeout=10)
            pytest.fail(f"client exited {self.proc.returncode}; stderr: {self.proc.stderr.read()[-3000:]}")
        return json.loads(text)

    def next(self) -> None:
        self.proc.stdin.write("next\n")
        self.proc.stdin.flush()

    def finish(self) -> int:
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def standin_cfg(engine: str, standin) -> dict:
    if engine == "pg":
        return {"engine": "pg", "port": int(standin["IAM_STANDIN_PG_PORT"]), "rds_host": RDS_HOST,
                "signing_port": int(standin["IAM_STANDIN_PG_RDS_PORT"]), "user": standin["IAM_STANDIN_PG_USER"],
                "database": standin["IAM_STANDIN_PG_DATABASE"], "ca": standin["IAM_STANDIN_PG_CA"]}
    return {"engine": "mysql", "port": int(standin["IAM_STANDIN_MARIADB_PORT"]), "rds_host": RDS_HOST,
            "signing_port": int(standin["IAM_STANDIN_MARIADB_RDS_PORT"]),
            "user": standin["IAM_STANDIN_MARIADB_SSL_USER"], "database": standin["IAM_STANDIN_MARIADB_DATABASE"],
            "ca": standin["IAM_STANDIN_MARIADB_CA"]}


def plugin_env(cfg: dict) -> dict[str, str]:
    return {"IAM_DB_AUTH_SIGNING_HOST": cfg["rds_host"], "IAM_DB_AUTH_SIGNING_PORT": str(cfg["signing_port"])}


@pytest.fixture
def clock():
    FAKETIME_FILE.write_text("+0\n")
    yield FAKETIME_FILE
    FAKETIME_FILE.write_text("+0\n")


@pytest.mark.parametrize("scenario", PG_SCENARIOS + MY_SCENARIOS)
def test_pool_keeps_logging_in_after_the_first_token_expired(request, scenario, venv, clock, tmp_path):
    engine = "pg" if scenario in PG_SCENARIOS else "mysql"
    standin = request.getfixturevalue("postgres" if engine == "pg" else "mariadb")
    cfg = standin_cfg(engine, standin)
    extra = plugin_env(cfg) if scenario in PLUGIN_SCENARIOS else {}
    client = Client(venv, scenario, cfg, client_env(tmp_path, faketime=True, **extra))
    first = client.line()
    assert "error" not in first, first
    clock.write_text("+16m\n")
    client.next()
    second = client.line()
    assert "error" not in second, second
    client.next()
    assert client.finish() == 0
    assert first["user"].split("@")[0] == second["user"].split("@")[0] == cfg["user"]
    assert first["id"] != second["id"], "the second connection must be a new login"


def test_a_token_signed_before_the_clock_moved_is_refused_after(postgres, venv, clock, tmp_path):
    """The check above can fail: a client whose clock did not move signs at the old time, and
    the verifier, 16 minutes on, refuses that token."""
    cfg = standin_cfg("pg", postgres)
    client = Client(venv, "psycopg2-pool", cfg, client_env(tmp_path, faketime=False))
    assert "error" not in client.line()
    clock.write_text("+16m\n")
    client.next()
    second = client.line()
    assert second.get("error"), second
    client.finish()


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    """Certs' self-signed certificate (the attacker's), and a leaf its private CA signed for the
    RDS name and 127.0.0.1 (the server a client was told to trust)."""
    certs = Certs(tmp_path_factory.mktemp("certs"), RDS_HOST)
    (certs.dir / "rds_leaf.ext").write_text(
        f"subjectAltName=DNS:{RDS_HOST},IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "rds_leaf.key", "-out", "rds_leaf.csr",
            "-subj", f"/CN={RDS_HOST}", cwd=certs.dir)
    openssl("x509", "-req", "-in", "rds_leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "3", "-extfile", "rds_leaf.ext", "-out", "rds_leaf.pem", cwd=certs.dir)
    return certs


@pytest.mark.parametrize("trusted", [False, True], ids=["default-ca", "told-to-trust-it"])
@pytest.mark.parametrize("scenario", PG_SCENARIOS + MY_SCENARIOS)
def test_fake_server_with_a_self_signed_certificate_gets_no_token(scenario, trusted, venv, certs, tmp_path):
    engine = "pg" if scenario in PG_SCENARIOS else "mysql"
    server = (FakePostgres if engine == "pg" else FakeMysql)(*certs.pair("rds_leaf" if trusted else "self_signed"))
    try:
        cfg = {"engine": engine, "port": server.port, "rds_host": RDS_HOST,
               "signing_port": 5432 if engine == "pg" else 3306, "user": "app", "database": "app",
               "ca": str(certs.dir / "ca.pem") if trusted else None, "pool_timeout": 3}
        extra = plugin_env(cfg) if scenario in PLUGIN_SCENARIOS else {}
        client = Client(venv, scenario, cfg, client_env(tmp_path, faketime=False, **extra))
        result = client.line()
        client.finish()
        assert server.tls_connections >= 1, "the client never reached the TLS handshake"
        if trusted:
            assert server.got_token(), f"a trusting client should have sent its token: {result}"
        else:
            assert "error" in result, result
            assert not server.got_token(), "a token was sent to an unverified server"
    finally:
        server.close()
