"""`iam-db-auth exec`: runs a client with a fresh token in its environment (PGPASSWORD, PGHOST,
PGPORT, PGUSER, PGSSLMODE=verify-full and PGSSLROOTCERT from the CA lookup; with --engine mysql
MYSQL_PWD, MYSQL_HOST, MYSQL_TCP_PORT), passes the client's exit status through and forwards
signals to it. The stand-in's CA is not the RDS bundle, so commands that log in get `--ca-file`.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from conftest import BIN, WORK, StandIn, aws_env, demo_env, random_text, run, wait_until
from pg_support import WHO, Pg, assert_stdout, libpq_env

pytest_plugins = ["pg_support"]  # its fixtures


def exec_args(pg: Pg, *command, options: tuple = ()) -> list:
    """`exec` for the stand-in's IAM user at localhost, trusting the stand-in's CA, then `command`."""
    return [BIN, "exec", "--ca-file", pg.ca, *options, "--host", "localhost", "--port", pg.port, "--user", pg.user,
            "--", *command]


def exec_env(pg: Pg, **extra: str | None) -> dict[str, str]:
    """The demo key, and no passfile or PG* setting: the password can only come from exec. Its
    own cache directory (exec may write the built-in RDS bundle out there)."""
    return libpq_env(base=pg.env(XDG_CACHE_HOME=str(WORK / "e2e-cache")), **extra)


def test_exec_runs_psql_with_the_token_host_port_and_user(pg: Pg):
    conninfo = f"dbname={pg.db} sslmode=verify-full sslrootcert={pg.ca}"
    assert_stdout(run(exec_args(pg, "psql", conninfo, "-XAtc", WHO), env=exec_env(pg)), f"{pg.user} true")


def test_exec_asks_for_verified_tls_when_the_command_does_not(pg: Pg):
    query = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    r = run(exec_args(pg, "sh", "-c", f'echo "$PGSSLMODE"; psql "dbname={pg.db}" -XAtc "{query}"'), env=exec_env(pg))
    assert_stdout(r, "verify-full\nt")


def test_exec_refuses_a_preset_pgsslmode_that_verifies_nothing(pg: Pg):
    r = run(exec_args(pg, "printenv", "PGSSLMODE"), env=exec_env(pg, PGSSLMODE="disable"))
    assert r.returncode == 125, r
    assert "PGSSLMODE=disable" in r.stderr and "the command was not run" in r.stderr, r.stderr


def failing_script(tmp_path: Path) -> Path:
    path = tmp_path / "fails.sql"
    path.write_text("SELECT 1;\nSELECT 1/0;\n")
    return path


# (id, the command (from pg and a scratch dir), credentials, exit status, words on stderr)
EXIT_STATUS = [
    ("psql_script_error", lambda pg, d: ["psql", f"dbname={pg.db}", "-XAtv", "ON_ERROR_STOP=1", "-f", failing_script(d)],
     "demo", 3, ""),
    ("psql_authentication_failed", lambda pg, d: ["psql", f"dbname={pg.db}", "-XAtc", "SELECT 1"],
     "unknown_key", 2, "PAM authentication failed"),
    ("killed_by_sigterm", lambda pg, d: ["sh", "-c", "kill -TERM $$"], "demo", 143, ""),
    ("no_credentials", lambda pg, d: ["true"], "none", 125, "no AWS credentials found"),
    ("missing_command", lambda pg, d: ["/nonexistent/command"], "demo", 127, ""),
]


def credentials(pg: Pg, kind: str) -> dict[str, str]:
    if kind == "demo":
        return exec_env(pg)
    if kind == "unknown_key":
        return libpq_env(base=aws_env(AWS_ACCESS_KEY_ID="AKIAUNKNOWNKEY000001", AWS_SECRET_ACCESS_KEY="x",
                                      AWS_REGION=pg.region))
    return libpq_env(base=pg.no_credentials_env())


@pytest.mark.parametrize("command, creds, status, words", [c[1:] for c in EXIT_STATUS], ids=[c[0] for c in EXIT_STATUS])
def test_exec_passes_the_exit_status_through(pg: Pg, tmp_path: Path, command, creds: str, status: int, words: str):
    r = run(exec_args(pg, *command(pg, tmp_path)), env=credentials(pg, creds))
    assert r.returncode == status, f"exit {r.returncode}: {r.stderr}"
    assert words in r.stderr


def test_exec_without_credentials_does_not_run_the_command(pg: Pg, tmp_path: Path):
    marker = tmp_path / "ran"
    r = run(exec_args(pg, "touch", marker), env=credentials(pg, "none"))
    assert r.returncode == 125 and "the command was not run" in r.stderr, r.stderr
    assert not marker.exists()


def test_sigint_sent_to_exec_reaches_psql_which_cancels_its_query(pg: Pg, background):
    # A sleep of its own length, so only this test's query is counted.
    seconds = f"30.{random_text(6, '123456789')}"
    query = f"SELECT pg_sleep({seconds})"
    running = f"SELECT count(*) FROM pg_stat_activity WHERE query = '{query}'"
    psql = background("exec-int", exec_args(pg, "psql", f"dbname={pg.db}", "-XAtv", "ON_ERROR_STOP=1", "-c", query),
                      exec_env(pg))
    assert wait_until(lambda: pg.admin(running) == "1", 10), psql.text()
    started = time.monotonic()
    psql.send(signal.SIGINT)
    status = psql.wait(10)
    assert status is not None and time.monotonic() - started < 10, psql.text()
    assert "canceling statement due to user request" in psql.text()
    assert wait_until(lambda: pg.admin(running) == "0", 10)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            pass
    return found


def test_sigterm_sent_to_exec_is_forwarded_and_no_orphan_is_left(pg: Pg, background):
    sleeper = background("exec-term", exec_args(pg, "sleep", "30"), exec_env(pg))
    child = wait_until(lambda: children(sleeper.pid), 10)
    assert child, sleeper.text()
    sleeper.send(signal.SIGTERM)
    # 143 as an exit status: exec reporting its command's death (exec dying itself would be -15).
    assert sleeper.wait(10) == 143, sleeper.text()
    assert wait_until(lambda: not Path(f"/proc/{child[0]}").exists(), 5), "the command outlived exec"


def test_exec_engine_mysql_logs_the_mariadb_client_in(mariadb: StandIn):
    user = mariadb["IAM_STANDIN_MARIADB_USER"]
    env = demo_env(AWS_REGION=mariadb["IAM_STANDIN_REGION"], MYSQL_HOST=None, MYSQL_TCP_PORT=None, MYSQL_PWD=None)
    r = run(
        [BIN, "exec", "--engine", "mysql", "--host", "127.0.0.1", "--port", mariadb["IAM_STANDIN_MARIADB_PORT"],
         "--user", user, "--",
         "mariadb", "--no-defaults", "-u", user, f"--ssl-ca={mariadb['IAM_STANDIN_MARIADB_CA']}",
         "--ssl-verify-server-cert", "-N", "-B", "-e", "SELECT CURRENT_USER()"],
        env=env,
    )
    assert_stdout(r, f"{user}@%")
