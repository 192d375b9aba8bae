#!/usr/bin/env bash
# Benchmarks iam-db-auth side by side with boto3 and the AWS CLI, in one run on this machine:
#   (a) whole processes: `iam-db-auth token` against `aws rds generate-db-auth-token` (hyperfine,
#       many runs each, in alternating rounds so drifting load hits both alike)
#   (b) per call, in one Python process: the library through ctypes (cache hit, and
#       IAM_FLAG_NO_CACHE) against boto3's generate_db_auth_token
#   (c) throughput through the C ABI with 1, 2, 4, 8 and 16 threads (cache hit and no cache)
#   (d) cold start: load the library and make the first token in a fresh process (C with
#       dlopen; Python ctypes against `import boto3`)
#   (e) IAM logins per second through the MySQL plugin against the local MariaDB stand-in, cache
#       on and off (skipped, saying so, when the stand-in or the plugin bench is not there)
#   (f) the proxy, PostgreSQL (scripts/bench/proxy.sh): pgbench -S direct against through the
#       proxy, added latency, CPU per new connection, tokens signed in a connection storm,
#       memory per idle session; its report and plot (scripts/bench/proxy_report.py)
# plus `cargo bench` (criterion), the stripped library size, and what the CLI's fast path opens
# (strace: no certificate store, no AWS files when env credentials are set).
# Prints the tables (medians and ratios, targets achieved or not) and writes them, the raw data
# and a plot to OUT. Slow (about 10 minutes): not part of scripts/test.sh, whose stage
# 85-bench-smoke runs it with --smoke.
#
# usage: scripts/bench.sh [--smoke] [--publish]
#   --smoke    tiny counts: checks that everything runs, measures nothing worth keeping
#   --publish  also copies the plot to docs/bench.png, the tables into BENCHMARKS.md and the
#              headline ratios into README.md
# env: IAM_BENCH_OUT (default $WORK/bench, or $WORK/bench-smoke with --smoke)
#
# Credentials: the demo key in the environment only (isolated_aws_env: no AWS files, the real
# EC2 metadata endpoint disabled for us, awscli and boto3 alike). Nothing leaves loopback.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

SMOKE=0 PUBLISH=0
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    --publish) PUBLISH=1 ;;
    *) die "usage: scripts/bench.sh [--smoke] [--publish]" ;;
  esac
done
((SMOKE && PUBLISH)) && die "--smoke numbers are not worth publishing"

if ((SMOKE)); then
  OUT="${IAM_BENCH_OUT:-$WORK/bench-smoke}"
  PROC_ROUNDS=1 OURS_RUNS=3 AWS_RUNS=1      # (a)
  PY_CALLS=200 PY_ROUNDS=2                   # (b)
  THREAD_ROUNDS=1 THREAD_MS=50               # (c)
  COLD_C=3 COLD_PY=1                         # (d)
  MYSQL_ROUNDS=1 MYSQL_LOGINS=4              # (e)
  CRITERION=(-- --test)
else
  OUT="${IAM_BENCH_OUT:-$WORK/bench}"
  PROC_ROUNDS=5 OURS_RUNS=60 AWS_RUNS=6
  PY_CALLS=20000 PY_ROUNDS=15
  THREAD_ROUNDS=5 THREAD_MS=1000
  COLD_C=200 COLD_PY=20
  MYSQL_ROUNDS=5 MYSQL_LOGINS=40
  CRITERION=()
fi
rm -rf "$OUT"
mkdir -p "$OUT"

HOST="mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com"
PORT=5432
DBUSER="app_user"
REGION="us-east-1"
BENCH_VENV="$ROOT/.venv-bench"
PY="$BENCH_VENV/bin/python"

bench_env() {
  isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" \
    AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" "$@"
}
load() { cut -d' ' -f1 /proc/loadavg; }
# Appends "section load_before load_after" to the run's notes.
section() { say "$1 (load average $(load))"; printf '%s %s' "$1" "$(load)" >>"$OUT/loads.txt"; }
section_done() { printf ' %s\n' "$(load)" >>"$OUT/loads.txt"; }

