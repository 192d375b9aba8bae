"""The proxy's framework, protocol aside (docs/proxy.md): who may connect, limits, signals,
reloads, the session log, metrics and health checks, bad configuration.

Clients here speak the wire protocol by hand (a PostgreSQL StartupMessage, a MySQL first
packet) so that each check pins the framework's behaviour, not a client library's. The
databases are fakes: a silent TCP server (a login that never finishes, to hold a session
open) and trust_tls_fakes' PostgreSQL server with a self-signed certificate. Every proxy
listens on 127.0.0.1 with a port the kernel picks.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import struct
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import BIN, aws_env, demo_env, have_ipv6_loopback, run
from proxy_support import ProxyExited, proxy, start
from trust_tls_fakes import Certs, FakePostgres

pytest_plugins = ["pg_support"]

RDS_HOST = "proxytest.cluster-abc123.us-east-1.rds.amazonaws.com"
TIMEOUT = 10.0
# Tests that leave a login hanging (the silent database) stop their proxy without waiting for
# it: the drain itself has its own tests.
QUICK_STOP = ("--shutdown-grace", "1s")


# --- Clients by hand ---


def pg_startup(user: str, database: str = "postgres") -> bytes:
    params = b"".join(k + b"\0" + v.encode() + b"\0" for k, v in
                      ((b"user", user), (b"database", database))) + b"\0"
    body = struct.pack("!I", 196608) + params
    return struct.pack("!I", len(body) + 4) + body


def recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {n} bytes: {data!r}")
        data += chunk
    return data


def read_pg_error(sock: socket.socket) -> dict[str, str]:
    """Reads one message that must be an ErrorResponse; its fields by code letter."""
    kind = recv_exact(sock, 1)
    assert kind == b"E", f"expected an ErrorResponse, got {kind!r}{sock.recv(200)!r}"
    (length,) = struct.unpack("!I", recv_exact(sock, 4))
    body = recv_exact(sock, length - 4)
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode()
    return fields


def read_mysql_err(sock: socket.socket) -> tuple[int, str]:
    header = recv_exact(sock, 4)
    length = int.from_bytes(header[:3], "little")
    payload = recv_exact(sock, length)
    assert payload[0] == 0xFF, f"expected an ERR packet, got {payload!r}"
    return int.from_bytes(payload[1:3], "little"), payload[3:].decode()


def connect(p_host: str, port: int) -> socket.socket:
    s = socket.create_connection((p_host, port), timeout=TIMEOUT)
    s.settimeout(TIMEOUT)
    return s


class SilentServer:
    """Accepts TCP connections and never says a word: a login through it never finishes."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                c, _ = self.listener.accept()
                self.conns.append(c)
            except (socket.timeout, OSError):
                continue

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.listener.close()


@pytest.fixture
def silent():
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("proxy-certs"), RDS_HOST)


def http_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def http_port(p) -> int:
    line = p.wait_for_log(r"metrics and health checks on http://")
    return int(re.search(r"http://127\.0\.0\.1:(\d+)/", line).group(1))


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert m, f"{name} not in:\n{text}"
    return float(m.group(1))


# --- Who may connect ---


@pytest.mark.parametrize(
    "extra, words",
    [
        ([], "not loopback"),
        (["--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"], "local authentication"),
    ],
)
def test_a_listener_that_is_not_loopback_is_refused_without_local_auth_and_client_tls(extra, words):
    result = run([BIN, "proxy", "--engine", "postgres", "--listen", "0.0.0.0:0",
                  "--target", f"{RDS_HOST}:5432", *extra], env=demo_env(), timeout=TIMEOUT)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr and "0.0.0.0:0" in result.stderr, result.stderr


def test_a_password_file_others_can_read_is_refused(tmp_path, silent):
    users = tmp_path / "users"
    users.write_text("app:local-secret-1\n")
    users.chmod(0o640)
    with pytest.raises(ProxyExited) as e:
        start("--engine", "postgres", "--listen", "127.0.0.1:0", "--target",
              f"127.0.0.1:{silent.port}", "--signing-host", RDS_HOST, "--local-auth", users)
    assert e.value.returncode == 2
    assert "can be read by others" in e.value.log and "chmod 600" in e.value.log
    assert "local-secret-1" not in e.value.log


