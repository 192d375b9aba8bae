#!/usr/bin/env bash
# tier: deep
# Stage 35: the local RDS stand-ins are real and as strict as RDS. Starts the MariaDB and
# PostgreSQL stand-ins (scripts/standin/), logs in with the stock `mariadb` and `psql` clients and
# tokens from `iam-db-auth token`, checks every refusal for its reason in the server log, tests
# the PAM module inside a PAM application that ignores or reaps SIGCHLD, and measures login
# latency (median of $IAM_STANDIN_LOGINS logins, default 20). Servers are stopped on exit.
# Ports: IAM_STANDIN_MARIADB_PORT, IAM_STANDIN_PG_PORT (defaults 13306, 15432).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
STANDIN="$ROOT/scripts/standin"
LOGINS="${IAM_STANDIN_LOGINS:-20}"
CHECK_SERVICE="iam-db-auth-pamcheck-$$"
TMP="$(mktemp -d "$WORK/standin-test.XXXXXX")"

cleanup() {
  "$STANDIN/mariadb.sh" stop || true
  "$STANDIN/postgres.sh" stop || true
  rm -f "/etc/pam.d/$CHECK_SERVICE"
  rm -rf "$TMP"
}
trap cleanup EXIT

[[ -x "$BIN" ]] || (cd "$ROOT" && cargo build --release --quiet) || die "release build failed"
"$STANDIN/mariadb.sh" start || die "the MariaDB stand-in did not start"
"$STANDIN/postgres.sh" start || die "the PostgreSQL stand-in did not start"
eval "$("$STANDIN/mariadb.sh" env)"
eval "$("$STANDIN/postgres.sh" env)"
M_PORT="$IAM_STANDIN_MARIADB_PORT"
P_PORT="$IAM_STANDIN_PG_PORT"
CA="$IAM_STANDIN_MARIADB_CA"
export PGPASSFILE="$TMP/no-pgpass" PGCONNECT_TIMEOUT=10