# --- what the run needs ---------------------------------------------------------------------
command -v hyperfine >/dev/null && command -v strace >/dev/null || {
  say "installing hyperfine and strace (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hyperfine strace >/dev/null
}
if [[ ! -x "$PY" ]]; then
  say "creating the bench venv $BENCH_VENV (awscli, boto3, matplotlib)"
  python3 -m venv "$BENCH_VENV"
fi
"$BENCH_VENV/bin/pip" install -q --disable-pip-version-check -r scripts/bench/requirements.txt
say "building the release library and CLI"
cargo build --release --quiet
soname_link
mkdir -p "$OUT/bin"
cc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -I"$ROOT/include" scripts/bench/threads.c \
  -o "$OUT/bin/threads" -L"$ROOT/target/release" -liam_db_auth -Wl,-rpath,"$ROOT/target/release" -lpthread
cc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror scripts/bench/cold_start.c -o "$OUT/bin/cold_start" -ldl

OURS_CMD="$BIN token --host $HOST --port $PORT --user $DBUSER"
AWS_CMD="$BENCH_VENV/bin/aws rds generate-db-auth-token --hostname $HOST --port $PORT --username $DBUSER --region $REGION"

# Both commands make a token the verifier accepts: they do the same work.
write_keystore "$OUT/keystore"
for name in ours aws; do
  if [[ $name == ours ]]; then cmd="$OURS_CMD"; else cmd="$AWS_CMD"; fi
  # shellcheck disable=SC2086
  token="$(bench_env $cmd)"
  printf '%s' "$token" | "$BIN" verify --keystore "$OUT/keystore" --endpoint "$HOST:$PORT" \
    --region "$REGION" --user "$DBUSER" || die "the verifier refused the token from $name"
done
say "both commands make tokens the verifier accepts"

# --- what the CLI's fast path touches -------------------------------------------------------
# shellcheck disable=SC2086
bench_env strace -f -qq -e trace=open,openat,connect,socket -o "$OUT/strace.txt" $OURS_CMD >/dev/null
# shellcheck disable=SC2086
bench_env strace -f -qq -c -o "$OUT/strace-count.txt" $OURS_CMD >/dev/null

# --- cargo bench ----------------------------------------------------------------------------
section "cargo bench"
rm -rf "$ROOT/target/criterion"
bench_env cargo bench --quiet --bench token "${CRITERION[@]}" >"$OUT/criterion.txt" 2>&1 ||
  { tail -n 30 "$OUT/criterion.txt"; die "cargo bench failed"; }
grep -E '^(token|c_abi|region|sign)/|time:' "$OUT/criterion.txt" >&2 || true
section_done

# --- (a) whole processes --------------------------------------------------------------------
section "(a) whole processes: iam-db-auth token vs aws rds generate-db-auth-token"
for ((r = 1; r <= PROC_ROUNDS; r++)); do
  bench_env hyperfine -N --style none --warmup 2 --runs "$OURS_RUNS" \
    --export-json "$OUT/process-ours-$r.json" "$OURS_CMD" >/dev/null
  bench_env hyperfine -N --style none --warmup 1 --runs "$AWS_RUNS" \
    --export-json "$OUT/process-aws-$r.json" "$AWS_CMD" >/dev/null
done
section_done

# --- (b) per call in one Python process -----------------------------------------------------
section "(b) per call: ctypes vs boto3"
bench_env "$PY" scripts/bench/per_call.py compare "$LIB" "$PY_CALLS" "$PY_ROUNDS" >"$OUT/per_call.json"
section_done

# --- (c) threads ----------------------------------------------------------------------------
section "(c) threads through the C ABI"
: >"$OUT/threads.txt"
for ((r = 1; r <= THREAD_ROUNDS; r++)); do
  for threads in 1 2 4 8 16; do
    for mode in cached uncached; do
      bench_env "$OUT/bin/threads" "$mode" "$threads" "$THREAD_MS" >>"$OUT/threads.txt"
    done
  done
