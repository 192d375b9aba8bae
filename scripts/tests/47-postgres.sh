#!/usr/bin/env bash
# End-to-end: the pgpass helper, `exec` and the LD_PRELOAD library against the local RDS-like
# PostgreSQL stand-in (scripts/standin/postgres.sh: TLS only, PAM + `iam-db-auth verify`), with
# real clients:
# psql, pg_dump, an unmodified psycopg 3 program (binary wheel: its own libpq), a C program on
# the system libpq (and `exec --engine mysql` once against the MariaDB stand-in). Every check can
# fail; a check that cannot run fails the stage.
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

[[ -x "$BIN" ]] || cargo build --release --quiet || die "cargo build --release failed"
# A port of its own, so this stage does not meet another stage's (or worktree's) instance.
export IAM_STANDIN_PG_PORT="${IAM_STANDIN_PG_PORT:-15442}"
STANDIN="$ROOT/scripts/standin/postgres.sh"
T="$WORK/pgpass-test"
rm -rf "$T"
mkdir -p "$T"
chmod 700 "$T"
BG_PIDS=()
TEMP_KEY=""
STOP_MARIADB=""
cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  "$STANDIN" stop >/dev/null 2>&1
  if [[ -n "$STOP_MARIADB" ]]; then "$ROOT/scripts/standin/mariadb.sh" stop >/dev/null 2>&1; fi
  if [[ -n "$TEMP_KEY" && -f "${IAM_STANDIN_KEYSTORE:-}" ]]; then
    # Rewritten in place (cat >), keeping the keystore's owner and mode.
    grep -v "^$TEMP_KEY " "$IAM_STANDIN_KEYSTORE" >"$T/keystore.kept" || true
    cat "$T/keystore.kept" >"$IAM_STANDIN_KEYSTORE"
  fi
}
trap cleanup EXIT
"$STANDIN" start || die "the PostgreSQL stand-in did not start"
eval "$("$STANDIN" env)"
PORT="$IAM_STANDIN_PG_PORT"
DB="$IAM_STANDIN_PG_DATABASE"
PGUSER_IAM="$IAM_STANDIN_PG_USER"
CA="$IAM_STANDIN_PG_CA"
REGION="$IAM_STANDIN_REGION"
# The libpq connection string every client uses: no password, full certificate checks.
CONN="host=localhost port=$PORT dbname=$DB user=$PGUSER_IAM sslmode=verify-full sslrootcert=$CA"

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok %d - %s\n' "$((passed + failed))" "$1"; }
not_ok() {
  failed=$((failed + 1))
  printf 'not ok %d - %s\n' "$((passed + failed))" "$1"
  [[ -n "${2:-}" ]] && printf '%s\n' "$2" | sed 's/^/#   /' | head -n 30
  return 0
}
# check NAME EXPECTED ACTUAL [DETAIL]
check() {
  if [[ "$2" == "$3" ]]; then ok "$1"; else not_ok "$1" "expected: $2"$'\n'"actual:   $3"$'\n'"${4:-}"; fi
}

# Runs a command with the demo key (known to the stand-in) and nothing else from outside.
# (Its own cache directory: exec writes the built-in RDS CA bundle out there.)
with_demo_key() {
  isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" \
    AWS_REGION="$REGION" XDG_CACHE_HOME="$T/cache" "$@"
}
# Client programs see no password but the passfile's.
client() { env -u PGPASSWORD -u PGSERVICE -u PGSSLMODE PGPASSFILE="$PASSFILE" "$@"; }
# The line of the passfile for our entry (our host:port:*:user).
our_line() { grep -a "^localhost:$PORT:\*:$PGUSER_IAM:" "$1"; }
# Checks that psql, reading the passfile ($CONN), logs in as the IAM user.
psql_logs_in() { check "$1" "$PGUSER_IAM" "$(client psql "$CONN" -XAtc "SELECT current_user" 2>&1)"; }
# Waits up to $2 seconds for command $1 (a string, eval'd) to succeed.
wait_for() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    eval "$1" && return 0
    sleep 0.1
  done
  return 1
}
# start_bg LOG WRAPPER... -- COMMAND...: runs COMMAND under WRAPPER (a function such as
# with_demo_key, with its arguments) in the background, output to LOG, its exit status to
# LOG.status when it ends; its pid (the real one, not a subshell's) in $BG_PID.
start_bg() {
  local log="$1" pidfile="$T/bg.$RANDOM.pid" wrapper=()
  shift
  while [[ "$1" != "--" ]]; do wrapper+=("$1"); shift; done
  shift
  rm -f "$pidfile" "$log.status"
  (
    "${wrapper[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >"$log" 2>&1
    echo "exit $?" >"$log.status"
  ) &
  wait_for "[[ -s $pidfile ]]" 10 || die "background command did not start: $*"
  BG_PID="$(cat "$pidfile")"
  BG_PIDS+=("$BG_PID")
}
# The number of sessions running `SELECT pg_sleep(30)`.
sleeping_queries() {
  client psql "$CONN" -XAtc "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'" 2>/dev/null
}

