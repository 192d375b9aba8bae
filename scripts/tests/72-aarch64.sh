#!/usr/bin/env bash
# tier: deep
# aarch64-unknown-linux-gnu, cross-built here and run under qemu-user (docs/platforms.md):
#   1. the plugin's aarch64 bindings are what the pinned bindgen makes of the arm64 package's
#      headers (drift check), and building for aarch64 compiles their layout checks;
#   2. every token vector through the aarch64 CLI, byte-identical to this machine's CLI;
#   3. the C tests (test_api, test_bad_input, threads, fork) cross-compiled against the aarch64
#      library, their tokens checked by the verifier;
#   4. the arm64 `mariadb` client logs in to the MariaDB stand-in through the aarch64 plugin;
#   5. the aarch64 CLI's `pgpass` + the arm64 `psql`, and its `exec`, log in to the PostgreSQL
#      stand-in.
# Missing prerequisites are installed by scripts/platforms/setup-cross.sh, or the stage fails.
# The stand-ins use their own ports (IAM_STANDIN_*_PORT, default 13326/15466) and stop at exit.
set -euo pipefail
# The cross builds here test behaviour, not speed: without LTO and with 16 codegen units they
# build in a fraction of the release profile's time (the shipped artifacts use the full one).
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

"$ROOT/scripts/platforms/setup-cross.sh"
T=aarch64-unknown-linux-gnu
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
SYSROOT="$WORK/sysroot-arm64"
A64="$ROOT/target/$T/release"
OUT="$WORK/aarch64"; rm -rf "$OUT"; mkdir -p "$OUT"
# The CLI and the C tests need only glibc; the clients need the sysroot's libraries too.
QEMU=(timeout 300 qemu-aarch64 -L /usr/aarch64-linux-gnu)
QEMU_CLIENTS=(timeout 120 qemu-aarch64 -L "$SYSROOT")

say "bindings: the committed x86_64 and aarch64 files against their headers"
ARM64_SYSROOT="$SYSROOT" cargo test --quiet --locked -p iam-db-auth --test mysql_bindings -- --include-ignored \
  || die "the MySQL plugin's bindings drifted from the headers"

say "building for $T (release: the library with the plugin, the CLI)"
[[ -x "$BIN" ]] || cargo build --release --locked --quiet || die "release build failed"
CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo build --release --locked --quiet --target "$T" -p iam-db-auth -p iam-db-auth-cli ||
  die "cross build for $T failed"
file -b "$A64/iam-db-auth" | grep -q "ARM aarch64" || die "$A64/iam-db-auth is not an aarch64 executable"
aarch64-linux-gnu-nm -D --defined-only "$A64/libiam_db_auth.so" | grep -q ' _mysql_client_plugin_declaration_$' ||
  die "the aarch64 library does not export the MySQL plugin declaration"
soname_link "$A64"

say "token vectors through the aarch64 CLI (qemu) against this machine's CLI"
python3 scripts/platforms/vectors.py "$BIN" -- "${QEMU[@]}" "$A64/iam-db-auth" | tee "$OUT/vectors.txt"

say "C tests, cross-compiled, under qemu"
# The flags stages 40 (test_api, test_bad_input) and 45 (threads, fork) build them with.
for t in test_api test_bad_input threads fork; do
  flags=(-Wall -Wextra -Werror -O2 -pthread -I"$ROOT/include")
  [[ $t == test_* ]] && flags=(-std=c11 -O1 -g -Wall -Wextra -Wpedantic -Werror -pthread -I"$ROOT/include")
  aarch64-linux-gnu-gcc "${flags[@]}" "c-tests/$t.c" -o "$OUT/$t" -L"$A64" -liam_db_auth \
    -Wl,-rpath,"$A64" || die "cross-compiling c-tests/$t.c failed"
