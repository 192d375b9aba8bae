#!/usr/bin/env bash
# tier: fast
# Stage 42: the mysql_clear_password plugin logs real libmariadb clients in to the MariaDB
# stand-in for RDS (scripts/standin/mariadb.sh) with IAM tokens, by configuration alone.
#
# Clients: the `mariadb` CLI through each of the three ways of pointing libmariadb at a plugin
# directory (--plugin-dir, MARIADB_PLUGIN_DIR, plugin-dir= in a my.cnf), an unmodified Python
# mysqlclient program (MARIADB_PLUGIN_DIR only), and a C program on the libmariadb API
# (c-tests/mysql_plugin_login.c, built -Wall -Wextra -Werror), which also checks that the plugin
# survives Connector/C's deinit + dlclose and a second load. Credentials: long-term keys and
# session-token credentials (long tokens); the REQUIRE SSL user; refusals (wrong secret, expired
# credentials, no credentials, no region, no TLS) with their reasons; 200 logins from 8 processes
# in parallel, each one counted by the server. Stand-in port: IAM_STANDIN_MARIADB_PORT
# (default 13307 here, so the stage does not collide with one left running on 13306).
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
export IAM_STANDIN_MARIADB_PORT="${IAM_STANDIN_MARIADB_PORT:-13307}"
# Listen on ::1 too, when the machine has IPv6 loopback, for the IPv6 client check.
HAVE_IPV6=0
if [[ -r /proc/net/if_inet6 ]] && grep -q "^0\{31\}1 " /proc/net/if_inet6; then
  HAVE_IPV6=1
  export IAM_STANDIN_MARIADB_BIND="127.0.0.1,::1"
fi
STANDIN="$ROOT/scripts/standin"
TMP="$(mktemp -d "$WORK/mysql-plugin-test.XXXXXX")"
PLUGINS="$TMP/plugins"

cleanup() {
  "$STANDIN/mariadb.sh" stop || true
  rm -rf "$TMP"
}
trap cleanup EXIT

[[ -x "$BIN" && -f "$LIB" ]] || (cd "$ROOT" && cargo build --release --quiet) || die "release build failed"
"$STANDIN/mariadb.sh" start || die "the MariaDB stand-in did not start"
eval "$("$STANDIN/mariadb.sh" env)"
PORT="$IAM_STANDIN_MARIADB_PORT"
CA="$IAM_STANDIN_MARIADB_CA"
DB="$IAM_STANDIN_MARIADB_DATABASE"
SERVER_LOG="$IAM_STANDIN_MARIADB_LOG"