say "pgpass helper: one-shot, psql with verify-full"
PASSFILE="$T/pgpass"
out="$(with_demo_key "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$PASSFILE" 2>&1)"
check "pgpass writes an entry (exit 0)" 0 $? "$out"
check "the passfile is mode 0600" 600 "$(stat -c %a "$PASSFILE" 2>/dev/null)"
case "$out" in *X-Amz-Signature*|*Amz-Credential*) not_ok "pgpass never prints the token" "$out" ;; *) ok "pgpass never prints the token" ;; esac
line="$(our_line "$PASSFILE")"
case "$line" in "localhost:$PORT:*:$PGUSER_IAM:localhost\\:$PORT/?Action=connect&"*) ok "the entry escapes the token's host:port colon" ;;
  *) not_ok "the entry escapes the token's host:port colon" "${line:0:80}" ;; esac
out="$(client psql "$CONN" -XAtc "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)"
check "psql (sslmode=verify-full) logs in with the passfile's token, over TLS" "$PGUSER_IAM true" "$out"
out="$(env -u PGPASSWORD PGPASSFILE="$T/none" psql "$CONN" -XAtc "SELECT 1" 2>&1)"
case "$out" in *"no password supplied"*|*"authentication failed"*) ok "without the passfile psql cannot log in (control)" ;;
  *) not_ok "without the passfile psql cannot log in (control)" "$out" ;; esac
out="$(env -u PGPASSWORD PGPASSFILE="$PASSFILE" psql "host=localhost port=$PORT dbname=$DB user=$PGUSER_IAM sslmode=disable" -XAtc "SELECT 1" 2>&1)"
case "$out" in *"no encryption"*|*"rejected"*) ok "the stand-in rejects a connection without TLS" ;;
  *) not_ok "the stand-in rejects a connection without TLS" "$out" ;; esac

say "pg_dump"
client psql "$CONN" -Xqc "CREATE TABLE IF NOT EXISTS pgpass_probe (id int PRIMARY KEY, note text); INSERT INTO pgpass_probe VALUES (1, 'dumped') ON CONFLICT DO NOTHING" >/dev/null 2>&1
out="$(client pg_dump --dbname="$CONN" --table=pgpass_probe --data-only --inserts 2>&1)"
case "$out" in *"INSERT INTO public.pgpass_probe VALUES (1, 'dumped');"*) ok "pg_dump logs in with the passfile's token and dumps" ;;
  *) not_ok "pg_dump logs in with the passfile's token and dumps" "$out" ;; esac

say "an unmodified psycopg program (binary wheel, its own libpq)"
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import psycopg' 2>/dev/null; then
  out="$(client "$VENV/bin/python" "$ROOT/scripts/tests/postgres/psycopg_login.py" "$CONN" 2>&1)"
  case "$out" in "$PGUSER_IAM ssl=True impl=binary libpq="*) ok "psycopg (binary, bundled libpq) logs in with the passfile's token: ${out#* impl=}" ;;
    *) not_ok "psycopg (binary, bundled libpq) logs in with the passfile's token" "$out" ;; esac
else
  not_ok "psycopg is installed in $VENV (scripts/setup.sh)"
fi

say "a C program on the system libpq"
if cc -std=c11 -Wall -Wextra -Wpedantic -Werror -o "$T/pg_login" "$ROOT/c-tests/pg_login.c" \
  $(pkg-config --cflags --libs libpq) 2>"$T/cc.log"; then
  out="$(client "$T/pg_login" "$CONN" 2>&1)"
  case "$out" in "$PGUSER_IAM ssl=t libpq="*) ok "a C libpq program logs in with the passfile's token (${out##* })" ;;
    *) not_ok "a C libpq program logs in with the passfile's token" "$out" ;; esac
else
  not_ok "c-tests/pg_login.c builds with -Wall -Wextra -Wpedantic -Werror" "$(cat "$T/cc.log")"
fi

say "session-token credentials (long tokens)"
# A key of this run's own (removed again at exit), so reruns never meet an older secret.
TEMP_KEY="ASIAPGPASS$(head -c 512 /dev/urandom | tr -dc 'A-Z0-9' | head -c 10)"
TEMP_SECRET="pgpassTempSecret/$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
TEMP_SESSION="$(head -c 600 /dev/urandom | base64 -w0)"
echo "$TEMP_KEY $TEMP_SECRET $TEMP_SESSION" >>"$IAM_STANDIN_KEYSTORE"
out="$(isolated_aws_env AWS_ACCESS_KEY_ID="$TEMP_KEY" AWS_SECRET_ACCESS_KEY="$TEMP_SECRET" \
  AWS_SESSION_TOKEN="$TEMP_SESSION" AWS_REGION="$REGION" \
  "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$PASSFILE" 2>&1)"
check "pgpass writes a session-token entry (exit 0)" 0 $? "$out"
len="$(our_line "$PASSFILE" | wc -c)"
if ((len > 1000)); then ok "the session-token entry line is long ($len bytes, over libpq's old 320)"; else not_ok "the session-token entry line is long" "$len bytes"; fi
psql_logs_in "psql logs in with a session-token token from the passfile"