done
creds=(AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY")
write_keystore "$OUT/keystore"
isolated_aws_env "${creds[@]}" "${QEMU[@]}" "$OUT/test_api" "$OUT/tokens.txt" >"$OUT/test_api.log" 2>&1 ||
  { cat "$OUT/test_api.log"; die "test_api failed under qemu"; }
n=0
while IFS= read -r token; do
  endpoint="${token%%/?*}"
  user="$(sed -E 's/.*[?&]DBUser=([^&]*).*/\1/' <<<"$token")"
  region="$(sed -E 's/.*X-Amz-Credential=[^%]*%2F[0-9]{8}%2F([a-z0-9-]+)%2F.*/\1/' <<<"$token")"
  printf '%s' "$token" | "$BIN" verify --keystore "$OUT/keystore" --endpoint "$endpoint" \
    --region "$region" --user "$user" || die "the verifier refused a token from the aarch64 test_api"
  n=$((n + 1))
done <"$OUT/tokens.txt"
((n >= 3)) || die "expected at least 3 tokens from the aarch64 test_api, got $n"
isolated_aws_env "${creds[@]}" "${QEMU[@]}" "$OUT/test_bad_input" >"$OUT/bad-input.log" 2>&1 ||
  { cat "$OUT/bad-input.log"; die "test_bad_input failed under qemu"; }
HOST=mydb.cluster-abc123xyz.us-west-2.rds.amazonaws.com
verify() { # user token-file
  "$BIN" verify --keystore "$OUT/keystore" --endpoint "$HOST:5432" --region us-west-2 --user "$1" <"$2" \
    || die "the verifier rejected a token for $1 from $2"
}
isolated_aws_env "${creds[@]}" IAM_DB_AUTH_LOG=debug "${QEMU[@]}" "$OUT/fork" "$DEMO_ACCESS_KEY_ID" "$OUT" 5 \
  2>"$OUT/fork.log" || die "fork failed under qemu (see $OUT/fork.log)"
verify app "$OUT/parent.token"
verify app "$OUT/child.token"
isolated_aws_env "${creds[@]}" "${QEMU[@]}" "$OUT/threads" "$DEMO_ACCESS_KEY_ID" "$OUT/sample" 8 500 \
  >"$OUT/threads.txt" || die "threads failed under qemu (or timed out: a deadlock)"
read -r sample_user sample_token <"$OUT/sample"
printf '%s' "$sample_token" >"$OUT/sample.token"
verify "$sample_user" "$OUT/sample.token"
say "C tests under qemu: test_api ($n tokens verified), test_bad_input ($(tail -n 1 "$OUT/bad-input.log")), fork (5 children), threads (8 x 500)"

export IAM_STANDIN_MARIADB_PORT="${IAM_STANDIN_MARIADB_PORT:-13326}"
export IAM_STANDIN_PG_PORT="${IAM_STANDIN_PG_PORT:-15466}"
stop_standins() {
  scripts/standin/mariadb.sh stop >/dev/null 2>&1 || true
  scripts/standin/postgres.sh stop >/dev/null 2>&1 || true
}
trap stop_standins EXIT
scripts/standin/mariadb.sh start >"$OUT/mariadb-start.log" 2>&1 ||
  { cat "$OUT/mariadb-start.log"; die "the MariaDB stand-in did not start"; }
scripts/standin/postgres.sh start >"$OUT/postgres-start.log" 2>&1 ||
  { cat "$OUT/postgres-start.log"; die "the PostgreSQL stand-in did not start"; }
eval "$(scripts/standin/mariadb.sh env)"
eval "$(scripts/standin/postgres.sh env)"
demo=(AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" AWS_REGION=us-east-1)

say "the arm64 mariadb client through the aarch64 plugin"
mkdir -p "$OUT/plugins"
cp "$A64/libiam_db_auth.so" "$OUT/plugins/mysql_clear_password.so"
mariadb_arm64() { # plugin-dir-options...
  isolated_aws_env "${demo[@]}" "${QEMU_CLIENTS[@]}" "$SYSROOT/usr/bin/mariadb" --no-defaults "$@" \
    --ssl-ca="$IAM_STANDIN_MARIADB_CA" --ssl-verify-server-cert -h 127.0.0.1 -P "$IAM_STANDIN_MARIADB_PORT" \
    -u "$IAM_STANDIN_MARIADB_USER" -D "$IAM_STANDIN_MARIADB_DATABASE" -N -B -e "SELECT CURRENT_USER()"
}
# Control: the arm64 client's own plugin directory (the stock cleartext plugin, no password to
# send: Debian 12's client gives up with ERROR 2013, as in tests/e2e/test_mysql_plugin.py).
if mariadb_arm64 >"$OUT/mariadb-control.log" 2>&1; then
  die "control: the arm64 client logged in without our plugin"
fi
grep -q '^ERROR ' "$OUT/mariadb-control.log" ||
  { cat "$OUT/mariadb-control.log"; die "control: the arm64 client failed, but not as a refused login"; }
got="$(mariadb_arm64 --plugin-dir="$OUT/plugins" 2>"$OUT/mariadb.log")" ||
  { cat "$OUT/mariadb.log"; die "the arm64 mariadb client could not log in through the aarch64 plugin"; }
[[ $got == "$IAM_STANDIN_MARIADB_USER@%" ]] || die "the arm64 mariadb client logged in as '$got'"
say "arm64 mariadb: logged in as $got"

say "the aarch64 CLI's pgpass + the arm64 psql; the aarch64 CLI's exec"
conninfo="host=localhost port=$IAM_STANDIN_PG_PORT dbname=$IAM_STANDIN_PG_DATABASE user=$IAM_STANDIN_PG_USER sslmode=verify-full sslrootcert=$IAM_STANDIN_PG_CA"
WHO="SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
psql_arm64() { # extra env...
  isolated_aws_env PGCONNECT_TIMEOUT=20 "$@" "${QEMU_CLIENTS[@]}" "$SYSROOT/usr/lib/postgresql/15/bin/psql" \
    "$conninfo" -XAt -c "$WHO"
}
if psql_arm64 PGPASSFILE="$OUT/no-passfile" </dev/null >"$OUT/psql-control.log" 2>&1; then
  die "control: the arm64 psql logged in without a passfile"
fi
grep -q 'no password supplied' "$OUT/psql-control.log" ||
  { cat "$OUT/psql-control.log"; die "control: the arm64 psql failed, but not for want of a password"; }
isolated_aws_env "${demo[@]}" "${QEMU[@]}" "$A64/iam-db-auth" pgpass -q --host localhost \
  --port "$IAM_STANDIN_PG_PORT" --user "$IAM_STANDIN_PG_USER" --file "$OUT/pgpass" ||
  die "the aarch64 CLI's pgpass failed"
got="$(psql_arm64 PGPASSFILE="$OUT/pgpass" 2>"$OUT/psql.log")" ||
  { cat "$OUT/psql.log"; die "the arm64 psql could not log in with the aarch64 CLI's passfile"; }
[[ $got == "$IAM_STANDIN_PG_USER true" ]] || die "the arm64 psql logged in as '$got' (want '$IAM_STANDIN_PG_USER true')"
say "arm64 psql with the aarch64 pgpass: $got"
got="$(isolated_aws_env "${demo[@]}" XDG_CACHE_HOME="$OUT/cache" "${QEMU[@]}" "$A64/iam-db-auth" exec --ca-file "$IAM_STANDIN_PG_CA" \
  --host localhost --port "$IAM_STANDIN_PG_PORT" --user "$IAM_STANDIN_PG_USER" -- \
  "${QEMU_CLIENTS[@]}" "$SYSROOT/usr/lib/postgresql/15/bin/psql" -XAt -d "$IAM_STANDIN_PG_DATABASE" -c "$WHO" \
  2>"$OUT/exec.log")" || { cat "$OUT/exec.log"; die "the aarch64 CLI's exec with the arm64 psql failed"; }
[[ $got == "$IAM_STANDIN_PG_USER true" ]] || die "exec: the arm64 psql logged in as '$got'"
say "aarch64 exec + arm64 psql: $got"
ls -l "$A64/iam-db-auth" "$A64/libiam_db_auth.so" | awk '{print $5, $9}'
