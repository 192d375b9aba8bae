"""`iam-db-auth doctor` against the stand-ins, each fault made on purpose, and the cause it names
first; `token --explain` and `policy`.

Doctor reaches STS through a loopback stand-in (sts_standin.py, AWS_ENDPOINT_URL_STS) that
checks its SigV4 signature and answers with an account id and a Date header the test controls;
names resolve through a loopback DNS stand-in (dns_standin.py, --dns-server), never the system
resolver. Doctor is never handed a stand-in's logs: what it says comes from what a client sees.

"First cause" is the first failing check's line, or, when that line is the refused login, the
first of its ranked causes.
"""

from __future__ import annotations

import json
import signal
import socket
import string
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import BIN, WORK, StandIn, aws_env, demo_env, random_text, run, temporary_key, wait_until
from conftest import token as cli_token
from dns_standin import DnsStandIn
from sts_standin import ACCOUNT, StsStandIn

RDS_HOST = "mydb.c9akciq32.us-east-1.rds.amazonaws.com"
OTHER_RDS_HOST = "other.c9akciq32.us-east-1.rds.amazonaws.com"


@dataclass
class Target:
    """One stand-in as doctor sees it."""

    engine: str  # doctor's --engine
    standin: StandIn
    port: int
    rds_port: int
    ca: str
    user: str = "iam_user"

    def args(self, *extra: str, signing: bool = True) -> list[str]:
        """doctor's arguments for a healthy login through the RDS name (a tunnel's shape:
        connect to 127.0.0.1, sign for the RDS name and port)."""
        base = ["--host", "127.0.0.1", "--port", str(self.port), "--user", self.user,
                "--engine", self.engine, "--ca", self.ca, "--timeout", "5"]
        if signing:
            base += ["--signing-host", RDS_HOST, "--signing-port", str(self.rds_port)]
        return base + list(extra)


def pg_target(postgres: StandIn) -> Target:
    return Target("postgres", postgres, int(postgres["IAM_STANDIN_PG_PORT"]), 5432, postgres["IAM_STANDIN_PG_CA"])


def mariadb_target(mariadb: StandIn) -> Target:
    return Target("mysql", mariadb, int(mariadb["IAM_STANDIN_MARIADB_PORT"]), 3306, mariadb["IAM_STANDIN_MARIADB_CA"])


@pytest.fixture(params=["postgres", "mariadb"])
def target(request) -> Target:
    standin = request.getfixturevalue(request.param)
    return pg_target(standin) if request.param == "postgres" else mariadb_target(standin)


@pytest.fixture
def pg(postgres) -> Target:
    return pg_target(postgres)


@pytest.fixture
def maria(mariadb) -> Target:
    return mariadb_target(mariadb)


@pytest.fixture(scope="module")
def sts_server():
    server = StsStandIn(WORK / "keystore").start()
    yield server
    server.stop()


@pytest.fixture
def sts(sts_server) -> StsStandIn:
    """The STS stand-in with a true clock and an empty request list."""
    sts_server.skew = 0.0
    sts_server.seen.clear()
    return sts_server


@dataclass
class Report:
    returncode: int
    data: dict
    stderr: str

    @property
    def checks(self) -> list[dict]:
        return self.data["checks"]

    def check(self, name: str) -> dict:
        return next(c for c in self.checks if c["check"] == name)

    def first_cause(self) -> str:
        """The first failing check's name, or for a refused login its first cause."""
        failed = [c for c in self.checks if c["status"] == "fail"]
        assert failed, f"no check failed: {self.describe()}"
        first = failed[0]
        if first["check"] == "login":
            assert first["causes"], self.describe()
            return "login:" + first["causes"][0]["cause"]
        return first["check"]

    def describe(self) -> str:
        return "\n".join(
            f"{c['status']:5} {c['check']:12} {c['summary']} | fix: {c['fix']} | causes: {[x['cause'] for x in c['causes']]}"
            for c in self.checks
        ) + f"\nstderr: {self.stderr[-500:]}"


def doctor(args: list[str], env: dict[str, str]) -> Report:
    result = run([BIN, "doctor", *args, "--json"], env=env, timeout=60)
    assert result.stdout.strip(), f"doctor printed nothing (exit {result.returncode}): {result.stderr[-2000:]}"
    report = Report(result.returncode, json.loads(result.stdout), result.stderr)
    assert report.returncode == (1 if any(c["status"] == "fail" for c in report.checks) else 0), report.describe()
    return report