say "a passfile with unrelated entries"
PASSFILE="$T/pgpass.mixed"
{
  printf '# personal passwords, do not lose\r\n'
  printf 'other.example.com:5432:*:bob:s3cr\\:et\\\\x\n'
  printf '\n'
  printf '   \t\n'
  printf 'localhost:%s:*:%s:OLD-TOKEN-TO-REPLACE\n' "$PORT" "$PGUSER_IAM"
  printf '# trailing comment with colons a:b:c:d:e\n'
  printf '[::1]:5432:db:alice:pw\r\n'
  printf '*:*:*:*:catch-all-without-newline'
} >"$PASSFILE"
chmod 600 "$PASSFILE"
cp "$PASSFILE" "$T/mixed.orig"
out="$(with_demo_key "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$PASSFILE" 2>&1)"
check "pgpass updates the entry in a mixed file (exit 0)" 0 $? "$out"
if cmp -s <(grep -av "^localhost:$PORT:" "$T/mixed.orig") <(grep -av "^localhost:$PORT:" "$PASSFILE"); then
  ok "every other line is kept byte for byte (comments, CRLF, blanks, other hosts, no final newline)"
else
  not_ok "every other line is kept byte for byte" "$(diff <(grep -av "^localhost:$PORT:" "$T/mixed.orig" | cat -A) <(grep -av "^localhost:$PORT:" "$PASSFILE" | cat -A))"
fi
check "the entry stays on its line (5)" 5 "$(grep -an "^localhost:$PORT:" "$PASSFILE" | cut -d: -f1)"
check "the file still ends without a newline" "catch-all-without-newline" "$(tail -c 25 "$PASSFILE")"
psql_logs_in "psql logs in through the mixed file"
# A new entry in a file whose catch-all would hide an appended line: it goes before it.
PASSFILE="$T/pgpass.catchall"
printf 'other.example.com:5432:*:bob:pw\n*:*:*:*:wrong-password\n' >"$PASSFILE"
chmod 600 "$PASSFILE"
with_demo_key "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$PASSFILE" -q
check "a new entry goes before a catch-all line (line 2 of 3)" "2 3" "$(grep -an "^localhost:$PORT:" "$PASSFILE" | cut -d: -f1) $(wc -l <"$PASSFILE")"
psql_logs_in "psql logs in although the file has a catch-all"
# An existing entry that an earlier line hides is updated in place, and the earlier line reported.
PASSFILE="$T/pgpass.shadowed"
printf 'localhost:*:*:*:hides-everything\nlocalhost:%s:*:%s:OLD\n' "$PORT" "$PGUSER_IAM" >"$PASSFILE"
chmod 600 "$PASSFILE"
out="$(with_demo_key "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$PASSFILE" 2>&1)"
case "$out" in *"line 1 (localhost:*:*:*) comes first and matches every connection"*) ok "an earlier line that hides the entry is reported" ;;
  *) not_ok "an earlier line that hides the entry is reported" "$out" ;; esac

say "concurrent writers lose nothing"
PASSFILE="$T/pgpass.concurrent"
printf '# shared by 20 writers\n' >"$PASSFILE"
chmod 600 "$PASSFILE"
for i in $(seq 1 20); do
  with_demo_key "$BIN" pgpass -q --host "db$i.example.com" --user "u$i" --file "$PASSFILE" &
done
wait
entries="$(grep -c '^db[0-9]*\.example\.com:5432:\*:u[0-9]*:' "$PASSFILE")"
check "20 writers at once: all 20 entries are there, the comment first" "20 # shared by 20 writers" \
  "$entries $(head -n 1 "$PASSFILE")"

say "refusals"
PASSFILE="$T/pgpass"
refuses() {
  local name="$1" needle="$2" file="$3"
  local before after out
  before="$(stat -c '%i %s %Y' "$file" 2>/dev/null; sha256sum <"$file" 2>/dev/null)"
  out="$(with_demo_key "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$file" 2>&1)"
  local rc=$?
  after="$(stat -c '%i %s %Y' "$file" 2>/dev/null; sha256sum <"$file" 2>/dev/null)"
  if ((rc == 1)) && [[ "$out" == *"$needle"* && "$before" == "$after" ]]; then ok "refuses $name"; else
    not_ok "refuses $name (exit 1, message, file untouched)" "exit $rc: $out"; fi
}
ln -s "$PASSFILE" "$T/link"
refuses "a symlink" "is a symbolic link" "$T/link"
mkdir "$T/adir"
refuses "a directory" "is a directory" "$T/adir"
printf 'this is not a passfile\n' >"$T/notpass"; chmod 600 "$T/notpass"
refuses "a file it cannot parse" "line 1: not a passfile entry" "$T/notpass"
printf 'a:1:*:u:p\0x\n' >"$T/nul"; chmod 600 "$T/nul"
refuses "a file with a NUL byte" "NUL" "$T/nul"
cp "$PASSFILE" "$T/foreign"; chown nobody "$T/foreign"
refuses "a file owned by someone else" "owned by uid" "$T/foreign"
cp "$PASSFILE" "$T/linked"; ln "$T/linked" "$T/linked2"
refuses "a file with two hard links" "hard links" "$T/linked"
printf 'a:1:*:u:p\n' >"$T/loose"; chmod 644 "$T/loose"
out="$(with_demo_key "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$T/loose" 2>&1)"
if [[ "$(stat -c %a "$T/loose")" == 600 && "$out" == *"was mode 0644, so libpq ignored it"* ]]; then
  ok "a group/world-readable passfile is rewritten 0600, with a note"; else not_ok "a loose passfile is rewritten 0600" "$out"; fi
