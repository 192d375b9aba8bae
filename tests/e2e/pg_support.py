"""Helpers for the PostgreSQL modules (test_postgres_*.py, test_standin_postgres.py,
test_pam_module.py, test_standins.py): the stand-in's names and connection strings, one login
helper per job, the pgpass command line, background processes, and the programs the tests build.

Modules load it as a plugin for its fixtures: `pytest_plugins = ["pg_support"]`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BIN, ROOT, StandIn, aws_env, demo_env, run, wait_until
from conftest import token as cli_token

# What every login query prints: who logged in, and whether the session is TLS.
WHO = "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
# pg_dump's output for the row `probe_table` writes.
PROBE_ROW = "INSERT INTO public.pgpass_probe VALUES (1, 'dumped');"
PSYCOPG_LOGIN = Path(__file__).with_name("psycopg_login.py")
VENV_PYTHON = ROOT / ".venv/bin/python"
# A passfile that does not exist: libpq finds no password but the one a test gives.
NO_PASSFILE = "/nonexistent/iam-db-auth-e2e/pgpass"


@dataclass(frozen=True)
class Pg:
    """The PostgreSQL stand-in's names (see scripts/standin/postgres.sh env)."""

    standin: StandIn

    @property
    def port(self) -> int:
        return int(self.standin["IAM_STANDIN_PG_PORT"])

    @property
    def user(self) -> str:
        return self.standin["IAM_STANDIN_PG_USER"]

    @property
    def db(self) -> str:
        return self.standin["IAM_STANDIN_PG_DATABASE"]

    @property
    def ca(self) -> str:
        return self.standin["IAM_STANDIN_PG_CA"]

    @property
    def region(self) -> str:
        return self.standin["IAM_STANDIN_REGION"]

    @property
    def rds_host(self) -> str:
        return self.standin["IAM_STANDIN_PG_RDS_HOST"]

    @property
    def dsql_host(self) -> str:
        return self.standin["IAM_STANDIN_PG_DSQL_HOST"]

    @property
    def dsql_user(self) -> str:
        return self.standin["IAM_STANDIN_PG_DSQL_USER"]

    def conninfo(
        self,
        user: str | None = None,
        host: str = "localhost",
        dbname: str | None = None,
        sslmode: str | None = "verify-full",
        hostaddr: str | None = None,
    ) -> str:
        """A libpq connection string without a password (full certificate checks by default)."""
        parts = [f"host={host}"]
        if hostaddr:
            parts.append(f"hostaddr={hostaddr}")
        parts += [f"port={self.port}", f"dbname={dbname or self.db}", f"user={user or self.user}"]
        if sslmode:
            parts.append(f"sslmode={sslmode}")
        parts.append(f"sslrootcert={self.ca}")
        return " ".join(parts)

    def env(self, **extra: str | None) -> dict[str, str]:
        """The demo key (known to the stand-in) and its region, nothing else from outside."""
        return demo_env(AWS_REGION=self.region, **extra)

    def no_credentials_env(self, **extra: str | None) -> dict[str, str]:
        return aws_env(AWS_REGION=self.region, **extra)

    def token(self, user: str | None = None, host: str = "127.0.0.1", port: int | None = None,
              *options: str, env: dict[str, str] | None = None) -> str:
        """A token from `iam-db-auth token` (demo key unless `env` says otherwise)."""
        return cli_token(host, port or self.port, user or self.user, env or self.env(), *options)

    def admin(self, sql: str) -> str:
        """Runs SQL as role postgres over the admin socket (peer authentication, no IAM)."""
        r = run(
            ["psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-h", self.standin["IAM_STANDIN_PG_SOCKET_DIR"],
             "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-c", sql],
            env=libpq_env(),
            timeout=30,
            check=True,
        )
        return r.stdout.strip()