def sts_env(sts: StsStandIn, **extra: str | None) -> dict[str, str]:
    return demo_env(AWS_ENDPOINT_URL_STS=sts.url, **extra)


# --- the healthy case --------------------------------------------------------------------------------

def test_a_healthy_login_passes_every_check(target, sts):
    offset = target.standin.log_size()
    report = doctor(target.args(), sts_env(sts))
    assert report.returncode == 0, report.describe()
    if target.engine == "postgres":
        # The server's own word (and the control for the tests that say it never saw the user).
        assert wait_until(lambda: "connection authorized: user=iam_user" in target.standin.log_since(offset))
    assert [c["check"] for c in report.checks] == [
        "endpoint", "dns", "credentials", "token", "clock", "tcp", "tls", "cleartext", "login"]
    assert all(c["status"] == "ok" for c in report.checks), report.describe()
    assert report.check("login")["summary"].startswith("logged in as iam_user"), report.describe()
    # The facts a user reads: who the credentials are (from STS), what the token is signed for.
    assert report.check("credentials")["facts"]["account"] == ACCOUNT
    token = report.check("token")["facts"]
    assert (token["host"], token["port"], token["user"], token["region"]) == (RDS_HOST, target.rds_port, "iam_user", "us-east-1")
    assert report.check("tls")["facts"]["verified_name"] == RDS_HOST
    # Doctor asked STS once, with the demo key, and the stand-in accepted the signature.
    assert sts.seen == [("AKIAIAMDBAUTHDEMO001", "ok")]


def test_an_aurora_dsql_login_passes_with_a_dsql_token(pg, sts):
    dsql_host = pg.standin["IAM_STANDIN_PG_DSQL_HOST"]
    pg.user = pg.standin["IAM_STANDIN_PG_DSQL_USER"]
    report = doctor(pg.args("--signing-host", dsql_host, signing=False), sts_env(sts))
    assert report.returncode == 0, report.describe()
    token = report.check("token")["facts"]
    assert (token["host"], token["port"], token["service"]) == (dsql_host, None, "dsql"), report.describe()
    assert "Aurora DSQL cluster endpoint" in report.check("endpoint")["summary"]
    assert report.check("login")["status"] == "ok"


def test_the_text_report_has_a_line_per_check_and_a_verdict(pg, sts):
    result = run([BIN, "doctor", *pg.args()], env=sts_env(sts), timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:9]] == [
        ["ok", name] for name in ("endpoint", "dns", "credentials", "token", "clock", "tcp", "tls", "cleartext", "login")]
    assert lines[-1] == "doctor: all checks passed (9 ok)"


def test_no_secret_reaches_the_report(target, sts):
    with temporary_key(target.standin, session_token="e2eSession/" + random_text(40)) as key:
        env = key.env(AWS_ENDPOINT_URL_STS=sts.url)
        token = cli_token("127.0.0.1", target.port, "iam_user", env, "--region", "us-east-1")
        text = run([BIN, "doctor", *target.args()], env=env, timeout=60)
        report = doctor(target.args(), env)
    assert report.returncode == 0, report.describe()
    signature = token.rsplit("X-Amz-Signature=", 1)[1]
    for output in (text.stdout + text.stderr, json.dumps(report.data)):
        assert key.secret not in output and key.session_token not in output
        assert signature not in output
    assert report.check("credentials")["facts"]["temporary"] is True


# --- faults, each with the cause named first ---------------------------------------------------------

def test_a_wrong_ca_fails_tls_and_the_token_is_not_sent(target, sts, tmp_path):
    other_ca = tmp_path / "other-ca.pem"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=not the RDS CA",
         "-keyout", str(tmp_path / "key.pem"), "-out", str(other_ca)], check=True)
    args = target.args()
    args[args.index("--ca") + 1] = str(other_ca)
    offset = target.standin.log_size()
    report = doctor(args, sts_env(sts))
    assert report.first_cause() == "tls", report.describe()
    # The server never saw the user, let alone a token: the handshake ended first. (PostgreSQL
    # logs every login's user, see the healthy case; MariaDB's error log names none.)
    if target.engine == "postgres":
        assert "iam_user" not in target.standin.log_since(offset)
    tls = report.check("tls")
    assert "unknown issuer" in tls["summary"] and "iam-db-auth local stand-in CA" in tls["summary"], report.describe()
    assert "--ca" in tls["fix"]
    assert report.check("cleartext")["status"] == "skip" and report.check("login")["status"] == "skip"


