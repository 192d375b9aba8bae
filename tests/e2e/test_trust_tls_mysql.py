"""The MySQL plugin sends a token only to a server whose certificate it has verified itself.

Debian 12's libmariadb 3.3 leaves `tls_verify_status` at 0 whether or not it checked the
certificate, and neither the `mariadb` 10.11 CLI's defaults (TLS on, no verification) nor a C
client with only MYSQL_OPT_SSL_ENFORCE check it: the plugin reads the server's chain from the TLS
session and verifies it against the connection's CA (else the CA lookup: IAM_DB_AUTH_CA_FILE,
`ca update`'s copy, the installed file, the built-in RDS bundle), for the signing host's name.

The fakes (trust_tls_fakes.py) record what they are sent: "no token" is checked on the wire.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import BIN, ROOT, demo_env, run
from trust_tls_fakes import Certs, FakeMysql

MARK_NO_TOKEN = "ERROR 2061"


@pytest.fixture(scope="module")
def certs(tmp_path_factory, mariadb) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"), mariadb["IAM_STANDIN_MARIADB_RDS_HOST"])


@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("plugins")
    run([BIN, "mysql-plugin", "install", directory], check=True)
    return directory


@pytest.fixture(scope="module")
def c_client(tmp_path_factory) -> Path:
    """c-tests/mysql_plugin_login.c, built as the stage scripts build it."""
    out = tmp_path_factory.mktemp("cbin") / "mysql_plugin_login"
    flags = subprocess.run(["mariadb_config", "--cflags", "--libs"], capture_output=True,
                           text=True, check=True, timeout=30).stdout.split()
    run(["cc", "-Wall", "-Wextra", "-Werror", "-o", out, ROOT / "c-tests/mysql_plugin_login.c",
         *flags], check=True, timeout=120)
    return out


@pytest.fixture
def cache_home(tmp_path) -> Path:
    """An empty per-user cache directory: no `ca update` copy from the machine's user."""
    d = tmp_path / "cache"
    d.mkdir()
    return d


@pytest.fixture
def fake(request, certs):
    """A fake server with the certificate named by the test's parameter (default: self-signed)."""
    name = getattr(request, "param", "self_signed")
    server = FakeMysql(*certs.pair(name))
    yield server
    server.close()


def client_env(cache_home: Path, **extra: str) -> dict[str, str]:
    return demo_env(AWS_REGION="us-east-1", XDG_CACHE_HOME=str(cache_home), **extra)


def mariadb_cli(plugins: Path, port: int | str, env: dict[str, str], *options: str,
                user: str = "iam_user") -> subprocess.CompletedProcess:
    return run(["mariadb", "--no-defaults", f"--plugin-dir={plugins}", "-h", "127.0.0.1",
                "-P", str(port), "-u", user, "-N", "-B", *options, "-e", "SELECT CURRENT_USER()"],
               env=env, timeout=30)


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def says_how_to_give_the_ca(text: str) -> bool:
    return "--ssl-ca" in text and "IAM_DB_AUTH_CA_FILE" in text


# --- the reported cases: a fake server with a self-signed certificate gets no token ------------

def test_mariadb_cli_defaults_give_no_token_to_a_self_signed_server(plugins, fake, cache_home):
    result = mariadb_cli(plugins, fake.port, client_env(cache_home))
    assert fake.tls_connections >= 1, f"the client did not even start TLS: {output(result)}"
    assert not fake.got_token(), "the fake server received a token"
    assert MARK_NO_TOKEN in output(result), output(result)
    assert says_how_to_give_the_ca(output(result)), output(result)


def test_c_client_with_only_ssl_enforce_gives_no_token(plugins, fake, cache_home, c_client):
    result = run([c_client, "--ssl-enforce", "--plugin-dir", plugins, "--expect-error", "2061",
                  "127.0.0.1", fake.port, "iam_user"], env=client_env(cache_home), timeout=30)
    assert fake.tls_connections >= 1, output(result)
    assert not fake.got_token(), "the fake server received a token"
    assert result.returncode == 0, output(result)
    assert says_how_to_give_the_ca(output(result)), output(result)


MYSQLCLIENT_PROGRAM = textwrap.dedent("""
    import sys, MySQLdb
    host, port, user, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    try:
        conn = MySQLdb.connect(host=host, port=port, user=user, ssl={"ca": ca}, connect_timeout=10)
    except MySQLdb.OperationalError as e:
        print("error", e.args[0], e.args[1])
        sys.exit(1)
    cur = conn.cursor()
    cur.execute("SELECT CURRENT_USER()")
    print(cur.fetchone()[0])
""")


def mysqlclient(plugins: Path, port: int | str, ca: Path, env: dict[str, str]):
    """An unmodified mysqlclient program: it passes only a CA; MARIADB_PLUGIN_DIR points
    libmariadb (loaded RTLD_LOCAL by Python) at the plugin."""
    return run([ROOT / ".venv/bin/python", "-c", MYSQLCLIENT_PROGRAM, "127.0.0.1", str(port),
                "iam_user", str(ca)], env={**env, "MARIADB_PLUGIN_DIR": str(plugins)}, timeout=30)


