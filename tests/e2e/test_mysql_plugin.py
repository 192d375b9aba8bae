"""The mysql_clear_password plugin logs real libmariadb clients in to the MariaDB stand-in for
RDS with IAM tokens, by configuration alone: no password anywhere, no program changed.

Clients: the `mariadb` CLI through each of the three ways of pointing libmariadb at a plugin
directory (--plugin-dir, MARIADB_PLUGIN_DIR, plugin-dir= in a my.cnf), an unmodified Python
mysqlclient program, and a C program on the libmariadb API (c-tests/mysql_plugin_login.c), which
also checks that the plugin survives Connector/C's deinit + dlclose and a second load, under
valgrind too. Refusals say why; 200 logins from 8 processes at once each reach the server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import LIB, ROOT, aws_env, have_ipv6_loopback, run, token
from mysql_support import (
    DEMO,
    REGION,
    Credentials,
    admin_sql,
    build_c_login,
    c_run,
    install_plugins,
    logged_in_as,
    mariadb_login,
    port,
    refusal_log,
    session_token,
)

PYTHON_PROGRAM = ROOT / "examples/mysql_plugin_login.py"
# System client plugins a connection may need besides ours, linked into the directory.
SYSTEM_PLUGINS = ("dialog.so", "caching_sha2_password.so", "client_ed25519.so")
# libmariadb's error for a client plugin that refused (CR_AUTH_PLUGIN_ERR); the server's
# refusal is 1045.
PLUGIN_REFUSED = 2061


@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> Path:
    """A plugin directory made by `iam-db-auth mysql-plugin install`."""
    directory = tmp_path_factory.mktemp("mysql") / "plugins"
    result = install_plugins(directory)
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture(scope="module")
def my_cnf(tmp_path_factory, plugins, mariadb) -> Path:
    """A my.cnf whose [client] group points at the plugin directory and turns verified TLS on."""
    path = tmp_path_factory.mktemp("mysql") / "my.cnf"
    path.write_text(f"[client]\nplugin-dir={plugins}\nssl-ca={mariadb['IAM_STANDIN_MARIADB_CA']}\nssl-verify-server-cert\n")
    return path


@pytest.fixture(scope="module")
def cnf(my_cnf) -> list[str]:
    """The mariadb CLI's options for the my.cnf route: plugin and verified TLS."""
    return [f"--defaults-file={my_cnf}"]


@pytest.fixture(scope="module")
def no_tls(plugins) -> list[str]:
    """The mariadb CLI's options for a plain TCP connection through the plugin. (ssl-ca in a
    my.cnf turns TLS on whatever --skip-ssl says, so these use --plugin-dir.)"""
    return ["--no-defaults", f"--plugin-dir={plugins}", "--skip-ssl"]


@pytest.fixture(scope="module")
def c_login(tmp_path_factory) -> Path:
    """c-tests/mysql_plugin_login.c, built with -Wall -Wextra -Werror."""
    return build_c_login(tmp_path_factory.mktemp("mysql") / "mysql_plugin_login", ["cc"])


# --- the plugin directory -----------------------------------------------------------------------
def test_install_links_our_library_and_the_systems_other_plugins(tmp_path):
    directory = tmp_path / "plugins"
    result = install_plugins(directory)
    assert result.returncode == 0 and re.search(r"mysql_clear_password\.so -> .*libiam_db_auth\.so", result.stdout + result.stderr), (
        result.stdout + result.stderr
    )
    assert (directory / "mysql_clear_password.so").resolve() == LIB.resolve()
    missing = [name for name in SYSTEM_PLUGINS if not (directory / name).exists()]
    assert missing == [], f"not linked: {missing}"


