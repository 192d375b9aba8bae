#!/usr/bin/env bash
# Stage 35: the local RDS stand-ins are real and as strict as RDS. Starts the MariaDB stand-in
# (scripts/standin/), logs in with the stock `mariadb` client and tokens from `iam-db-auth token`,
# and checks every refusal for its reason in the server log. Then pytest (tests/e2e) does the same
# for the PostgreSQL stand-in with stock psql (test_standin_postgres.py), tests the PAM module
# inside a PAM application that ignores or reaps SIGCHLD (test_pam_module.py), and checks what
# both share (test_standins.py: certificate, no secret in the logs; with IAM_TEST_DEEP=1 also
# login latency, median of $IAM_STANDIN_LOGINS logins, default 20, and stop). Servers are stopped
# on exit. Port: IAM_STANDIN_MARIADB_PORT (default 13306; the pytest part uses its own defaults).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
STANDIN="$ROOT/scripts/standin"
TMP="$(mktemp -d "$WORK/standin-test.XXXXXX")"

cleanup() {
  "$STANDIN/mariadb.sh" stop || true
  rm -rf "$TMP"
}
trap cleanup EXIT

[[ -x "$BIN" ]] || (cd "$ROOT" && cargo build --release --quiet) || die "release build failed"
"$STANDIN/mariadb.sh" start || die "the MariaDB stand-in did not start"
eval "$("$STANDIN/mariadb.sh" env)"
M_PORT="$IAM_STANDIN_MARIADB_PORT"
# Another server's port (tokens for it must be refused here).
P_PORT="$((M_PORT + 1))"
CA="$IAM_STANDIN_MARIADB_CA"

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
# A session token of N characters, shaped like AWS's (base64, with / + =).
session_token() { head -c $(($1 * 3 / 4 + 3)) /dev/urandom | base64 -w0 | head -c "$1"; }