done
section_done

# --- (d) cold start -------------------------------------------------------------------------
section "(d) cold start"
: >"$OUT/cold-c.txt"
for ((i = 0; i < COLD_C; i++)); do
  bench_env "$OUT/bin/cold_start" "$LIB" >>"$OUT/cold-c.txt"
done
: >"$OUT/cold-py-ours.txt"
: >"$OUT/cold-py-boto3.txt"
for ((i = 0; i < COLD_PY; i++)); do
  bench_env "$PY" scripts/bench/per_call.py cold-ours "$LIB" >>"$OUT/cold-py-ours.txt"
  bench_env "$PY" scripts/bench/per_call.py cold-boto3 >>"$OUT/cold-py-boto3.txt"
done
section_done

# --- (e) logins through the MySQL plugin ----------------------------------------------------
PLUGIN_BENCH="$ROOT/scripts/bench/mysql-plugin-login.sh"
if [[ -x "$ROOT/scripts/standin/mariadb.sh" && -x "$PLUGIN_BENCH" ]] && command -v mariadbd >/dev/null; then
  section "(e) IAM logins through the MySQL plugin (MariaDB stand-in)"
  "$PLUGIN_BENCH" "$MYSQL_ROUNDS" "$MYSQL_LOGINS" | tee "$OUT/mysql.txt"
  section_done
else
  note="(e) skipped: the MariaDB stand-in (scripts/standin/mariadb.sh), its plugin bench (scripts/bench/mysql-plugin-login.sh) or mariadbd is not here"
  say "$note"
  echo "$note" >"$OUT/mysql-skipped.txt"
fi

# --- (f) the proxy, PostgreSQL ---------------------------------------------------------------
section "(f) the proxy, PostgreSQL (pgbench, storm, idle sessions)"
scripts/bench/proxy.sh "$OUT" $( ((SMOKE)) && echo --smoke) >"$OUT/proxy.log" 2>&1 ||
  { tail -n 20 "$OUT/proxy.log"; die "the proxy benchmarks failed"; }
section_done

# --- the machine, and the report ------------------------------------------------------------
{
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "cores=$(nproc)"
  echo "memory=$(free -g | awk '/^Mem:/ { print $2 " GiB" }')"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "rustc=$(rustc -V)"
  echo "python=$("$PY" -c 'import sys; print(sys.version.split()[0])')"
  echo "awscli=$("$PY" -c 'import awscli; print(awscli.__version__)')"
  echo "boto3=$("$PY" -c 'import boto3; print(boto3.__version__)')"
  echo "hyperfine=$(hyperfine --version | cut -d' ' -f2)"
  echo "library_bytes=$(stat -c %s "$LIB")"
  echo "binary_bytes=$(stat -c %s "$BIN")"
  echo "smoke=$SMOKE"
  echo "ours_cmd=${OURS_CMD/#$ROOT\//}"
  echo "aws_cmd=${AWS_CMD/#$ROOT\//}"
  echo "counts=processes ${PROC_ROUNDS}x(${OURS_RUNS} ours + ${AWS_RUNS} aws); python ${PY_ROUNDS} rounds of ${PY_CALLS} calls; threads ${THREAD_ROUNDS} rounds of ${THREAD_MS} ms; cold ${COLD_C} C + ${COLD_PY} Python runs each"
} >"$OUT/meta.txt"

"$PY" scripts/bench/report.py "$OUT" "$ROOT/target/criterion"
"$PY" scripts/bench/proxy_report.py "$OUT" >&2
if ((PUBLISH)); then
  mkdir -p docs
  cp "$OUT/bench.png" docs/bench.png
  "$PY" scripts/bench/report.py --publish "$OUT" BENCHMARKS.md README.md
  "$PY" scripts/bench/proxy_report.py --publish "$OUT" BENCHMARKS.md docs/bench-proxy.png >/dev/null
  say "published: docs/bench.png, the tables in BENCHMARKS.md and the headline in README.md"
fi
