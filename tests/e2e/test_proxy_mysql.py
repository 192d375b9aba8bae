"""`iam-db-auth proxy --engine mysql` with real clients against the MariaDB stand-in, no password
given anywhere: the proxy logs in upstream over verified TLS with a fresh token.

Fast: the mariadb CLI and PyMySQL log in; the upstream being down arrives as an ERR packet with
the reason.
Deep (`-m deep`): mysql-connector-python (pure Python) with COM_CHANGE_USER, node mysql2, PHP
PDO_mysql, MariaDB Connector/J, long tokens (session credentials), a pool that keeps logging in
after its first token expired (libfaketime moves the clocks of the proxy and of the verifier),
and the other failures: a server with a certificate nobody vouches for gets no token, no
credentials, a token the server refuses, a user off the allow list, a user that is not an IAM
user.

The local leg is plain TCP on loopback (the proxy does not offer TLS without a certificate), so
clients connect with TLS off there (--skip-ssl, ssl_disabled); the cipher in the answers is the
upstream session's, read from the server.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import subprocess
import threading
from pathlib import Path

import pytest
import proxy_support
from conftest import ROOT, WORK, StandIn, _standin_env, aws_env, random_text, run, temporary_key
from mysql_support import DEMO, REGION, admin_sql, port
from proxy_support import Proxy

CLIENTS = ROOT / "tests/e2e/clients"
VENV_PYTHON = ROOT / ".venv/bin/python"
CONNECTOR_J = Path("/usr/share/java/mariadb-java-client.jar")
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
# Who the session is and whether the upstream leg is TLS: "<CURRENT_USER()> <cipher>".
WHO_SQL = ("SELECT CONCAT(CURRENT_USER(), ' ', VARIABLE_VALUE) FROM information_schema.SESSION_STATUS "
           "WHERE VARIABLE_NAME = 'Ssl_cipher'")
USER = "iam_user"
DB = "iam_test"


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def start_proxy(mariadb: StandIn):
    """start_proxy(env=..., target=..., extra=[...], faketime_file=...) -> a running
    `iam-db-auth proxy --engine mysql` on 127.0.0.1 (a port the kernel picks), stopped at the
    end; its log must never hold a token."""
    started: list[Proxy] = []

    def start(env: dict[str, str] | None = None, target: str | None = None,
              extra: tuple[str, ...] = (), faketime_file: Path | None = None) -> Proxy:
        env = dict(env if env is not None else DEMO.env())
        if faketime_file:
            # Wall-clock time only: the token's age is wall-clock time; the proxy's timeouts
            # run on the monotonic clock, which a jump of 16 minutes would expire at once.
            env.update(LD_PRELOAD=str(LIBFAKETIME), FAKETIME_TIMESTAMP_FILE=str(faketime_file),
                       FAKETIME_NO_CACHE="1", FAKETIME_DONT_FAKE_MONOTONIC="1")
        proxy = proxy_support.start(
            "--engine", "mysql", "--listen", "127.0.0.1:0",
            "--target", target or f"127.0.0.1:{port(mariadb)}",
            "--signing-host", mariadb["IAM_STANDIN_MARIADB_RDS_HOST"],
            "--signing-port", mariadb["IAM_STANDIN_MARIADB_RDS_PORT"], "--region", REGION,
            "--ca", mariadb["IAM_STANDIN_MARIADB_CA"], *extra, env=env)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        if proxy.process.poll() is None:
            proxy.stop()
        text = proxy.log()
        assert "X-Amz-Signature" not in text and "X-Amz-Security-Token" not in text, \
            "a token in the proxy's log"


@pytest.fixture
def proxy(start_proxy) -> Proxy:
    return start_proxy()


def cli(proxy: Proxy, user: str = USER, sql: str = WHO_SQL, db: str = DB) -> subprocess.CompletedProcess:
    """The stock mariadb CLI through the proxy: no password, no AWS settings, TLS off locally."""
    return run(["mariadb", "--no-defaults", "--skip-ssl", "-h", "127.0.0.1", "-P", str(proxy.port),
                "-u", user, "-D", db, "-N", "-B", "-e", sql], env=aws_env())


def assert_logged_in(result: subprocess.CompletedProcess, user: str = USER) -> None:
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr.strip()[-1500:]}"
    who, _, cipher = result.stdout.strip().partition(" ")
    assert who == f"{user}@%", result.stdout
    assert cipher.startswith("TLS_"), f"the upstream leg is not TLS: {result.stdout!r}"


def assert_refused(result: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """The CLI shows the proxy's (or the server's) ERR packet: `ERROR code (state): message`."""
    assert result.returncode != 0, result.stdout
    err = result.stderr.strip()
    assert f"ERROR {code} " in err, err
    for word in words:
        assert word in err, f"{word!r} not in {err!r}"
    return err


def python(code: str, *args: str) -> subprocess.CompletedProcess:
    return run([VENV_PYTHON, "-c", code, *args], env=aws_env())


PYMYSQL = """
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user=sys.argv[2], database=sys.argv[3],
                    connect_timeout=20)
