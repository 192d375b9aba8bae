#!/usr/bin/env bash
# tier: fast deep
# The proxy (`iam-db-auth proxy`, docs/proxy.md) end to end: tests/e2e/test_proxy_*.py with
# real clients through the proxy against the local RDS stand-ins (scripts/standin/), fakes for
# the failures (a database whose certificate does not prove its name, a silent one), and the
# framework's own checks (who may connect, limits, SIGTERM/SIGHUP, metrics, bad config files).
#
# Stage 50 runs the rest of tests/e2e/ and leaves these files out, so each runs once. The fast
# tier runs every check not marked `deep`; the deep tier the long matrices. One check alone:
#   .venv/bin/pytest tests/e2e/test_proxy_framework.py -k NAME
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

# A release binary from before the proxy existed would fail every check: rebuild it then.
{ [[ -x "$BIN" && -f "$LIB" ]] && "$BIN" proxy --help >/dev/null 2>&1; } \
  || cargo build --release --locked --quiet || die "release build failed"
[[ -x "$VENV/bin/python" ]] || die "no Python venv: run scripts/setup.sh"
mapfile -t marker < <(tier_marker)
isolated_aws_env "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider \
  --basetemp="$WORK/e2e-proxy-pytest" --durations=5 "${marker[@]}" tests/e2e/test_proxy_*.py
