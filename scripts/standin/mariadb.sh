#!/usr/bin/env bash
# A local stand-in for RDS for MariaDB/MySQL: MariaDB 10.11 that checks IAM tokens as RDS does.
#
# Usage: scripts/standin/mariadb.sh start|stop|status|env
#   start   starts it (initialises the data dir the first time); harmless when already running
#   stop    stops it and removes its PAM service file; nothing is left running
#   status  prints "running ..." (exit 0) or "stopped" (exit 3)
#   env     prints `export NAME=value` lines for a test to eval (works running or not):
#     IAM_STANDIN_MARIADB_HOST      127.0.0.1 (loopback only; libmariadb turns host "localhost" into
#                                   the default unix socket: use 127.0.0.1 or --protocol=tcp)
#     IAM_STANDIN_MARIADB_PORT      the TCP port (default 13306; set IAM_STANDIN_MARIADB_PORT to change)
#     IAM_STANDIN_MARIADB_BIND      the addresses it listens on (default 127.0.0.1; set it to
#                                   127.0.0.1,::1 to test IPv6 clients: tokens for [::1]:PORT pass)
#     IAM_STANDIN_MARIADB_SOCKET    unix socket; `mariadb --socket=$IAM_STANDIN_MARIADB_SOCKET -uroot`
#                                   is the admin (as OS user root); IAM users log in over it too
#                                   (as u@localhost, with tokens for localhost:PORT)
#     IAM_STANDIN_MARIADB_CA        CA file that signed the server certificate (--ssl-ca)
#     IAM_STANDIN_MARIADB_USER      iam_user: logs in with a token, TLS optional
#     IAM_STANDIN_MARIADB_SSL_USER  iam_ssl_user: logs in with a token, REQUIRE SSL (MariaDB counts
#                                   its unix socket as secure: only TCP without TLS is refused)
#     IAM_STANDIN_MARIADB_DATABASE  iam_test: both users have all privileges on it
#     IAM_STANDIN_MARIADB_RDS_HOST  an RDS-like name (in the certificate); tokens signed for it with
#     IAM_STANDIN_MARIADB_RDS_PORT  port 3306 are accepted too (signing-host/port override)
#     IAM_STANDIN_MARIADB_PAM_SERVICE  the PAM service (/etc/pam.d/<it>)
#     IAM_STANDIN_MARIADB_LOG       the server's error log (the verifier's reasons for refusals)
#     IAM_STANDIN_KEYSTORE          the verifier's keys ($WORK/keystore; append
#                                   `ACCESS_KEY_ID SECRET [SESSION_TOKEN [EXPIRATION]]` lines; read at each login)
#     IAM_STANDIN_REGION            us-east-1
#
# How it checks a login: the server runs auth_pam with pam_use_cleartext_plugin=ON, so it asks the
# client for `mysql_clear_password` (as RDS does); PAM runs our module (pam_iam_db_auth.so), which
# hands the password to `iam-db-auth verify` with the endpoints 127.0.0.1:PORT, localhost:PORT and
# RDS_HOST:3306, region us-east-1 and the keystore. Tokens longer than 10239 bytes are refused by
# MariaDB's auth_pam_tool itself (its buffer); real tokens are 800-1500 bytes.
# The server runs as root, binds 127.0.0.1 only, and keeps everything under
# $WORK/standin/mariadb-<port>/ (data, socket, pid, error log: log/error.log).
set -euo pipefail
source "$(dirname "$0")/common.sh"

PORT="$(standin_port "${IAM_STANDIN_MARIADB_PORT:-13306}" IAM_STANDIN_MARIADB_PORT)"
BIND="${IAM_STANDIN_MARIADB_BIND:-127.0.0.1}"
[[ "$BIND" =~ ^(127\.0\.0\.1|::1)(,(127\.0\.0\.1|::1))*$ ]] ||
  die "IAM_STANDIN_MARIADB_BIND must list loopback addresses (127.0.0.1, ::1), not '$BIND'"
INSTANCE="$STANDIN_DIR/mariadb-$PORT"
DATA="$INSTANCE/data"
SOCKET="$INSTANCE/run/mysqld.sock"
PIDFILE="$INSTANCE/run/mysqld.pid"
LOG="$INSTANCE/log/error.log"
SERVICE="iam-db-auth-mariadb-$PORT"
RDS_PORT=3306
USER_PLAIN="iam_user"
USER_SSL="iam_ssl_user"
DATABASE="iam_test"

print_env() {
  cat <<EOF
export IAM_STANDIN_MARIADB_HOST=127.0.0.1
export IAM_STANDIN_MARIADB_PORT=$PORT
export IAM_STANDIN_MARIADB_BIND=$BIND
export IAM_STANDIN_MARIADB_SOCKET=$(printf '%q' "$SOCKET")
export IAM_STANDIN_MARIADB_CA=$(printf '%q' "$STANDIN_CA")
export IAM_STANDIN_MARIADB_USER=$USER_PLAIN
export IAM_STANDIN_MARIADB_SSL_USER=$USER_SSL
export IAM_STANDIN_MARIADB_DATABASE=$DATABASE
export IAM_STANDIN_MARIADB_RDS_HOST=$STANDIN_RDS_HOST
export IAM_STANDIN_MARIADB_RDS_PORT=$RDS_PORT
export IAM_STANDIN_MARIADB_PAM_SERVICE=$SERVICE
export IAM_STANDIN_MARIADB_LOG=$(printf '%q' "$LOG")
export IAM_STANDIN_KEYSTORE=$(printf '%q' "$STANDIN_KEYSTORE")
export IAM_STANDIN_REGION=$STANDIN_REGION
EOF
}

