"""The LD_PRELOAD library for libpq programs that cannot use a passfile (pq-preload/): unmodified
clients log in with no passfile and no PGPASSWORD, only a token the shim supplies for hosts that
match IAM_DB_AUTH_PQ_HOSTS; it never sends one without TLS and says why it has none.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import LIB, aws_env, run
from pg_support import CLIENTS, Pg, assert_stdout, libpq_env, psql_login

pytest_plugins = ["pg_support"]  # its fixtures

CONNECT_FUNCTIONS = ["PQconnectStart", "PQconnectStartParams", "PQconnectdb", "PQconnectdbParams", "PQsetdbLogin"]


def shim_env(shim: Path, base: dict[str, str], hosts: str = "localhost") -> dict[str, str]:
    """No passfile, no PGPASSWORD: only the shim can supply the password."""
    return libpq_env(base=base, IAM_DB_AUTH_PQ_HOSTS=hosts, LD_PRELOAD=str(shim))


def defined_pq_symbols(library: Path) -> list[str]:
    out = run(["nm", "-D", "--defined-only", library], check=True).stdout
    return sorted(name for *_, name in (line.split() for line in out.splitlines()) if name.startswith("PQ"))


def test_the_shim_defines_exactly_the_five_connect_functions(shim: Path):
    assert defined_pq_symbols(shim) == CONNECT_FUNCTIONS


def test_the_shim_does_not_link_libpq(shim: Path):
    r = run(["ldd", shim], check=True)
    assert "libiam_db_auth.so" in r.stdout and "libpq" not in r.stdout, r.stdout


def test_the_main_library_defines_no_libpq_symbol():
    assert defined_pq_symbols(LIB) == []


@pytest.mark.parametrize("name", CLIENTS)
def test_libpq_client_logs_in_through_the_shim(pg: Pg, shim: Path, clients, name: str):
    client = clients[name]
    r = run(client.argv(pg.conninfo()), env=shim_env(shim, pg.env()))
    assert client.logged_in(r.stdout), f"{name}: exit {r.returncode}: {r.stdout[-500:]} {r.stderr[-1500:]}"


def test_the_shim_makes_a_connection_without_sslmode_use_tls(pg: Pg, shim: Path):
    r = psql_login(pg.conninfo(sslmode=None), shim_env(shim, pg.env()), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    assert_stdout(r, "t")


# (id, IAM_DB_AUTH_PQ_HOSTS, sslmode, credentials, words on psql's stderr)
NO_LOGIN = [
    ("host_matches_no_pattern", "*.rds.amazonaws.com", "verify-full", "demo", "no password supplied"),
    ("sslmode_disable", "localhost", "disable", "demo", "not sending a token to localhost with sslmode=disable"),
    ("unknown_key", "localhost", "verify-full", "unknown_key", "PAM authentication failed"),
    ("no_credentials", "localhost", "verify-full", "none",
     "pq-preload: no token for {user}@localhost:{port}: no AWS credentials found"),
]


@pytest.mark.parametrize("hosts, sslmode, creds, words", [c[1:] for c in NO_LOGIN], ids=[c[0] for c in NO_LOGIN])
def test_the_shim_gives_no_usable_token(pg: Pg, shim: Path, hosts: str, sslmode: str, creds: str, words: str):
    base = {
        "demo": pg.env(),
        "unknown_key": aws_env(AWS_ACCESS_KEY_ID="AKIAUNKNOWNKEY000001", AWS_SECRET_ACCESS_KEY="x", AWS_REGION=pg.region),
        "none": pg.no_credentials_env(),
    }[creds]
    r = psql_login(pg.conninfo(sslmode=sslmode), shim_env(shim, base, hosts), "SELECT 1")
    assert r.returncode == 2 and words.format(user=pg.user, port=pg.port) in r.stderr, r.stderr


def test_without_the_shim_the_same_psql_cannot_log_in(pg: Pg):
    r = psql_login(pg.conninfo(), libpq_env(base=pg.env()), "SELECT 1")
    assert r.returncode == 2 and "no password supplied" in r.stderr, r.stderr


CONNECT_AND_SURVIVE = r"""
#include <libpq-fe.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    PGconn *conn = PQconnectdb(argc > 1 ? argv[1] : "");
    PQfinish(conn);
    printf("survived\n");
    return 0;
}
"""


def test_a_shim_log_line_to_a_closed_stderr_does_not_kill_the_program(pg: Pg, shim: Path, tmp_path: Path):
    # A libpq program whose stderr is a pipe nobody reads any more, SIGPIPE at its default
    # action: the shim's own line (here: why it sends no token without TLS) must not end it.
    source = tmp_path / "survive.c"
    source.write_text(CONNECT_AND_SURVIVE)
    program = tmp_path / "survive"
    include = run(["pg_config", "--includedir"], check=True).stdout.strip()
    run(["cc", "-O2", "-Wall", "-Werror", f"-I{include}", "-o", program, source, "-lpq"], check=True)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        r = subprocess.run(
            [program, pg.conninfo(sslmode="disable")],
            env=shim_env(shim, pg.env()),
            stdout=subprocess.PIPE,
            stderr=write_end,
            text=True,
            timeout=30,
        )
    finally:
        os.close(write_end)
    assert r.returncode == 0 and r.stdout == "survived\n", f"exit {r.returncode} (-13: killed by SIGPIPE)"
