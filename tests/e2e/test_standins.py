"""What the two stand-ins share: their certificate, server logs free of secrets, login latency,
and a stop that leaves nothing behind. (Each server's own strictness: test_standin_postgres.py
and test_standin_mariadb.py; the PAM module: test_pam_module.py.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import statistics
import time
from pathlib import Path

import pytest
from conftest import (
    BIN,
    DEMO_SECRET_ACCESS_KEY,
    STANDIN,
    WORK,
    StandIn,
    aws_env,
    demo_env,
    random_text,
    run,
    temporary_key,
    wait_until,
)
from pg_support import Pg, assert_refused, assert_stdout, libpq_env, psql_login

pytest_plugins = ["pg_support"]  # its fixtures

# --- The certificate ---


def server_certificate(pg: Pg) -> Path:
    return Path(pg.ca).with_name("server.pem")


@pytest.mark.parametrize(
    "option, name, valid",
    [
        ("-verify_hostname", "localhost", True),
        ("-verify_hostname", "IAM_STANDIN_PG_RDS_HOST", True),
        ("-verify_hostname", "IAM_STANDIN_PG_DSQL_HOST", True),
        ("-verify_ip", "127.0.0.1", True),
        ("-verify_ip", "::1", True),
        ("-verify_hostname", "other.example.com", False),
    ],
    ids=["localhost", "rds_name", "dsql_name", "ipv4_loopback", "ipv6_loopback", "control_other_name"],
)
def test_the_server_certificate_is_valid_for_the_names_clients_use(pg: Pg, option: str, name: str, valid: bool):
    name = pg.standin.env.get(name, name)
    r = run(["openssl", "verify", "-CAfile", pg.ca, option, name, server_certificate(pg)])
    assert (r.returncode == 0) == valid, r.stdout + r.stderr


# --- Logins against both servers ---


def mariadb_login(mariadb: StandIn, password: str, user: str = "iam_user") -> subprocess.CompletedProcess:
    """The stock mariadb client over TLS (the server certificate checked)."""
    return run(
        ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", mariadb["IAM_STANDIN_MARIADB_PORT"], "-u", user,
         f"--ssl-ca={mariadb['IAM_STANDIN_MARIADB_CA']}", "--ssl-verify-server-cert",
         "-D", mariadb["IAM_STANDIN_MARIADB_DATABASE"], "-N", "-B", "-e", "SELECT CURRENT_USER()"],
        env=aws_env(MYSQL_PWD=password),
        timeout=30,
    )


def mariadb_token(mariadb: StandIn, env: dict[str, str]) -> str:
    r = run([BIN, "token", "--region", mariadb["IAM_STANDIN_REGION"], "--host", "127.0.0.1",
             "--port", mariadb["IAM_STANDIN_MARIADB_PORT"], "--user", "iam_user"], env=env, check=True)
    return r.stdout.strip()


def signature(token: str) -> str:
    return token.rsplit("X-Amz-Signature=", 1)[1]


def test_no_token_or_secret_reaches_either_server_log(pg: Pg, mariadb: StandIn):
    with temporary_key(pg.standin, session_token=random_text(1000)) as key:
        p_token = pg.token(host="127.0.0.1", env=key.env(AWS_REGION=pg.region))
        m_token = mariadb_token(mariadb, key.env())
        # Accepted, and refused with the reason in the log (a refusal's message quotes the token's parts).
        assert_stdout(psql_login(pg.conninfo(host="127.0.0.1"), libpq_env(PGPASSWORD=p_token)), "iam_user true")
        assert_refused(pg, p_token + "\n", pg.conninfo(host="127.0.0.1"), "X-Amz-Signature is not")
        assert_stdout(mariadb_login(mariadb, m_token), "iam_user@%")
        m_log = mariadb.log_size()
        assert "Access denied" in mariadb_login(mariadb, m_token + "\n").stderr
        assert wait_until(lambda: "X-Amz-Signature is not" in mariadb.log_since(m_log), 10), mariadb.log_since(m_log)
        secrets = {
            "session token": key.session_token,
            "temporary secret": key.secret,
            "demo secret": DEMO_SECRET_ACCESS_KEY,
            "PostgreSQL token's signature": signature(p_token),
            "MariaDB token's signature": signature(m_token),
        }
    logs = pg.standin.log.read_text(errors="replace") + mariadb.log.read_text(errors="replace")
    assert [what for what, secret in secrets.items() if secret in logs] == []


# --- Login latency ---


@pytest.mark.deep
def test_login_latency(pg: Pg, mariadb: StandIn, pam_check: Path):
    """Median wall time of whole client processes (IAM_STANDIN_LOGINS runs each, default 20),
    written to $WORK/standin/latency.txt. Every timed run must have succeeded."""
    runs = int(os.environ.get("IAM_STANDIN_LOGINS", "20"))
    p_token = pg.token(host="127.0.0.1")
    m_token = mariadb_token(mariadb, demo_env())
    m_port = mariadb["IAM_STANDIN_MARIADB_PORT"]
    # (label, command, environment, stdin, what it prints when it worked)
    measured = [
        ("iam-db-auth token (one process)",
         [BIN, "token", "--region", pg.region, "--host", "127.0.0.1", "--port", m_port, "--user", "iam_user"],
         demo_env(), None, "X-Amz-Signature="),
        ("iam-db-auth verify (one process)",
         [BIN, "verify", "--exact", "--keystore", pg.standin["IAM_STANDIN_KEYSTORE"], "--region", pg.region,
          "--endpoint", f"127.0.0.1:{pg.port}", "--user", "iam_user"],
         aws_env(), p_token, ""),
        ("PAM: pam_check + our module + verify",
         [pam_check, pg.standin["IAM_STANDIN_PG_PAM_SERVICE"], "iam_user", "plain"],
         aws_env(), p_token, "result=Success "),
        ("mariadb CLI, token over TLS, SELECT",
         ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", m_port, "-u", "iam_user",
          f"--ssl-ca={mariadb['IAM_STANDIN_MARIADB_CA']}", "--ssl-verify-server-cert", "-N", "-B",
          "-e", "SELECT CURRENT_USER()"],
         aws_env(MYSQL_PWD=m_token), None, "iam_user@%"),
        ("mariadb CLI, root over the socket, SELECT",
         ["mariadb", "--no-defaults", f"--socket={mariadb['IAM_STANDIN_MARIADB_SOCKET']}", "-uroot", "-N", "-B",
          "-e", "SELECT CURRENT_USER()"],
         aws_env(), None, "root@localhost"),
        ("psql, token over TLS (verify-full), SELECT",
         ["psql", pg.conninfo(host="127.0.0.1"), "-XAtc", "SELECT current_user"],
         libpq_env(PGPASSWORD=p_token), None, "iam_user"),
        ("psql, postgres over the socket, SELECT",
         ["psql", "-XAt", "-h", pg.standin["IAM_STANDIN_PG_SOCKET_DIR"], "-p", str(pg.port), "-U", "postgres",
          "-d", "postgres", "-c", "SELECT current_user"],
         libpq_env(), None, "postgres"),
    ]
    lines = [
        f"login latency, median of {runs} runs, microseconds (whole client process; load average "
        f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])} on {os.cpu_count()} cores):"
    ]
    for label, argv, env, stdin, want in measured:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            r = run(argv, env=env, input=stdin, timeout=30)
            times.append((time.perf_counter() - start) * 1e6)
            assert r.returncode == 0 and want in r.stdout, f"{label}: exit {r.returncode}: {r.stdout} {r.stderr}"
        lines.append(f"  {label:<43} {statistics.median(times):.0f}")
    report = "\n".join(lines) + "\n"
    (WORK / "standin").mkdir(parents=True, exist_ok=True)
    (WORK / "standin/latency.txt").write_text(report)
    print(report)


# --- Stop ---


def pam_services(name: str, standin: StandIn) -> list[str]:
    if name == "postgres":
        return [standin["IAM_STANDIN_PG_PAM_SERVICE"], standin["IAM_STANDIN_PG_DSQL_PAM_SERVICE"]]
    return [standin["IAM_STANDIN_MARIADB_PAM_SERVICE"]]


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.deep
@pytest.mark.parametrize("name, port_var", [("postgres", "IAM_STANDIN_PG_PORT"), ("mariadb", "IAM_STANDIN_MARIADB_PORT")])
def test_stop_leaves_no_server_and_no_pam_service(request, name: str, port_var: str):
    """Stops the session's stand-in and starts it again for the tests that follow."""
    standin: StandIn = request.getfixturevalue(name)
    script, env = STANDIN / f"{name}.sh", aws_env(**{port_var: standin[port_var]})
    try:
        run(["bash", script, "stop"], env=env, timeout=120, check=True)
        status = run(["bash", script, "status"], env=env)
        assert status.returncode == 3 and status.stdout.strip() == "stopped", status.stdout
        assert not port_open(int(standin[port_var]))
        assert [s for s in pam_services(name, standin) if Path("/etc/pam.d", s).exists()] == []
    finally:
        run(["bash", script, "start"], env=env, timeout=300, check=True)