def test_install_again_with_copy_refreshes_removes_dangling_links_keeps_foreign_files(tmp_path):
    directory = tmp_path / "plugins"
    assert install_plugins(directory).returncode == 0
    (directory / "stale.so").symlink_to(tmp_path / "gone.so")
    (directory / "someone_elses.so").write_text("not ours\n")
    result = install_plugins(directory, "--copy")
    assert result.returncode == 0, result.stderr
    ours = directory / "mysql_clear_password.so"
    assert not (directory / "stale.so").is_symlink(), "the dangling link is still there"
    assert (directory / "someone_elses.so").read_text() == "not ours\n", "a file not ours was touched"
    assert not ours.is_symlink() and ours.read_bytes() == LIB.read_bytes(), "not a copy of the library"
    # And back to a link.
    assert install_plugins(directory).returncode == 0
    assert ours.is_symlink() and ours.resolve() == LIB.resolve()


def test_install_refuses_a_library_without_the_plugin(tmp_path):
    result = install_plugins(tmp_path / "x", "--library", str(ROOT / "Cargo.toml"))
    assert result.returncode == 2 and "does not contain the mysql_clear_password plugin" in result.stderr, result.stderr


# --- the mariadb CLI, by configuration alone ----------------------------------------------------
def test_control_without_the_plugin_directory_the_stock_plugin_cannot_log_in(mariadb):
    ca = mariadb["IAM_STANDIN_MARIADB_CA"]
    result = mariadb_login(mariadb, "iam_user", "--no-defaults", f"--ssl-ca={ca}", "--ssl-verify-server-cert", env=DEMO.env())
    # (Debian 12's client gives up with ERROR 2013: its plugin has no password to send.)
    assert result.returncode != 0 and "iam_user@" not in result.stdout and result.stderr.startswith("ERROR "), logged_in_as(result)


# (plugin directory, CA, my.cnf) -> the mariadb CLI's options and the environment besides the
# credentials, for each way of pointing libmariadb at the plugin directory
ROUTES = [
    pytest.param(
        lambda plugins, ca, my_cnf: (["--no-defaults", f"--plugin-dir={plugins}", f"--ssl-ca={ca}", "--ssl-verify-server-cert"], {}),
        id="plugin-dir-option",
    ),
    pytest.param(
        lambda plugins, ca, my_cnf: (["--no-defaults", f"--ssl-ca={ca}", "--ssl-verify-server-cert"], {"MARIADB_PLUGIN_DIR": str(plugins)}),
        id="MARIADB_PLUGIN_DIR",
    ),
    pytest.param(lambda plugins, ca, my_cnf: ([f"--defaults-file={my_cnf}"], {}), id="plugin-dir-in-my-cnf"),
]


@pytest.mark.parametrize("route", ROUTES)
def test_mariadb_cli_logs_in_through_the_plugin(mariadb, plugins, my_cnf, route):
    options, env = route(plugins, mariadb["IAM_STANDIN_MARIADB_CA"], my_cnf)
    assert logged_in_as(mariadb_login(mariadb, "iam_user", *options, env=DEMO.env(**env))) == "iam_user@%"


def test_ipv6_literal_host_signs_for_bracketed_address(mariadb, cnf):
    if not have_ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback")
    if "::1" not in mariadb["IAM_STANDIN_MARIADB_BIND"].split(","):
        pytest.skip(f"the stand-in does not listen on ::1 (IAM_STANDIN_MARIADB_BIND={mariadb['IAM_STANDIN_MARIADB_BIND']})")
    # The stand-in accepts tokens for [::1]:PORT only, as the host header would be written.
    assert logged_in_as(mariadb_login(mariadb, "iam_user", *cnf, host="::1", env=DEMO.env())) == "iam_user@%"


def test_require_ssl_user_over_verified_tls(mariadb, cnf):
    assert logged_in_as(mariadb_login(mariadb, "iam_ssl_user", *cnf, env=DEMO.env())) == "iam_ssl_user@%"


def test_without_tls_when_cleartext_is_allowed_on_purpose(mariadb, no_tls):
    result = mariadb_login(mariadb, "iam_user", *no_tls, env=DEMO.env(IAM_DB_AUTH_ALLOW_CLEARTEXT="1"))
    assert logged_in_as(result) == "iam_user@%"


