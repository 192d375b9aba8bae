"""`iam-db-auth proxy --engine postgres` with real clients against the PostgreSQL stand-in, no
password given anywhere: the proxy logs in upstream over verified TLS with a fresh token.

Fast: psql and psycopg log in, a running query is cancelled through the proxy, local SCRAM over
client TLS (--local-auth), and the failures a client must be shown (upstream down, a server with a certificate nobody vouches for, no
credentials, a token the server refuses) arrive as FATAL ErrorResponses with their SQLSTATE.
Deep (`-m deep`): pg_dump, pgbench, asyncpg, pg8000, pgjdbc, node-postgres, PgBouncer in front of
the proxy, long tokens (session credentials), a pool that keeps logging in after its first token
expired (libfaketime moves the clocks of the proxy and of the verifier), psql's own cancel.

The local leg is plain TCP on loopback (the proxy declines SSLRequest without a certificate), so
clients use sslmode=disable / ssl=False there; `ssl` in the answers is the upstream session's.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

import proxy_support
import pytest
from conftest import BIN, ROOT, WORK, random_text, run, temporary_key, wait_until
from pg_support import PROBE_ROW, VENV_PYTHON, WHO, Pg, assert_stdout, libpq_env, psql_login

pytest_plugins = ["pg_support"]

CLIENTS = ROOT / "tests/e2e/clients"
PG_JAR = Path("/usr/share/java/postgresql.jar")
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


def free_port() -> int:
    """A port nothing listens on (for an upstream that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def conninfo(p: proxy_support.Proxy, pg: Pg, user: str | None = None) -> str:
    """A libpq connection string to the proxy: no password, plain TCP on loopback."""
    return f"host={p.host} port={p.port} dbname={pg.db} user={user or pg.user} sslmode=disable"


@pytest.fixture
def start_proxy(pg: Pg):
    """start_proxy(env=..., target=..., extra=[...], faketime_file=...) -> a running proxy
    (tests/e2e/proxy_support.py), stopped at the end; its log must never hold a token."""
    started: list[proxy_support.Proxy] = []

    def start(env: dict[str, str] | None = None, target: str | None = None,
              extra: tuple[str, ...] = (), faketime_file: Path | None = None):
        env = dict(env if env is not None else pg.env())
        if faketime_file:
            env.update(LD_PRELOAD=str(LIBFAKETIME), FAKETIME_TIMESTAMP_FILE=str(faketime_file),
                       FAKETIME_NO_CACHE="1")
        p = proxy_support.start(
            "--engine", "postgres", "--listen", "127.0.0.1:0",
            "--target", target or f"127.0.0.1:{pg.port}", "--signing-host", pg.rds_host,
            "--signing-port", "5432", "--region", pg.region, "--ca", pg.ca, *extra, env=env)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()
        text = p.log()
        assert "X-Amz-Signature" not in text and "X-Amz-Security-Token" not in text, \
            "a token in the proxy's log"


@pytest.fixture
def proxy(start_proxy):
    return start_proxy()


def raw_login(port: int, user: str, dbname: str) -> tuple[list[str], dict[str, str]]:
    """A StartupMessage by hand: the tags of the proxy's answer and the ErrorResponse's fields
    (S, C, M, ...), read until the proxy closes (what every client gets, before its driver
    formats it)."""
    body = struct.pack("!i", 196608) + b"".join(
        k.encode() + b"\0" + v.encode() + b"\0" for k, v in (("user", user), ("database", dbname))
    ) + b"\0"
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(struct.pack("!i", len(body) + 4) + body)
        while chunk := s.recv(65536):
            data += chunk
    tags, fields = [], {}
    while len(data) >= 5:
        tag, length = data[0:1].decode(), struct.unpack("!i", data[1:5])[0]
        payload, data = data[5:1 + length], data[1 + length:]
        tags.append(tag)
        if tag == "E":
            for part in payload.split(b"\0"):
                if part:
                    fields[part[0:1].decode()] = part[1:].decode(errors="replace")
    return tags, fields


def assert_fatal(port: int, pg: Pg, sqlstate: str, *words: str) -> str:
    """A client gets exactly one FATAL ErrorResponse with `sqlstate`, its message holding
    `words`; psql shows the same message. Returns the message."""
    tags, fields = raw_login(port, pg.user, pg.db)
    assert tags == ["E"], f"answer {tags} {fields}"
    assert fields.get("S") == "FATAL" and fields.get("C") == sqlstate, fields
    for word in words:
        assert word in fields["M"], fields
    r = psql_login(f"host=127.0.0.1 port={port} user={pg.user} dbname={pg.db} sslmode=disable",
                   libpq_env())
    assert r.returncode == 2 and f"FATAL:  {fields['M'][:60]}" in r.stderr, r.stderr
    return fields["M"]


# --- fast ---------------------------------------------------------------------------------------


def test_psql_logs_in_with_no_password(pg: Pg, proxy) -> None:
    assert_stdout(psql_login(conninfo(proxy, pg), libpq_env()), f"{pg.user} true")
    line = proxy.wait_for_log("session ")
    assert "outcome=ok" in line and f'user="{pg.user}"' in line, line


def test_psycopg_logs_in_and_cancels_a_running_query(pg: Pg, proxy) -> None:
    import psycopg

    with psycopg.connect(conninfo(proxy, pg), connect_timeout=20, autocommit=True) as conn:
        assert conn.execute(WHO).fetchone()[0] == f"{pg.user} true"
        # The client sees the proxy's key, not the server's.
        assert conn.info.backend_pid != conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        timer = threading.Timer(1.0, conn.cancel)
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(30)")
        timer.join()
        assert time.monotonic() - started < 15
        # The session goes on after the cancel.
        assert conn.execute("SELECT 41 + 1").fetchone()[0] == 42


def test_upstream_down_is_08006(pg: Pg, start_proxy) -> None:
    proxy = start_proxy(target=f"127.0.0.1:{free_port()}")
    assert_fatal(proxy.port, pg, "08006", "cannot connect")


def test_no_credentials_is_refused_with_the_reason(pg: Pg, start_proxy) -> None:
    proxy = start_proxy(env=pg.no_credentials_env())
    message = assert_fatal(proxy.port, pg, "28P01", "no token for user")
    assert "credential" in message.lower(), message


def test_a_token_the_server_refuses_is_28000(pg: Pg, start_proxy) -> None:
    # Keys the verifier does not know: the server refuses the token.
    unknown = pg.no_credentials_env(AWS_ACCESS_KEY_ID="AKIAE2EUNKNOWN000001",
                                    AWS_SECRET_ACCESS_KEY=random_text(40))
    proxy = start_proxy(env=unknown)
    assert_fatal(proxy.port, pg, "28000", "refused the IAM token", "authentication failed")


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / "fake.pem", tmp_path / "fake.key"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}", "-keyout", key, "-out", cert],
        check=True)
    return cert, key


