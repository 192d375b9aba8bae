#!/usr/bin/env bash
# Stage 47: the PostgreSQL doors end to end, with real clients against the local RDS-like
# PostgreSQL stand-in (scripts/standin/postgres.sh: TLS only, PAM + `iam-db-auth verify`):
# tests/e2e/test_postgres_*.py (pytest). The pgpass helper with psql, pg_dump, an unmodified
# psycopg 3 program (binary wheel: its own libpq) and a C program on the system libpq; passfile
# editing, refusals and credential failures; --watch (SIGHUP, giving up); `exec` (status and
# signals; once --engine mysql against the MariaDB stand-in); the LD_PRELOAD library; Aurora
# DSQL logins. IAM_TEST_DEEP=1 adds the slower checks (the scheduled --watch refresh, the
# credential backoff).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

[[ -x "$BIN" && -f "$LIB" ]] || cargo build --release --quiet || die "cargo build --release failed"
[[ -x "$VENV/bin/pytest" ]] || die "no Python venv with pytest: run scripts/setup.sh"
# Ports of its own, so this stage does not meet another stage's (or worktree's) instances.
export IAM_STANDIN_PG_PORT="${IAM_STANDIN_PG_PORT:-15442}"
export IAM_STANDIN_MARIADB_PORT="${IAM_STANDIN_MARIADB_PORT:-13316}"
markers=(-m "not deep")
[[ -n "${IAM_TEST_DEEP:-}" ]] && markers=()
exec "$VENV/bin/pytest" -q -p no:cacheprovider "${markers[@]}" "$ROOT"/tests/e2e/test_postgres_*.py
