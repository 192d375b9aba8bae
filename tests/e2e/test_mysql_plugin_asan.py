"""The MySQL plugin built with AddressSanitizer, loaded and unloaded by libmariadb in a program
built with ASan + UBSan (every report fatal; LeakSanitizer at exit): it logs in three times with
Connector/C's deinit + dlclose + reload between logins, and is refused once.

The instrumented library is built by stage 44 (scripts/tests/44-sanitizers.sh: -Zsanitizer=address,
a debug build in target/asan), which runs this module with IAM_DB_AUTH_ASAN_LIB set to it. Without
that variable these tests are skipped: there is nothing to test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import aws_env
from mysql_support import DEMO, REGION, build_c_login, c_run, install_plugins

ASAN_LIB = os.environ.get("IAM_DB_AUTH_ASAN_LIB")
pytestmark = pytest.mark.skipif(not ASAN_LIB, reason="IAM_DB_AUTH_ASAN_LIB is not set (stage 44 builds the ASan library and sets it)")

SANITIZERS = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer")
# Stage 44's settings for every instrumented program: leaks checked at exit, strict checks on.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


@pytest.fixture(scope="module")
def asan_plugins(tmp_path_factory) -> Path:
    """A plugin directory whose mysql_clear_password.so is the instrumented library."""
    library = Path(ASAN_LIB)
    assert library.is_file(), f"IAM_DB_AUTH_ASAN_LIB={library} is not a file"
    directory = tmp_path_factory.mktemp("asan") / "plugins"
    result = install_plugins(directory, "--library", str(library))
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture(scope="module")
def asan_login(tmp_path_factory) -> Path:
    """c-tests/mysql_plugin_login.c built with clang and the sanitizers."""
    return build_c_login(tmp_path_factory.mktemp("asan") / "mysql_plugin_login", ["clang", "-std=c11", "-O1", "-g"], *SANITIZERS)


def test_asan_three_logins_with_deinit_dlclose_reload_no_report(mariadb, asan_plugins, asan_login):
    env = DEMO.env(MARIADB_PLUGIN_DIR=str(asan_plugins), **SANITIZER_ENV)
    result = c_run(asan_login, mariadb, "--ca", mariadb["IAM_STANDIN_MARIADB_CA"], "--count", "3", "--reinit", env=env)
    assert result.returncode == 0 and "logins ok: 3 of 3" in result.stdout, f"exit {result.returncode}\n{result.stdout}{result.stderr[-6000:]}"


def test_asan_refused_login_no_credentials_no_report(mariadb, asan_plugins, asan_login):
    env = aws_env(AWS_REGION=REGION, MARIADB_PLUGIN_DIR=str(asan_plugins), **SANITIZER_ENV)
    result = c_run(asan_login, mariadb, "--ca", mariadb["IAM_STANDIN_MARIADB_CA"], "--expect-error", "2061", env=env)
    assert result.returncode == 0 and "expected error 2061" in result.stdout, f"exit {result.returncode}\n{result.stdout}{result.stderr[-6000:]}"
