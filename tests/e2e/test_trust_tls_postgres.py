"""`exec`, the libpq shim and `pgpass` give tokens only to a PostgreSQL server whose certificate
libpq has verified: `sslmode=verify-full` with the CA lookup's bundle (the RDS CA unless told
otherwise), never `require` (which encrypts and verifies nothing).

A fake server (trust_tls_fakes.FakePostgres) with a self-signed certificate naming the RDS host
records any password it receives.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import BIN, LIB, ROOT, demo_env, run
from trust_tls_fakes import Certs, FakePostgres

RDS_HOST = "mydb.c9akciq32.us-east-1.rds.amazonaws.com"
BUNDLE = ROOT / "certs/rds-global-bundle.pem"


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"), RDS_HOST)


@pytest.fixture
def fake(request, certs):
    server = FakePostgres(*certs.pair(getattr(request, "param", "self_signed")))
    yield server
    server.close()


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> Path:
    """pq-preload/iam_pq_preload.c built against the library under test (as
    scripts/build-pq-preload.sh builds it next to target/release's)."""
    out = tmp_path_factory.mktemp("shim") / "libiam_db_auth_pq.so"
    cflags = subprocess.run(["pkg-config", "--cflags", "libpq"], capture_output=True, text=True,
                            check=True, timeout=30).stdout.split()
    run(["cc", "-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
         "-fvisibility=hidden", *cflags, "-I", ROOT / "include", "-o", out,
         ROOT / "pq-preload/iam_pq_preload.c", "-L", LIB.parent, "-liam_db_auth",
         f"-Wl,-rpath,{LIB.parent}", "-Wl,-z,defs", "-ldl"], check=True, timeout=120)
    return out


@pytest.fixture
def home(tmp_path) -> Path:
    """A home and cache of its own: no ~/.pgpass, no ~/.postgresql/root.crt, no `ca update`
    copy of the machine's user."""
    (tmp_path / "cache").mkdir()
    return tmp_path


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = demo_env(AWS_REGION="us-east-1", HOME=str(home), XDG_CACHE_HOME=str(home / "cache"),
                   PGPASSFILE=str(home / "no-pgpass"), PGCONNECT_TIMEOUT="10", **extra)
    for name in [n for n in env if n.startswith("PG") and n not in extra
                 and n not in ("PGPASSFILE", "PGCONNECT_TIMEOUT")]:
        del env[name]
    return env


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


# --- exec ----------------------------------------------------------------------------------------

def test_exec_gives_no_token_to_a_fake_server(fake, home):
    # The case: a token for mydb...rds.amazonaws.com:5432, psql sent to a fake server.
    env = env_for(home, PGHOSTADDR="127.0.0.1", PGPORT=str(fake.port))
    result = run([BIN, "exec", "--host", RDS_HOST, "--port", "5432", "--user", "iam_user", "--",
                  "psql", "-XAtc", "SELECT 1"], env=env)
    assert fake.tls_connections >= 1, f"psql did not reach the fake: {output(result)}"
    assert not fake.got_token(), "the fake server received a token"
    assert result.returncode != 0, output(result)


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require"])
def test_exec_refuses_a_preset_sslmode_that_does_not_verify(mode, home):
    env = env_for(home, PGSSLMODE=mode)
    result = run([BIN, "exec", "--host", RDS_HOST, "--user", "iam_user", "--",
                  "printenv", "PGSSLMODE"], env=env)
    assert result.returncode == 125, output(result)
    assert result.stdout == "", "the command ran"
    assert f"PGSSLMODE={mode}" in result.stderr and "verify-full" in result.stderr, output(result)


@pytest.mark.parametrize("mode", ["verify-full", "verify-ca"])
def test_exec_keeps_a_preset_verifying_sslmode(mode, home):
    result = run([BIN, "exec", "--host", RDS_HOST, "--user", "iam_user", "--",
                  "printenv", "PGSSLMODE"], env=env_for(home, PGSSLMODE=mode))
    assert result.returncode == 0 and result.stdout.strip() == mode, output(result)


def test_exec_sets_verify_full_and_the_rds_bundle(home):
    result = run([BIN, "exec", "--host", RDS_HOST, "--user", "iam_user", "--",
                  "printenv", "PGSSLMODE", "PGSSLROOTCERT"], env=env_for(home))
    assert result.returncode == 0, output(result)
    mode, rootcert = result.stdout.split("\n")[:2]
    assert mode == "verify-full"
    assert Path(rootcert).read_bytes() == BUNDLE.read_bytes(), rootcert


def test_exec_opt_out_allows_a_preset_require(home):
    env = env_for(home, PGSSLMODE="require", IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS="1")
    result = run([BIN, "exec", "--host", RDS_HOST, "--user", "iam_user", "--",
                  "printenv", "PGSSLMODE"], env=env)
    assert result.returncode == 0 and result.stdout.strip() == "require", output(result)


def test_exec_opt_out_allows_a_preset_disable(home):
    env = env_for(home, PGSSLMODE="disable", IAM_DB_AUTH_ALLOW_CLEARTEXT="1")
    result = run([BIN, "exec", "--host", RDS_HOST, "--user", "iam_user", "--",
                  "printenv", "PGSSLMODE"], env=env)
    assert result.returncode == 0 and result.stdout.strip() == "disable", output(result)


WHO = "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def test_exec_logs_in_to_the_standin_with_the_ca_flag(postgres, home):
    result = run([BIN, "exec", "--host", "localhost", "--port", postgres["IAM_STANDIN_PG_PORT"],
                  "--user", "iam_user", "--ca-file", postgres["IAM_STANDIN_PG_CA"], "--",
                  "psql", "dbname=iam_test", "-XAtc", WHO], env=env_for(home))
    assert result.stdout.strip() == "iam_user true", output(result)


def test_exec_through_a_tunnel_verifies_the_signing_host(postgres, home):
    # --host 127.0.0.1 with a signing host: libpq connects to 127.0.0.1 and checks the
    # certificate for the RDS name (host=<rds name> hostaddr=127.0.0.1).
    env = env_for(home, IAM_DB_AUTH_CA_FILE=postgres["IAM_STANDIN_PG_CA"])
    result = run([BIN, "exec", "--host", "127.0.0.1", "--port", postgres["IAM_STANDIN_PG_PORT"],
                  "--user", "iam_user", "--signing-host", postgres["IAM_STANDIN_PG_RDS_HOST"],
                  "--signing-port", postgres["IAM_STANDIN_PG_RDS_PORT"], "--",
                  "sh", "-c", f'echo "$PGHOST $PGHOSTADDR"; psql dbname=iam_test -XAtc "{WHO}"'],
                 env=env)
    assert result.stdout.split("\n")[:2] == [f"{postgres['IAM_STANDIN_PG_RDS_HOST']} 127.0.0.1",
                                             "iam_user true"], output(result)


@pytest.mark.parametrize("fake", ["ip_only"], indirect=True)
def test_exec_through_a_tunnel_gives_no_token_to_a_server_that_is_not_the_signing_host(
        fake, certs, home):
    # The fake proves to be 127.0.0.1 (a trusted CA signed that name), not the RDS host.
    env = env_for(home, IAM_DB_AUTH_CA_FILE=str(certs.dir / "ca.pem"))
    result = run([BIN, "exec", "--host", "127.0.0.1", "--port", str(fake.port), "--user",
                  "iam_user", "--signing-host", RDS_HOST, "--signing-port", "5432", "--",
                  "psql", "dbname=x", "-XAtc", "SELECT 1"], env=env)
    assert fake.tls_connections >= 1, output(result)
    assert not fake.got_token(), "a token for the signing host went to a server that is not it"


# --- the LD_PRELOAD shim -----------------------------------------------------------------------------

def shimmed(shim: Path, home: Path, conninfo: str, **extra: str) -> subprocess.CompletedProcess:
    env = env_for(home, LD_PRELOAD=str(shim), **extra)
    return run(["psql", conninfo, "-XAtc", WHO], env=env)


def test_shim_gives_no_token_to_a_fake_server(shim, fake, home):
    result = shimmed(shim, home, f"host={RDS_HOST} hostaddr=127.0.0.1 port={fake.port} "
                                 "user=iam_user dbname=x")
    assert fake.tls_connections >= 1, output(result)
    assert not fake.got_token(), "the fake server received a token"


def test_shim_turns_an_explicit_require_into_verify_full(shim, fake, home):
    result = shimmed(shim, home, f"host={RDS_HOST} hostaddr=127.0.0.1 port={fake.port} "
                                 "user=iam_user dbname=x sslmode=require")
    assert fake.tls_connections >= 1, output(result)
    assert not fake.got_token(), "the fake server received a token"


def test_shim_logs_in_to_the_standin_with_the_ca_from_the_environment(shim, postgres, home):
    result = shimmed(shim, home, f"host=localhost port={postgres['IAM_STANDIN_PG_PORT']} "
                                 "user=iam_user dbname=iam_test",
                     IAM_DB_AUTH_PQ_HOSTS="localhost",
                     IAM_DB_AUTH_CA_FILE=postgres["IAM_STANDIN_PG_CA"])
    assert result.stdout.strip() == "iam_user true", output(result)


@pytest.mark.parametrize("fake", ["ip_only"], indirect=True)
def test_shim_gives_no_signing_host_token_to_an_unlisted_connect_host(shim, fake, certs, home):
    result = shimmed(shim, home, f"host=127.0.0.1 port={fake.port} user=iam_user dbname=x "
                                 f"sslrootcert={certs.dir / 'ca.pem'}",
                     IAM_DB_AUTH_PQ_HOSTS="127.0.0.1", IAM_DB_AUTH_SIGNING_HOST=RDS_HOST,
                     IAM_DB_AUTH_SIGNING_PORT="5432")
    assert not fake.got_token(), "a token for the signing host went to a server that is not it"
    assert "IAM_DB_AUTH_CONNECT_HOSTS" in result.stderr, output(result)


@pytest.mark.parametrize("fake", ["ip_only"], indirect=True)
def test_shim_gives_the_signing_host_token_to_a_listed_connect_host(shim, fake, certs, home):
    result = shimmed(shim, home, f"host=127.0.0.1 port={fake.port} user=iam_user dbname=x "
                                 f"sslrootcert={certs.dir / 'ca.pem'}",
                     IAM_DB_AUTH_PQ_HOSTS="127.0.0.1", IAM_DB_AUTH_SIGNING_HOST=RDS_HOST,
                     IAM_DB_AUTH_SIGNING_PORT="5432", IAM_DB_AUTH_CONNECT_HOSTS="127.0.0.1")
    assert fake.got_token(), output(result)


# --- pgpass ------------------------------------------------------------------------------------------

def test_pgpass_says_which_settings_give_verified_tls(home):
    result = run([BIN, "pgpass", "--host", RDS_HOST, "--user", "iam_user",
                  "--file", home / "pgpass"], env=env_for(home))
    assert result.returncode == 0, output(result)
    text = result.stderr
    assert "sslmode=verify-full" in text and "sslrootcert=" in text, text
    assert f"host={RDS_HOST} hostaddr=127.0.0.1" in text, text
    assert text.count("sslmode=verify-full") == 1, text