with c.cursor() as cur:
    cur.execute(sys.argv[4])
    print(cur.fetchone()[0])
c.close()
"""


# --- fast ---------------------------------------------------------------------------------------


def test_mariadb_cli_logs_in_with_no_password(proxy: Proxy) -> None:
    assert_logged_in(cli(proxy))
    line = proxy.wait_for_log(r"session .*outcome=ok")
    assert f'user="{USER}"' in line and f'database="{DB}"' in line, line


def test_pymysql_logs_in_with_no_password(proxy: Proxy) -> None:
    r = python(PYMYSQL, str(proxy.port), USER, DB, WHO_SQL)
    assert r.returncode == 0, r.stderr[-1500:]
    assert_logged_in(r)


def test_upstream_down_is_an_err_packet_with_the_reason(start_proxy) -> None:
    dead = closed_port()
    proxy = start_proxy(target=f"127.0.0.1:{dead}")
    assert_refused(cli(proxy), 1429, "iam-db-auth proxy", f"cannot connect to 127.0.0.1:{dead}")


# --- deep: failures ------------------------------------------------------------------------------


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / "fake.pem", tmp_path / "fake.key"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}", "-keyout", key, "-out", cert],
        check=True)
    return cert, key


def greeting_with_tls() -> bytes:
    """A MariaDB-like HandshakeV10 offering TLS, protocol 4.1, plugins and long auth data."""
    caps = (0x200 | 0x8000 | 0x80000 | 0x200000 | 0x800 | 0x8 | 0x100000)
    payload = (b"\x0a" + b"5.5.5-10.11.6-MariaDB\0" + struct.pack("<I", 1) + b"abcdefgh\0"
               + struct.pack("<H", caps & 0xFFFF) + b"\x2d" + struct.pack("<H", 2)
               + struct.pack("<H", caps >> 16) + b"\x15" + b"\0" * 10 + b"ijklmnopqrst\0"
               + b"mysql_native_password\0")
    return struct.pack("<I", len(payload))[:3] + b"\0" + payload


@pytest.mark.deep
def test_a_server_with_an_unvouched_certificate_gets_no_token(mariadb: StandIn, start_proxy,
                                                             tmp_path: Path) -> None:
    """A fake server greets, takes the SSLRequest and shows a self-signed certificate for the
    right name: the proxy refuses the handshake (ERR 1429, TLS in the reason), and nothing but the
    SSLRequest and the handshake reaches the server."""
    cert, key = self_signed(tmp_path, mariadb["IAM_STANDIN_MARIADB_RDS_HOST"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, object] = {}

    def fake_server() -> None:
        # Every connection is greeted (the proxy's readiness probe opens one too); the first that
        # sends an SSLRequest is the client's login.
        listener.settimeout(30)
        while "request" not in seen:
            conn, _ = listener.accept()
            conn.settimeout(30)
            try:
                conn.sendall(greeting_with_tls())
                header = conn.recv(4, socket.MSG_WAITALL)
                if len(header) < 4:
                    continue
                seen["request"] = header + conn.recv(header[0], socket.MSG_WAITALL)
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
    err = assert_refused(cli(proxy), 1429, "TLS")
    thread.join(30)
    listener.close()
    request = seen["request"]
    assert len(request) == 36 and request[3] == 1, request  # the SSLRequest, sequence id 1
    assert struct.unpack("<I", request[4:8])[0] & 0x800, "the SSLRequest without CLIENT_SSL"
    assert "data" not in seen and "handshake" in seen, seen
    assert "X-Amz" not in err


@pytest.mark.deep
def test_no_credentials_is_refused_with_the_reason(start_proxy) -> None:
    proxy = start_proxy(env=aws_env(AWS_REGION=REGION))
    err = assert_refused(cli(proxy), 1045, "no token for user 'iam_user'")
    assert "credential" in err.lower(), err


@pytest.mark.deep
def test_a_token_the_server_refuses_is_the_servers_own_err(start_proxy) -> None:
    # Keys the verifier does not know: the server refuses the token, the client gets its ERR.
    unknown = aws_env(AWS_ACCESS_KEY_ID="AKIAE2EUNKNOWN000001", AWS_SECRET_ACCESS_KEY=random_text(40),
                      AWS_REGION=REGION)
    proxy = start_proxy(env=unknown)
    assert_refused(cli(proxy), 1045, "Access denied for user 'iam_user'")


@pytest.mark.deep
def test_a_user_off_the_allow_list_is_refused(start_proxy) -> None:
    proxy = start_proxy(extra=("--user-allow", "iam_ssl_user"))
    assert_refused(cli(proxy), 1045, "'iam_user' is not allowed")
    assert_logged_in(cli(proxy, user="iam_ssl_user"), "iam_ssl_user")


@pytest.mark.deep
def test_a_user_that_is_not_an_iam_user_is_refused_clearly(mariadb: StandIn, proxy: Proxy) -> None:
    admin_sql(mariadb, "CREATE USER IF NOT EXISTS 'proxy_native'@'%' IDENTIFIED BY 'not-iam-9f3';"
                       "GRANT USAGE ON *.* TO 'proxy_native'@'%'")
    assert_refused(cli(proxy, user="proxy_native", db=""), 1045, "not an IAM user",
                   "mysql_native_password")


# --- deep: every other client -------------------------------------------------------------------


CONNECTOR_PYTHON = """
import sys, mysql.connector
port = int(sys.argv[1])
c = mysql.connector.connect(host="127.0.0.1", port=port, user="iam_user", database="iam_test",
                            use_pure=True, ssl_disabled=True, connection_timeout=20)