def test_session_token_credentials_make_a_long_token_that_logs_in(mariadb, cnf):
    creds = Credentials.temporary(1100).register(mariadb)
    length = len(token("127.0.0.1", port(mariadb), "iam_ssl_user", creds.env()))
    assert length > 1000, f"the token is only {length} bytes"
    assert logged_in_as(mariadb_login(mariadb, "iam_ssl_user", *cnf, env=creds.env())) == "iam_ssl_user@%"


def test_signing_host_and_port_from_the_environment_region_from_the_rds_name(mariadb, cnf):
    env = DEMO.env(
        AWS_REGION=None,
        IAM_DB_AUTH_SIGNING_HOST=mariadb["IAM_STANDIN_MARIADB_RDS_HOST"],
        IAM_DB_AUTH_SIGNING_PORT=mariadb["IAM_STANDIN_MARIADB_RDS_PORT"],
    )
    assert logged_in_as(mariadb_login(mariadb, "iam_user", *cnf, env=env)) == "iam_user@%"


def test_a_password_given_is_sent_unchanged(mariadb, cnf):
    # No credentials at all: only the given password (a token) can log in.
    tok = token("127.0.0.1", port(mariadb), "iam_user", DEMO.env())
    result = mariadb_login(mariadb, "iam_user", *cnf, env=aws_env(), password=tok)
    assert logged_in_as(result) == "iam_user@%"


def expired_credentials(tmp_path: Path) -> dict[str, str]:
    """A profile whose credential_process returns credentials that expired in 2020."""
    script = tmp_path / "expired-creds.sh"
    script.write_text(
        "#!/bin/sh\nprintf '%s\\n' '{\"Version\":1,\"AccessKeyId\":\"ASIAIAMDBAUTHEXPIRED\",\"SecretAccessKey\":\"s\","
        f"\"SessionToken\":\"{session_token(200)}\",\"Expiration\":\"2020-01-01T00:00:00Z\"}}'\n"
    )
    script.chmod(0o755)
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\nregion = {REGION}\ncredential_process = {script}\n")
    return aws_env(AWS_CONFIG_FILE=str(config))


# (user, route, environment, the client's error, a pattern its message matches, the reason in
# the server log when the server refused)
REFUSED = [
    pytest.param(
        "iam_user",
        "no_tls",
        lambda tmp: DEMO.env(),
        PLUGIN_REFUSED,
        r"over a connection without TLS.*IAM_DB_AUTH_ALLOW_CLEARTEXT=1",
        None,
        id="no-tls-refused-by-the-plugin",
    ),
    pytest.param(
        "iam_ssl_user",
        "no_tls",
        lambda tmp: DEMO.env(IAM_DB_AUTH_ALLOW_CLEARTEXT="1"),
        1045,
        r"Access denied for user 'iam_ssl_user'",
        None,
        id="require-ssl-user-without-tls-refused-by-the-server",
    ),
    pytest.param(
        "iam_user",
        "cnf",
        lambda tmp: Credentials(DEMO.key_id, "wrong" + DEMO.secret[5:]).env(),
        1045,
        r"Access denied for user 'iam_user'",
        "signature does not match",
        id="wrong-secret",
    ),
    # No token is made, so none is sent.
    pytest.param("iam_user", "cnf", expired_credentials, PLUGIN_REFUSED, r"expired", None, id="expired-credentials"),
    pytest.param("iam_user", "cnf", lambda tmp: aws_env(AWS_REGION=REGION), PLUGIN_REFUSED, r"credential", None, id="no-credentials"),
    pytest.param("iam_user", "cnf", lambda tmp: DEMO.env(AWS_REGION=None), PLUGIN_REFUSED, r"no AWS region", None, id="no-region-for-127.0.0.1"),
    # A wrong password given on purpose reaches the server as it is, not replaced by a token.
    pytest.param(
        "iam_user",
        "cnf",
        lambda tmp: DEMO.env(MYSQL_PWD="not-a-token"),
        1045,
        r"Access denied for user 'iam_user'",
        "not a token",
        id="wrong-password-given-sent-unchanged",
    ),
]