@pytest.fixture
def open_dir():
    """A directory every user can reach (pytest's own temporary tree is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="iam-proxy-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    for child in path.iterdir():
        child.unlink()
    path.rmdir()


@pytest.mark.parametrize("mode_flag, mode", [(None, 0o600), ("0660", 0o660)])
def test_a_unix_socket_is_the_owners_only_unless_widened(open_dir, silent, mode_flag, mode):
    extra = ["--socket-mode", mode_flag] if mode_flag else []
    with proxy("postgres", f"127.0.0.1:{silent.port}", "--signing-host", RDS_HOST,
               "--socket-port", "6543", *extra, listen=f"unix:{open_dir}") as p:
        socket_file = open_dir / ".s.PGSQL.6543"
        assert p.listeners[0].socket == str(socket_file)
        st = socket_file.stat()
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == mode
    assert not socket_file.exists(), "the socket file outlived the proxy"


NOBODY_CLIENT = r"""
import socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode("latin-1"))
"""


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_allow_uid_refuses_a_client_running_as_another_user(open_dir, silent, engine):
    listen = f"unix:{open_dir}" if engine == "postgres" else f"unix:{open_dir}/mysql.sock"
    with proxy(engine, f"127.0.0.1:{silent.port}", "--signing-host", RDS_HOST,
               "--socket-mode", "0666", "--allow-uid", str(os.getuid()), *QUICK_STOP,
               listen=listen) as p:
        sock = p.listeners[0].socket
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o666
        result = run(["runuser", "-u", "nobody", "--", "python3", "-c", NOBODY_CLIENT, sock],
                     env=aws_env(), timeout=TIMEOUT)
        assert result.returncode == 0, result.stderr
        nobody = int(run(["id", "-u", "nobody"], check=True).stdout)
        refusal = f"uid {nobody} may not use this proxy"
        # The refusal is the protocol's error, sent before anything else: a FATAL
        # ErrorResponse with SQLSTATE 28000, or an ERR packet 1045 in place of the greeting.
        if engine == "postgres":
            assert result.stdout.startswith("E"), repr(result.stdout)
            assert "C28000\0" in result.stdout and refusal in result.stdout
        else:
            raw = result.stdout.encode("latin-1")
            assert raw[4] == 0xFF and int.from_bytes(raw[5:7], "little") == 1045, raw
            assert raw[7:].decode() == refusal
        line = p.wait_for_log("session ")
        assert f"uid={nobody}" in line and "outcome=refused reason=not_allowed" in line
        # The allowed uid gets past the framework: its session is still in the login (the
        # silent database), not refused.
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(TIMEOUT)
        c.connect(sock)
        if engine == "postgres":
            c.sendall(pg_startup("app"))
        time.sleep(0.3)
        assert len([l for l in p.log_lines() if "session " in l]) == 1, p.log()
        c.close()


@pytest.mark.skipif(not have_ipv6_loopback(), reason="this machine has no ::1")
def test_an_ipv6_loopback_listener_serves(silent):
    with proxy("postgres", f"127.0.0.1:{silent.port}", "--signing-host", RDS_HOST,
               "--user-allow", "app", listen="[::1]:0") as p:
        assert p.address.startswith("[::1]:")
        with socket.create_connection(("::1", p.port), timeout=TIMEOUT) as c:
            c.settimeout(TIMEOUT)
            c.sendall(pg_startup("other"))
            assert read_pg_error(c)["C"] == "28000"
        assert "client=[::1]:" in p.wait_for_log("session ")


def test_user_allow_refusal_reaches_the_client_as_a_protocol_error(silent):
    with proxy("postgres", f"127.0.0.1:{silent.port}", "--signing-host", RDS_HOST,
               "--user-allow", "app,report") as p:
        with connect(p.host, p.port) as c:
            c.sendall(pg_startup("mallory"))
            fields = read_pg_error(c)
        assert fields["S"] == "FATAL" and fields["C"] == "28000", fields
        assert "mallory" in fields["M"], fields
        line = p.wait_for_log("session ")
        assert 'user="mallory"' in line and "reason=not_allowed" in line
        assert not silent.conns, "the proxy went upstream for a user it does not allow"


# --- Limits ---


@pytest.mark.parametrize("engine", ["postgres", "mysql"])
def test_over_the_connection_limit_a_client_gets_its_protocols_error(silent, engine):
    with proxy(engine, f"127.0.0.1:{silent.port}", "--signing-host", RDS_HOST,
               "--max-connections", "1", *QUICK_STOP) as p:
        held = connect(p.host, p.port)  # logs in for ever (the silent database)
        time.sleep(0.3)  # accepted: it holds the one slot
        with connect(p.host, p.port) as c:
            if engine == "postgres":
                fields = read_pg_error(c)
                assert fields["C"] == "53300" and "too many connections" in fields["M"], fields
            else:
                code, message = read_mysql_err(c)
                assert code == 1040 and "too many connections" in message, (code, message)
        line = p.wait_for_log("session ")
        assert "reason=unavailable" in line and "limit is 1" in line
        held.close()


# --- Upstream TLS, metrics, health ---


def test_upstream_tls_failure_gets_no_token_an_error_and_a_count(certs):
    fake = FakePostgres(*certs.pair("self_signed"))
    try:
        with proxy("postgres", f"127.0.0.1:{fake.port}", "--signing-host", RDS_HOST,
                   "--region", "us-east-1", "--http", "127.0.0.1:0") as p:
            port = http_port(p)
            with connect(p.host, p.port) as c:
                c.sendall(pg_startup("app"))
                fields = read_pg_error(c)
            assert fields["C"] == "08006", fields
            assert fake.tls_connections >= 1, "the proxy never tried TLS"
            assert not fake.got_token(), "a token went to a server that did not prove its name"
            line = p.wait_for_log("session ")
            assert "outcome=refused reason=upstream_tls" in line, line
            assert "X-Amz-Signature" not in p.log()
            status, text = http_get(port, "/metrics")
            assert status == 200
            assert metric(text, "iam_db_auth_proxy_upstream_tls_failures_total") == 1
            assert metric(text, 'iam_db_auth_proxy_logins_refused_total{reason="upstream_tls"}') == 1
            assert metric(text, "iam_db_auth_proxy_sessions_total") == 1
            assert metric(text, "iam_db_auth_proxy_sessions_open") == 0
            assert metric(text, "iam_db_auth_proxy_tokens_signed_total") == 0
            assert http_get(port, "/healthz") == (200, "ok\n")
            assert http_get(port, "/readyz") == (200, "ready\n")
            assert http_get(port, "/nothing")[0] == 404
    finally:
        fake.close()


def test_readyz_says_why_when_no_token_can_be_made(silent):
    with proxy("postgres", f"127.0.0.1:{silent.port}", "--signing-host", RDS_HOST,
               "--region", "us-east-1", "--http", "127.0.0.1:0", env=aws_env()) as p:
        port = http_port(p)
        status, body = http_get(port, "/readyz")
        assert status == 503 and "no token can be made" in body, body
        assert http_get(port, "/healthz")[0] == 200


def test_a_metrics_address_that_is_not_loopback_needs_saying_so(silent):
    result = run([BIN, "proxy", "--engine", "postgres", "--listen", "127.0.0.1:0", "--target",
                  f"127.0.0.1:{silent.port}", "--http", "0.0.0.0:0"], env=demo_env(), timeout=TIMEOUT)
    assert result.returncode == 2 and "--http-public" in result.stderr, result.stderr


# --- Signals ---


def test_sigterm_stops_accepting_and_closes_sessions_after_the_grace(silent):
    p = start("--engine", "postgres", "--listen", "127.0.0.1:0", "--target",
              f"127.0.0.1:{silent.port}", "--signing-host", RDS_HOST, "--shutdown-grace", "2s")
    try:
        held = connect(p.host, p.port)
        held.sendall(b"\0")  # a login in progress: it waits for the rest of its startup
        time.sleep(0.2)
        started = time.monotonic()
        p.signal(signal.SIGTERM)
        p.wait_for_log("waiting up to 2s for 1 session")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((p.host, p.port), timeout=TIMEOUT).close()
        status = p.process.wait(timeout=15)
        took = time.monotonic() - started
        assert status == 0, p.log()
        assert 2.0 <= took < 4.0, f"exit {took:.2f} s after SIGTERM with a 2 s grace"
        line = p.wait_for_log("session ")
        assert "grace ran out" in line, line
        try:
            assert held.recv(100) == b"", "the session was not closed"
        except ConnectionResetError:
            pass
        held.close()
    finally:
        if p.process.poll() is None:
            p.process.kill()
            p.process.wait(timeout=10)


def test_sigterm_with_sessions_that_end_in_the_grace_exits_when_they_end(silent):
    p = start("--engine", "postgres", "--listen", "127.0.0.1:0", "--target",
              f"127.0.0.1:{silent.port}", "--signing-host", RDS_HOST, "--shutdown-grace", "20s")
    try:
        held = connect(p.host, p.port)
        time.sleep(0.2)
        started = time.monotonic()
        p.signal(signal.SIGTERM)
        p.wait_for_log("waiting up to 20s for 1 session")
        time.sleep(0.5)
        held.close()  # the client ends its session
        status = p.process.wait(timeout=15)
        took = time.monotonic() - started
        assert status == 0 and took < 3.0, (took, p.log())
        assert "closing" not in p.log()
    finally:
        if p.process.poll() is None:
            p.process.kill()
            p.process.wait(timeout=10)


def test_a_second_sigterm_closes_sessions_at_once(silent):
    p = start("--engine", "postgres", "--listen", "127.0.0.1:0", "--target",
              f"127.0.0.1:{silent.port}", "--signing-host", RDS_HOST, "--shutdown-grace", "60s")
    try:
        held = connect(p.host, p.port)
        held.sendall(b"\0")
        time.sleep(0.2)
        p.signal(signal.SIGTERM)
        p.wait_for_log("waiting up to 60s for 1 session")
        started = time.monotonic()
        p.signal(signal.SIGTERM)
        status = p.process.wait(timeout=15)
        assert status == 0 and time.monotonic() - started < 3.0, p.log()
        assert "closing 1 session(s) still open" in p.log()
        held.close()
    finally:
        if p.process.poll() is None:
            p.process.kill()
            p.process.wait(timeout=10)


LISTENER = """
[[listener]]
name = "{name}"
engine = "postgres"
listen = "127.0.0.1:0"
target = "127.0.0.1:{port}"
signing_host = "{host}"
"""


def test_sighup_reload_adds_and_removes_listeners_and_a_bad_file_changes_nothing(tmp_path, silent):
    config = tmp_path / "proxy.toml"
    config.write_text(LISTENER.format(name="one", port=silent.port, host=RDS_HOST))
    with proxy(None, None, "--config", config, *QUICK_STOP) as p:
        one = p.listeners[0]
        assert one.name == "one"
        held = connect(one.host, one.port)  # a session on "one": it must survive the reload
        config.write_text("".join(LISTENER.format(name=n, port=silent.port, host=RDS_HOST)
                                  for n in ("one", "two")))
        p.signal(signal.SIGHUP)
        p.wait_for_log("reloaded: 2 listener")
        two = next(l for l in p.listeners if l.name == "two")
        connect(two.host, two.port).close()
        # Removing "one": it stops accepting, its session goes on.
        config.write_text(LISTENER.format(name="two", port=silent.port, host=RDS_HOST))
        p.signal(signal.SIGHUP)
        p.wait_for_log("listener 'one' stopped accepting")
        p.wait_for_log("reloaded: 1 listener")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((one.host, one.port), timeout=TIMEOUT).close()
        held.sendall(b"\0")  # still connected: no error
        # A bad file: logged with its line, the running listener stays.
        config.write_text(LISTENER.format(name="two", port=silent.port, host=RDS_HOST)
                          + "\nbogus = 1\n")
        p.signal(signal.SIGHUP)
        line = p.wait_for_log("reload failed")
        assert "line" in line and "bogus" in line, line
        connect(two.host, two.port).close()
        held.close()
        assert p.stop() == 0


def test_sighup_reads_the_files_of_a_kept_listener_again(tmp_path, silent):
    users = tmp_path / "users"
    users.write_text("app:first-password\n")
    users.chmod(0o600)
    config = tmp_path / "proxy.toml"
    config.write_text(LISTENER.format(name="one", port=silent.port, host=RDS_HOST)
                      + f'local_auth = "{users}"\n')
    with proxy(None, None, "--config", config, *QUICK_STOP) as p:
        one = p.listeners[0]
        # The same settings, a password file now others can read: the reload reads it again
        # and refuses it; the listener stays as it was.
        users.chmod(0o644)
        p.signal(signal.SIGHUP)
        line = p.wait_for_log("reload failed")
        assert "can be read by others" in line and "first-password" not in p.log(), line
        connect(one.host, one.port).close()
        users.write_text("app:second-password\n")
        users.chmod(0o600)
        p.signal(signal.SIGHUP)
        p.wait_for_log("reloaded: 1 listener")
        assert "stopped accepting" not in p.log(), "an unchanged listener was restarted"
        connect(one.host, one.port).close()
        assert p.stop() == 0


# --- Bad configuration ---


@pytest.mark.parametrize(
    "text, words",
    [
        ("max_connections = 'many'\n", ["line 1", "invalid type"]),
        ('[[listener]]\nengine = "postgres"\nlisten = "127.0.0.1:0"\n', ["line 1", "target"]),
        ('\n[[listener]]\nengine = "db2"\nlisten = "127.0.0.1:0"\ntarget = "h:1"\n',
         ["line 2", "not an engine"]),
        ('[[listener]]\nengine = "mysql"\nlisten = "0.0.0.0:3306"\ntarget = "h:1"\n',
         ["line 1", "not loopback"]),
        ("[[listener]\n", ["line 1"]),
        ("", ["no listener"]),
    ],
)
def test_a_bad_config_file_is_an_error_naming_the_line(tmp_path, text, words):
    config = tmp_path / "proxy.toml"
    config.write_text(text)
    result = run([BIN, "proxy", "--config", config], env=demo_env(), timeout=TIMEOUT)
    assert result.returncode == 2, result.stderr
    assert str(config) in result.stderr
    for w in words:
        assert w in result.stderr, result.stderr


def test_config_and_listener_flags_do_not_mix(tmp_path):
    result = run([BIN, "proxy", "--config", tmp_path / "x.toml", "--engine", "mysql"],
                 env=demo_env(), timeout=TIMEOUT)
    assert result.returncode == 2 and "cannot be used with" in result.stderr, result.stderr


def test_a_config_file_that_is_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "proxy.toml"
    os.mkfifo(fifo)
    result = run([BIN, "proxy", "--config", fifo], env=demo_env(), timeout=TIMEOUT)
    assert result.returncode == 2 and "regular file" in result.stderr, result.stderr


# --- A real login (the PostgreSQL module against the stand-in): idle bound, log, token counts ---


def pg_until_ready(c: socket.socket) -> int:
    """Reads messages until ReadyForQuery; the bytes read."""
    read = 0
    while True:
        tag = recv_exact(c, 1)
        (length,) = struct.unpack("!I", recv_exact(c, 4))
        body = recv_exact(c, length - 4)
        read += 1 + length
        assert tag != b"E", f"error: {body!r}"
        if tag == b"Z":
            return read


def test_an_idle_session_is_closed_and_logins_count_tokens_signed_and_reused(pg):
    with proxy("postgres", f"127.0.0.1:{pg.port}", "--signing-host", pg.rds_host,
               "--signing-port", "5432", "--region", pg.region, "--ca", pg.ca,
               "--idle-timeout", "1s", "--http", "127.0.0.1:0", env=pg.env()) as p:
        port = http_port(p)
        for n in (1, 2):
            with connect(p.host, p.port) as c:
                c.sendall(pg_startup(pg.user, pg.db))
                pg_until_ready(c)
                query = b"SELECT 1\0"
                sent = 1 + 4 + len(query)
                c.sendall(b"Q" + struct.pack("!I", 4 + len(query)) + query)
                got = pg_until_ready(c)  # what the relay carried back
                started = time.monotonic()
                assert c.recv(100) == b"", "the proxy did not close the idle session"
                idle = time.monotonic() - started
                assert 0.9 <= idle < 3.0, f"closed after {idle:.2f} s idle with a 1 s bound"
            line = p.wait_for_log("session ", count=n)
            assert f'user="{pg.user}"' in line and f'database="{pg.db}"' in line, line
            # The relay's bytes (the login's are the protocol module's, not counted).
            assert f"bytes_from_client={sent} bytes_to_client={got} " in line, line
            assert "outcome=ok" in line, line
        status, text = http_get(port, "/metrics")
        # Two logins of one user within the token's cache window: one signature, one reuse.
        assert metric(text, "iam_db_auth_proxy_tokens_signed_total") == 1
        assert metric(text, "iam_db_auth_proxy_token_cache_hits_total") == 1
        assert metric(text, "iam_db_auth_proxy_sessions_total") == 2
        assert metric(text, 'iam_db_auth_proxy_bytes_total{direction="to_client"}') == 2 * got
        assert "X-Amz-Signature" not in p.log()