def libpq_env(passfile: os.PathLike | str | None = None, base: dict[str, str] | None = None,
              **extra: str | None) -> dict[str, str]:
    """An environment for a libpq client: `base` (default: no AWS settings) less every PG*
    variable, the given passfile (default: none), a connect timeout, plus `extra`."""
    env = {k: v for k, v in (base if base is not None else aws_env()).items() if not k.startswith("PG")}
    env["PGPASSFILE"] = str(passfile) if passfile else NO_PASSFILE
    env["PGCONNECT_TIMEOUT"] = "10"
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def psql_login(conninfo: str, env: dict[str, str], sql: str = WHO, *options: str,
               timeout: float = 30) -> subprocess.CompletedProcess:
    """Runs stock psql with `conninfo` and one query (default: WHO)."""
    return run(["psql", conninfo, "-XAt", "-c", sql, *options], env=env, timeout=timeout)


def assert_stdout(r: subprocess.CompletedProcess, want: str) -> None:
    """The command printed exactly `want` (its exit status and stderr shown otherwise)."""
    assert r.stdout.strip() == want, f"exit {r.returncode}; stdout {r.stdout[-500:]!r}; stderr {r.stderr[-1500:]!r}"


def assert_refused(pg: Pg, password: str, conninfo: str, reason: str) -> None:
    """psql with `password` is refused by the server (libpq's FATAL error, exit 2) and `reason`
    appears in the server log (it writes the verifier's reason after answering the client)."""
    offset = pg.standin.log_size()
    r = psql_login(conninfo, libpq_env(PGPASSWORD=password))
    assert r.returncode == 2 and "FATAL:" in r.stderr, f"not refused: exit {r.returncode}: {r.stdout}{r.stderr}"
    assert wait_until(lambda: reason in pg.standin.log_since(offset), 10), (
        f"refused, but the log does not say {reason!r}: {pg.standin.log_since(offset)[-1500:]}"
    )


# --- The passfile helper ---


def pgpass(pg: Pg, passfile: os.PathLike | str, *options: str, env: dict[str, str] | None = None,
           host: str = "localhost", user: str | None = None) -> subprocess.CompletedProcess:
    """`iam-db-auth pgpass` for the stand-in's IAM user (demo key unless `env` says otherwise)."""
    return run(
        [BIN, "pgpass", "--host", host, "--port", str(pg.port), "--user", user or pg.user,
         "--file", passfile, *options],
        env=env if env is not None else pg.env(),
    )


def entry(passfile: os.PathLike | str, pg: Pg, host: str = "localhost", user: str | None = None,
          dbname: str = "*") -> str | None:
    """The passfile's line for host:port:dbname:user, or None."""
    prefix = f"{host}:{pg.port}:{dbname}:{user or pg.user}:"
    try:
        text = Path(passfile).read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return None
    return next((line for line in text.split("\n") if line.startswith(prefix)), None)


def psql_logs_in(pg: Pg, passfile: os.PathLike | str) -> None:
    """psql, reading `passfile`, logs in as the IAM user over TLS (verify-full)."""
    assert_stdout(psql_login(pg.conninfo(), libpq_env(passfile)), f"{pg.user} true")


def amz_date(line: str | None) -> str:
    """The token's X-Amz-Date (yyyymmddThhmmssZ: ordered as text), or "" when there is none."""
    m = re.search(r"X-Amz-Date=(\d{8}T\d{6}Z)", line or "")
    return m.group(1) if m else ""


# --- Background processes ---


