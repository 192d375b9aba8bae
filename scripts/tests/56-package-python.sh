#!/usr/bin/env bash
# tier: fast deep
# The Python package (bindings/python, docs/packages.md):
# - fast: the package from source against the release library (bindings/python/tests/
#   test_unit.py: tokens the verifier accepts, Error subclasses and codes, the CA lookup, the
#   TLS defaults and refusals, the mysqlclient plugin directory); a few seconds;
# - deep: builds the wheel (scripts/package.sh python; the glibc 2.28 library from
#   scripts/package.sh native, built first when dist/native has none), installs it with pip
#   into a fresh venv with the pinned drivers, and runs test_package.py: auditwheel's tag, the
#   glibc floor, every helper's pool logging in again after its first token expired (clocks
#   moved 16 minutes with libfaketime, the token cache on) against the stand-ins, and a fake
#   server with a self-signed certificate getting no token from any helper.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

[[ -x "$BIN" && -f "$LIB" ]] || cargo build --release --locked --quiet || die "release build failed"
[[ -x "$VENV/bin/python" ]] || die "no Python venv: run scripts/setup.sh"
mapfile -t marker < <(tier_marker)
if [[ "${IAM_TEST_TIER:-}" != fast ]]; then
  bash scripts/package.sh python
fi
IAM_DB_AUTH_LIB="$LIB" isolated_aws_env "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider \
  --basetemp="$WORK/pkg-python-pytest" --durations=5 "${marker[@]}" bindings/python/tests
