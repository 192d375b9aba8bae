#!/usr/bin/env bash
# tier: fast deep
# Stage 42: the mysql_clear_password plugin logs real libmariadb clients (the mariadb CLI, an
# unmodified Python mysqlclient program, a C program, under valgrind too) in to the MariaDB
# stand-in for RDS with IAM tokens, by configuration alone; and the stand-in itself is as strict
# as RDS with the stock client. The checks are pytest modules:
#   tests/e2e/test_mysql_plugin.py     the plugin, `mysql-plugin install`, refusals, 200 logins
#   tests/e2e/test_standin_mariadb.py  the stand-in's logins and refusals, each reason in its log
# The fast tier runs the checks not marked deep, the deep tier the rest (IAM_TEST_TIER, set by
# scripts/test.sh; unset: all). Run one alone: .venv/bin/pytest tests/e2e -k NAME. Stand-in port: IAM_STANDIN_MARIADB_PORT
# (default 13307 here, so the stage does not collide with one left running on 13306). The
# stand-in also listens on ::1 when the machine has it (tests/e2e/conftest.py).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
export IAM_STANDIN_MARIADB_PORT="${IAM_STANDIN_MARIADB_PORT:-13307}"

[[ -x "$BIN" && -f "$LIB" ]] || cargo build --release --quiet || die "release build failed"
[[ -x "$VENV/bin/python" ]] || die "no Python venv: run scripts/setup.sh"
mapfile -t marker < <(tier_marker)
isolated_aws_env "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider --basetemp="$WORK/mysql-plugin-test" \
  "${marker[@]}" tests/e2e/test_mysql_plugin.py tests/e2e/test_standin_mariadb.py