passed=0; failed=0
pass() { passed=$((passed + 1)); printf '  ok    %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$1"; [[ -n "${2:-}" ]] && printf '        %s\n' "$2"; }

# --- tokens ---------------------------------------------------------------------------------
# token_with KEY_ID SECRET SESSION_TOKEN|"" ARGS... : a token from `iam-db-auth token`, with only
# the given credentials in the environment.
token_with() {
  local id="$1" secret="$2" session="$3"; shift 3
  local creds=(AWS_ACCESS_KEY_ID="$id" AWS_SECRET_ACCESS_KEY="$secret")
  [[ -n "$session" ]] && creds+=(AWS_SESSION_TOKEN="$session")
  isolated_aws_env "${creds[@]}" "$BIN" token --region "$IAM_STANDIN_REGION" "$@"
}
token() { token_with "$DEMO_ACCESS_KEY_ID" "$DEMO_SECRET_ACCESS_KEY" "" "$@"; }
m_token() { token --host 127.0.0.1 --port "$M_PORT" --user "$1" "${@:2}"; }
p_token() { token --host 127.0.0.1 --port "$P_PORT" --user "$1" "${@:2}"; }
# A session token of N characters, shaped like AWS's (base64, with / + =).
session_token() { head -c $(($1 * 3 / 4 + 3)) /dev/urandom | base64 -w0 | head -c "$1"; }

# --- clients (the password travels in the environment, never on a command line) -----------
m_login() { # PASSWORD USER [client options...]
  MYSQL_PWD="$1" mariadb --no-defaults -h 127.0.0.1 -P "$M_PORT" -u "$2" --enable-cleartext-plugin \
    -D "$IAM_STANDIN_MARIADB_DATABASE" -N -B "${@:3}" -e "SELECT CURRENT_USER()" 2>&1 |
    grep -v "option '--enable-cleartext-plugin' is obsolete"
}
m_tls=(--ssl-ca="$CA" --ssl-verify-server-cert)
p_login() { # PASSWORD "CONNINFO"
  PGPASSWORD="$1" psql -X -A -t -c "SELECT current_user || ' ssl=' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" "$2" 2>&1
}
p_conn() { # USER [HOST]: a verify-full conninfo to the stand-in
  echo "host=${2:-127.0.0.1} hostaddr=127.0.0.1 port=$P_PORT user=$1 dbname=${3:-$IAM_STANDIN_PG_DATABASE} sslmode=verify-full sslrootcert=$CA"
}

# accepted NAME WANT CMD... : the command's output contains WANT.
accepted() {
  local name="$1" want="$2" out; shift 2
  out="$("$@")"
  if [[ "$out" == *"$want"* ]]; then pass "$name"; else fail "$name" "got: ${out:0:300}"; fi
}
# refused NAME mariadb|pg REASON CMD... : the login fails with the server's auth error and
# REASON appears in the server log; REASON "-": the verifier was not the one that refused.
refused() {
  local name="$1" server="$2" reason="$3" log client_error out before; shift 3
  if [[ $server == mariadb ]]; then
    log="$IAM_STANDIN_MARIADB_LOG"; client_error="Access denied"
  else
    log="$IAM_STANDIN_PG_LOG"; client_error="FATAL:"
  fi
  before="$(stat -c %s "$log")"
  out="$("$@")"
  sleep 0.05 # the server writes its log line after answering the client
  local new; new="$(tail -c +"$((before + 1))" "$log")"
  if [[ "$out" != *"$client_error"* ]]; then
    fail "$name" "not refused as expected: ${out:0:300}"
  elif [[ $reason == - && "$new" == *"iam-db-auth: rejected"* ]]; then
    fail "$name" "refused by the verifier, not by the server: ${new:0:400}"
  elif [[ $reason != - && "$new" != *"$reason"* ]]; then
    fail "$name" "refused, but the log does not say '$reason': ${new:0:400}"
  else
    pass "$name"
  fi
}

say "certificate"
for name in localhost "$IAM_STANDIN_MARIADB_RDS_HOST" "$IAM_STANDIN_PG_DSQL_HOST"; do
  if openssl verify -CAfile "$CA" -verify_hostname "$name" "$(dirname "$CA")/server.pem" >/dev/null 2>&1; then
    pass "certificate: valid for $name"
  else fail "certificate: valid for $name"; fi
done
if openssl verify -CAfile "$CA" -verify_ip 127.0.0.1 "$(dirname "$CA")/server.pem" >/dev/null 2>&1; then
  pass "certificate: valid for 127.0.0.1"
else fail "certificate: valid for 127.0.0.1"; fi

# Temporary credentials: a typical session token (1000 characters: tokens of about 1.4 KB, far
# over pam_exec's 511 bytes), a longer one, and credentials that have already expired.
TEMP_ID="ASIASTANDINTEMP00001"; TEMP_SECRET="tempSecret/$(session_token 30)"; TEMP_SESSION="$(session_token 1000)"
BIG_ID="ASIASTANDINTEMP00002"; BIG_SECRET="bigSecret+$(session_token 30)"
OLD_ID="ASIASTANDINTEMP00003"; OLD_SECRET="oldSecret$(session_token 30)"; OLD_SESSION="$(session_token 900)"
HOUR_LATER="$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
MINUTE_AGO="$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)"
TWENTY_MIN_AGO="$(date -u -d '-20 minutes' +%Y-%m-%dT%H:%M:%SZ)"
{
  echo "$TEMP_ID $TEMP_SECRET $TEMP_SESSION $HOUR_LATER"
  echo "$OLD_ID $OLD_SECRET $OLD_SESSION $MINUTE_AGO"
} >>"$IAM_STANDIN_KEYSTORE"
# The largest tokens each server takes: MariaDB's auth_pam_tool reads at most 10239 bytes; the
# verifier takes up to 16384. A session token sized so the token lands just under each limit.
sized_token() { # LIMIT HOST PORT USER -> prints "SESSION TOKEN" for a token of LIMIT-100..LIMIT bytes
  local limit="$1" n=$(($1 - 600)) session tok
  while :; do
    session="$(session_token "$n")"
    tok="$(token_with "$BIG_ID" "$BIG_SECRET" "$session" --host "$2" --port "$3" --user "$4")"
    if ((${#tok} <= limit)); then break; fi
    n=$((n - (${#tok} - limit) - 10))
  done
  printf '%s %s' "$session" "$tok"
}

# The MariaDB stand-in's logins and refusals: tests/e2e/test_standin_mariadb.py (stage 42).

say "PostgreSQL stand-in (port $P_PORT)"
tok="$(p_token iam_user)"
accepted "psql: PGPASSWORD=token, sslmode=verify-full, logs in as iam_user over TLS" "iam_user ssl=t" p_login "$tok" "$(p_conn iam_user)"
accepted "psql: the same over ::1" "iam_user ssl=t" p_login "$tok" \
  "host=::1 port=$P_PORT user=iam_user dbname=iam_test sslmode=verify-full sslrootcert=$CA"
tok_rds="$(token --host "$IAM_STANDIN_PG_RDS_HOST" --port 5432 --user iam_user)"
accepted "psql: token for $IAM_STANDIN_PG_RDS_HOST:5432, certificate checked for that name" "iam_user ssl=t" p_login "$tok_rds" "$(p_conn iam_user "$IAM_STANDIN_PG_RDS_HOST")"
tok_temp="$(token_with "$TEMP_ID" "$TEMP_SECRET" "$TEMP_SESSION" --host 127.0.0.1 --port "$P_PORT" --user iam_user)"
accepted "psql: session-token credentials, a ${#tok_temp}-byte token" "iam_user ssl=t" p_login "$tok_temp" "$(p_conn iam_user)"
read -r big_session tok_big < <(sized_token 16384 127.0.0.1 "$P_PORT" iam_user)
echo "$BIG_ID $BIG_SECRET $big_session" >>"$IAM_STANDIN_KEYSTORE"
accepted "psql: a ${#tok_big}-byte token (the verifier's limit is 16384)" "iam_user ssl=t" p_login "$tok_big" "$(p_conn iam_user)"
read -r big_session tok_huge < <(sized_token 17000 127.0.0.1 "$P_PORT" iam_user)
echo "$BIG_ID $BIG_SECRET $big_session" >>"$IAM_STANDIN_KEYSTORE"
refused "psql: a ${#tok_huge}-byte token is refused by the verifier" pg "bytes long; at most 16384" p_login "$tok_huge" "$(p_conn iam_user)"
refused "psql: a wrong password is refused" pg "not a token" p_login "not-a-token" "$(p_conn iam_user)"
refused "psql: a token for another user is refused" pg "is for user 'dsql_user', not 'iam_user'" p_login "$(p_token dsql_user)" "$(p_conn iam_user)"
refused "psql: an expired token (signed 20 min ago) is refused" pg "the token expired" \
  p_login "$(p_token iam_user --signing-time "$TWENTY_MIN_AGO")" "$(p_conn iam_user)"
refused "psql: a token signed with the wrong secret is refused" pg "signature does not match" \
  p_login "$(token_with "$DEMO_ACCESS_KEY_ID" "wrong${DEMO_SECRET_ACCESS_KEY}" "" --host 127.0.0.1 --port "$P_PORT" --user iam_user)" "$(p_conn iam_user)"
refused "psql: a token from expired temporary credentials is refused" pg "credentials of key '$OLD_ID' expired" \
  p_login "$(token_with "$OLD_ID" "$OLD_SECRET" "$OLD_SESSION" --host 127.0.0.1 --port "$P_PORT" --user iam_user)" "$(p_conn iam_user)"
refused "psql: a token with a newline after it is refused" pg "X-Amz-Signature is not" p_login "$tok"$'\n' "$(p_conn iam_user)"
refused "psql: without TLS (sslmode=disable) is refused, even with a valid token" pg "no encryption" \
  p_login "$tok" "host=127.0.0.1 port=$P_PORT user=iam_user dbname=iam_test sslmode=disable"
refused "psql: a role without rds_iam (postgres) is refused over TLS" pg "pg_hba.conf rejects connection" \
  p_login "$(p_token postgres)" "$(p_conn postgres)"

say "PostgreSQL stand-in, DSQL tokens"
DSQL="$IAM_STANDIN_PG_DSQL_HOST"
dsql_tok="$(token --kind dsql --host "$DSQL")"
dsql_admin_tok="$(token --kind dsql-admin --host "$DSQL")"
accepted "psql: dsql_user with a DbConnect token for $DSQL" "dsql_user ssl=t" p_login "$dsql_tok" "$(p_conn dsql_user "$DSQL" postgres)"
accepted "psql: admin with a DbConnectAdmin token" "admin ssl=t" p_login "$dsql_admin_tok" "$(p_conn admin "$DSQL" postgres)"
refused "psql: admin with a DbConnect token is refused" pg "requires 'DbConnectAdmin'" p_login "$dsql_tok" "$(p_conn admin "$DSQL" postgres)"
refused "psql: dsql_user with an RDS token is refused" pg "not for this server" p_login "$(p_token dsql_user)" "$(p_conn dsql_user "$DSQL" postgres)"
refused "psql: iam_user with a DSQL token is refused" pg "not for this server" p_login "$dsql_tok" "$(p_conn iam_user)"

say "no token or secret in the server logs"
leaks=0
for secret in "$TEMP_SESSION" "$TEMP_SECRET" "$DEMO_SECRET_ACCESS_KEY" "${tok##*X-Amz-Signature=}" "${tok_temp##*X-Amz-Signature=}"; do
  if grep -qF -- "$secret" "$IAM_STANDIN_MARIADB_LOG" "$IAM_STANDIN_PG_LOG"; then leaks=$((leaks + 1)); fi
done
if ((leaks == 0)); then pass "logs: no session token, secret or signature"; else fail "logs: $leaks secrets found in the server logs"; fi

say "the PAM module inside a PAM application (SIGCHLD ignored or reaped, timeout, fds)"
cc -std=gnu11 -O2 -Wall -Wextra -Werror -o "$TMP/pam_check" "$STANDIN/pam_check.c" -lpam || die "building pam_check failed"
tok="$(m_token iam_user)"
for mode in plain ignore reaper; do
  out="$(printf '%s' "$tok" | "$TMP/pam_check" "$IAM_STANDIN_MARIADB_PAM_SERVICE" iam_user "$mode")"
  if [[ "$out" == "result=Success "*"children_left=no reaped_by_handler=0 sigchld_kept=yes" ]]; then
    pass "pam module: accepts a token with SIGCHLD $mode, reaps its child, restores SIGCHLD"
  else fail "pam module: SIGCHLD $mode" "$out"; fi
done
out="$(printf '%s' "$(m_token iam_ssl_user)" | "$TMP/pam_check" "$IAM_STANDIN_MARIADB_PAM_SERVICE" iam_user plain 2>/dev/null)"
if [[ "$out" == "result=Authentication failure "* ]]; then pass "pam module: refuses a token for another user"; else fail "pam module: another user" "$out"; fi
# A 60000-byte password reaches the program byte for byte, on stdin, with fd 3 (the exit pipe)
# and nothing else beyond stderr open.
session_token 60000 >"$TMP/expected"
cat >"/etc/pam.d/$CHECK_SERVICE" <<EOF
auth required $WORK/standin/lib/pam_iam_db_auth.so timeout=2 /bin/sh -c [for f in 4 5 6 7 8; do test -e /proc/\$\$/fd/\$f && exit 5; done; test -e /proc/\$\$/fd/3 || exit 6; cmp -s $TMP/expected -]
account required pam_permit.so
EOF
out="$("$TMP/pam_check" "$CHECK_SERVICE" u plain <"$TMP/expected")"
if [[ "$out" == "result=Success "* ]]; then pass "pam module: a 60000-byte password arrives whole; no fd leaks"; else fail "pam module: 60000-byte password" "$out"; fi
out="$(head -c 59999 "$TMP/expected" | "$TMP/pam_check" "$CHECK_SERVICE" u plain)"
if [[ "$out" == "result=Authentication failure "* ]]; then pass "pam module: the exact-bytes check itself can fail"; else fail "pam module: exact-bytes control" "$out"; fi
marker="$((RANDOM + 1000)).25"
cat >"/etc/pam.d/$CHECK_SERVICE" <<EOF
auth required $WORK/standin/lib/pam_iam_db_auth.so timeout=1 /bin/sh -c [exec sleep $marker]
account required pam_permit.so
EOF
for mode in plain ignore; do
  out="$(echo pw | "$TMP/pam_check" "$CHECK_SERVICE" u "$mode")"
  ms="$(sed -n 's/.* ms=\([0-9]*\) .*/\1/p' <<<"$out")"
  if [[ "$out" == "result=System error "*"children_left=no"* ]] && ((ms >= 900 && ms < 5000)) &&
    ! pgrep -f "sleep $marker" >/dev/null; then
    pass "pam module: a hung verifier is killed after the timeout (${ms} ms, SIGCHLD $mode), no child left"
  else fail "pam module: timeout (SIGCHLD $mode)" "$out"; fi
done

say "login latency (median of $LOGINS)"
median() { sort -n | awk '{a[NR]=$1} END {printf "%d\n", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
time_ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(((e - s) / 1000)); }
m_tok="$(m_token iam_user)"; p_tok="$(p_token iam_user)"
declare -A lat
for what in token verify pam mariadb psql mariadb_admin psql_admin; do
  for ((i = 0; i < LOGINS; i++)); do
    case $what in
      token) time_ms m_token iam_user ;;
      verify) time_ms bash -c 'printf %s "$1" | "$2" verify --exact --keystore "$3" --region us-east-1 --endpoint "127.0.0.1:$4" --user iam_user' _ "$m_tok" "$BIN" "$IAM_STANDIN_KEYSTORE" "$M_PORT" ;;
      pam) time_ms bash -c 'printf %s "$1" | "$2" "$3" iam_user plain' _ "$m_tok" "$TMP/pam_check" "$IAM_STANDIN_MARIADB_PAM_SERVICE" ;;
      mariadb) time_ms m_login "$m_tok" iam_user "${m_tls[@]}" ;;
      psql) time_ms p_login "$p_tok" "$(p_conn iam_user)" ;;
      mariadb_admin) time_ms mariadb --no-defaults --socket="$IAM_STANDIN_MARIADB_SOCKET" -uroot -N -B -e "SELECT CURRENT_USER()" ;;
      psql_admin) time_ms psql -X -A -t -h "$IAM_STANDIN_PG_SOCKET_DIR" -p "$P_PORT" -U postgres -d postgres -c "SELECT current_user" ;;
    esac
  done >"$TMP/lat-$what"
  lat[$what]="$(median <"$TMP/lat-$what")"
done
{
  echo "login latency, median of $LOGINS runs, microseconds (whole client process; load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores):"
  echo "  iam-db-auth token (one process)            ${lat[token]}"
  echo "  iam-db-auth verify (one process)           ${lat[verify]}"
  echo "  PAM: pam_check + our module + verify       ${lat[pam]}"
  echo "  mariadb CLI, token over TLS, SELECT         ${lat[mariadb]}"
  echo "  mariadb CLI, root over the socket, SELECT   ${lat[mariadb_admin]}"
  echo "  psql, token over TLS (verify-full), SELECT  ${lat[psql]}"
  echo "  psql, postgres over the socket, SELECT      ${lat[psql_admin]}"
} | tee "$WORK/standin/latency.txt"
# The timed logins must have worked: the last one of each, checked.
accepted "latency: the timed mariadb logins succeed" "iam_user@%" m_login "$m_tok" iam_user "${m_tls[@]}"
accepted "latency: the timed psql logins succeed" "iam_user ssl=t" p_login "$p_tok" "$(p_conn iam_user)"

say "stop"
"$STANDIN/mariadb.sh" stop; "$STANDIN/postgres.sh" stop
if ! "$STANDIN/mariadb.sh" status >/dev/null && ! "$STANDIN/postgres.sh" status >/dev/null &&
  [[ ! -e "/etc/pam.d/$IAM_STANDIN_MARIADB_PAM_SERVICE" && ! -e "/etc/pam.d/$IAM_STANDIN_PG_PAM_SERVICE" ]]; then
  pass "stop: both servers stopped, PAM service files removed"
else fail "stop: something is left"; fi

echo "stage 35-standins: $passed passed, $failed failed"
((failed == 0))