class Background:
    """A command running in its own process group, its output (stdout and stderr) in a file."""

    def __init__(self, args: list, env: dict[str, str], log: Path):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(a) for a in args], env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def send(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        """Its exit status (negative: killed by that signal), or None if still running."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Kills what is left of its process group (only processes this test started)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)


@pytest.fixture
def background(tmp_path: Path):
    """start(name, args, env) -> Background; everything still running is killed at the end."""
    started: list[Background] = []

    def start(name: str, args: list, env: dict[str, str]) -> Background:
        bg = Background(args, env, tmp_path / f"{name}.log")
        started.append(bg)
        return bg

    yield start
    for bg in started:
        bg.stop()


# --- Clients and the programs the tests build ---


@dataclass(frozen=True)
class LibpqClient:
    """An unmodified libpq program: how it runs with a connection string, and whether its
    output shows it logged in as the stand-in's IAM user over TLS."""

    argv: Callable[[str], list]
    logged_in: Callable[[str], bool]


# Each with a libpq of its own: psql and pg_dump and the C program use the system's, psycopg
# (binary wheel) the one it bundles; psycopg connects with PQconnectStart, the C program with
# PQconnectdb.
CLIENTS = ("psql", "pg_dump", "psycopg", "c_libpq")


def libpq_clients(pg: Pg, c_program: Path) -> dict[str, LibpqClient]:
    u = pg.user
    return {
        "psql": LibpqClient(lambda c: ["psql", c, "-XAtc", WHO], lambda out: out.strip() == f"{u} true"),
        "pg_dump": LibpqClient(
            lambda c: ["pg_dump", f"--dbname={c}", "--table=pgpass_probe", "--data-only", "--inserts"],
            lambda out: PROBE_ROW in out,
        ),
        "psycopg": LibpqClient(
            lambda c: [VENV_PYTHON, PSYCOPG_LOGIN, c],
            lambda out: out.startswith(f"{u} ssl=True impl=binary libpq="),
        ),
        "c_libpq": LibpqClient(lambda c: [c_program, c], lambda out: out.startswith(f"{u} ssl=t libpq=")),
    }


@pytest.fixture(scope="session")
def pg(postgres: StandIn) -> Pg:
    return Pg(postgres)


@pytest.fixture(scope="session")
def probe_table(pg: Pg) -> None:
    """A table with one row for pg_dump, made by the IAM user (it owns the database)."""
    r = psql_login(
        pg.conninfo(),
        libpq_env(PGPASSWORD=pg.token(host="localhost")),
        "CREATE TABLE IF NOT EXISTS pgpass_probe (id int PRIMARY KEY, note text);"
        " INSERT INTO pgpass_probe VALUES (1, 'dumped') ON CONFLICT DO NOTHING",
    )
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="session")
def pg_login_program(tmp_path_factory) -> Path:
    """c-tests/pg_login.c built on the system libpq, warnings as errors."""
    out = tmp_path_factory.mktemp("pg_login") / "pg_login"
    flags = run(["pkg-config", "--cflags", "--libs", "libpq"], check=True).stdout.split()
    r = run(["cc", "-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-o", out,
             ROOT / "c-tests/pg_login.c", *flags])
    if r.returncode != 0:
        pytest.fail(f"c-tests/pg_login.c does not build warning-free:\n{r.stderr}")
    return out


@pytest.fixture(scope="session")
def clients(pg: Pg, pg_login_program: Path, probe_table: None) -> dict[str, LibpqClient]:
    return libpq_clients(pg, pg_login_program)


@pytest.fixture(scope="session")
def shim(built) -> Path:
    """The LD_PRELOAD library, built by scripts/build-pq-preload.sh (-Werror, -z defs)."""
    r = run(["bash", ROOT / "scripts/build-pq-preload.sh"], timeout=300)
    if r.returncode != 0:
        pytest.fail(f"the LD_PRELOAD library does not build:\n{r.stderr}")
    return Path(r.stdout.strip())


@pytest.fixture(scope="session")
def pam_check(tmp_path_factory) -> Path:
    """scripts/standin/pam_check.c: a PAM application that hosts the stand-ins' module."""
    out = tmp_path_factory.mktemp("pam_check") / "pam_check"
    r = run(["cc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-o", out,
             ROOT / "scripts/standin/pam_check.c", "-lpam"])
    if r.returncode != 0:
        pytest.fail(f"scripts/standin/pam_check.c does not build:\n{r.stderr}")
    return out