ls -a "$T" | grep -q '\.iam-db-auth\.' && not_ok "no temporary files are left behind" "$(ls -a "$T")" || ok "no temporary files are left behind"

say "failures: wrong credentials, no credentials"
PASSFILE="$T/pgpass.wrong"
out="$(isolated_aws_env AWS_ACCESS_KEY_ID=AKIAUNKNOWNKEY000001 AWS_SECRET_ACCESS_KEY=not-the-secret AWS_REGION="$REGION" \
  "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$PASSFILE" 2>&1)"
check "pgpass writes a token signed with an unknown key (it cannot know)" 0 $? "$out"
out="$(client psql "$CONN" -XAtc "SELECT 1" 2>&1)"
rc=$?
if ((rc == 2)) && [[ "$out" == *"PAM authentication failed for user \"$PGUSER_IAM\""* ]]; then
  ok "wrong credentials: psql fails with libpq's authentication error (exit 2)"
else
  not_ok "wrong credentials: psql fails with libpq's authentication error" "exit $rc: $out"
fi
cp "$PASSFILE" "$T/wrong.before"
out="$(isolated_aws_env AWS_REGION="$REGION" "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$PASSFILE" 2>&1)"
rc=$?
if ((rc == 1)) && [[ "$out" == *"no AWS credentials found"*"left unchanged"* ]] && cmp -s "$PASSFILE" "$T/wrong.before"; then
  ok "no credentials: pgpass exits 1 with a clear message and leaves the file alone"
else
  not_ok "no credentials: pgpass exits 1 with a clear message" "exit $rc: $out"
fi

say "--watch replaces the token before it expires"
PASSFILE="$T/pgpass.watch"
start_bg "$T/watch.log" with_demo_key -- "$BIN" pgpass --watch --refresh-every 2s \
  --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$PASSFILE"
WATCH_PID="$BG_PID"
if wait_for "[[ -s $PASSFILE ]]" 10; then
  first="$(our_line "$PASSFILE" | sha256sum)"
  first_date="$(our_line "$PASSFILE" | grep -ao 'X-Amz-Date=[0-9TZ]*')"
  if wait_for '[[ "$(our_line "$PASSFILE" | sha256sum)" != "$first" ]]' 10; then
    second_date="$(our_line "$PASSFILE" | grep -ao 'X-Amz-Date=[0-9TZ]*')"
    if [[ "$second_date" > "$first_date" ]]; then ok "the watcher replaced the token with a newer one ($first_date -> $second_date)"; else
      not_ok "the watcher replaced the token with a newer one" "$first_date -> $second_date"; fi
    psql_logs_in "psql logs in with the refreshed token"
  else
    not_ok "the watcher replaced the token within 10 s" "$(cat "$T/watch.log")"
  fi
else
  not_ok "the watcher wrote the passfile" "$(cat "$T/watch.log")"
fi
kill -TERM "$WATCH_PID"
if wait_for "! kill -0 $WATCH_PID 2>/dev/null" 10; then ok "the watcher stops on SIGTERM"; else not_ok "the watcher stops on SIGTERM"; fi
grep -q "stopping on SIGTERM" "$T/watch.log" && ok "the watcher logs why it stopped" || not_ok "the watcher logs why it stopped" "$(cat "$T/watch.log")"
n="$(grep -c "updated localhost:$PORT:\*:$PGUSER_IAM" "$T/watch.log")"
((n >= 1)) && ok "the watcher logs each refresh ($n updates)" || not_ok "the watcher logs each refresh" "$(cat "$T/watch.log")"
grep -q "X-Amz-Signature" "$T/watch.log" && not_ok "the watcher's log holds no token" || ok "the watcher's log holds no token"

say "--watch on SIGHUP: reads the targets again and refreshes every entry at once"
PASSFILE="$T/pgpass.hup"
echo "host=localhost port=$PORT user=$PGUSER_IAM" >"$T/hup.targets"
start_bg "$T/hup.log" with_demo_key -- "$BIN" pgpass --watch --refresh-every 10m \
  --targets-file "$T/hup.targets" --file "$PASSFILE"