running_pid() {
  local pid
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if standin_pid_is "$pid" "--datadir=$DATA"; then printf '%s' "$pid"; else return 1; fi
}

# Bounded (ADMIN_TIMEOUT seconds, default 60): a server that cannot write (a full disk) waits
# for space instead of failing.
admin() { timeout "${ADMIN_TIMEOUT:-60}" mariadb --no-defaults --socket="$SOCKET" -uroot --batch "$@"; }

write_pam_service() {
  # "[...]" is PAM's quoting for one argument (a "]" inside is written "\]"): it carries the
  # bracketed IPv6 endpoint through PAM's own parsing as --endpoint=[::1]:PORT.
  standin_pam_service "$SERVICE" "$STANDIN_PAM_MODULE" "$STANDIN_VERIFIER" verify --exact \
    --keystore "$STANDIN_KEYSTORE" --region "$STANDIN_REGION" \
    --endpoint "127.0.0.1:$PORT" "[--endpoint=[::1\\]:$PORT]" --endpoint "localhost:$PORT" --endpoint "$STANDIN_RDS_HOST:$RDS_PORT"
}

setup_sql() {
  local user host
  echo "CREATE DATABASE IF NOT EXISTS $DATABASE;"
  for user in "$USER_PLAIN" "$USER_SSL"; do
    for host in "%" "localhost"; do
      # OR REPLACE: the service name (and so the port) is always the current one.
      printf "CREATE OR REPLACE USER '%s'@'%s' IDENTIFIED VIA pam USING '%s'%s;\n" \
        "$user" "$host" "$SERVICE" "$([[ $user == "$USER_SSL" ]] && echo " REQUIRE SSL")"
      printf "GRANT ALL PRIVILEGES ON %s.* TO '%s'@'%s';\n" "$DATABASE" "$user" "$host"
    done
  done
}

start() {
  if pid="$(running_pid)"; then
    write_pam_service
    say "mariadb stand-in already running (pid $pid, port $PORT)"
    return 0
  fi
  command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || die "mariadb-server is not installed (scripts/setup.sh)"
  ((${#SOCKET} < 100)) || die "socket path too long for a unix socket: $SOCKET (set IAM_TEST_WORK shorter)"
  standin_build
  standin_certs
  standin_keystore
  standin_port_free "$PORT" IAM_STANDIN_MARIADB_PORT
  mkdir -p "$INSTANCE/run" "$INSTANCE/log"
  write_pam_service
  if [[ ! -d "$DATA/mysql" ]]; then
    say "initialising MariaDB data dir $DATA"
    rm -rf "$DATA"
    timeout 180 mariadb-install-db --no-defaults --datadir="$DATA" --user=root --skip-test-db \
      --auth-root-authentication-method=socket >"$INSTANCE/log/install.log" 2>&1 ||
      { rm -rf "$DATA"; die "mariadb-install-db failed or took over 180 s (disk full?): $(df -h "$INSTANCE" | tail -n 1); see $INSTANCE/log/install.log"; }
  fi
  rm -f "$SOCKET" "$PIDFILE"
  # setsid: the server outlives this script and is not in the caller's process group.
  setsid /usr/sbin/mariadbd --no-defaults --user=root --datadir="$DATA" \
    --socket="$SOCKET" --pid-file="$PIDFILE" --log-error="$LOG" \
    --port="$PORT" --bind-address="$BIND" --skip-name-resolve \
    --plugin-load-add=auth_pam --pam-use-cleartext-plugin=ON \
    --ssl-ca="$STANDIN_CA" --ssl-cert="$STANDIN_TLS/server.pem" --ssl-key="$STANDIN_TLS/server.key" \
    --innodb-buffer-pool-size=32M --performance-schema=OFF --max-connections=200 \
    </dev/null >>"$INSTANCE/log/stdout.log" 2>&1 &
  local launched=$! deadline=$((SECONDS + 60)) up=""
  while ((SECONDS < deadline)); do
    if [[ -S "$SOCKET" ]] && ADMIN_TIMEOUT=5 admin -e "SELECT 1" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$launched" 2>/dev/null || { tail -n 20 "$LOG" >&2; die "mariadbd exited during start; see $LOG"; }
    sleep 0.1
  done
  [[ -n "$up" ]] || { standin_kill "$launched" 5; die "mariadbd did not answer within 60 s; see $LOG"; }
  setup_sql | admin || { standin_kill "$launched" 10; die "setting up users failed"; }
  say "mariadb stand-in running (pid $launched, port $PORT, PAM service $SERVICE)"
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    standin_kill "$pid" 60
    say "mariadb stand-in stopped (port $PORT)"
  fi
  standin_pam_remove "$SERVICE"
  rm -f "$PIDFILE"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    echo "running (pid $pid, port $PORT, socket $SOCKET)"
  else
    echo "stopped"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  *) die "usage: $0 start|stop|status|env" ;;
esac