@pytest.mark.parametrize("fake", ["ip_only"], indirect=True)
def test_mysqlclient_gives_no_token_to_a_server_that_is_not_the_signing_host(
        plugins, fake, certs, mariadb, cache_home):
    # libmariadb 3.3 checks the chain when it has a CA (this one signed the fake's certificate,
    # for 127.0.0.1 only) but never the name: the plugin must, inside Python (RTLD_LOCAL).
    env = client_env(cache_home, IAM_DB_AUTH_SIGNING_HOST=mariadb["IAM_STANDIN_MARIADB_RDS_HOST"])
    result = mysqlclient(plugins, fake.port, certs.dir / "ca.pem", env)
    assert fake.tls_connections >= 1, output(result)
    assert not fake.got_token(), "the fake server received a token"
    assert "error 2061" in output(result) and "certificate" in output(result), output(result)


# --- what must keep working ----------------------------------------------------------------------

def test_mariadb_cli_with_ssl_ca_logs_in(plugins, mariadb, cache_home):
    result = mariadb_cli(plugins, mariadb["IAM_STANDIN_MARIADB_PORT"], client_env(cache_home),
                         f"--ssl-ca={mariadb['IAM_STANDIN_MARIADB_CA']}")
    assert result.stdout.strip() == "iam_user@%", output(result)


def test_mysqlclient_passing_only_a_ca_logs_in(plugins, mariadb, cache_home):
    result = mysqlclient(plugins, mariadb["IAM_STANDIN_MARIADB_PORT"],
                         Path(mariadb["IAM_STANDIN_MARIADB_CA"]), client_env(cache_home))
    assert result.stdout.strip() == "iam_user@%", output(result)


def test_ca_from_iam_db_auth_ca_file_logs_the_cli_in_with_its_defaults(plugins, mariadb, cache_home):
    env = client_env(cache_home, IAM_DB_AUTH_CA_FILE=mariadb["IAM_STANDIN_MARIADB_CA"])
    result = mariadb_cli(plugins, mariadb["IAM_STANDIN_MARIADB_PORT"], env)
    assert result.stdout.strip() == "iam_user@%", output(result)


def test_with_no_ca_given_the_builtin_rds_bundle_refuses_the_standin(plugins, mariadb, cache_home):
    # The stand-in's certificate comes from a private CA, which is not in the RDS bundle.
    result = mariadb_cli(plugins, mariadb["IAM_STANDIN_MARIADB_PORT"], client_env(cache_home))
    assert MARK_NO_TOKEN in output(result), output(result)
    assert "RDS" in output(result) and says_how_to_give_the_ca(output(result)), output(result)


def test_the_plugin_uses_the_copy_ca_update_wrote(plugins, mariadb, cache_home):
    # The per-user cache copy is the lookup's third place; the stand-in's CA stands in for it.
    copy = cache_home / "iam-db-auth" / "rds-global-bundle.pem"
    copy.parent.mkdir()
    copy.write_bytes(Path(mariadb["IAM_STANDIN_MARIADB_CA"]).read_bytes())
    result = mariadb_cli(plugins, mariadb["IAM_STANDIN_MARIADB_PORT"], client_env(cache_home))
    assert result.stdout.strip() == "iam_user@%", output(result)


# --- the signing host (tunnels) and the certificate -------------------------------------------------

def test_signing_host_named_in_the_certificate_logs_in(plugins, mariadb, cache_home):
    env = client_env(cache_home, IAM_DB_AUTH_SIGNING_HOST=mariadb["IAM_STANDIN_MARIADB_RDS_HOST"],
                     IAM_DB_AUTH_SIGNING_PORT=mariadb["IAM_STANDIN_MARIADB_RDS_PORT"])
    result = mariadb_cli(plugins, mariadb["IAM_STANDIN_MARIADB_PORT"], env,
                         f"--ssl-ca={mariadb['IAM_STANDIN_MARIADB_CA']}")
    assert result.stdout.strip() == "iam_user@%", output(result)


@pytest.mark.parametrize("fake", ["ip_only"], indirect=True)
def test_signing_host_not_in_the_certificate_gets_no_token(plugins, fake, certs, mariadb, cache_home):
    # The server proves to be 127.0.0.1 (a trusted CA signed that name), not the signing host.
    env = client_env(cache_home, IAM_DB_AUTH_SIGNING_HOST=mariadb["IAM_STANDIN_MARIADB_RDS_HOST"])
    result = mariadb_cli(plugins, fake.port, env, f"--ssl-ca={certs.dir / 'ca.pem'}")
    assert fake.tls_connections >= 1, output(result)
    assert not fake.got_token(), "a token for the signing host went to a server that is not it"
    assert MARK_NO_TOKEN in output(result) and "IAM_DB_AUTH_CONNECT_HOSTS" in output(result), output(result)


@pytest.mark.parametrize("fake", ["ip_only"], indirect=True)
def test_a_connect_host_listed_explicitly_gets_the_signing_hosts_token(
        plugins, fake, certs, mariadb, cache_home):
    env = client_env(cache_home, IAM_DB_AUTH_SIGNING_HOST=mariadb["IAM_STANDIN_MARIADB_RDS_HOST"],
                     IAM_DB_AUTH_CONNECT_HOSTS="127.0.0.1")
    result = mariadb_cli(plugins, fake.port, env, f"--ssl-ca={certs.dir / 'ca.pem'}")
    assert fake.got_token(), output(result)
    assert "ERROR 1045" in output(result), output(result)  # the fake's refusal, after the token


# --- the opt-out (the only test that sets it) -------------------------------------------------------

def test_opt_out_sends_over_unverified_tls_with_a_warning(plugins, fake, cache_home):
    env = client_env(cache_home, IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS="1")
    result = mariadb_cli(plugins, fake.port, env)
    assert fake.got_token(), output(result)
    assert "IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS" in result.stderr, output(result)