def test_the_ca_comes_from_the_lookup_every_door_uses(pg, sts, tmp_path):
    args = pg.args()
    del args[args.index("--ca"):args.index("--ca") + 2]
    # Nothing configured: the built-in RDS bundle, which did not issue the stand-in's
    # certificate; the token is not sent.
    report = doctor(args, sts_env(sts, XDG_CACHE_HOME=str(tmp_path)))
    assert report.first_cause() == "tls", report.describe()
    tls = report.check("tls")
    assert "unknown issuer" in tls["summary"] and "the built-in RDS CA bundle" in tls["summary"], report.describe()
    assert report.check("login")["status"] == "skip"
    # IAM_DB_AUTH_CA_FILE, the lookup's second place: the login goes through.
    report = doctor(args, sts_env(sts, XDG_CACHE_HOME=str(tmp_path), IAM_DB_AUTH_CA_FILE=pg.ca))
    assert report.returncode == 0, report.describe()
    assert "IAM_DB_AUTH_CA_FILE" in report.check("tls")["summary"], report.describe()
    # A file that holds no certificate is named as such, never a reason to fall back.
    not_pem = tmp_path / "not-a-ca.pem"
    not_pem.write_text("hello\n")
    args = pg.args()
    args[args.index("--ca") + 1] = str(not_pem)
    report = doctor(args, sts_env(sts))
    tls = report.check("tls")
    assert tls["status"] == "fail" and "not a PEM certificate file" in tls["summary"], report.describe()


def test_a_token_for_another_host_is_caught_by_the_certificate(target, sts):
    args = target.args()
    args[args.index("--signing-host") + 1] = OTHER_RDS_HOST
    offset = target.standin.log_size()
    report = doctor(args, sts_env(sts))
    if target.engine == "postgres":
        assert "iam_user" not in target.standin.log_since(offset), "the server was asked to log the user in"
    assert report.first_cause() == "tls", report.describe()
    tls = report.check("tls")
    assert f"not {OTHER_RDS_HOST}, the host the token is signed for" in tls["summary"], report.describe()
    assert tls["fix"] == f"sign for the server's endpoint name: --signing-host {RDS_HOST}."
    assert report.check("login")["status"] == "skip"


def test_a_token_for_another_port_names_the_port(target, sts):
    # Direct to the server (no signing host), but signed for another port: the login is
    # refused, and the port comes first among its causes.
    args = target.args("--signing-port", str(target.port + 1), "--region", "us-east-1", signing=False)
    report = doctor(args, sts_env(sts))
    assert report.check("token")["status"] == "warn", report.describe()
    assert report.first_cause() == "login:port", report.describe()
    cause = report.check("login")["causes"][0]
    assert f"signed for port {target.port + 1}, but the server listens on {target.port}" in cause["why"]


def test_a_token_for_another_region_names_the_region(target, sts):
    report = doctor(target.args("--region", "eu-west-1"), sts_env(sts))
    assert report.first_cause() == "endpoint", report.describe()
    endpoint = report.check("endpoint")
    assert "is in region us-east-1" in endpoint["summary"] and "--region eu-west-1" in endpoint["summary"]
    assert "--region us-east-1" in endpoint["fix"]
    # The login was tried (TLS and the user are fine) and refused; the region leads its causes.
    assert report.check("login")["causes"][0]["cause"] == "region", report.describe()