def test_a_server_with_an_unvouched_certificate_gets_no_token(pg: Pg, start_proxy,
                                                             tmp_path: Path) -> None:
    """A fake server answers 'S' with a self-signed certificate for the right name: the proxy
    refuses the handshake (08006), and nothing but the SSLRequest and the handshake reaches it."""
    cert, key = self_signed(tmp_path, pg.rds_host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, object] = {}

    def fake_server() -> None:
        listener.settimeout(30)
        conn, _ = listener.accept()
        conn.settimeout(30)
        seen["request"] = conn.recv(8)
        conn.sendall(b"S")
        try:
            tls = context.wrap_socket(conn, server_side=True)
            seen["data"] = tls.recv(65536)
        except (ssl.SSLError, OSError) as e:
            seen["handshake"] = str(e)
        finally:
            conn.close()

    thread = threading.Thread(target=fake_server, daemon=True)
    thread.start()
    proxy = start_proxy(target=f"127.0.0.1:{listener.getsockname()[1]}")
    tags, fields = raw_login(proxy.port, pg.user, pg.db)
    thread.join(30)
    listener.close()
    assert tags == ["E"] and fields["C"] == "08006" and "TLS" in fields["M"], fields
    assert seen["request"] == struct.pack("!ii", 8, 80877103)
    assert "data" not in seen and "handshake" in seen, seen


@pytest.mark.parametrize("method,request_body", [
    ("SCRAM", struct.pack("!i", 10) + b"SCRAM-SHA-256\0\0"),
    ("MD5", struct.pack("!i", 5) + b"salt"),
])
def test_a_user_that_is_not_an_iam_user_is_refused(pg: Pg, start_proxy, method: str,
                                                     request_body: bytes) -> None:
    """A server (TLS with the stand-in's certificate) that asks for SCRAM or MD5 instead of a
    cleartext password: the client gets 28000 naming the method, the server gets no answer."""
    tls = Path(pg.ca).parent
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls / "server.pem", tls / "server.key")
    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, bytes] = {}

    def asking_server() -> None:
        listener.settimeout(30)
        conn, _ = listener.accept()
        conn.settimeout(30)
        conn.recv(8)
        conn.sendall(b"S")
        with context.wrap_socket(conn, server_side=True) as t:
            length = struct.unpack("!i", t.recv(4))[0]
            t.recv(length - 4)
            t.sendall(b"R" + struct.pack("!i", 4 + len(request_body)) + request_body)
            answer = b""
            while chunk := t.recv(65536):
                answer += chunk
            seen["answer"] = answer

    thread = threading.Thread(target=asking_server, daemon=True)
    thread.start()
    proxy = start_proxy(target=f"127.0.0.1:{listener.getsockname()[1]}")
    tags, fields = raw_login(proxy.port, pg.user, pg.db)
    thread.join(30)
    listener.close()
    assert tags == ["E"] and fields["C"] == "28000", fields
    assert f"asked for {method} authentication" in fields["M"] and "not an IAM user" in fields["M"]
    assert seen.get("answer") == b"", f"the proxy answered the server: {seen}"