passed=0; failed=0
pass() { passed=$((passed + 1)); printf '  ok    %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$1"; [[ -n "${2:-}" ]] && printf '        %s\n' "${2//$'\n'/$'\n'        }"; }
# expect NAME OUTPUT PATTERN: passes when OUTPUT matches the extended regex PATTERN.
expect() { if grep -Eq -- "$3" <<<"$2"; then pass "$1"; else fail "$1" "expected /$3/, got: $2"; fi; }

# --- the plugin directory ---------------------------------------------------------------------
out="$("$BIN" mysql-plugin install "$PLUGINS" 2>&1)"
expect "install: reports the plugin and the linked system plugins" "$out" "mysql_clear_password.so -> .*libiam_db_auth.so"
if [[ "$(readlink -f "$PLUGINS/mysql_clear_password.so")" == "$(readlink -f "$LIB")" ]] &&
  [[ -e "$PLUGINS/dialog.so" && -e "$PLUGINS/caching_sha2_password.so" && -e "$PLUGINS/client_ed25519.so" ]]; then
  pass "install: our library as mysql_clear_password.so, the system's other plugins linked"
else
  fail "install: directory content" "$(ls -l "$PLUGINS")"
fi
ln -s "$TMP/gone.so" "$PLUGINS/stale.so"
echo "not ours" >"$PLUGINS/someone_elses.so"
out="$("$BIN" mysql-plugin install "$PLUGINS" --copy 2>&1)"
if [[ ! -L "$PLUGINS/stale.so" && -f "$PLUGINS/someone_elses.so" && ! -L "$PLUGINS/mysql_clear_password.so" ]] &&
  cmp -s "$PLUGINS/mysql_clear_password.so" "$LIB"; then
  pass "install again (--copy): refreshed, dangling link removed, foreign file kept"
else
  fail "install again (--copy)" "$out"$'\n'"$(ls -l "$PLUGINS")"
fi
rm -f "$PLUGINS/someone_elses.so"
"$BIN" mysql-plugin install "$PLUGINS" >/dev/null || fail "install (back to a link)"
out="$("$BIN" mysql-plugin install "$TMP/x" --library "$ROOT/Cargo.toml" 2>&1)"; rc=$?
[[ $rc == 2 ]] && expect "install: a file that is not the plugin is refused" "$out" "does not contain the mysql_clear_password plugin" ||
  fail "install: a file that is not the plugin is refused (exit $rc)" "$out"

# --- helpers ------------------------------------------------------------------------------------
# creds VAR=VALUE...: runs the rest with only these AWS settings (no real metadata endpoint).
demo_creds=(AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" AWS_REGION="$IAM_STANDIN_REGION")
# mdb USER [VAR=VALUE...] -- [mariadb options...]: the mariadb CLI with only the given
# environment (no AWS settings from outside), no password anywhere; prints CURRENT_USER().
mdb() {
  local user="$1"; shift
  local envs=()
  while (($#)) && [[ "$1" != -- ]]; do envs+=("$1"); shift; done
  shift
  isolated_aws_env "${envs[@]}" mariadb "$@" -h 127.0.0.1 -P "$PORT" -u "$user" -D "$DB" -N -B \
    -e "SELECT CURRENT_USER()" 2>&1
}
tls=(--ssl-ca="$CA" --ssl-verify-server-cert)

# --- the three configuration routes, mariadb CLI -------------------------------------------------
out="$(mdb iam_user "${demo_creds[@]}" -- --no-defaults "${tls[@]}")"
if grep -q "^iam_user@" <<<"$out"; then
  fail "control: without the plugin directory the stock plugin cannot log in" "$out"
else
  pass "control: without the plugin directory the stock plugin cannot log in"
fi
out="$(mdb iam_user "${demo_creds[@]}" -- --no-defaults --plugin-dir="$PLUGINS" "${tls[@]}")"
expect "mariadb --plugin-dir" "$out" "^iam_user@%$"
out="$(mdb iam_user "${demo_creds[@]}" MARIADB_PLUGIN_DIR="$PLUGINS" -- --no-defaults "${tls[@]}")"
expect "mariadb with MARIADB_PLUGIN_DIR" "$out" "^iam_user@%$"
printf '[client]\nplugin-dir=%s\nssl-ca=%s\nssl-verify-server-cert\n' "$PLUGINS" "$CA" >"$TMP/my.cnf"
out="$(mdb iam_user "${demo_creds[@]}" -- --defaults-file="$TMP/my.cnf")"
expect "mariadb with plugin-dir= under [client] in a my.cnf" "$out" "^iam_user@%$"

# From here on the CLI uses the my.cnf route: m USER [VAR=VALUE...] -- [more options].
m() {
  local user="$1"; shift
  local envs=()
  while (($#)) && [[ "$1" != -- ]]; do envs+=("$1"); shift; done
  shift
  mdb "$user" "${envs[@]}" -- --defaults-file="$TMP/my.cnf" "$@"
}

# An IPv6 literal host: the plugin signs for [::1]:PORT, as the host header would be written.
if ((HAVE_IPV6)); then
  out="$(isolated_aws_env "${demo_creds[@]}" mariadb --defaults-file="$TMP/my.cnf" -h ::1 -P "$PORT" \
    -u iam_user -N -B -e "SELECT CURRENT_USER()" 2>&1)"
  expect "IPv6 literal host (::1): token signed for [::1]:PORT" "$out" "^iam_user@%$"
else
  printf '  SKIP  IPv6 literal host: this machine has no IPv6 loopback (not counted as passed)\n'
fi

# --- TLS ----------------------------------------------------------------------------------------
out="$(m iam_ssl_user "${demo_creds[@]}" --)"
expect "REQUIRE SSL user over verified TLS" "$out" "^iam_ssl_user@%$"
# (ssl-ca in a my.cnf turns TLS on whatever --skip-ssl says, so these use --plugin-dir.)
plain=(--no-defaults --plugin-dir="$PLUGINS" --skip-ssl)
out="$(mdb iam_user "${demo_creds[@]}" -- "${plain[@]}")"
expect "no TLS: refused by the plugin (client error 2061), with the way out" "$out" \
  "ERROR 2061 .*over a connection without TLS.*IAM_DB_AUTH_ALLOW_CLEARTEXT=1"
expect "no TLS: the reason is also on stderr" "$out" "iam-db-auth\[[0-9]+\] error: mysql_clear_password: refused"
out="$(mdb iam_user "${demo_creds[@]}" IAM_DB_AUTH_ALLOW_CLEARTEXT=1 -- "${plain[@]}")"
expect "no TLS with IAM_DB_AUTH_ALLOW_CLEARTEXT=1: logged in" "$out" "^iam_user@%$"
out="$(mdb iam_ssl_user "${demo_creds[@]}" IAM_DB_AUTH_ALLOW_CLEARTEXT=1 -- "${plain[@]}")"
expect "REQUIRE SSL user without TLS: the server refuses, as RDS does" "$out" "ERROR 1045"

# --- credentials ----------------------------------------------------------------------------------
session_token() { head -c $(($1 * 3 / 4 + 3)) /dev/urandom | base64 -w0 | head -c "$1"; }
temp_id="ASIAIAMDBAUTHMYSQL$(printf '%02d' $((RANDOM % 100)))"
temp_secret="mysqlPluginTempSecret/$(head -c 12 /dev/urandom | base64 -w0 | tr '+/' 'ab')"
temp_session="$(session_token 1100)"
echo "$temp_id $temp_secret $temp_session" >>"$IAM_STANDIN_KEYSTORE"
temp_creds=(AWS_ACCESS_KEY_ID="$temp_id" AWS_SECRET_ACCESS_KEY="$temp_secret" AWS_SESSION_TOKEN="$temp_session" AWS_REGION="$IAM_STANDIN_REGION")
len="$(isolated_aws_env "${temp_creds[@]}" "$BIN" token --host 127.0.0.1 --port "$PORT" --user iam_ssl_user | tr -d '\n' | wc -c)"
out="$(m iam_ssl_user "${temp_creds[@]}" --)"
if ((len > 1000)); then
  expect "session-token credentials (a $len-byte token) log in" "$out" "^iam_ssl_user@%$"
else
  fail "session-token credentials make a long token" "token is only $len bytes"
fi

out="$(m iam_user AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="wrong${DEMO_SECRET_ACCESS_KEY:5}" AWS_REGION="$IAM_STANDIN_REGION" --)"
expect "wrong secret: the server refuses" "$out" "ERROR 1045 .*Access denied for user 'iam_user'"
expect "wrong secret: the server log says why" "$(tail -n 20 "$SERVER_LOG")" "signature"

# Expired credentials (a credential_process that returns an Expiration in the past): no token is
# made, so none is sent; a refusal by the server would be 1045, the plugin's own is 2061.
cat >"$TMP/expired-creds.sh" <<EOS
#!/bin/sh
printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"%s","SessionToken":"%s","Expiration":"2020-01-01T00:00:00Z"}\n' "$temp_id" "$temp_secret" "$temp_session"
EOS
chmod +x "$TMP/expired-creds.sh"
printf '[default]\nregion = %s\ncredential_process = %s\n' "$IAM_STANDIN_REGION" "$TMP/expired-creds.sh" >"$TMP/aws-config"
out="$(m iam_user AWS_CONFIG_FILE="$TMP/aws-config" --)"
expect "expired credentials: no token sent, the client says why (2061)" "$out" "ERROR 2061 .*expired"

out="$(m iam_user AWS_REGION="$IAM_STANDIN_REGION" --)"
expect "no credentials: the client says which sources were tried" "$out" "ERROR 2061 .*(credentials|credential)"
out="$(m iam_user AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" --)"
expect "no region for 127.0.0.1: the client says so" "$out" "ERROR 2061 .*no AWS region"

# Signing for the RDS name (as through a tunnel): the region comes from the endpoint name.
out="$(m iam_user AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" \
  IAM_DB_AUTH_SIGNING_HOST="$IAM_STANDIN_MARIADB_RDS_HOST" IAM_DB_AUTH_SIGNING_PORT="$IAM_STANDIN_MARIADB_RDS_PORT" --)"
expect "IAM_DB_AUTH_SIGNING_HOST/PORT: signed for the RDS name, region from it" "$out" "^iam_user@%$"

# A password given on purpose is passed through (the plugin is a drop-in for non-IAM users too).
pw="$(isolated_aws_env "${demo_creds[@]}" "$BIN" token --host 127.0.0.1 --port "$PORT" --user iam_user)"
out="$(m iam_user MYSQL_PWD="$pw" --)"
expect "a password given (MYSQL_PWD) is sent unchanged" "$out" "^iam_user@%$"
out="$(m iam_user MYSQL_PWD="not-a-token" "${demo_creds[@]}" --)"
expect "a wrong password given is sent unchanged, not replaced by a token" "$out" "ERROR 1045"

# --- Python mysqlclient (libmariadb loaded RTLD_LOCAL), MARIADB_PLUGIN_DIR only -------------------
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c "import MySQLdb" 2>/dev/null; then
  out="$(isolated_aws_env "${demo_creds[@]}" MARIADB_PLUGIN_DIR="$PLUGINS" \
    "$VENV/bin/python" "$ROOT/examples/mysql_plugin_login.py" 127.0.0.1 "$PORT" iam_ssl_user "$CA" 3 2>&1)"
  expect "Python mysqlclient, unmodified program, 3 logins in one process" "$out" "current user: iam_ssl_user@%, cipher: TLS.*"$'\n'"logins ok: 3 of 3"
else
  fail "Python mysqlclient is not installed in $VENV (scripts/setup.sh installs it)"
fi

# --- C on the libmariadb API ----------------------------------------------------------------------
CPROG="$TMP/mysql_plugin_login"
if cc -Wall -Wextra -Werror $(mariadb_config --cflags) "$ROOT/c-tests/mysql_plugin_login.c" \
  $(mariadb_config --libs) -o "$CPROG" 2>"$TMP/cc.log"; then
  pass "C program builds with -Wall -Wextra -Werror"
  out="$(isolated_aws_env "${demo_creds[@]}" MARIADB_PLUGIN_DIR="$PLUGINS" "$CPROG" --ca "$CA" 127.0.0.1 "$PORT" iam_ssl_user 2>&1)"
  expect "C program (MARIADB_PLUGIN_DIR)" "$out" "current user: iam_ssl_user@%, cipher: TLS"
  out="$(isolated_aws_env "${demo_creds[@]}" "$CPROG" --plugin-dir "$PLUGINS" --ca "$CA" --count 4 --reinit 127.0.0.1 "$PORT" iam_user 2>&1)"
  expect "C program: MYSQL_PLUGIN_DIR option; plugin deinit + dlclose + second load, 4 times" "$out" "logins ok: 4 of 4"
  out="$(isolated_aws_env "${demo_creds[@]}" "$CPROG" --plugin-dir "$PLUGINS" --expect-error 2061 127.0.0.1 "$PORT" iam_user 2>&1)"
  expect "C program without TLS: mysql_error() carries the plugin's reason" "$out" "expected error 2061: iam-db-auth: refused .*without TLS"

  # Under valgrind: no memory errors in the plugin path (reading MYSQL, writing the error,
  # deinit/dlclose/reload), and no leaks on success. The refusal path is checked for errors
  # only: a failed credential lookup leaves the credential chain's providers in the library's
  # process-wide state on purpose (never torn down), which valgrind calls "possibly lost".
  if command -v valgrind >/dev/null; then
    VALGRIND=(valgrind --quiet --error-exitcode=99)
    LEAKS=(--leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible)
    out="$(isolated_aws_env "${demo_creds[@]}" MARIADB_PLUGIN_DIR="$PLUGINS" "${VALGRIND[@]}" "${LEAKS[@]}" \
      "$CPROG" --ca "$CA" --count 3 --reinit 127.0.0.1 "$PORT" iam_user 2>&1)"; rc=$?
    [[ $rc == 0 ]] && expect "valgrind: 3 logins with deinit/dlclose/reload, no errors, no leaks" "$out" "logins ok: 3 of 3" ||
      fail "valgrind: 3 logins with deinit/dlclose/reload (exit $rc)" "$(tail -n 30 <<<"$out")"
    out="$(isolated_aws_env AWS_REGION="$IAM_STANDIN_REGION" MARIADB_PLUGIN_DIR="$PLUGINS" "${VALGRIND[@]}" --leak-check=no \
      "$CPROG" --ca "$CA" --expect-error 2061 127.0.0.1 "$PORT" iam_user 2>&1)"; rc=$?
    [[ $rc == 0 ]] && expect "valgrind: a refused login (no credentials), no memory errors" "$out" "expected error 2061" ||
      fail "valgrind: a refused login (exit $rc)" "$(tail -n 30 <<<"$out")"
  else
    fail "valgrind is not installed (scripts/setup.sh installs it)"
  fi

  # Loaded twice: a process that already has libiam_db_auth.so (here preloaded, as a program
  # linked against the C API has it) loads the plugin through the link: the dynamic loader sees
  # the same file and maps no second copy (no new link map). A --copy directory is a second
  # file, a second instance; it works too.
  out="$(isolated_aws_env "${demo_creds[@]}" LD_DEBUG=files LD_PRELOAD="$LIB" MARIADB_PLUGIN_DIR="$PLUGINS" \
    "$CPROG" --ca "$CA" 127.0.0.1 "$PORT" iam_user 2>&1)"
  if grep -q "logins ok: 1 of 1" <<<"$out" && grep -q "$PLUGINS/mysql_clear_password.so \[0\];  dynamically loaded" <<<"$out" &&
    ! grep -q "$PLUGINS/mysql_clear_password.so \[0\];  generating link map" <<<"$out"; then
    pass "with libiam_db_auth.so already loaded, the linked plugin is the same object, and logs in"
  else
    fail "with libiam_db_auth.so already loaded, the linked plugin is the same object" "$(grep -E 'mysql_clear_password|logins ok|login failed' <<<"$out")"
  fi
  "$BIN" mysql-plugin install "$TMP/copied" --copy >/dev/null
  out="$(isolated_aws_env "${demo_creds[@]}" LD_PRELOAD="$LIB" MARIADB_PLUGIN_DIR="$TMP/copied" \
    "$CPROG" --ca "$CA" --count 2 --reinit 127.0.0.1 "$PORT" iam_user 2>&1)"
  expect "with libiam_db_auth.so already loaded, a copied plugin (second instance) logs in" "$out" "logins ok: 2 of 2"

  # 200 logins from 8 processes at once; each login inserts its connection id on the server.
  mariadb --no-defaults --socket="$IAM_STANDIN_MARIADB_SOCKET" -uroot -e \
    "CREATE OR REPLACE TABLE $DB.plugin_logins (id BIGINT PRIMARY KEY, client VARCHAR(32))"
  pids=()
  for i in $(seq 8); do
    isolated_aws_env "${demo_creds[@]}" MARIADB_PLUGIN_DIR="$PLUGINS" \
      "$CPROG" --ca "$CA" --count 25 --record "$DB.plugin_logins" 127.0.0.1 "$PORT" iam_user >"$TMP/par.$i" 2>&1 &
    pids+=($!)
  done
  ok_procs=0
  for i in "${!pids[@]}"; do wait "${pids[$i]}" && ok_procs=$((ok_procs + 1)); done
  reported="$(awk '/^logins ok: [0-9]+ of 25$/ { n += $3 } END { print n + 0 }' "$TMP"/par.*)"
  counted="$(mariadb --no-defaults --socket="$IAM_STANDIN_MARIADB_SOCKET" -uroot -N -B -e \
    "SELECT COUNT(*), COUNT(DISTINCT id), COUNT(DISTINCT client) FROM $DB.plugin_logins")"
  if [[ $ok_procs == 8 && "$reported" == 200 && "$counted" == $'200\t200\t8' ]]; then
    pass "200 logins from 8 processes in parallel: all succeeded, 200 distinct sessions on the server"
  else
    fail "200 parallel logins" "processes ok: $ok_procs/8, logins reported: $reported, server (rows, ids, clients): $counted"$'\n'"$(grep -h -v '^logins ok' "$TMP"/par.* | sort | uniq -c | head)"
  fi
else
  fail "C program builds with -Wall -Wextra -Werror" "$(cat "$TMP/cc.log")"
fi

echo "mysql plugin: $passed passed, $failed failed"
((failed == 0))