def test_expired_credentials_name_the_credentials(target, sts):
    past = (datetime.now(timezone.utc) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with temporary_key(target.standin, session_token="e2eSession/" + random_text(40), expiration=past) as key:
        report = doctor(target.args(), key.env(AWS_ENDPOINT_URL_STS=sts.url))
    assert report.first_cause() == "credentials", report.describe()
    creds = report.check("credentials")
    assert "session token has expired (ExpiredToken)" in creds["summary"] and "fresh credentials" in creds["fix"]
    assert report.check("login")["causes"][0]["cause"] == "credentials", report.describe()


def test_an_unknown_key_names_the_credentials(target, sts):
    env = aws_env(AWS_ACCESS_KEY_ID="AKIAE2EUNKNOWN" + random_text(6, string.ascii_uppercase),
                   AWS_SECRET_ACCESS_KEY=random_text(40), AWS_ENDPOINT_URL_STS=sts.url)
    report = doctor(target.args(), env)
    assert report.first_cause() == "credentials", report.describe()
    assert "InvalidClientTokenId" in report.check("credentials")["summary"]
    assert report.check("login")["causes"][0]["cause"] == "credentials", report.describe()


def test_a_wrong_secret_names_the_secret(pg, sts):
    # The demo key id with another secret: STS (the stand-in recomputes the signature) refuses
    # it, and so does the database.
    env = aws_env(AWS_ACCESS_KEY_ID="AKIAIAMDBAUTHDEMO001", AWS_SECRET_ACCESS_KEY=random_text(40),
                  AWS_ENDPOINT_URL_STS=sts.url)
    report = doctor(pg.args(), env)
    assert report.first_cause() == "credentials", report.describe()
    assert "secret access key does not belong to access key AKIAIAMDBAUTHDEMO001" in report.check("credentials")["summary"]
    assert sts.seen == [("AKIAIAMDBAUTHDEMO001", "SignatureDoesNotMatch")]


def test_a_skewed_clock_names_the_clock(target, sts):
    # AWS's clock (the STS stand-in's) 10 minutes ahead: this machine's is 10 minutes behind.
    sts.skew = 600
    report = doctor(target.args(), sts_env(sts))
    assert report.first_cause() == "clock", report.describe()
    clock = report.check("clock")
    assert "10 min" in clock["summary"] and "behind AWS's" in clock["summary"], report.describe()
    assert "timedatectl set-ntp true" in clock["fix"]
    assert -610 <= clock["facts"]["skew_seconds"] <= -590
    # STS refused the request's time, which says nothing against the credentials themselves.
    assert report.check("credentials")["status"] == "warn", report.describe()


def test_a_clock_a_few_seconds_off_is_fine(pg, sts):
    sts.skew = 3
    report = doctor(pg.args(), sts_env(sts))
    assert report.check("clock")["status"] == "ok", report.describe()


# --- a connect name that is a CNAME of the RDS name ---------------------------------------------------

@pytest.fixture
def dns():
    server = DnsStandIn({
        "db.corp.example": ("CNAME", "alias.corp.example"),
        "alias.corp.example": ("CNAME", RDS_HOST),
        RDS_HOST: ("A", "127.0.0.1"),
    }).start()
    yield server
    server.stop()


def test_a_cname_to_an_rds_name_asks_for_the_signing_host(target, sts, dns):
    args = ["--host", "db.corp.example", "--port", str(target.port), "--user", "iam_user",
            "--engine", target.engine, "--ca", target.ca, "--dns-server", dns.address,
            "--signing-port", str(target.rds_port)]
    report = doctor(args, sts_env(sts))
    assert report.first_cause() == "dns", report.describe()
    check = report.check("dns")
    assert check["facts"]["chain"] == ["db.corp.example", "alias.corp.example", RDS_HOST]
    assert f"through alias.corp.example -> {RDS_HOST} to 127.0.0.1" in check["summary"], report.describe()
    assert check["fix"].startswith(f"--signing-host {RDS_HOST}")
    # The system resolver was never asked: the name exists only in the DNS stand-in.
    assert ("db.corp.example", 1) in dns.queries

    # With the suggested change, the login goes through; TLS warns that the connect name is
    # not in the certificate (clients that check that name would fail).
    report = doctor(args + ["--signing-host", RDS_HOST], sts_env(sts))
    assert report.returncode == 0, report.describe()
    assert report.check("dns")["status"] == "ok" and report.check("login")["status"] == "ok", report.describe()
    assert report.check("tls")["status"] == "warn" and "does not name db.corp.example" in report.check("tls")["summary"]


def test_a_name_that_does_not_resolve_is_a_dns_failure(pg, sts, dns):
    report = doctor(["--host", "nope.corp.example", "--port", str(pg.port), "--user", "iam_user",
                     "--engine", "postgres", "--ca", pg.ca, "--dns-server", dns.address], sts_env(sts))
    assert report.first_cause() == "dns", report.describe()
    assert "NXDOMAIN" in report.check("dns")["summary"]
    assert report.check("tcp")["status"] == "skip"


# --- servers without TLS, users that are not IAM users ------------------------------------------------

def pg_admin(postgres: StandIn, sql: str) -> str:
    out = run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", postgres["IAM_STANDIN_PG_SOCKET_DIR"],
               "-p", postgres["IAM_STANDIN_PG_PORT"], "-U", "postgres", "-d", "postgres", "-c", sql], check=True)
    return out.stdout.strip()


