#!/usr/bin/env bash
# tier: fast deep
# End to end, with real clients against the local RDS stand-ins (scripts/standin/: MariaDB and
# PostgreSQL that check tokens as RDS does, behind a PAM module calling `iam-db-auth verify`):
# the pytest suite in tests/e2e/ (docs/testing.md lists its modules). Each server starts once
# for the whole run and stops at its end.
#
# The fast tier runs every check not marked `deep` (a real login through every door: the MySQL
# plugin with the mariadb CLI, mysqlclient and a C program; pgpass with psql, pg_dump, psycopg
# and a C program; exec; the libpq shim; DSQL; the stand-ins' refusals); the deep tier runs the
# rest (200 logins from 8 processes, valgrind, the --watch schedule, latency, restarts).
# IAM_TEST_TIER is set by scripts/test.sh; unset, everything runs. One check alone:
#   .venv/bin/pytest tests/e2e -k NAME
# The plugin under ASan (test_mysql_plugin_asan.py) runs in stage 44, which builds that library;
# the proxy's checks (test_proxy_*.py) in stage 52.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

[[ -x "$BIN" && -f "$LIB" ]] || cargo build --release --locked --quiet || die "release build failed"
[[ -x "$VENV/bin/python" ]] || die "no Python venv: run scripts/setup.sh"
mapfile -t marker < <(tier_marker)
isolated_aws_env "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider \
  --basetemp="$WORK/e2e-pytest" --durations=5 "${marker[@]}" \
  --ignore=tests/e2e/test_mysql_plugin_asan.py --ignore-glob='tests/e2e/test_proxy_*.py' tests/e2e
