"""Aurora DSQL logins through pgpass and exec, against the stand-in's DSQL endpoint (a DSQL-like
name in the certificate; roles in dsql_iam take DSQL tokens): admin gets the DbConnectAdmin
token, other roles DbConnect, signed for the endpoint without a port.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BIN, run
from pg_support import Pg, assert_stdout, entry, libpq_env, psql_login

pytest_plugins = ["pg_support"]  # its fixtures


def dsql_conninfo(pg: Pg, user: str) -> str:
    return pg.conninfo(user=user, host=pg.dsql_host, hostaddr="127.0.0.1", dbname="postgres")


@pytest.fixture(scope="module")
def dsql_passfile(pg: Pg, tmp_path_factory) -> Path:
    """Entries for admin and the custom role, written by one pgpass run."""
    path = tmp_path_factory.mktemp("dsql") / "pgpass"
    r = run(
        [BIN, "pgpass", "--host", pg.dsql_host, "--port", pg.port, "--user", "admin",
         "--target", f"host={pg.dsql_host} port={pg.port} user={pg.dsql_user}", "--file", path],
        env=pg.env(),
    )
    assert r.returncode == 0, r.stderr
    return path


@pytest.mark.parametrize("user, action", [("admin", "DbConnectAdmin"), ("dsql_user", "DbConnect")])
def test_pgpass_writes_the_dsql_token_for_each_role(pg: Pg, dsql_passfile: Path, user: str, action: str):
    line = entry(dsql_passfile, pg, host=pg.dsql_host, user=user)
    # Signed for the endpoint without a port, so the token's host needs no escaping.
    want = f"{pg.dsql_host}:{pg.port}:*:{user}:{pg.dsql_host}/?Action={action}&"
    assert line and line.startswith(want), (line or "")[:160]


@pytest.mark.parametrize("user", ["admin", "dsql_user"])
def test_psql_logs_in_to_dsql_with_the_passfile(pg: Pg, dsql_passfile: Path, user: str):
    assert_stdout(psql_login(dsql_conninfo(pg, user), libpq_env(dsql_passfile), "SELECT current_user"), user)


def dsql_exec(pg: Pg, *options: str) -> list:
    return [BIN, "exec", *options, "--host", pg.dsql_host, "--port", pg.port, "--user", "admin", "--",
            "psql", dsql_conninfo(pg, "admin"), "-XAtc", "SELECT current_user"]


def test_exec_logs_psql_in_to_dsql_as_admin(pg: Pg):
    assert_stdout(run(dsql_exec(pg), env=libpq_env(base=pg.env())), "admin")


def test_exec_kind_rds_sends_an_rds_token_which_dsql_refuses(pg: Pg):
    r = run(dsql_exec(pg, "--kind", "rds"), env=libpq_env(base=pg.env()))
    assert r.returncode == 2 and "PAM authentication failed" in r.stderr, r.stderr


def test_exec_engine_mysql_kind_dsql_is_refused_before_running_anything(pg: Pg, tmp_path: Path):
    marker = tmp_path / "ran"
    r = run([BIN, "exec", "--engine", "mysql", "--kind", "dsql", "--host", pg.dsql_host, "--user", "admin", "--",
             "touch", marker], env=pg.env())
    assert r.returncode == 125, r.stderr
    assert not marker.exists()
