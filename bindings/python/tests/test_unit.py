"""The package from source (bindings/python/src) against the release library: no driver
installs, no servers, a few seconds (the fast tier). IAM_DB_AUTH_LIB names the library
(scripts/tests/56-package-python.sh sets it to target/release's)."""

from __future__ import annotations

import json
import os
import ssl
import stat
import subprocess
import sys

import pytest

from conftest import SRC, e2e

RDS_HOST = "mydb.c9akciq32.us-east-1.rds.amazonaws.com"


def python(code: str, **env: str | None) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter with the package from source (the library reads its
    IAM_DB_AUTH_* settings once per process, so each case gets its own)."""
    keys = {"AWS_ACCESS_KEY_ID": e2e.DEMO_ACCESS_KEY_ID, "AWS_SECRET_ACCESS_KEY": e2e.DEMO_SECRET_ACCESS_KEY}
    lib = os.environ.get("IAM_DB_AUTH_LIB", str(e2e.LIB))
    base = e2e.aws_env(PYTHONPATH=str(SRC), IAM_DB_AUTH_LIB=lib, **{**keys, **env})
    return e2e.run([sys.executable, "-c", code], env=base)


def test_token_is_a_str_the_verifier_accepts(tmp_path):
    out = python(f"import iam_db_auth; t = iam_db_auth.token({RDS_HOST!r}, 5432, 'app'); print(type(t).__name__, t)")
    kind, token = out.stdout.split()
    assert kind == "str", out.stderr
    keystore = tmp_path / "keystore"
    keystore.write_text(f"{e2e.DEMO_ACCESS_KEY_ID} {e2e.DEMO_SECRET_ACCESS_KEY}\n")
    keystore.chmod(0o600)
    e2e.run([e2e.BIN, "verify", "--keystore", keystore, "--endpoint", f"{RDS_HOST}:5432", "--region",
             "us-east-1", "--user", "app"], input=token, check=True)


ERRORS = """
import iam_db_auth, json
def code(**kw):
    try:
        iam_db_auth.token(**kw)
    except iam_db_auth.Error as e:
        assert "X-Amz" not in str(e)
        return [type(e).__name__, e.code, isinstance(e, ValueError)]
    return None
print(json.dumps({
  "empty_host": code(host="", port=5432, user="u"),
  "port": code(host="h.example", port=0, user="u", region="us-east-1"),
  "no_region": code(host="db.internal", port=5432, user="u"),
  "kind": code(host="h.example", port=1, user="u", region="us-east-1", kind="nope"),
}))
"""


def test_failures_are_error_subclasses_with_the_numbered_code():
    out = python(ERRORS)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["empty_host"] == ["InvalidRequestError", 3, True]
    assert got["port"] == ["InvalidRequestError", 4, True]
    assert got["no_region"] == ["RegionNotFoundError", 7, False]
    assert got["kind"] == ["InvalidRequestError", 8, True]


def test_no_credentials_is_no_credentials_error():
    code = ("import iam_db_auth\ntry:\n    iam_db_auth.token('h.example', 5432, 'u', region='us-east-1')\n"
            "except iam_db_auth.NoCredentialsError as e:\n    print(e.code, isinstance(e, iam_db_auth.CredentialsError))")
    out = python(code, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    assert out.stdout.split() == ["20", "True"], out.stderr


def test_ca_file_follows_the_lookup_order(tmp_path):
    mine = tmp_path / "ca.pem"
    mine.write_text(open(e2e.ROOT / "certs/rds-global-bundle.pem").read())
    out = python("import iam_db_auth; print(iam_db_auth.ca_file())", IAM_DB_AUTH_CA_FILE=str(mine))
    assert out.stdout.strip() == str(mine), out.stderr
    out = python("import iam_db_auth; print(iam_db_auth.ca_file())", HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "c"))
    assert out.returncode == 0 and "BEGIN CERTIFICATE" in open(out.stdout.strip()).read(), out.stderr
    out = python("import iam_db_auth\ntry:\n    iam_db_auth.ca_file()\nexcept iam_db_auth.CAUnavailableError as e:\n    print(e.code)",
                 IAM_DB_AUTH_CA_FILE=str(tmp_path / "missing.pem"))
    assert out.stdout.strip() == "32", out.stderr


TLS = """
import json, ssl, iam_db_auth
from iam_db_auth import _tls
res = {}
res["default"] = _tls.libpq_defaults({}, None)
res["given_ca"] = _tls.libpq_defaults({"sslmode": "verify-full"}, "/x.pem")
for mode in ("disable", "prefer", "require", "verify-ca"):
    try:
        _tls.libpq_defaults({"sslmode": mode}, None); res[mode] = "allowed"
    except iam_db_auth.InsecureConnectionError as e:
        res[mode] = e.code
ctx = _tls.ssl_context()
res["ctx"] = [ctx.verify_mode == ssl.CERT_REQUIRED, ctx.check_hostname]
weak = ssl.create_default_context(); weak.check_hostname = False; weak.verify_mode = ssl.CERT_NONE
try:
    _tls.check_context(weak, "x"); res["weak"] = "allowed"
except iam_db_auth.InsecureConnectionError as e:
    res["weak"] = e.code
print(json.dumps(res))
"""


def test_tls_defaults_verify_and_weaker_settings_are_refused():
    got = json.loads(python(TLS, HOME="/nonexistent").stdout)
    assert got["default"]["sslmode"] == "verify-full" and got["default"]["sslrootcert"].endswith(".pem")
    assert got["given_ca"] == {"sslrootcert": "/x.pem"}
    assert [got[m] for m in ("disable", "prefer", "require", "verify-ca")] == [30, 30, 30, 30]
    assert got["ctx"] == [True, True]
    assert got["weak"] == 30
    opted = json.loads(python(TLS, IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS="1").stdout)
    assert opted["require"] == "allowed" and opted["weak"] == "allowed"


def test_mysqlclient_plugin_directory(tmp_path):
    code = ("import json, iam_db_auth.mysqlclient as m\n"
            "a = m.plugin_dir(); b = m.plugin_dir()\n"
            "print(json.dumps([str(a), str(b), str(m.system_plugin_dir()), str(m.library_path())]))")
    out = python(code, XDG_CACHE_HOME=str(tmp_path))
    assert out.returncode == 0, out.stderr
    first, second, system, library = json.loads(out.stdout)
    assert first == second
    plugin_dir = os.path.realpath(first)
    assert os.readlink(os.path.join(plugin_dir, "mysql_clear_password.so")) == library
    others = sorted(n for n in os.listdir(system) if n.endswith(".so") and n != "mysql_clear_password.so")
    assert others, f"no system plugins in {system}"
    for name in others:
        assert os.readlink(os.path.join(plugin_dir, name)) == os.path.join(system, name)
    assert open(os.path.join(plugin_dir, "client.cnf")).read() == f"[client]\nplugin-dir={first}\n"
    root = tmp_path / "iam-db-auth" / "mariadb-plugins"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    # A directory others can write is refused: any library in it would run in the client.
    root.chmod(0o777)
    out = python(code, XDG_CACHE_HOME=str(tmp_path))
    assert out.returncode != 0 and "PermissionError" in out.stderr
