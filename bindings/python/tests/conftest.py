"""Tests of the Python package (scripts/tests/56-package-python.sh runs them):

- test_unit.py (fast): the package from source against the release library (IAM_DB_AUTH_LIB,
  default target/release/libiam_db_auth.so): tokens, errors, the TLS defaults, the plugin
  directory;
- test_package.py (deep): the wheel from dist/python/ installed with pip into a fresh venv with
  the real drivers, against the stand-ins (tests/e2e's fixtures) and fake servers.

The end-to-end suite's shared fixtures (stand-ins, environments) are loaded from
tests/e2e/conftest.py under another module name, so both suites share one definition.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
E2E = ROOT / "tests/e2e"
SRC = ROOT / "bindings/python/src"
sys.path.insert(0, str(E2E))  # trust_tls_fakes

_spec = importlib.util.spec_from_file_location("e2e_conftest", E2E / "conftest.py")
e2e = importlib.util.module_from_spec(_spec)
sys.modules["e2e_conftest"] = e2e
_spec.loader.exec_module(e2e)

# Fixtures re-exported from the e2e suite.
built = e2e.built
mariadb = e2e.mariadb
postgres = e2e.postgres

# The stand-ins' verifier runs under libfaketime reading this file (re-read at every login), so
# a test can move its clock with the client's: "+0" unless a test says otherwise. Set before
# any stand-in starts (their start writes the PAM service with it).
FAKETIME_FILE = e2e.WORK / "pkg-python-faketime"
FAKETIME_FILE.parent.mkdir(parents=True, exist_ok=True)
FAKETIME_FILE.write_text("+0\n")
os.environ["IAM_STANDIN_FAKETIME_FILE"] = str(FAKETIME_FILE)


def pytest_configure(config):
    e2e.pytest_configure(config)