@pytest.mark.parametrize("user, route, make_env, error, message, reason", REFUSED)
def test_refused_with_the_reason(mariadb, request, tmp_path, user, route, make_env, error, message, reason):
    before = mariadb.log_size()
    result = mariadb_login(mariadb, user, *request.getfixturevalue(route), env=make_env(tmp_path))
    assert result.returncode != 0 and re.search(rf"^ERROR {error} .*{message}", result.stderr, re.M), logged_in_as(result)
    if error == PLUGIN_REFUSED:
        # The reason reaches the user on stderr too, from the plugin's own logger.
        assert re.search(r"iam-db-auth\[[0-9]+\] error: mysql_clear_password: ", result.stderr), result.stderr
    if reason:
        log = refusal_log(mariadb, before, user)
        assert reason in log, f"the server log does not say {reason!r}: {log[-600:]}"


# --- Python mysqlclient (libmariadb loaded RTLD_LOCAL), MARIADB_PLUGIN_DIR only -----------------
def test_mysqlclient_unmodified_program_logs_in_three_times(mariadb, plugins):
    result = run(
        [sys.executable, PYTHON_PROGRAM, "127.0.0.1", port(mariadb), "iam_ssl_user", mariadb["IAM_STANDIN_MARIADB_CA"], "3"],
        env=DEMO.env(MARIADB_PLUGIN_DIR=str(plugins)),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^current user: iam_ssl_user@%, cipher: TLS.*\nlogins ok: 3 of 3$", result.stdout, re.M), result.stdout


# --- C on the libmariadb API --------------------------------------------------------------------
def test_c_program_with_mariadb_plugin_dir(mariadb, plugins, c_login):
    result = c_run(c_login, mariadb, "--ca", mariadb["IAM_STANDIN_MARIADB_CA"], user="iam_ssl_user", env=DEMO.env(MARIADB_PLUGIN_DIR=str(plugins)))
    assert "current user: iam_ssl_user@%, cipher: TLS" in result.stdout, result.stdout + result.stderr


def test_c_program_plugin_dir_option_survives_deinit_dlclose_and_reload(mariadb, plugins, c_login):
    result = c_run(c_login, mariadb, "--plugin-dir", str(plugins), "--ca", mariadb["IAM_STANDIN_MARIADB_CA"], "--count", "4", "--reinit")
    assert result.returncode == 0 and "logins ok: 4 of 4" in result.stdout, result.stdout + result.stderr


def test_c_program_without_tls_gets_the_plugins_reason_from_mysql_error(mariadb, plugins, c_login):
    result = c_run(c_login, mariadb, "--plugin-dir", str(plugins), "--expect-error", str(PLUGIN_REFUSED))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"expected error {PLUGIN_REFUSED}: iam-db-auth: refused .*without TLS", result.stdout), result.stdout


VALGRIND = ("valgrind", "--quiet", "--error-exitcode=99")
LEAKS = (
    "--leak-check=full",
    "--show-leak-kinds=definite,indirect,possible",
    "--errors-for-leak-kinds=definite,indirect,possible",
)


@pytest.mark.deep
def test_valgrind_logins_with_deinit_dlclose_reload_no_errors_no_leaks(mariadb, plugins, c_login):
    result = c_run(
        c_login,
        mariadb,
        "--ca",
        mariadb["IAM_STANDIN_MARIADB_CA"],
        "--count",
        "3",
        "--reinit",
        env=DEMO.env(MARIADB_PLUGIN_DIR=str(plugins)),
        prefix=(*VALGRIND, *LEAKS),
    )
    assert result.returncode == 0 and "logins ok: 3 of 3" in result.stdout, f"exit {result.returncode}\n{result.stderr[-4000:]}"