def ssl_answer(port: int) -> bytes:
    """The byte a PostgreSQL server answers an SSLRequest with (S or N)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
        return s.recv(1)


@contextmanager
def postgres_without_tls(postgres: StandIn):
    port = int(postgres["IAM_STANDIN_PG_PORT"])
    try:
        pg_admin(postgres, "ALTER SYSTEM SET ssl = off")
        pg_admin(postgres, "SELECT pg_reload_conf()")
        assert wait_until(lambda: ssl_answer(port) == b"N", timeout=10), "the server still offers TLS"
        yield
    finally:
        pg_admin(postgres, "ALTER SYSTEM RESET ssl")
        pg_admin(postgres, "SELECT pg_reload_conf()")
        assert wait_until(lambda: ssl_answer(port) == b"S", timeout=10), "TLS did not come back"


def test_a_postgres_server_without_tls_fails_tls(pg, sts):
    with postgres_without_tls(pg.standin):
        report = doctor(pg.args(), sts_env(sts))
    assert report.first_cause() == "tls", report.describe()
    tls = report.check("tls")
    assert "does not offer TLS" in tls["summary"] and "not sent" in tls["summary"], report.describe()
    assert report.check("login")["status"] == "skip"


PASSWORD_USER = "doctor_pw"
PASSWORD = "e2e-not-an-iam-user"


@contextmanager
def postgres_password_user(postgres: StandIn):
    """A role with a SCRAM password and an hba line for it (as RDS treats users without
    rds_iam), removed afterwards."""
    hba = Path(pg_admin(postgres, "SHOW hba_file"))
    original = hba.read_text()
    line = f"hostssl all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256\n"
    pg_admin(postgres, f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PASSWORD_USER}') "
                       f"THEN CREATE ROLE {PASSWORD_USER} LOGIN; END IF; END $$")
    pg_admin(postgres, f"ALTER ROLE {PASSWORD_USER} PASSWORD '{PASSWORD}'")
    marker = "hostssl all      +dsql_iam"
    assert marker in original, original
    try:
        hba.write_text(original.replace(marker, line + marker, 1))
        pg_admin(postgres, "SELECT pg_reload_conf()")

        def password_login_works() -> bool:
            r = run(["psql", "-X", "-At", "-c", "SELECT 1",
                     f"host=127.0.0.1 port={postgres['IAM_STANDIN_PG_PORT']} user={PASSWORD_USER} dbname=postgres sslmode=require"],
                    env=demo_env(PGPASSWORD=PASSWORD, PGCONNECT_TIMEOUT="5"))
            return r.returncode == 0
        assert wait_until(password_login_works, timeout=10), "the hba line did not take effect"
        yield
    finally:
        hba.write_text(original)
        pg_admin(postgres, "SELECT pg_reload_conf()")


def test_a_postgres_user_without_rds_iam_is_named(pg, sts):
    with postgres_password_user(pg.standin):
        pg.user = PASSWORD_USER
        report = doctor(pg.args(), sts_env(sts))
    assert report.first_cause() == "cleartext", report.describe()
    check = report.check("cleartext")
    assert "asks for a SCRAM password" in check["summary"] and "not an IAM user" in check["summary"], report.describe()
    assert f'GRANT rds_iam TO "{PASSWORD_USER}"' in check["fix"]
    assert report.check("login")["status"] == "skip"


def test_a_postgres_user_the_server_rejects_outright_is_named(pg, sts):
    # No hba line lets this role in (as on a self-managed server): refused before any password.
    pg.user = "nobody_here"
    report = doctor(pg.args(), sts_env(sts))
    assert report.first_cause() == "cleartext", report.describe()
    assert "refused nobody_here before asking for a password" in report.check("cleartext")["summary"], report.describe()


def mariadb_admin(mariadb: StandIn, sql: str) -> None:
    run(["mariadb", "--no-defaults", f"--socket={mariadb['IAM_STANDIN_MARIADB_SOCKET']}", "-uroot", "-e", sql], check=True)


def test_a_mariadb_user_with_a_password_is_named(maria, sts):
    users = f"'{PASSWORD_USER}'@'%', '{PASSWORD_USER}'@'localhost'"
    mariadb_admin(maria.standin, f"CREATE OR REPLACE USER '{PASSWORD_USER}'@'%' IDENTIFIED BY '{PASSWORD}';"
                                 f"CREATE OR REPLACE USER '{PASSWORD_USER}'@'localhost' IDENTIFIED BY '{PASSWORD}'")
    try:
        maria.user = PASSWORD_USER
        report = doctor(maria.args(), sts_env(sts))
    finally:
        mariadb_admin(maria.standin, f"DROP USER IF EXISTS {users}")
    assert report.first_cause() == "cleartext", report.describe()
    check = report.check("cleartext")
    assert "before asking for a password" in check["summary"] and "Access denied" in check["summary"], report.describe()
    assert "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'" in check["fix"]


def test_a_mariadb_user_of_another_plugin_is_named(maria, sts):
    # An ed25519 user: the server switches the client to that plugin, not to mysql_clear_password.
    installed = run(["mariadb", "--no-defaults", f"--socket={maria.standin['IAM_STANDIN_MARIADB_SOCKET']}", "-uroot", "-N", "-e",
                     "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519'"], check=True)
    if installed.stdout.strip() == "0":
        mariadb_admin(maria.standin, "INSTALL SONAME 'auth_ed25519'")
    mariadb_admin(maria.standin, f"CREATE OR REPLACE USER '{PASSWORD_USER}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('{PASSWORD}');"
                                 f"CREATE OR REPLACE USER '{PASSWORD_USER}'@'localhost' IDENTIFIED VIA ed25519 USING PASSWORD('{PASSWORD}')")
    try:
        maria.user = PASSWORD_USER
        report = doctor(maria.args(), sts_env(sts))
    finally:
        mariadb_admin(maria.standin, f"DROP USER IF EXISTS '{PASSWORD_USER}'@'%', '{PASSWORD_USER}'@'localhost'")
    assert report.first_cause() == "cleartext", report.describe()
    assert "asks for the client_ed25519 plugin" in report.check("cleartext")["summary"], report.describe()


@pytest.mark.deep
def test_a_mariadb_server_without_tls_fails_tls(tmp_path, sts, mariadb):
    # A second MariaDB server of the test's own, started with --skip-ssl.
    data, sock = tmp_path / "data", tmp_path / "m.sock"
    run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db",
         "--auth-root-authentication-method=socket"], timeout=180, check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["/usr/sbin/mariadbd", "--no-defaults", "--user=root", f"--datadir={data}", f"--socket={sock}",
         f"--pid-file={tmp_path / 'm.pid'}", f"--log-error={tmp_path / 'error.log'}", f"--port={port}",
         "--bind-address=127.0.0.1", "--skip-name-resolve", "--skip-ssl", "--innodb-buffer-pool-size=16M",
         "--performance-schema=OFF"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False
        assert wait_until(listening, timeout=60, interval=0.1), "the TLS-less MariaDB did not start"
        # A user allowed from 127.0.0.1, or the server refuses before its greeting.
        run(["mariadb", "--no-defaults", f"--socket={sock}", "-uroot", "-e",
             "CREATE USER 'iam_user'@'%' IDENTIFIED BY 'not-used'"], check=True)
        target = Target("mysql", mariadb, port, 3306, mariadb["IAM_STANDIN_MARIADB_CA"])
        report = doctor(target.args(), sts_env(sts))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    assert report.first_cause() == "tls", report.describe()
    assert "does not offer SSL" in report.check("tls")["summary"], report.describe()


# --- nothing listening, no STS ----------------------------------------------------------------------

def test_a_closed_port_fails_tcp(sts):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    report = doctor(["--host", "127.0.0.1", "--port", str(port), "--user", "u", "--engine", "postgres",
                     "--signing-host", RDS_HOST, "--signing-port", "5432"], sts_env(sts))
    assert report.first_cause() == "tcp", report.describe()
    assert "connection refused" in report.check("tcp")["summary"]


def test_sts_is_asked_over_verified_https(pg):
    tls_dir = Path(pg.ca).parent
    server = StsStandIn(WORK / "keystore", tls=(tls_dir / "server.pem", tls_dir / "server.key")).start()
    try:
        # Trusted through SSL_CERT_FILE (read with the system's roots): the identity comes back.
        report = doctor(pg.args(), demo_env(AWS_ENDPOINT_URL_STS=server.url, SSL_CERT_FILE=pg.ca))
        assert report.check("credentials")["status"] == "ok", report.describe()
        assert report.check("credentials")["facts"]["account"] == ACCOUNT
        # The system's roots do not include the stand-in's CA: the handshake fails, and the
        # signed request never reaches the server.
        server.seen.clear()
        report = doctor(pg.args(), demo_env(AWS_ENDPOINT_URL_STS=server.url, SSL_CERT_FILE=None, SSL_CERT_DIR=None))
        creds = report.check("credentials")
        assert creds["status"] == "warn" and "could not be asked" in creds["summary"], report.describe()
        assert "UnknownIssuer" in creds["summary"] or "unknown issuer" in creds["summary"].lower(), report.describe()
        assert server.seen == []
    finally:
        server.stop()


def test_without_sts_the_clock_is_not_compared_but_the_login_is_tried(pg):
    report = doctor(pg.args(), demo_env(AWS_ENDPOINT_URL_STS="http://127.0.0.1:9"))
    assert report.returncode == 0, report.describe()
    assert report.check("credentials")["status"] == "warn" and report.check("clock")["status"] == "warn"
    assert report.check("login")["status"] == "ok", report.describe()


# --- token --explain -------------------------------------------------------------------------------

def test_explain_decodes_a_token_without_the_network(pg):
    token = cli_token("127.0.0.1", pg.port, "iam_user", demo_env(), "--signing-host", RDS_HOST, "--signing-port", "5432")
    # No credentials, no endpoints: decoding needs neither.
    result = run([BIN, "token", "--explain"], env=aws_env(), input=token + "\n")
    assert result.returncode == 0, result.stderr
    fields = dict(line.split(None, 1) if not line.startswith(("access key id", "signed at")) else
                  (line[:14].strip(), line[14:]) for line in result.stdout.splitlines())
    assert fields["endpoint"] == f"{RDS_HOST}:5432"
    assert fields["user"] == "iam_user" and fields["region"] == "us-east-1" and fields["service"] == "rds-db"
    assert fields["access key id"] == "AKIAIAMDBAUTHDEMO001"
    assert "in 15 min" in fields["expires"] or "in 14 min" in fields["expires"], result.stdout
    assert token.rsplit("X-Amz-Signature=", 1)[1] not in result.stdout + result.stderr
    as_json = json.loads(run([BIN, "token", "--explain", "--output", "json"], input=token).stdout)
    assert (as_json["host"], as_json["port"], as_json["expired"], as_json["temporary"]) == (RDS_HOST, 5432, False, False)


def test_explain_says_what_is_not_a_token(pg):
    for text, words in [("hunter2", "not a token"), ("", "no token")]:
        result = run([BIN, "token", "--explain"], input=text)
        assert result.returncode == 1 and words in result.stderr, result.stderr
        assert "hunter2" not in result.stderr
    old = cli_token("127.0.0.1", pg.port, "iam_user", demo_env(), "--region", "us-east-1", "--signing-time", "2024-08-26T22:00:00Z")
    result = run([BIN, "token", "--explain"], input=old)
    assert result.returncode == 0 and "expired" in result.stdout and "2024-08-26T22:15:00Z" in result.stdout, result.stdout


# --- policy ----------------------------------------------------------------------------------------

def test_policy_fills_in_the_region_and_the_account_from_sts(sts):
    result = run([BIN, "policy", "--host", RDS_HOST, "--port", "5432", "--user", "app"], env=sts_env(sts))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    statement = json.loads(out[out.index("{"): out.index("\n}\n") + 2])
    assert statement["Statement"][0]["Action"] == "rds-db:connect"
    assert statement["Statement"][0]["Resource"] == f"arn:aws:rds-db:us-east-1:{ACCOUNT}:dbuser:<DB_RESOURCE_ID>/app"
    assert "aws rds describe-db-instances --region us-east-1 --db-instance-identifier mydb --query 'DBInstances[0].DbiResourceId'" in out
    assert "CREATE USER 'app'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';" in out
    assert 'GRANT rds_iam TO "app";' in out
    assert sts.seen == [("AKIAIAMDBAUTHDEMO001", "ok")]


def test_policy_without_credentials_leaves_the_account_to_fill_in():
    result = run([BIN, "policy", "--host", RDS_HOST, "--port", "3306", "--user", "app", "--engine", "mysql"],
                 env=aws_env())
    assert result.returncode == 0, result.stderr
    assert ":<ACCOUNT_ID>:dbuser:<DB_RESOURCE_ID>/app" in result.stdout and "pass --account" in result.stdout
    assert "rds_iam" not in result.stdout