cur = c.cursor()
cur.execute(sys.argv[2]); print(cur.fetchone()[0])
c.cmd_change_user(username="iam_ssl_user", database="iam_test")
cur = c.cursor()
cur.execute(sys.argv[2]); print(cur.fetchone()[0])
try:
    c.cmd_change_user(username=sys.argv[3], database="iam_test")
    print("changed")
except mysql.connector.Error as e:
    print("refused", e.errno, e.msg)
"""


@pytest.mark.deep
def test_mysql_connector_python_and_change_user(start_proxy) -> None:
    """COM_CHANGE_USER logs in again upstream with a token for the new user; a user off the
    allow list is refused with the reason (and the session ends)."""
    proxy = start_proxy(extra=("--user-allow", "iam_user", "--user-allow", "iam_ssl_user"))
    r = python(CONNECTOR_PYTHON, str(proxy.port), WHO_SQL, "proxy_nobody")
    assert r.returncode == 0, r.stderr[-1500:]
    first, second, third = r.stdout.strip().splitlines()
    assert first.startswith("iam_user@% TLS_"), r.stdout
    assert second.startswith("iam_ssl_user@% TLS_"), r.stdout
    assert third.startswith("refused 1045") and "'proxy_nobody' is not allowed" in third, r.stdout


@pytest.fixture(scope="session")
def node_mysql() -> Path:
    """tests/e2e/clients/node-mysql with its locked dependencies (npm ci)."""
    here = CLIENTS / "node-mysql"
    if not (here / "node_modules/mysql2").exists():
        r = run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=here, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
    return here / "login.js"


@pytest.mark.deep
def test_node_mysql2(proxy: Proxy, node_mysql: Path) -> None:
    assert_logged_in(run(["node", node_mysql, "127.0.0.1", str(proxy.port), USER, DB], env=aws_env()))


@pytest.mark.deep
def test_php_pdo_mysql(proxy: Proxy) -> None:
    code = ("$p = new PDO('mysql:host=127.0.0.1;port=' . $argv[1] . ';dbname=iam_test', 'iam_user', null);"
            "echo $p->query($argv[2])->fetchColumn(), \"\\n\";")
    assert_logged_in(run(["php", "-r", code, str(proxy.port), WHO_SQL], env=aws_env()))


JAVA_LOGIN = """
import java.sql.*;
public class MariaLogin {
    public static void main(String[] args) throws Exception {
        try (Connection conn = DriverManager.getConnection(args[0]);
             Statement st = conn.createStatement();
             ResultSet rs = st.executeQuery(args[1])) {
            rs.next();
            System.out.println(rs.getString(1));
        } catch (SQLException e) {
            System.err.println("connector/j: " + e.getErrorCode() + " " + e.getMessage());
            System.exit(1);
        }
    }
}
"""


@pytest.mark.deep
def test_mariadb_connector_j(proxy: Proxy, tmp_path: Path) -> None:
    assert CONNECTOR_J.exists(), "MariaDB Connector/J is missing: apt-get install libmariadb-java"
    source = tmp_path / "MariaLogin.java"
    source.write_text(JAVA_LOGIN)
    url = f"jdbc:mariadb://127.0.0.1:{proxy.port}/{DB}?user={USER}"
    assert_logged_in(run(["java", "-cp", CONNECTOR_J, source, url, WHO_SQL], env=aws_env(), timeout=120))


@pytest.mark.deep
def test_long_tokens_from_session_credentials(mariadb: StandIn, start_proxy) -> None:
    """A session token of 2,000 characters makes a token of about 2,500 bytes: longer than the
    255 bytes of a plain auth response, so it must travel as length-encoded data."""
    with temporary_key(mariadb, session_token=random_text(2000)) as key:
        proxy = start_proxy(env=key.env(AWS_REGION=REGION))
        assert_logged_in(cli(proxy))
        r = python(PYMYSQL, str(proxy.port), USER, DB, WHO_SQL)
        assert_logged_in(r)


@pytest.fixture
def faketime_mariadb():
    """A second MariaDB stand-in whose verifier reads its clock offset from a file."""
    assert LIBFAKETIME.exists(), "libfaketime is missing: apt-get install libfaketime"
    standin_port = str(int(os.environ.get("IAM_STANDIN_MARIADB_PORT", "13316")) + 7)
    # Where the verifier (run by the server) can read it: not under tmp_path.
    clock = Path(WORK) / f"faketime-{standin_port}"
    clock.write_text("+0\n")
    clock.chmod(0o644)
    env = aws_env(IAM_STANDIN_MARIADB_PORT=standin_port, IAM_STANDIN_FAKETIME_FILE=str(clock))
    script = ROOT / "scripts/standin/mariadb.sh"
    run(["bash", script, "start"], env=env, timeout=300, check=True)
    try:
        yield StandIn("mariadb", _standin_env(script, env)), clock
    finally:
        run(["bash", script, "stop"], env=env, timeout=120)


@pytest.mark.deep
def test_a_pool_keeps_logging_in_after_its_first_token_expired(faketime_mariadb, start_proxy) -> None:
    """The proxy (token cache on) and the verifier read one libfaketime file and move 16 minutes
    on between logins: each login still works, so the proxy signed a new token once its cached
    one had expired (the verifier refuses a token older than 15 minutes)."""
    fdb, clock = faketime_mariadb
    proxy = start_proxy(target=f"127.0.0.1:{port(fdb)}", faketime_file=clock)
    for offset in ("+0", "+16m", "+32m"):
        clock.write_text(offset + "\n")
        for _ in range(2):
            r = python(PYMYSQL, str(proxy.port), USER, DB, WHO_SQL)
            assert r.returncode == 0, f"login at {offset}: {r.stderr[-1500:]}"
            assert_logged_in(r)


# --- deep: TLS and local authentication on the client leg ---------------------------------------


@pytest.mark.deep
def test_client_tls_and_local_passwords(start_proxy, tmp_path: Path) -> None:
    """With --tls-cert/--tls-key the proxy offers TLS to its clients (SSLRequest, then the
    handshake response inside TLS); with --local-auth a client proves its local password
    (mysql_native_password against the greeting's nonce) before the proxy logs in for it."""
    cert, key = tmp_path / "local.pem", tmp_path / "local.key"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert], check=True)
    key.chmod(0o600)
    passwords = tmp_path / "local-users"
    passwords.write_text("iam_user:local-pw-7Q\n")
    passwords.chmod(0o600)
    proxy = start_proxy(extra=("--tls-cert", str(cert), "--tls-key", str(key), "--local-auth", str(passwords)))
    tls = ["mariadb", "--no-defaults", "--ssl", f"--ssl-ca={cert}", "--ssl-verify-server-cert", "-h", "127.0.0.1",
           "-P", str(proxy.port), "-u", USER, "-D", DB, "-N", "-B"]
    ok = run([*tls, "-e", "SELECT CONCAT(CURRENT_USER(), ' ', @@version)"],
             env=aws_env(MYSQL_PWD="local-pw-7Q"))
    assert ok.returncode == 0 and ok.stdout.startswith(f"{USER}@% "), ok.stderr
    # The local leg is TLS: the client sees the proxy's cipher.
    status = run([*tls, "-e", "\\s"], env=aws_env(MYSQL_PWD="local-pw-7Q"))
    assert "Cipher in use is TLS" in status.stdout, status.stdout + status.stderr
    wrong = run([*tls, "-e", "SELECT 1"], env=aws_env(MYSQL_PWD="not-it"))
    assert_refused(wrong, 1045, "local authentication failed for user 'iam_user'")
    none = run([*tls, "-e", "SELECT 1"], env=aws_env())
    assert_refused(none, 1045, "local authentication failed")
    code = """
import sys, pymysql
c = pymysql.connect(host="127.0.0.1", port=int(sys.argv[1]), user="iam_user", password=sys.argv[2],
                    database="iam_test", ssl={"ca": sys.argv[3]}, connect_timeout=20)
with c.cursor() as cur:
    cur.execute(sys.argv[4]); print(cur.fetchone()[0])
"""
    assert_logged_in(python(code, str(proxy.port), "local-pw-7Q", str(cert), WHO_SQL))
