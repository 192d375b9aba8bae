#!/usr/bin/env bash
# The proxy's benchmarks, PostgreSQL (issue 15, point 7), in one run on this machine:
#   (1) pgbench -S through the proxy against direct (TLS, token as the password), 1, 8 and 32
#       clients, alternating rounds; tps medians
#   (2) added latency per query: p50 of pgbench -S with 1 client, per-transaction logs, through
#       the proxy minus direct
#   (3) the proxy's CPU per new connection: utime+stime of the proxy process (/proc/PID/stat)
#       over a connection storm, divided by its logins (upstream TLS handshake, certificate
#       check, token from the cache, login, relay setup, teardown)
#   (4) tokens signed under that storm: 4 database users, the token cache on: the upstream
#       counts distinct passwords (goal: one per user per cache window)
#   (5) memory per idle session: the proxy's RSS with 1,000 sessions open, less before, /1000
# (1) and (2) run against the PostgreSQL stand-in (TLS, PAM verifier); (3)-(5) need more
# sessions and logins than the stand-in has backends and PAM logins per second, so they run
# against scripts/bench/proxy_pg_fake.py (TLS with the stand-in's certificate, any password).
#
# usage: scripts/bench/proxy.sh OUT [--smoke]      (writes OUT/proxy.json and the raw data)
# env: IAM_BENCH_PROXY_BIN (default: the release iam-db-auth), IAM_STANDIN_PG_PORT (15490)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
OUT="$1"
SMOKE=0
[[ "${2:-}" == --smoke ]] && SMOKE=1
if ((SMOKE)); then
  # 32 direct clients log in through PAM for longer than a short run lasts: 1 and 8 only.
  ROUNDS=1 SECONDS_EACH=2 STORM=100 IDLE=50 CLIENTS=(1 8)
else
  ROUNDS="${IAM_BENCH_PROXY_ROUNDS:-5}" SECONDS_EACH=10 STORM=2000 IDLE=1000 CLIENTS=(1 8 32)
fi
PROXY_BIN="${IAM_BENCH_PROXY_BIN:-$BIN}"
export IAM_STANDIN_PG_PORT="${IAM_STANDIN_PG_PORT:-15490}"
STANDIN="$ROOT/scripts/standin/postgres.sh"
HERE="$ROOT/scripts/bench"
TMP="$OUT/proxy-raw"
rm -rf "$TMP"
mkdir -p "$TMP"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  "$STANDIN" stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

