#!/usr/bin/env bash
# Measures how long a login through the mysql_clear_password plugin takes against the local
# MariaDB stand-in, with and without the plugin's token cache. A measurement, not a test: it
# asserts nothing about the numbers (the machine's load decides them), only that logins succeed.
#
# Modes, run in alternating rounds so that drifting load hits them alike:
#   cache      repeated logins in one process, IAM_DB_AUTH_CACHE on (the default)
#   no-cache   the same with IAM_DB_AUTH_CACHE=0: a token is signed for every login
#   password   the same, the token made beforehand and given as the password (MYSQL_PWD): the
#              plugin passes it through; the login as it costs without making a token
#   cold       one login per process (the CLI case): credential chain and runtime start included
# For each mode: the median whole-login time (mysql_real_connect, as the C program measures it)
# and, for the first two, the median time the engine took to hand the plugin its token (from
# IAM_DB_AUTH_LOG=debug, "token made (cache miss) for ... in N us" and the like).
#
# usage: scripts/bench/mysql-plugin-login.sh [ROUNDS [LOGINS_PER_ROUND]]   (defaults 5, 40)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
ROUNDS="${1:-5}"
PER_ROUND="${2:-40}"
export IAM_STANDIN_MARIADB_PORT="${IAM_STANDIN_MARIADB_PORT:-13308}"
STANDIN="$ROOT/scripts/standin"
TMP="$(mktemp -d "$WORK/mysql-plugin-bench.XXXXXX")"
cleanup() { "$STANDIN/mariadb.sh" stop >/dev/null 2>&1 || true; rm -rf "$TMP"; }
trap cleanup EXIT

[[ -x "$BIN" && -f "$LIB" ]] || (cd "$ROOT" && cargo build --release --quiet)
"$STANDIN/mariadb.sh" start >/dev/null 2>&1 || die "the MariaDB stand-in did not start"
eval "$("$STANDIN/mariadb.sh" env)"
"$BIN" mysql-plugin install "$TMP/plugins" >/dev/null
PROG="$TMP/mysql_plugin_login"
cc -O2 -Wall -Wextra -Werror $(mariadb_config --cflags) "$ROOT/c-tests/mysql_plugin_login.c" \
  $(mariadb_config --libs) -o "$PROG"
creds=(AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY"
  AWS_REGION="$IAM_STANDIN_REGION" MARIADB_PLUGIN_DIR="$TMP/plugins")
target=(--ca "$IAM_STANDIN_MARIADB_CA" 127.0.0.1 "$IAM_STANDIN_MARIADB_PORT" iam_user)

run() { # MODE COUNT [VAR=VALUE...]: appends login times and token times to files per mode
  local mode="$1" count="$2"; shift 2
  isolated_aws_env "${creds[@]}" IAM_DB_AUTH_LOG=debug "$@" \
    "$PROG" --print-times --count "$count" "${target[@]}" >"$TMP/out" 2>"$TMP/err" ||
    die "$mode: logins failed: $(grep -v '^iam-db-auth' "$TMP/err" | head -3)"
  awk '/^login_ms / { print $2 }' "$TMP/out" >>"$TMP/$mode.login"
  sed -n 's/.*: token .* for .* in \([0-9]*\) us$/\1/p' "$TMP/err" >>"$TMP/$mode.token"
}
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", v[int((NR + 1) / 2)]; else printf "-" }'; }
count() { wc -l <"$1" | tr -d ' '; }

for ((r = 1; r <= ROUNDS; r++)); do
  run cache "$PER_ROUND"
  run no-cache "$PER_ROUND" IAM_DB_AUTH_CACHE=0
  password="$(isolated_aws_env "${creds[@]}" "$BIN" token --host 127.0.0.1 --port "$IAM_STANDIN_MARIADB_PORT" --user iam_user)"
  run password "$PER_ROUND" MYSQL_PWD="$password"
  for ((i = 0; i < PER_ROUND / 4; i++)); do run cold 1; done
done

printf '%-10s %8s %16s %18s\n' mode logins "login median ms" "token median us"
for mode in cache no-cache password cold; do
  touch "$TMP/$mode.token"
  tok="$(median "$TMP/$mode.token")"
  [[ $mode == password ]] && tok="(none made)"
  printf '%-10s %8s %16s %18s\n' "$mode" "$(count "$TMP/$mode.login")" "$(median "$TMP/$mode.login")" "$tok"
done