HUP_PID="$BG_PID"
if wait_for "[[ -s $PASSFILE ]]" 10; then
  first_date="$(our_line "$PASSFILE" | grep -ao 'X-Amz-Date=[0-9TZ]*')"
  sleep 1.1  # a token signed in the same second would be the same token
  kill -HUP "$HUP_PID"
  if wait_for '[[ "$(our_line "$PASSFILE" | grep -ao "X-Amz-Date=[0-9TZ]*")" > "$first_date" ]]' 10; then
    ok "SIGHUP: a newer token within 10 s, 10 minutes before the next scheduled refresh"
    psql_logs_in "psql logs in with the token SIGHUP made"
  else
    not_ok "SIGHUP: a newer token within 10 s" "$(cat "$T/hup.log")"
  fi
  grep -q "SIGHUP: refreshing every entry now (1 target)" "$T/hup.log" && ok "the watcher logs the SIGHUP refresh" ||
    not_ok "the watcher logs the SIGHUP refresh" "$(cat "$T/hup.log")"
  echo "host=localhost port=$PORT user=$PGUSER_IAM dbname=reloaded" >>"$T/hup.targets"
  kill -HUP "$HUP_PID"
  if wait_for "grep -aq '^localhost:$PORT:reloaded:$PGUSER_IAM:' $PASSFILE" 10; then
    ok "SIGHUP: a target added to the targets file gets its entry"
  else
    not_ok "SIGHUP: a target added to the targets file gets its entry" "$(cat "$T/hup.log")"
  fi
  echo "host= port=banana" >"$T/hup.targets"
  kill -HUP "$HUP_PID"
  if wait_for "grep -q 'keeping the old targets' $T/hup.log" 10 && kill -0 "$HUP_PID" 2>/dev/null; then
    ok "SIGHUP with a broken targets file: a warning, the old targets kept, still running"
  else
    not_ok "SIGHUP with a broken targets file: a warning, the old targets kept" "$(cat "$T/hup.log")"
  fi
else
  not_ok "the SIGHUP watcher wrote the passfile" "$(cat "$T/hup.log")"
fi
kill -TERM "$HUP_PID"
wait_for "! kill -0 $HUP_PID 2>/dev/null" 10 && ok "the SIGHUP watcher stops on SIGTERM" ||
  not_ok "the SIGHUP watcher stops on SIGTERM" "$(cat "$T/hup.log")"

say "--watch retries credential failures with backoff while the entry is valid"
# Credentials from a credential_process that fails while $T/outage exists.
cat >"$T/creds.sh" <<EOF
#!/bin/sh
if [ -e "$T/outage" ]; then echo "simulated credential outage" >&2; exit 1; fi
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s"}\n' "$DEMO_ACCESS_KEY_ID" "$DEMO_SECRET_ACCESS_KEY"
EOF
chmod 755 "$T/creds.sh"
printf '[profile flaky]\ncredential_process = %s\nregion = %s\n' "$T/creds.sh" "$REGION" >"$T/aws-config"
PASSFILE="$T/pgpass.flaky"
rm -f "$T/outage"
start_bg "$T/flaky.log" isolated_aws_env AWS_CONFIG_FILE="$T/aws-config" -- "$BIN" pgpass --watch --refresh-every 2s \
  --profile flaky --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$PASSFILE"
FLAKY_PID="$BG_PID"
if wait_for "[[ -s $PASSFILE ]]" 10; then
  touch "$T/outage"
  wait_for 'grep -q "(attempt 1)" "$T/flaky.log"' 10
  during="$(our_line "$PASSFILE" | sha256sum)"
  if wait_for 'grep -q "(attempt 3); retrying in 4 s" "$T/flaky.log"' 15; then
    ok "failures are retried with growing backoff (1 s, 2 s, 4 s)"
    check "the old entry stays while credentials fail" "$during" "$(our_line "$PASSFILE" | sha256sum)"
    rm -f "$T/outage"
    if wait_for '[[ "$(our_line "$PASSFILE" | sha256sum)" != "$during" ]]' 10; then
      ok "the entry is refreshed once credentials are back"
      psql_logs_in "psql logs in after the outage"
    else
      not_ok "the entry is refreshed once credentials are back" "$(tail -n 5 "$T/flaky.log")"
    fi
  else
    not_ok "failures are retried with growing backoff" "$(cat "$T/flaky.log")"
  fi
  grep -q "simulated credential outage" "$T/flaky.log" && ok "the retry log says why credentials failed" ||
    not_ok "the retry log says why credentials failed" "$(cat "$T/flaky.log")"
else
  not_ok "the flaky watcher wrote the passfile" "$(cat "$T/flaky.log")"
fi
rm -f "$T/outage"
kill -TERM "$FLAKY_PID" 2>/dev/null
wait_for "! kill -0 $FLAKY_PID 2>/dev/null" 10
# With no valid token to fall back on, a watcher gives up at once.
touch "$T/outage"
out="$(isolated_aws_env AWS_CONFIG_FILE="$T/aws-config" timeout 20 "$BIN" pgpass --watch --refresh-every 2s \
  --profile flaky --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$T/pgpass.none" 2>&1)"
rc=$?
if ((rc == 1)) && [[ "$out" == *"giving up: there is no valid token in the file to fall back on"* ]]; then
  ok "a watcher with nothing valid to fall back on gives up (exit 1)"
else
  not_ok "a watcher with nothing valid to fall back on gives up" "exit $rc: $out"
fi
rm -f "$T/outage"

say "exec"
# exec gives libpq sslmode=verify-full and the CA lookup's file; the stand-in's CA is not the RDS
# bundle, so the commands that log in are given it (--ca-file).
out="$(with_demo_key "$BIN" exec --host localhost --port "$PORT" --user "$PGUSER_IAM" -- \
  env -u PGPASSFILE psql "dbname=$DB sslmode=verify-full sslrootcert=$CA" -XAtc \
  "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)"
