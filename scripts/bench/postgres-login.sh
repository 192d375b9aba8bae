#!/usr/bin/env bash
# Measures what the PostgreSQL doors cost, against the local PostgreSQL stand-in. A
# measurement, not a test: it asserts nothing about the numbers (the machine's load decides
# them), only that every run succeeds.
#
# Whole-process wall times, median of all runs, modes interleaved run by run so that drifting
# load hits them alike:
#   true             `true`: what starting a process costs here (the floor)
#   pgpass           `iam-db-auth pgpass` once, on a 50-line passfile (token + atomic replace)
#   exec             `iam-db-auth exec -- true` (token + child)
#   psql-password    psql login + SELECT 1, the token made beforehand, in PGPASSWORD
#   psql-passfile    the same, the token read from the passfile the helper wrote
#   psql-preload     the same, the token added by the LD_PRELOAD library (made in the process)
# The psql modes include TLS and the stand-in's PAM verifier (a process per login), which
# dominate; their differences are what each door adds.
#
# usage: scripts/bench/postgres-login.sh [RUNS]   (default 30)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
RUNS="${1:-30}"
export IAM_STANDIN_PG_PORT="${IAM_STANDIN_PG_PORT:-15443}"
STANDIN="$ROOT/scripts/standin/postgres.sh"
TMP="$(mktemp -d "$WORK/postgres-bench.XXXXXX")"
cleanup() { "$STANDIN" stop >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT

[[ -x "$BIN" && -f "$LIB" ]] || (cd "$ROOT" && cargo build --release --quiet)
SHIM="$("$ROOT/scripts/build-pq-preload.sh")"
"$STANDIN" start >/dev/null 2>&1 || die "the PostgreSQL stand-in did not start"
eval "$("$STANDIN" env)"
CONN="host=localhost port=$IAM_STANDIN_PG_PORT dbname=$IAM_STANDIN_PG_DATABASE user=$IAM_STANDIN_PG_USER sslmode=verify-full sslrootcert=$IAM_STANDIN_PG_CA"
PASSFILE="$TMP/pgpass"
for i in $(seq 1 49); do printf 'other%d.example.com:5432:*:user%d:password%d\n' "$i" "$i" "$i"; done >"$PASSFILE"
chmod 600 "$PASSFILE"
export TOKEN_ARGS="--host localhost --port $IAM_STANDIN_PG_PORT --user $IAM_STANDIN_PG_USER"
run() {
  isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" \
    AWS_REGION="$IAM_STANDIN_REGION" "$@"
}
run "$BIN" pgpass $TOKEN_ARGS --file "$PASSFILE" -q
TOKEN="$(run "$BIN" token $TOKEN_ARGS)"

run env BIN="$BIN" SHIM="$SHIM" CONN="$CONN" PASSFILE="$PASSFILE" TOKEN="$TOKEN" RUNS="$RUNS" \
  python3 - <<'EOF'
import os, statistics, subprocess, time

env = dict(os.environ)
b, args = env["BIN"], env["TOKEN_ARGS"].split()
psql = ["psql", env["CONN"], "-XAtqc", "SELECT 1"]
nopass = {k: v for k, v in env.items() if k not in ("PGPASSWORD", "TOKEN")}
modes = {
    "true": (["true"], nopass),
    "pgpass": ([b, "pgpass", *args, "--file", env["PASSFILE"], "-q"], nopass),
    "exec": ([b, "exec", *args, "--", "true"], nopass),
    "psql-password": (psql, {**nopass, "PGPASSFILE": "/nonexistent", "PGPASSWORD": env["TOKEN"]}),
    "psql-passfile": (psql, {**nopass, "PGPASSFILE": env["PASSFILE"]}),
    "psql-preload": (psql, {**nopass, "PGPASSFILE": "/nonexistent", "LD_PRELOAD": env["SHIM"],
                            "IAM_DB_AUTH_PQ_HOSTS": "localhost"}),
}
times = {m: [] for m in modes}
for _ in range(int(env["RUNS"])):
    for mode, (cmd, e) in modes.items():
        start = time.perf_counter()
        done = subprocess.run(cmd, env=e, capture_output=True)
        times[mode].append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:
            raise SystemExit(f"{mode} failed: {done.stderr.decode()}")
print(f"{'mode':<15} {'median ms':>10} {'p90 ms':>8}   ({env['RUNS']} runs each)")
for mode, t in times.items():
    t.sort()
    print(f"{mode:<15} {statistics.median(t):>10.1f} {t[int(len(t) * 0.9) - 1]:>8.1f}")
EOF
