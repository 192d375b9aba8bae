#!/usr/bin/env bash
# tier: deep
# The npm package (bindings/node) as a user gets it: `npm install` of the packed tarball into a
# fresh app with node-postgres and mysql2 from npm, then node's test runner.
#   fast (run alone, IAM_TEST_TIER=fast; the suite runs the deep part only, which repeats these
#         checks on the release package: the addon build costs the fast tier 1.5 minutes):
#         the package built with the host toolchain (scripts/package.sh node --quick): tokens
#         sync and async, typed failures (each concurrent promise its own), the CA lookup, and a
#         fake server with a self-signed certificate that gets no token from either recipe,
#         whatever `ssl` the caller passed (with a control: the fake captures a token the driver
#         sends over unverified TLS).
#   deep: the release package (cargo-zigbuild, glibc 2.28): the highest GLIBC_ version its
#         binaries need is at most 2.28; the same unit tests; node-postgres and mysql2 pools
#         logging in to the stand-ins, and opening a connection after their first token expired
#         (test process and stand-in verifier 16 minutes on by libfaketime; the first token is
#         refused then, the pool logs in with a fresh one).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
tier="${IAM_TEST_TIER:-all}"
PG_VERSION=8.23.1
MYSQL2_VERSION=3.24.6
GLIBC_FLOOR=2.28  # scripts/package/check-glibc.sh checks against it
export GLIBC_FLOOR
out="$WORK/package-node"; rm -rf "$out"; mkdir -p "$out"
app="$out/app"
passed=0

# A fresh app with the package installed from its tarball, and the tests copied in.
install_app() {
  rm -rf "$app"; mkdir -p "$app"
  echo '{"name":"iam-db-auth-node-tests","private":true}' >"$app/package.json"
  (cd "$app" && timeout 300 npm install --no-audit --no-fund --silent "$1" "pg@$PG_VERSION" "mysql2@$MYSQL2_VERSION") ||
    die "npm install failed"
  cp bindings/node/test/*.js "$app/"
}

# Runs node's test runner on the files given, in the app, under `env` with the rest of the
# environment given before `--`: run_tests NAME [VAR=value...] -- FILES...
run_tests() {
  local name="$1" vars=(); shift
  while [[ "$1" != -- ]]; do vars+=("$1"); shift; done; shift
  (cd "$app" && isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" \
    "${vars[@]}" timeout 300 node --test "$@") >"$out/$name.log" 2>&1 || { cat "$out/$name.log"; die "node tests ($name) failed"; }
  grep -E '^(not )?ok |^# (pass|fail)' "$out/$name.log"
  passed=$((passed + $(sed -n 's/^# pass //p' "$out/$name.log")))
}

if [[ "$tier" == fast ]]; then
  (cd bindings/node && cargo fmt --check) || die "bindings/node is not formatted (cd bindings/node && cargo fmt)"
  say "node $(node --version): the package built with the host toolchain, installed from its tarball"
  install_app "$(bash scripts/package.sh node --quick | tail -n 1)"
  run_tests fast -- token.test.js impostor.test.js
else
  say "node $(node --version): the release package (glibc $GLIBC_FLOOR), installed from its tarball"
  install_app "$(bash scripts/package.sh node | tail -n 1)"
  # The binaries as npm installed them: the highest GLIBC_ version each needs.
  scripts/package/check-glibc.sh "$app/node_modules/iam-db-auth/native/"* | sed "s|$app/||" ||
    die "a shipped binary needs a glibc above $GLIBC_FLOOR"
  passed=$((passed + 1))
  du -k "$app/node_modules/iam-db-auth/native/"* | sed "s|$app/||"
  run_tests unit -- token.test.js impostor.test.js

  clock="$out/faketime"; echo "+0" >"$clock"; chmod 644 "$clock"
  export IAM_STANDIN_FAKETIME_FILE="$clock"
  export IAM_STANDIN_MARIADB_PORT="${IAM_STANDIN_MARIADB_PORT:-13440}" IAM_STANDIN_PG_PORT="${IAM_STANDIN_PG_PORT:-15440}"
  stop_standins() {
    bash "$ROOT/scripts/standin/mariadb.sh" stop || true
    bash "$ROOT/scripts/standin/postgres.sh" stop || true
  }
  trap stop_standins EXIT
  timeout 300 bash scripts/standin/mariadb.sh start
  timeout 300 bash scripts/standin/postgres.sh start
  eval "$(bash scripts/standin/mariadb.sh env)"
  eval "$(bash scripts/standin/postgres.sh env)"
  [[ "$IAM_STANDIN_PG_CA" == "$IAM_STANDIN_MARIADB_CA" ]] || die "the stand-ins have different CAs"
  say "node-postgres and mysql2 pools against the stand-ins, across an expired token (libfaketime)"
  # The monotonic clock stays real: a 16-minute jump would fire every pending timer at once.
  run_tests standin IAM_DB_AUTH_CA_FILE="$IAM_STANDIN_PG_CA" IAM_TEST_FAKETIME_FILE="$clock" \
    LD_PRELOAD="$(dpkg -L libfaketime | grep -m1 '/libfaketime\.so\.1$')" FAKETIME_TIMESTAMP_FILE="$clock" \
    FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 -- standin.test.js
fi
echo "$passed passed, 0 failed"