check "exec runs psql with the token in PGPASSWORD (host, port, user from exec)" "$PGUSER_IAM true" "$out"
out="$(with_demo_key "$BIN" exec --host localhost --port "$PORT" --user "$PGUSER_IAM" --ca-file "$CA" -- \
  sh -c 'echo "$PGSSLMODE"; psql "dbname='"$DB"'" -XAtc "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"' 2>&1)"
check "exec sets PGSSLMODE=verify-full with the CA given (verified TLS although the command did not ask)" \
  $'verify-full\nt' "$out"
out="$(PGSSLMODE=disable with_demo_key "$BIN" exec --host localhost --port "$PORT" --user "$PGUSER_IAM" -- printenv PGSSLMODE 2>&1)"
rc=$?
if ((rc == 125)) && [[ "$out" == *"PGSSLMODE=disable"*"the command was not run"* ]]; then
  ok "exec refuses a preset PGSSLMODE=disable (exit 125, the command not run)"
else
  not_ok "exec refuses a preset PGSSLMODE=disable" "exit $rc: $out"
fi
printf 'SELECT 1;\nSELECT 1/0;\n' >"$T/fails.sql"
with_demo_key "$BIN" exec --host localhost --port "$PORT" --user "$PGUSER_IAM" --ca-file "$CA" -- \
  psql "dbname=$DB" -XAtv ON_ERROR_STOP=1 -f "$T/fails.sql" >/dev/null 2>&1
check "exec passes psql's exit status through (script error: 3)" 3 $?
out="$(isolated_aws_env AWS_ACCESS_KEY_ID=AKIAUNKNOWNKEY000001 AWS_SECRET_ACCESS_KEY=x AWS_REGION="$REGION" \
  "$BIN" exec --host localhost --port "$PORT" --user "$PGUSER_IAM" --ca-file "$CA" -- psql "dbname=$DB" -XAtc "SELECT 1" 2>&1)"
check "exec passes psql's exit status through (authentication failed: 2)" 2 $? "$out"
with_demo_key "$BIN" exec --host localhost --port "$PORT" --user "$PGUSER_IAM" -- sh -c 'kill -TERM $$'
check "a command killed by SIGTERM gives 143" 143 $?
out="$(isolated_aws_env AWS_REGION="$REGION" "$BIN" exec --host localhost --port "$PORT" --user "$PGUSER_IAM" -- true 2>&1)"
rc=$?
if ((rc == 125)) && [[ "$out" == *"no AWS credentials found"*"the command was not run"* ]]; then ok "exec without credentials exits 125 and does not run the command"; else
  not_ok "exec without credentials exits 125" "exit $rc: $out"; fi
with_demo_key "$BIN" exec --host localhost --port "$PORT" --user "$PGUSER_IAM" -- /nonexistent/command 2>/dev/null
check "exec of a missing command exits 127" 127 $?
# Signals sent to exec reach the command: psql waiting in pg_sleep gets SIGINT, cancels the
# query and exits; a sleeping command gets SIGTERM and dies of it.
start_bg "$T/exec-int.log" with_demo_key -- "$BIN" exec --host localhost --port "$PORT" --user "$PGUSER_IAM" --ca-file "$CA" -- \
  psql "dbname=$DB" -XAtv ON_ERROR_STOP=1 -c "SELECT pg_sleep(30)"
EXEC_PID="$BG_PID"
wait_for '[[ "$(sleeping_queries)" == 1 ]]' 10
started=$SECONDS
kill -INT "$EXEC_PID"
wait_for "! kill -0 $EXEC_PID 2>/dev/null" 10
if ((SECONDS - started < 10)) && grep -q "canceling statement due to user request" "$T/exec-int.log"; then
  ok "SIGINT sent to exec reaches psql, which cancels its query"
else
  not_ok "SIGINT sent to exec reaches psql" "$(cat "$T/exec-int.log")"
fi
start_bg "$T/exec-term.log" with_demo_key -- "$BIN" exec --host localhost --port "$PORT" --user "$PGUSER_IAM" -- sleep 30
EXEC_PID="$BG_PID"
# The child (sleep) is running once exec has one.
wait_for "[[ -n \"\$(cat /proc/$EXEC_PID/task/*/children 2>/dev/null)\" ]]" 10
CHILD_PID="$(cat /proc/"$EXEC_PID"/task/*/children 2>/dev/null | xargs)"
kill -TERM "$EXEC_PID"
wait_for "[[ -s $T/exec-term.log.status ]]" 10
# 143 alone could be exec itself dying of SIGTERM; the command must be gone too.
check "SIGTERM sent to exec is forwarded; the command's death gives 143, no orphan left" \
  "exit 143 gone" "$(cat "$T/exec-term.log.status" 2>/dev/null) $(kill -0 "$CHILD_PID" 2>/dev/null && echo running || echo gone)"