def test_local_scram_over_client_tls(pg: Pg, start_proxy, tmp_path: Path) -> None:
    """With --local-auth the client proves a local password by SCRAM-SHA-256 (over the proxy's
    client TLS here); the password never goes upstream, the token does."""
    users = tmp_path / "local-users"
    users.write_text(f"{pg.user}:local secret\n")
    users.chmod(0o600)
    tls = Path(pg.ca).parent
    proxy = start_proxy(extra=("--local-auth", str(users), "--tls-cert", str(tls / "server.pem"),
                               "--tls-key", str(tls / "server.key")))
    secure = (f"host=localhost hostaddr=127.0.0.1 port={proxy.port} dbname={pg.db} user={pg.user} "
              f"sslmode=verify-full sslrootcert={pg.ca}")
    r = psql_login(secure, libpq_env(PGPASSWORD="local secret", PGCHANNELBINDING="prefer"))
    assert_stdout(r, f"{pg.user} true")
    r = psql_login(secure, libpq_env(PGPASSWORD="wrong"))
    assert r.returncode == 2 and "password authentication failed" in r.stderr, r.stderr
    # Without a password libpq cannot answer SCRAM: refused before the upstream is contacted.
    r = psql_login(secure, libpq_env())
    assert r.returncode == 2, r.stdout + r.stderr


# --- deep: every other client -------------------------------------------------------------------


@pytest.mark.deep
def test_pg_dump(pg: Pg, proxy, probe_table: None) -> None:
    r = run(["pg_dump", f"--dbname={conninfo(proxy, pg)}", "--table=pgpass_probe", "--data-only",
             "--inserts"], env=libpq_env())
    assert PROBE_ROW in r.stdout, r.stderr


@pytest.mark.deep
def test_pgbench(pg: Pg, proxy) -> None:
    to_proxy = conninfo(proxy, pg)
    r = run(["pgbench", "-i", "-s", "1", "-q", to_proxy], env=libpq_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    # -C: a new connection (a new upstream login) for every transaction.
    r = run(["pgbench", "-n", "-S", "-C", "-c", "4", "-t", "10", to_proxy], env=libpq_env(),
            timeout=120)
    assert r.returncode == 0 and "number of transactions actually processed: 40/40" in r.stdout, \
        r.stdout + r.stderr


ASYNCPG = """
import asyncio, sys, asyncpg
async def main():
    conn = await asyncpg.connect(host='127.0.0.1', port=int(sys.argv[1]), user=sys.argv[2],
                                 database=sys.argv[3], ssl=False, timeout=20)
    print(await conn.fetchval(sys.argv[4]))
    await conn.close()
asyncio.run(main())
"""

PG8000 = """
import sys, pg8000.native
conn = pg8000.native.Connection(sys.argv[2], host='127.0.0.1', port=int(sys.argv[1]),
                                database=sys.argv[3], ssl_context=None, timeout=20)
print(conn.run(sys.argv[4])[0][0])
conn.close()
"""


@pytest.mark.deep
@pytest.mark.parametrize("driver", ["asyncpg", "pg8000"])
def test_pure_python_drivers(pg: Pg, proxy, driver: str) -> None:
    code = ASYNCPG if driver == "asyncpg" else PG8000
    r = run([VENV_PYTHON, "-c", code, str(proxy.port), pg.user, pg.db, WHO], env=libpq_env())
    assert_stdout(r, f"{pg.user} true")


@pytest.mark.deep
def test_pgjdbc(pg: Pg, proxy) -> None:
    assert PG_JAR.exists(), "pgjdbc is missing: apt-get install libpostgresql-jdbc-java"
    url = f"jdbc:postgresql://127.0.0.1:{proxy.port}/{pg.db}?user={pg.user}&sslmode=disable"
    r = run(["java", "-cp", PG_JAR, CLIENTS / "java/PgLogin.java", url], env=libpq_env(),
            timeout=120)
    assert_stdout(r, f"{pg.user} true")


@pytest.fixture(scope="session")
def node_pg() -> Path:
    """tests/e2e/clients/node-pg with its locked dependencies (npm ci)."""
    here = CLIENTS / "node-pg"
    if not (here / "node_modules/pg").exists():
        r = run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=here, timeout=300)
        assert r.returncode == 0, r.stderr
    return here / "login.js"


