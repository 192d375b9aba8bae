#!/usr/bin/env bash
# The main job on a local default that needs no AWS account: build, make a token with demo
# credentials through the CLI and through the C ABI, have the local verifier (the same check the
# RDS stand-ins use) accept it, then log the stock mariadb client in to the local MariaDB
# stand-in for RDS through the mysql_clear_password plugin, with no password anywhere.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

if ! command -v cc >/dev/null || ! command -v cargo >/dev/null; then
  die "needs cargo and a C compiler (scripts/setup.sh installs the rest)"
fi
say "building (cargo build --release)"
cargo build --release --quiet

demo="$WORK/demo"; mkdir -p "$demo"
write_keystore "$demo/keystore"
HOST=mydb.c9akciq32.us-east-1.rds.amazonaws.com
PORT=5432
DBUSER=app_user
with_demo_keys() {
  isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" "$@"
}

say "iam-db-auth token --host $HOST --port $PORT --user $DBUSER   (demo key $DEMO_ACCESS_KEY_ID)"
token="$(with_demo_keys "$BIN" token --host "$HOST" --port "$PORT" --user "$DBUSER")"
printf '%s\n' "$token"
say "verifying it as RDS would (signature, user, host:port, region, expiry)"
printf '%s' "$token" | "$BIN" verify --keystore "$demo/keystore" --endpoint "$HOST:$PORT" \
  --region us-east-1 --user "$DBUSER" --verbose

say "the same through the C ABI (examples/python/iam_token_ctypes.py)"
token="$(with_demo_keys env IAM_DB_AUTH_LIB="$LIB" python3 examples/python/iam_token_ctypes.py "$HOST" "$PORT" "$DBUSER")"
printf '%s' "$token" | "$BIN" verify --keystore "$demo/keystore" --endpoint "$HOST:$PORT" \
  --region us-east-1 --user "$DBUSER" --verbose

say "a tampered token is refused"
if printf '%s' "${token/DBUser=$DBUSER/DBUser=admin}" | "$BIN" verify --keystore "$demo/keystore" \
  --endpoint "$HOST:$PORT" --region us-east-1 --user admin; then
  die "the verifier accepted a tampered token"
fi
say "a real login: the mariadb client, through the mysql_clear_password plugin, to the local RDS stand-in"
plugins="$demo/mariadb-plugins"
"$BIN" mysql-plugin install "$plugins" >/dev/null
# The demo's own port, so a stand-in someone left running on the default port is not disturbed.
export IAM_STANDIN_MARIADB_PORT="${IAM_DEMO_MARIADB_PORT:-13309}"
trap '"$ROOT/scripts/standin/mariadb.sh" stop >/dev/null 2>&1 || true' EXIT
"$ROOT/scripts/standin/mariadb.sh" start
eval "$("$ROOT/scripts/standin/mariadb.sh" env)"
say "MARIADB_PLUGIN_DIR=$plugins mariadb -h 127.0.0.1 -P $IAM_STANDIN_MARIADB_PORT -u iam_ssl_user --ssl-ca=... --ssl-verify-server-cert   (no password)"
with_demo_keys AWS_REGION="$IAM_STANDIN_REGION" MARIADB_PLUGIN_DIR="$plugins" mariadb --no-defaults \
  -h 127.0.0.1 -P "$IAM_STANDIN_MARIADB_PORT" -u iam_ssl_user --ssl-ca="$IAM_STANDIN_MARIADB_CA" \
  --ssl-verify-server-cert -e "SELECT CURRENT_USER() AS logged_in_as, @@version AS server"
say "demo done"