# --engine mysql: the token in MYSQL_PWD, host and port in MYSQL_HOST/MYSQL_TCP_PORT, against
# the MariaDB stand-in with the stock client.
export IAM_STANDIN_MARIADB_PORT="${IAM_STANDIN_MARIADB_PORT:-13316}"
MARIADB_STANDIN="$ROOT/scripts/standin/mariadb.sh"
if "$MARIADB_STANDIN" start >"$T/mariadb-start.log" 2>&1; then
  STOP_MARIADB=1
  eval "$("$MARIADB_STANDIN" env)"
  out="$(with_demo_key env -u MYSQL_HOST -u MYSQL_TCP_PORT -u MYSQL_PWD "$BIN" exec --engine mysql \
    --host 127.0.0.1 --port "$IAM_STANDIN_MARIADB_PORT" --user "$IAM_STANDIN_MARIADB_USER" -- \
    mariadb --no-defaults -u "$IAM_STANDIN_MARIADB_USER" --ssl-ca="$IAM_STANDIN_MARIADB_CA" --ssl-verify-server-cert -N -B \
    -e "SELECT CURRENT_USER()" 2>&1)"
  check "exec --engine mysql logs the mariadb client in (MYSQL_PWD, MYSQL_HOST, MYSQL_TCP_PORT)" \
    "$IAM_STANDIN_MARIADB_USER@%" "$out"
else
  not_ok "the MariaDB stand-in starts" "$(tail -n 20 "$T/mariadb-start.log")"
fi

say "old libpq: the helper warns"
# A stand-in for a pre-2020 libpq: only PQlibVersion, saying 12.4 (cuts lines at 320 bytes).
mkdir -p "$T/oldlibpq"
printf 'int PQlibVersion(void) { return 120004; }\n' >"$T/oldlibpq/v.c"
cc -shared -fPIC -Wl,-soname,libpq.so.5 -o "$T/oldlibpq/libpq.so.5" "$T/oldlibpq/v.c"
out="$(LD_LIBRARY_PATH="$T/oldlibpq" with_demo_key "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$T/pgpass.old" 2>&1)"
case "$out" in *"version 12.4) reads at most about 320 bytes of a passfile line"*) ok "a libpq older than 12.5 gets a warning" ;;
  *) not_ok "a libpq older than 12.5 gets a warning" "$out" ;; esac
out="$(with_demo_key "$BIN" pgpass --host localhost --port "$PORT" --user "$PGUSER_IAM" --file "$T/pgpass.new" 2>&1)"
case "$out" in *"320 bytes"*) not_ok "the system libpq (15) gets no warning" "$out" ;; *) ok "the system libpq (15) gets no warning" ;; esac

say "LD_PRELOAD shim for programs that cannot use a passfile"
if SHIM="$("$ROOT/scripts/build-pq-preload.sh" 2>"$T/shim-build.log")"; then
  ok "the LD_PRELOAD library builds (-Wall -Wextra -Werror, -z defs, no libpq linked)"
else
  not_ok "the LD_PRELOAD library builds" "$(cat "$T/shim-build.log")"
  SHIM=/nonexistent
fi
check "the main library defines no libpq symbol" 0 "$(nm -D --defined-only "$LIB" | grep -c ' PQ')"
check "the shim defines exactly the five connect functions" \
  "PQconnectStart PQconnectStartParams PQconnectdb PQconnectdbParams PQsetdbLogin" \
  "$(nm -D --defined-only "$SHIM" 2>/dev/null | awk '$3 ~ /^PQ/ {print $3}' | sort | xargs)"
ldd "$SHIM" 2>/dev/null | grep -q libpq && not_ok "the shim does not link libpq" || ok "the shim does not link libpq"
# No passfile, no PGPASSWORD: only the shim can supply the password.
shimmed() {
  with_demo_key env -u PGPASSWORD PGPASSFILE="$T/none" IAM_DB_AUTH_PQ_HOSTS="${PQ_HOSTS:-localhost}" \
    LD_PRELOAD="$SHIM" "$@"
}
PLAIN="host=localhost port=$PORT dbname=$DB user=$PGUSER_IAM sslrootcert=$CA"
out="$(shimmed psql "$CONN" -XAtc "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)"
check "unmodified psql logs in through the shim (verify-full)" "$PGUSER_IAM true" "$out"
out="$(shimmed psql "$PLAIN" -XAtc "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)"
check "the shim makes a connection without sslmode use TLS" "t" "$out"
out="$(shimmed pg_dump --dbname="$CONN" --table=pgpass_probe --data-only --inserts 2>&1)"
case "$out" in *"INSERT INTO public.pgpass_probe VALUES (1, 'dumped');"*) ok "pg_dump logs in through the shim" ;;
  *) not_ok "pg_dump logs in through the shim" "$out" ;; esac
out="$(shimmed "$T/pg_login" "$CONN" 2>&1)"
case "$out" in "$PGUSER_IAM ssl=t libpq="*) ok "a C program (PQconnectdb) logs in through the shim" ;;
  *) not_ok "a C program (PQconnectdb) logs in through the shim" "$out" ;; esac
out="$(shimmed "$VENV/bin/python" "$ROOT/scripts/tests/postgres/psycopg_login.py" "$CONN" 2>&1)"
case "$out" in "$PGUSER_IAM ssl=True impl=binary"*) ok "psycopg with its bundled libpq (PQconnectStart) logs in through the shim" ;;
  *) not_ok "psycopg with its bundled libpq logs in through the shim" "$out" ;; esac
out="$(PQ_HOSTS='*.rds.amazonaws.com' shimmed psql "$CONN" -XAtc "SELECT 1" 2>&1)"
case "$out" in *"no password supplied"*) ok "a host that matches no pattern gets no token" ;;
  *) not_ok "a host that matches no pattern gets no token" "$out" ;; esac