"$STANDIN" start >/dev/null 2>&1 || die "the PostgreSQL stand-in did not start"
eval "$("$STANDIN" env)"
creds=(AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY"
  AWS_REGION="$IAM_STANDIN_REGION")

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { # PORT: until something listens there (10 s)
  local i
  for ((i = 0; i < 200; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  die "nothing listens on port $1"
}
PROXY_PID=""
start_proxy() { # PORT TARGET_PORT LOG: the proxy in the background, PROXY_PID set (its own
  # pid, written by the shell it replaces: /proc numbers must be the proxy's)
  rm -f "$TMP/proxy.pid"
  isolated_aws_env "${creds[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$TMP/proxy.pid" \
    "$PROXY_BIN" proxy --engine postgres --listen "127.0.0.1:$1" \
    --target "127.0.0.1:$2" --signing-host "$IAM_STANDIN_PG_RDS_HOST" --signing-port 5432 \
    --region "$IAM_STANDIN_REGION" --ca "$IAM_STANDIN_PG_CA" --max-connections 4000 >"$3" 2>&1 &
  wait_port "$1"
  PROXY_PID="$(cat "$TMP/proxy.pid")"
  PIDS+=("$PROXY_PID")
}
stop_proxy() {
  kill "$PROXY_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do kill -0 "$PROXY_PID" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$PROXY_PID" 2>/dev/null || true
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# --- (1) and (2): pgbench against the stand-in ----------------------------------------------
PROXY_PORT="$(free_port)"
start_proxy "$PROXY_PORT" "$IAM_STANDIN_PG_PORT" "$TMP/proxy-pgbench.log"
token="$(isolated_aws_env "${creds[@]}" "$BIN" token --host localhost --port "$IAM_STANDIN_PG_PORT" --user "$IAM_STANDIN_PG_USER")"
DIRECT="host=localhost hostaddr=127.0.0.1 port=$IAM_STANDIN_PG_PORT dbname=$IAM_STANDIN_PG_DATABASE user=$IAM_STANDIN_PG_USER sslmode=verify-full sslrootcert=$IAM_STANDIN_PG_CA"
PROXIED="host=127.0.0.1 port=$PROXY_PORT dbname=$IAM_STANDIN_PG_DATABASE user=$IAM_STANDIN_PG_USER sslmode=disable"
pg_env=(env -u PGPASSWORD PGPASSFILE=/nonexistent PGCONNECT_TIMEOUT=20)
"${pg_env[@]}" PGPASSWORD="$token" pgbench -i -s 1 -q "$DIRECT" >"$TMP/pgbench-init.log" 2>&1 ||
  die "pgbench -i failed: $(tail -3 "$TMP/pgbench-init.log")"
: >"$TMP/pgbench.txt"
for ((r = 1; r <= ROUNDS; r++)); do
  for c in "${CLIENTS[@]}"; do
    for mode in direct proxy; do
      if [[ $mode == direct ]]; then conninfo="$DIRECT" pw=(PGPASSWORD="$token"); else conninfo="$PROXIED" pw=(); fi
      log=()
      ((c == 1)) && log=(--log --log-prefix="$TMP/lat-$mode-$r")
      "${pg_env[@]}" "${pw[@]}" pgbench -n -S -c "$c" -j "$((c < 2 ? 1 : 2))" -T "$SECONDS_EACH" "${log[@]}" \
        "$conninfo" >"$TMP/pgbench-$mode-$c-$r.log" 2>&1 || die "pgbench $mode -c $c failed: $(tail -3 "$TMP/pgbench-$mode-$c-$r.log")"
      tps="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$TMP/pgbench-$mode-$c-$r.log" | head -1)"
      echo "$mode $c $r $tps" >>"$TMP/pgbench.txt"
    done
  done
done
stop_proxy
cat "$TMP"/lat-direct-* | awk '{ print $3 }' >"$TMP/lat-direct.txt"
cat "$TMP"/lat-proxy-* | awk '{ print $3 }' >"$TMP/lat-proxy.txt"

# --- (3) and (4): a connection storm against the fake upstream -------------------------------
FAKE_PORT="$(free_port)"
python3 "$HERE/proxy_pg_fake.py" "$FAKE_PORT" "$WORK/standin/tls/server.pem" "$WORK/standin/tls/server.key" \
  "$TMP/fake-stats.json" >"$TMP/fake.log" 2>&1 &
FAKE_PID=$!
PIDS+=("$FAKE_PID")
wait_port "$FAKE_PORT"
PROXY_PORT="$(free_port)"
start_proxy "$PROXY_PORT" "$FAKE_PORT" "$TMP/proxy-storm.log"
python3 "$HERE/proxy_pg_clients.py" storm "$PROXY_PORT" 20 4 bench u1 u2 u3 u4 >/dev/null # warm-up
before="$(cpu_ticks "$PROXY_PID")"
python3 "$HERE/proxy_pg_clients.py" storm "$PROXY_PORT" "$STORM" 16 bench u1 u2 u3 u4 >"$TMP/storm.json"
after="$(cpu_ticks "$PROXY_PID")"
echo "$((after - before)) $(getconf CLK_TCK)" >"$TMP/storm-cpu.txt"
rm -f "$TMP/fake-stats.json"
kill -USR1 "$FAKE_PID"
for ((i = 0; i < 100; i++)); do [[ -s "$TMP/fake-stats.json" ]] && break; sleep 0.05; done
cp "$TMP/fake-stats.json" "$TMP/storm-tokens.json"
stop_proxy

# --- (5): idle sessions ------------------------------------------------------------------------
PROXY_PORT="$(free_port)"
start_proxy "$PROXY_PORT" "$FAKE_PORT" "$TMP/proxy-idle.log"
python3 "$HERE/proxy_pg_clients.py" storm "$PROXY_PORT" 20 4 bench u1 >/dev/null # warm-up
rss_before="$(rss_kb "$PROXY_PID")"
exec 7> >(python3 "$HERE/proxy_pg_clients.py" hold "$PROXY_PORT" "$IDLE" u1 bench >"$TMP/hold.txt" 2>&1)
for ((i = 0; i < 1200; i++)); do
  grep -q '^ready' "$TMP/hold.txt" 2>/dev/null && break
  sleep 0.1
done
grep -q "^ready $IDLE" "$TMP/hold.txt" || die "the idle sessions did not all open: $(tail -3 "$TMP/hold.txt")"
sleep 1
rss_after="$(rss_kb "$PROXY_PID")"
exec 7>&- # closes the holder's stdin: it closes its sessions
echo "$rss_before $rss_after $IDLE" >"$TMP/idle-rss.txt"
stop_proxy
kill -TERM "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null || true

python3 - "$TMP" "$OUT/proxy.json" "$SECONDS_EACH" "$ROUNDS" <<'EOF'
import json, statistics, sys
tmp, out, seconds, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tps = {}
for line in open(f"{tmp}/pgbench.txt"):
    mode, clients, _, value = line.split()
    tps.setdefault(mode, {}).setdefault(clients, []).append(float(value))
def p50(path):
    values = [int(v) for v in open(path) if v.strip()]
    return statistics.median(values) if values else None
def stalls(path):
    """The share of transactions over 10 ms (waits for a CPU on a loaded machine)."""
    values = [int(v) for v in open(path) if v.strip()]
    return sum(v > 10000 for v in values) / len(values) if values else None
storm = json.load(open(f"{tmp}/storm.json"))
ticks, hz = map(int, open(f"{tmp}/storm-cpu.txt").read().split())
fake = json.load(open(f"{tmp}/storm-tokens.json"))
rss_before, rss_after, idle = map(int, open(f"{tmp}/idle-rss.txt").read().split())
result = {
    "pgbench_tps": {m: {c: statistics.median(v) for c, v in by.items()} for m, by in tps.items()},
    "pgbench_seconds": seconds, "rounds": rounds,
    "latency_p50_us": {"direct": p50(f"{tmp}/lat-direct.txt"), "proxy": p50(f"{tmp}/lat-proxy.txt")},
    "over_10ms_share": {"direct": stalls(f"{tmp}/lat-direct.txt"), "proxy": stalls(f"{tmp}/lat-proxy.txt")},
    "storm": {"logins": storm["logins"], "failed": storm["failed"], "seconds": storm["seconds"],
              "users": 4, "cpu_us_per_connection": ticks * 1e6 / hz / max(storm["logins"], 1),
              # Warm-up included (20 logins, the same 4 users): every token this proxy signed.
              "tokens_signed": fake["tokens"], "upstream_logins": fake["logins"]},
    "idle": {"sessions": idle, "rss_before_kb": rss_before, "rss_after_kb": rss_after,
             "kb_per_session": (rss_after - rss_before) / idle},
}
json.dump(result, open(out, "w"), indent=1)
print(json.dumps(result, indent=1))
EOF
