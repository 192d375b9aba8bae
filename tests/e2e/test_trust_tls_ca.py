"""The CA every door trusts, found in one order: an explicit flag, IAM_DB_AUTH_CA_FILE, the copy
`iam-db-auth ca update` wrote (per-user cache, then system cache), the installed file, the copy
built into the binary (written out to a file for clients that need a path).
`ca update` fetches the bundle over verified HTTPS, checks it and replaces the cached copy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import BIN, ROOT, demo_env, run
from trust_tls_fakes import Certs, FakeHttps

BUNDLE = ROOT / "certs/rds-global-bundle.pem"
BUNDLE_PATH = "/global/global-bundle.pem"


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"), "mydb.c9akciq32.us-east-1.rds.amazonaws.com")


@pytest.fixture
def cache(tmp_path) -> Path:
    d = tmp_path / "cache"
    d.mkdir()
    return d


def env_with(cache: Path, **extra: str) -> dict[str, str]:
    """Demo credentials, `cache` as the per-user cache, the system's roots unless `extra` sets
    SSL_CERT_FILE."""
    return demo_env(**{"XDG_CACHE_HOME": str(cache), "SSL_CERT_FILE": None, "SSL_CERT_DIR": None,
                       **extra})


def ca_path(cache: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return run([BIN, "ca", "path", *args], env=env_with(cache, **extra))


def cached_copy(cache: Path) -> Path:
    return cache / "iam-db-auth" / "rds-global-bundle.pem"


# --- the lookup order --------------------------------------------------------------------------------

def test_with_nothing_configured_the_builtin_bundle_is_written_out(cache):
    result = ca_path(cache)
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.read_bytes() == BUNDLE.read_bytes()
    assert "built-in" in result.stderr, result.stderr


def test_the_cached_copy_comes_before_the_builtin_one(cache, certs):
    cached_copy(cache).parent.mkdir()
    cached_copy(cache).write_bytes((certs.dir / "ca.pem").read_bytes())
    result = ca_path(cache)
    assert result.stdout.strip() == str(cached_copy(cache)), result.stderr


def test_the_environment_comes_before_the_cached_copy(cache, certs):
    cached_copy(cache).parent.mkdir()
    cached_copy(cache).write_bytes(BUNDLE.read_bytes())
    result = ca_path(cache, IAM_DB_AUTH_CA_FILE=str(certs.dir / "ca.pem"))
    assert result.stdout.strip() == str(certs.dir / "ca.pem"), result.stderr


def test_the_flag_comes_before_the_environment(cache, certs):
    result = ca_path(cache, "--ca-file", str(certs.dir / "self_signed.pem"),
                     IAM_DB_AUTH_CA_FILE=str(certs.dir / "ca.pem"))
    assert result.stdout.strip() == str(certs.dir / "self_signed.pem"), result.stderr


def test_a_configured_file_that_is_missing_is_an_error_not_a_fallback(cache, tmp_path):
    result = ca_path(cache, IAM_DB_AUTH_CA_FILE=str(tmp_path / "missing.pem"))
    assert result.returncode != 0 and result.stdout == "", result.stdout
    assert "IAM_DB_AUTH_CA_FILE" in result.stderr and "missing.pem" in result.stderr


def test_a_cached_copy_others_can_write_is_skipped(cache, certs):
    cached_copy(cache).parent.mkdir()
    cached_copy(cache).write_bytes((certs.dir / "ca.pem").read_bytes())
    os.chmod(cached_copy(cache), 0o666)
    result = ca_path(cache)
    assert Path(result.stdout.strip()).read_bytes() == BUNDLE.read_bytes(), result.stderr
    assert "others can write it" in result.stderr, result.stderr


# --- ca update -----------------------------------------------------------------------------------

@pytest.fixture
def https(certs):
    """A loopback HTTPS server (certificate for 127.0.0.1 from the test CA) serving a bundle
    that is not the built-in one (the test CA followed by the first RDS certificate), and a
    page that is not a bundle."""
    first_rds = BUNDLE.read_text().split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
    served = (certs.dir / "ca.pem").read_bytes() + first_rds.encode()
    server = FakeHttps(*certs.pair("ip_only"), {BUNDLE_PATH: served,
                                                "/page.html": b"<html>not a bundle</html>\n"})
    server.served = served
    yield server
    server.close()


def ca_update(cache: Path, url: str, certs: Certs | None, *args: str) -> subprocess.CompletedProcess:
    extra = {"SSL_CERT_FILE": str(certs.dir / "ca.pem")} if certs else {}
    return run([BIN, "ca", "update", "--url", url, *args], env=env_with(cache, **extra))


def test_ca_update_writes_the_cached_copy_that_every_door_then_uses(cache, https, certs):
    result = ca_update(cache, https.url(BUNDLE_PATH), certs)
    assert result.returncode == 0, result.stderr
    assert cached_copy(cache).read_bytes() == https.served
    assert oct(cached_copy(cache).stat().st_mode & 0o777) == "0o644"
    assert "2 certificates" in result.stderr, result.stderr
    assert ca_path(cache).stdout.strip() == str(cached_copy(cache))
    # exec hands the same file to libpq.
    exec_run = run([BIN, "exec", "--host", "db.example.com", "--user", "u", "--region",
                    "us-east-1", "--", "printenv", "PGSSLROOTCERT"], env=env_with(cache))
    assert exec_run.stdout.strip() == str(cached_copy(cache)), exec_run.stderr


def test_ca_update_refuses_what_is_not_a_bundle(cache, https, certs):
    cached_copy(cache).parent.mkdir()
    cached_copy(cache).write_bytes(BUNDLE.read_bytes())
    result = ca_update(cache, https.url("/page.html"), certs)
    assert result.returncode == 1, result.stderr
    assert "no certificate" in result.stderr, result.stderr
    assert cached_copy(cache).read_bytes() == BUNDLE.read_bytes()


def test_ca_update_refuses_a_server_it_cannot_verify(cache, https):
    result = ca_update(cache, https.url(BUNDLE_PATH), None)
    assert result.returncode == 1, result.stderr
    assert "certificate" in result.stderr, result.stderr
    assert https.requests == [], "a request went to an unverified server"
    assert not cached_copy(cache).exists()


def test_ca_update_refuses_plain_http(cache):
    result = ca_update(cache, "http://127.0.0.1:9/global/global-bundle.pem", None)
    assert result.returncode == 2, result.stderr
    assert "https" in result.stderr, result.stderr


def test_ca_update_fails_within_its_time_limit(cache, certs):
    # A listener that accepts and never answers: the update gives up, bounded.
    import socket
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        result = run([BIN, "ca", "update", "--url", f"https://127.0.0.1:{port}/b.pem",
                      "--timeout", "2"], env=env_with(cache, SSL_CERT_FILE=str(certs.dir / "ca.pem")),
                     timeout=30)
    assert result.returncode == 1, result.stderr
    assert "timed out" in result.stderr or "time" in result.stderr, result.stderr