out="$(shimmed psql "$PLAIN sslmode=disable" -XAtc "SELECT 1" 2>&1)"
case "$out" in *"not sending a token to localhost with sslmode=disable"*) ok "the shim sends no token to an sslmode=disable connection" ;;
  *) not_ok "the shim sends no token to an sslmode=disable connection" "$out" ;; esac
out="$(env -u PGPASSWORD PGPASSFILE="$T/none" psql "$CONN" -XAtc "SELECT 1" 2>&1)"
case "$out" in *"no password supplied"*) ok "without the shim the same psql cannot log in (control)" ;;
  *) not_ok "without the shim the same psql cannot log in (control)" "$out" ;; esac
out="$(isolated_aws_env AWS_ACCESS_KEY_ID=AKIAUNKNOWNKEY000001 AWS_SECRET_ACCESS_KEY=x AWS_REGION="$REGION" \
  PGPASSFILE="$T/none" IAM_DB_AUTH_PQ_HOSTS=localhost LD_PRELOAD="$SHIM" psql "$CONN" -XAtc "SELECT 1" 2>&1)"
case "$out" in *"PAM authentication failed"*) ok "wrong credentials through the shim: libpq's authentication error" ;;
  *) not_ok "wrong credentials through the shim: libpq's authentication error" "$out" ;; esac
out="$(isolated_aws_env AWS_REGION="$REGION" PGPASSFILE="$T/none" IAM_DB_AUTH_PQ_HOSTS=localhost LD_PRELOAD="$SHIM" \
  psql "$CONN" -XAtc "SELECT 1" 2>&1)"
case "$out" in *"pq-preload: no token for $PGUSER_IAM@localhost:$PORT: no AWS credentials found"*) ok "no credentials through the shim: it says why" ;;
  *) not_ok "no credentials through the shim: it says why" "$out" ;; esac

say "Aurora DSQL through pgpass and exec (the stand-in's DSQL endpoint; admin gets the admin token)"
DSQL="$IAM_STANDIN_PG_DSQL_HOST"
DSQL_USER="$IAM_STANDIN_PG_DSQL_USER"
dsql_conn() { echo "host=$DSQL hostaddr=127.0.0.1 port=$PORT dbname=postgres user=$1 sslmode=verify-full sslrootcert=$CA"; }
DSQL_PASS="$T/pgpass-dsql"
out="$(with_demo_key "$BIN" pgpass --host "$DSQL" --port "$PORT" --user admin \
  --target "host=$DSQL port=$PORT user=$DSQL_USER" --file "$DSQL_PASS" 2>&1)"
check "pgpass writes DSQL entries for admin and a custom role (exit 0)" 0 $? "$out"
line="$(grep -a "^$DSQL:$PORT:\*:admin:" "$DSQL_PASS")"
case "$line" in *"$DSQL/?Action=DbConnectAdmin&"*) ok "admin's entry holds a DbConnectAdmin token for the endpoint (no port)" ;;
  *) not_ok "admin's entry holds a DbConnectAdmin token" "${line:0:120}" ;; esac
line="$(grep -a "^$DSQL:$PORT:\*:$DSQL_USER:" "$DSQL_PASS")"
case "$line" in *"$DSQL/?Action=DbConnect&"*) ok "$DSQL_USER's entry holds a DbConnect token" ;;
  *) not_ok "$DSQL_USER's entry holds a DbConnect token" "${line:0:120}" ;; esac
out="$(env -u PGPASSWORD PGPASSFILE="$DSQL_PASS" psql "$(dsql_conn admin)" -XAtc "SELECT current_user" 2>&1)"
check "psql logs in to the DSQL endpoint as admin with the passfile's admin token" "admin" "$out"
out="$(env -u PGPASSWORD PGPASSFILE="$DSQL_PASS" psql "$(dsql_conn "$DSQL_USER")" -XAtc "SELECT current_user" 2>&1)"
check "psql logs in to the DSQL endpoint as $DSQL_USER with the passfile's token" "$DSQL_USER" "$out"
out="$(with_demo_key "$BIN" exec --host "$DSQL" --port "$PORT" --user admin -- \
  psql "$(dsql_conn admin)" -XAtc "SELECT current_user" 2>&1)"
check "exec: psql logs in to the DSQL endpoint as admin" "admin" "$out"
out="$(with_demo_key "$BIN" exec --kind rds --host "$DSQL" --port "$PORT" --user admin -- \
  psql "$(dsql_conn admin)" -XAtc "SELECT current_user" 2>&1)"
case "$out" in *"PAM authentication failed"*) ok "exec --kind rds sends an RDS token, which the DSQL endpoint refuses (control)" ;;
  *) not_ok "exec --kind rds: the DSQL endpoint refuses an RDS token" "$out" ;; esac
out="$(with_demo_key "$BIN" exec --engine mysql --kind dsql --host "$DSQL" --user admin -- true 2>&1)"
check "exec --engine mysql --kind dsql is refused before running anything (exit 125)" 125 $? "$out"

echo "postgres: $passed passed, $failed failed"
((failed == 0))