@pytest.mark.deep
def test_valgrind_refused_login_no_memory_errors(mariadb, plugins, c_login):
    # Errors only, no leak check: a failed credential lookup leaves the credential chain's
    # providers in the library's process-wide state on purpose (never torn down), which
    # valgrind calls "possibly lost".
    result = c_run(
        c_login,
        mariadb,
        "--ca",
        mariadb["IAM_STANDIN_MARIADB_CA"],
        "--expect-error",
        str(PLUGIN_REFUSED),
        env=aws_env(AWS_REGION=REGION, MARIADB_PLUGIN_DIR=str(plugins)),
        prefix=(*VALGRIND, "--leak-check=no"),
    )
    assert result.returncode == 0 and f"expected error {PLUGIN_REFUSED}" in result.stdout, f"exit {result.returncode}\n{result.stderr[-4000:]}"


def test_with_the_library_already_loaded_the_linked_plugin_is_the_same_object(mariadb, plugins, c_login):
    # A process that already has libiam_db_auth.so (here preloaded, as a program linked against
    # the C API has it) loads the plugin through the link: the dynamic loader sees the same file
    # and maps no second copy (no new link map).
    result = c_run(
        c_login,
        mariadb,
        "--ca",
        mariadb["IAM_STANDIN_MARIADB_CA"],
        env=DEMO.env(LD_DEBUG="files", LD_PRELOAD=str(LIB), MARIADB_PLUGIN_DIR=str(plugins)),
    )
    plugin = plugins / "mysql_clear_password.so"
    assert "logins ok: 1 of 1" in result.stdout, result.stdout + result.stderr[-2000:]
    loader = [line for line in result.stderr.splitlines() if "mysql_clear_password" in line]
    assert any(f"{plugin} [0];  dynamically loaded" in line for line in loader), loader
    assert not any(f"{plugin} [0];  generating link map" in line for line in loader), loader


def test_with_the_library_already_loaded_a_copied_plugin_is_a_second_instance_that_logs_in(mariadb, c_login, tmp_path):
    copied = tmp_path / "copied"
    assert install_plugins(copied, "--copy").returncode == 0
    result = c_run(
        c_login,
        mariadb,
        "--ca",
        mariadb["IAM_STANDIN_MARIADB_CA"],
        "--count",
        "2",
        "--reinit",
        env=DEMO.env(LD_PRELOAD=str(LIB), MARIADB_PLUGIN_DIR=str(copied)),
    )
    assert result.returncode == 0 and "logins ok: 2 of 2" in result.stdout, result.stdout + result.stderr


@pytest.mark.deep
def test_200_logins_from_8_processes_in_parallel_each_a_session_on_the_server(mariadb, plugins, c_login, tmp_path):
    processes, per_process = 8, 25
    table = f"{mariadb['IAM_STANDIN_MARIADB_DATABASE']}.plugin_logins"
    admin_sql(mariadb, f"CREATE OR REPLACE TABLE {table} (id BIGINT PRIMARY KEY, client VARCHAR(32))")
    args = [c_login, "--ca", mariadb["IAM_STANDIN_MARIADB_CA"], "--count", str(per_process), "--record", table, "127.0.0.1", str(port(mariadb)), "iam_user"]
    env = DEMO.env(MARIADB_PLUGIN_DIR=str(plugins))
    running = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(processes)]
    outputs = []
    try:
        for proc in running:
            out, _ = proc.communicate(timeout=300)
            outputs.append((proc.returncode, out))
    finally:
        for proc in running:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    reported = sum(int(m.group(1)) for _, out in outputs for m in re.finditer(rf"^logins ok: (\d+) of {per_process}$", out, re.M))
    failures = "\n".join(line for _, out in outputs for line in out.splitlines() if not line.startswith("logins ok"))[:2000]
    assert [rc for rc, _ in outputs] == [0] * processes, failures
    assert reported == processes * per_process, failures
    counted = admin_sql(mariadb, f"SELECT COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT client) FROM {table}")
    assert counted == f"{processes * per_process}\t{processes * per_process}\t{processes}", f"server (rows, ids, clients): {counted}"