# --- the client (the password travels in the environment, never on a command line) ---------
m_login() { # PASSWORD USER [client options...]
  MYSQL_PWD="$1" mariadb --no-defaults -h 127.0.0.1 -P "$M_PORT" -u "$2" --enable-cleartext-plugin \
    -D "$IAM_STANDIN_MARIADB_DATABASE" -N -B "${@:3}" -e "SELECT CURRENT_USER()" 2>&1 |
    grep -v "option '--enable-cleartext-plugin' is obsolete"
}
m_tls=(--ssl-ca="$CA" --ssl-verify-server-cert)
# accepted NAME WANT CMD... : the command's output contains WANT.
accepted() {
  local name="$1" want="$2" out; shift 2
  out="$("$@")"
  if [[ "$out" == *"$want"* ]]; then pass "$name"; else fail "$name" "got: ${out:0:300}"; fi
}
# refused NAME mariadb REASON CMD... : the login fails with the server's auth error and
# REASON appears in the server log; REASON "-": the verifier was not the one that refused.
refused() {
  local name="$1" reason="$3" log="$IAM_STANDIN_MARIADB_LOG" client_error="Access denied" out before; shift 3
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
# The largest token MariaDB takes: its auth_pam_tool reads at most 10239 bytes. A session token
# sized so the token lands just under the limit.
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

say "MariaDB stand-in (port $M_PORT)"
tok="$(m_token iam_user)"
accepted "mariadb: token over TLS (verify-server-cert) logs in as iam_user@%" "iam_user@%" m_login "$tok" iam_user "${m_tls[@]}"
accepted "mariadb: the session is TLS" "TLSv1." \
  bash -c "MYSQL_PWD=\"\$1\" mariadb --no-defaults -h 127.0.0.1 -P $M_PORT -u iam_user --ssl-ca=$CA --ssl-verify-server-cert -N -B -e \"SHOW STATUS LIKE 'Ssl_version'\" 2>/dev/null" _ "$tok"
accepted "mariadb: iam_user (no REQUIRE SSL) also logs in without TLS" "iam_user@%" m_login "$tok" iam_user --skip-ssl
tok_ssl="$(m_token iam_ssl_user)"
accepted "mariadb: REQUIRE SSL user logs in over TLS" "iam_ssl_user@%" m_login "$tok_ssl" iam_ssl_user "${m_tls[@]}"
refused "mariadb: REQUIRE SSL user without TLS is refused (the token itself is valid)" mariadb - m_login "$tok_ssl" iam_ssl_user --skip-ssl
accepted "mariadb: over the unix socket, a token for localhost:$M_PORT logs in as iam_user@localhost" "iam_user@localhost" \
  bash -c "MYSQL_PWD=\"\$1\" mariadb --no-defaults --socket=\"\$2\" -u iam_user -N -B -e 'SELECT CURRENT_USER()' 2>&1" _ \
  "$(token --host localhost --port "$M_PORT" --user iam_user)" "$IAM_STANDIN_MARIADB_SOCKET"
tok_rds="$(token --host 127.0.0.1 --port "$M_PORT" --user iam_user --signing-host "$IAM_STANDIN_MARIADB_RDS_HOST" --signing-port 3306)"
accepted "mariadb: token signed for $IAM_STANDIN_MARIADB_RDS_HOST:3306 (signing-host override)" "iam_user@%" m_login "$tok_rds" iam_user "${m_tls[@]}"
tok_temp="$(token_with "$TEMP_ID" "$TEMP_SECRET" "$TEMP_SESSION" --host 127.0.0.1 --port "$M_PORT" --user iam_user)"
accepted "mariadb: session-token credentials, a ${#tok_temp}-byte token" "iam_user@%" m_login "$tok_temp" iam_user "${m_tls[@]}"
read -r big_session tok_big < <(sized_token 10239 127.0.0.1 "$M_PORT" iam_user)
echo "$BIG_ID $BIG_SECRET $big_session" >>"$IAM_STANDIN_KEYSTORE"
accepted "mariadb: a ${#tok_big}-byte token (auth_pam_tool's limit is 10239)" "iam_user@%" m_login "$tok_big" iam_user "${m_tls[@]}"
refused "mariadb: a wrong password is refused" mariadb "not a token" m_login "not-a-token" iam_user "${m_tls[@]}"
refused "mariadb: a token for another user is refused" mariadb "is for user 'iam_ssl_user', not 'iam_user'" m_login "$tok_ssl" iam_user "${m_tls[@]}"
refused "mariadb: an expired token (signed 20 min ago) is refused" mariadb "the token expired" \
  m_login "$(m_token iam_user --signing-time "$TWENTY_MIN_AGO")" iam_user "${m_tls[@]}"
refused "mariadb: a token signed with the wrong secret is refused" mariadb "signature does not match" \
  m_login "$(token_with "$DEMO_ACCESS_KEY_ID" "wrong${DEMO_SECRET_ACCESS_KEY}" "" --host 127.0.0.1 --port "$M_PORT" --user iam_user)" iam_user "${m_tls[@]}"
refused "mariadb: a token for another port is refused" mariadb "not for this server" m_login "$(token --host 127.0.0.1 --port "$P_PORT" --user iam_user)" iam_user "${m_tls[@]}"
refused "mariadb: a token from expired temporary credentials is refused" mariadb "credentials of key '$OLD_ID' expired" \
  m_login "$(token_with "$OLD_ID" "$OLD_SECRET" "$OLD_SESSION" --host 127.0.0.1 --port "$M_PORT" --user iam_user)" iam_user "${m_tls[@]}"
refused "mariadb: a token with a newline after it is refused (RDS checks the password as sent)" mariadb "X-Amz-Signature is not" \
  m_login "$tok"$'\n' iam_user "${m_tls[@]}"
read -r big_session tok_huge < <(sized_token 11000 127.0.0.1 "$M_PORT" iam_user)
echo "$BIG_ID $BIG_SECRET $big_session" >>"$IAM_STANDIN_KEYSTORE"
refused "mariadb: a valid ${#tok_huge}-byte token is refused by auth_pam_tool itself (known limit)" mariadb - m_login "$tok_huge" iam_user "${m_tls[@]}"

"$STANDIN/mariadb.sh" stop
echo "stage 35-standins (MariaDB): $passed passed, $failed failed"

say "PostgreSQL stand-in, the PAM module, what both stand-ins share (pytest)"
markers=(-m "not deep")
[[ -n "${IAM_TEST_DEEP:-}" ]] && markers=()
"$VENV/bin/pytest" -q -p no:cacheprovider "${markers[@]}" "$ROOT/tests/e2e/test_standin_postgres.py" \
  "$ROOT/tests/e2e/test_pam_module.py" "$ROOT/tests/e2e/test_standins.py"
pytest_status=$?
((failed == 0 && pytest_status == 0))