@pytest.mark.deep
def test_node_pg(pg: Pg, proxy, node_pg: Path) -> None:
    r = run(["node", node_pg, "127.0.0.1", str(proxy.port), pg.user, pg.db], env=libpq_env())
    assert_stdout(r, f"{pg.user} true")


@pytest.mark.deep
def test_pgbouncer_in_front_of_the_proxy(pg: Pg, proxy) -> None:
    """PgBouncer (trust on its own leg, as the proxy) pools sessions through the proxy. It
    refuses to run as root: its files go to a directory the postgres user can read."""
    assert shutil.which("pgbouncer"), "pgbouncer is missing: apt-get install pgbouncer"
    here = Path(WORK) / f"pgbouncer-{proxy.port}"
    shutil.rmtree(here, ignore_errors=True)
    here.mkdir(parents=True)
    port = free_port()
    (here / "users.txt").write_text(f'"{pg.user}" ""\n')
    (here / "pgbouncer.ini").write_text(
        f"[databases]\n{pg.db} = host=127.0.0.1 port={proxy.port} dbname={pg.db}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n"
        f"auth_file = {here}/users.txt\npool_mode = transaction\nunix_socket_dir =\n"
        f"logfile = {here}/pgbouncer.log\npidfile = {here}/pgbouncer.pid\n"
        "server_tls_sslmode = disable\nignore_startup_parameters = extra_float_digits\n")
    run(["chown", "-R", "postgres:postgres", here], check=True)
    bouncer = subprocess.Popen(["runuser", "-u", "postgres", "--", "pgbouncer",
                                str(here / "pgbouncer.ini")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        assert wait_until(listening, 20), (here / "pgbouncer.log").read_text(errors="replace")
        to_bouncer = f"host=127.0.0.1 port={port} dbname={pg.db} user={pg.user} sslmode=disable"
        for _ in range(3):
            assert_stdout(psql_login(to_bouncer, libpq_env()), f"{pg.user} true")
    finally:
        os.killpg(bouncer.pid, signal.SIGTERM)
        bouncer.wait(10)


@pytest.mark.deep
def test_long_tokens_from_session_credentials(pg: Pg, start_proxy) -> None:
    with temporary_key(pg.standin, session_token=random_text(900)) as key:
        proxy = start_proxy(env=key.env(AWS_REGION=pg.region))
        assert_stdout(psql_login(conninfo(proxy, pg), libpq_env()), f"{pg.user} true")


@pytest.mark.deep
def test_psql_cancel(pg: Pg, proxy) -> None:
    """psql's own cancel (SIGINT: libpq's PQcancel on a new connection) through the proxy."""
    p = subprocess.Popen(["psql", conninfo(proxy, pg), "-XAt", "-c", "SELECT pg_sleep(30)"],
                         env=libpq_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    started = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert "canceling statement due to user request" in err, out + err
    assert time.monotonic() - started < 15


@pytest.fixture
def faketime_pg():
    """A second PostgreSQL stand-in whose verifier reads its clock offset from a file."""
    assert LIBFAKETIME.exists(), "libfaketime is missing: apt-get install libfaketime"
    port = str(int(os.environ.get("IAM_STANDIN_PG_PORT", "15452")) + 7)
    # Where the server's verifier (run by the postgres user) can read it: not under tmp_path.
    clock = Path(WORK) / f"faketime-{port}"
    clock.write_text("+0\n")
    clock.chmod(0o644)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAM_DB_AUTH_"))}
    env.update(IAM_STANDIN_PG_PORT=port, IAM_STANDIN_FAKETIME_FILE=str(clock))
    script = ROOT / "scripts/standin/postgres.sh"
    run(["bash", script, "start"], env=env, timeout=300, check=True)
    try:
        from conftest import StandIn, _standin_env

        yield Pg(StandIn("postgres", _standin_env(script, env))), clock
    finally:
        run(["bash", script, "stop"], env=env, timeout=120)


@pytest.mark.deep
def test_a_pool_keeps_logging_in_after_its_first_token_expired(faketime_pg, start_proxy) -> None:
    """The proxy and the verifier move 16 minutes ahead between logins (one faketime file): the
    proxy's cached token has expired by then, and it logs in with a new one."""
    fpg, clock = faketime_pg
    proxy = start_proxy(env=fpg.env(), target=f"127.0.0.1:{fpg.port}", faketime_file=clock)
    # The proxy signs for the second stand-in's CA and name (the same as the first's).
    for offset in ("+0", "+16m", "+32m"):
        clock.write_text(offset + "\n")
        for _ in range(2):
            assert_stdout(psql_login(conninfo(proxy, fpg), libpq_env()), f"{fpg.user} true")
