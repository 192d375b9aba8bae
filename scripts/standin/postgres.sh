#!/usr/bin/env bash
# A local stand-in for RDS for PostgreSQL (and for Aurora DSQL logins): a PostgreSQL 15 cluster
# that checks IAM tokens as RDS does.
#
# Usage: scripts/standin/postgres.sh start|stop|status|env
#   start   starts it (initialises the cluster the first time); harmless when already running
#   stop    stops it and removes its PAM service files; nothing is left running
#   status  prints "running ..." (exit 0) or "stopped" (exit 3)
#   env     prints `export NAME=value` lines for a test to eval (works running or not):
#     IAM_STANDIN_PG_HOST       127.0.0.1 (loopback only; ::1 works too)
#     IAM_STANDIN_PG_PORT       the TCP port (default 15432; set IAM_STANDIN_PG_PORT to change)
#     IAM_STANDIN_PG_CA         CA file that signed the server certificate (sslrootcert=)
#     IAM_STANDIN_PG_USER       iam_user: logs in with an RDS token (a member of role rds_iam)
#     IAM_STANDIN_PG_DATABASE   iam_test, owned by iam_user
#     IAM_STANDIN_PG_RDS_HOST   an RDS-like name (in the certificate); tokens signed for it with
#     IAM_STANDIN_PG_RDS_PORT   port 5432 are accepted too (signing-host/port override)
#     IAM_STANDIN_PG_DSQL_HOST  a DSQL-like name (in the certificate): roles in dsql_iam log in
#                               with DSQL tokens signed for it (no port)
#     IAM_STANDIN_PG_DSQL_USER  dsql_user (takes DbConnect tokens)
#     IAM_STANDIN_PG_DSQL_ADMIN admin (takes DbConnectAdmin tokens)
#     IAM_STANDIN_PG_SOCKET_DIR the admin's unix socket directory: as OS user root or postgres,
#                               `psql -h $IAM_STANDIN_PG_SOCKET_DIR -p $IAM_STANDIN_PG_PORT -U postgres`
#     IAM_STANDIN_PG_PAM_SERVICE, IAM_STANDIN_PG_DSQL_PAM_SERVICE  the PAM services (/etc/pam.d/)
#     IAM_STANDIN_PG_LOG        the server log (the verifier's reasons for refusals)
#     IAM_STANDIN_KEYSTORE      the verifier's keys ($WORK/keystore; append
#                               `ACCESS_KEY_ID SECRET [SESSION_TOKEN [EXPIRATION]]` lines; read at each login)
#     IAM_STANDIN_REGION        us-east-1
#
# pg_hba.conf, in order: the admin over the unix socket (peer, OS root or postgres as role
# postgres); TLS connections from loopback of members of dsql_iam -> PAM service for DSQL tokens
# (`iam-db-auth verify --kind dsql`, endpoint the DSQL-like name); TLS connections from loopback
# of members of rds_iam -> PAM service for RDS tokens (endpoints 127.0.0.1:PORT, localhost:PORT,
# RDS_HOST:5432); everything else, and every connection without TLS, is rejected. As on RDS, a
# role logs in with IAM when it is granted rds_iam: `CREATE ROLE x LOGIN IN ROLE rds_iam`.
#
# PostgreSQL refuses to run as root, so the cluster runs as OS user postgres. Everything it needs
# (the PAM module, a copy of the verifier, the TLS key, the data dir) is under
# $WORK/standin/postgres-<port>/ when user postgres can reach $WORK, else under
# /var/tmp/iam-db-auth-standin-<hash of $WORK>/postgres-<port>/. The keystore is made owned by
# postgres (mode 0600, so a later `write_keystore` keeps it readable); if postgres cannot reach it,
# it moves next to the instance and $WORK/keystore becomes a symlink to it.
set -euo pipefail
source "$(dirname "$0")/common.sh"

PGBIN=/usr/lib/postgresql/15/bin
PORT="$(standin_port "${IAM_STANDIN_PG_PORT:-15432}" IAM_STANDIN_PG_PORT)"
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
if as_postgres test -x "$WORK" 2>/dev/null; then
  PGBASE="$STANDIN_DIR"
else
  PGBASE="/var/tmp/iam-db-auth-standin-$(printf '%s' "$WORK" | sha256sum | cut -c1-12)"
fi
INSTANCE="$PGBASE/postgres-$PORT"
DATA="$INSTANCE/data"
SOCKET_DIR="$INSTANCE/run"
LOG="$INSTANCE/log/postgres.log"
SERVICE="iam-db-auth-pg-$PORT"
DSQL_SERVICE="iam-db-auth-pg-dsql-$PORT"
RDS_PORT=5432
USER_PLAIN="iam_user"
DSQL_USER="dsql_user"
DSQL_ADMIN="admin"
DATABASE="iam_test"

print_env() {
  cat <<EOF
export IAM_STANDIN_PG_HOST=127.0.0.1
export IAM_STANDIN_PG_PORT=$PORT
export IAM_STANDIN_PG_CA=$(printf '%q' "$STANDIN_CA")
export IAM_STANDIN_PG_USER=$USER_PLAIN
export IAM_STANDIN_PG_DATABASE=$DATABASE
export IAM_STANDIN_PG_RDS_HOST=$STANDIN_RDS_HOST
export IAM_STANDIN_PG_RDS_PORT=$RDS_PORT
export IAM_STANDIN_PG_DSQL_HOST=$STANDIN_DSQL_HOST
export IAM_STANDIN_PG_DSQL_USER=$DSQL_USER
export IAM_STANDIN_PG_DSQL_ADMIN=$DSQL_ADMIN
export IAM_STANDIN_PG_SOCKET_DIR=$(printf '%q' "$SOCKET_DIR")
export IAM_STANDIN_PG_PAM_SERVICE=$SERVICE
export IAM_STANDIN_PG_DSQL_PAM_SERVICE=$DSQL_SERVICE
export IAM_STANDIN_PG_LOG=$(printf '%q' "$LOG")
export IAM_STANDIN_KEYSTORE=$(printf '%q' "$STANDIN_KEYSTORE")
export IAM_STANDIN_REGION=$STANDIN_REGION
EOF
}

running_pid() {
  local pid
  pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)"
  if standin_pid_is "$pid" "$DATA"; then printf '%s' "$pid"; else return 1; fi
}

admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U postgres -d postgres "$@"; }

# The keystore must be readable by OS user postgres (the verifier runs in its backends).
# Prints the path the verifier should read.
share_keystore() {
  standin_keystore
  local real
  real="$(readlink -f "$STANDIN_KEYSTORE")"
  chown postgres "$real"
  chmod 600 "$real"
  if ! as_postgres test -r "$real"; then
    local moved="$PGBASE/keystore"
    install -o postgres -m 600 "$real" "$moved"
    ln -sfn "$moved" "$STANDIN_KEYSTORE"
    say "user postgres cannot reach $real; the keystore is now $moved ($STANDIN_KEYSTORE links to it)"
    real="$moved"
  fi
  printf '%s' "$real"
}

# Copies of what the backends need, where postgres can read them.
prepare_instance() {
  mkdir -p "$PGBASE" "$INSTANCE"
  chmod 755 "$PGBASE" "$INSTANCE"
  standin_install "$STANDIN_PAM_MODULE" "$INSTANCE/lib/pam_iam_db_auth.so"
  standin_install "$STANDIN_VERIFIER" "$INSTANCE/bin/iam-db-auth"
  chmod 755 "$INSTANCE/lib" "$INSTANCE/bin"
  mkdir -p "$INSTANCE/tls" "$SOCKET_DIR" "$INSTANCE/log"
  install -o postgres -m 644 "$STANDIN_TLS/server.pem" "$INSTANCE/tls/server.pem"
  install -o postgres -m 600 "$STANDIN_TLS/server.key" "$INSTANCE/tls/server.key"
  chown postgres "$INSTANCE/tls" "$SOCKET_DIR" "$INSTANCE/log"
  chmod 755 "$INSTANCE/tls" "$SOCKET_DIR" "$INSTANCE/log"
}

write_pam_services() {
  local keystore="$1"
  standin_pam_service "$SERVICE" "$INSTANCE/lib/pam_iam_db_auth.so" "$INSTANCE/bin/iam-db-auth" verify --exact \
    --keystore "$keystore" --region "$STANDIN_REGION" --kind rds \
    --endpoint "127.0.0.1:$PORT" --endpoint "localhost:$PORT" --endpoint "$STANDIN_RDS_HOST:$RDS_PORT"
  standin_pam_service "$DSQL_SERVICE" "$INSTANCE/lib/pam_iam_db_auth.so" "$INSTANCE/bin/iam-db-auth" verify --exact \
    --keystore "$keystore" --region "$STANDIN_REGION" --kind dsql --endpoint "$STANDIN_DSQL_HOST"
}

write_config() {
  cat >"$DATA/standin.conf" <<EOF
# Written by scripts/standin/postgres.sh at each start.
listen_addresses = '127.0.0.1,::1'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
ssl = on
ssl_cert_file = '$INSTANCE/tls/server.pem'
ssl_key_file = '$INSTANCE/tls/server.key'
ssl_min_protocol_version = 'TLSv1.2'
log_connections = on
shared_buffers = 32MB
max_connections = 200
# A stand-in for tests: durability is not its job.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  cat >"$DATA/pg_hba.conf" <<EOF
# Written by scripts/standin/postgres.sh at each start.
# TYPE  DATABASE USER       ADDRESS        METHOD
local   all      postgres                  peer map=admin
local   all      all                       reject
hostssl all      +dsql_iam  127.0.0.1/32   pam pamservice=$DSQL_SERVICE
hostssl all      +dsql_iam  ::1/128        pam pamservice=$DSQL_SERVICE
hostssl all      +rds_iam   127.0.0.1/32   pam pamservice=$SERVICE
hostssl all      +rds_iam   ::1/128        pam pamservice=$SERVICE
host    all      all        0.0.0.0/0      reject
host    all      all        ::/0           reject
EOF
  cat >"$DATA/pg_ident.conf" <<EOF
# MAPNAME  SYSTEM-USERNAME  PG-USERNAME
admin      root             postgres
admin      postgres         postgres
EOF
  chown postgres "$DATA/standin.conf" "$DATA/pg_hba.conf" "$DATA/pg_ident.conf"
}

setup_sql() {
  cat <<EOF
SET client_min_messages = warning;
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN CREATE ROLE rds_iam NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dsql_iam') THEN CREATE ROLE dsql_iam NOLOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$USER_PLAIN') THEN CREATE ROLE $USER_PLAIN LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DSQL_USER') THEN CREATE ROLE $DSQL_USER LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DSQL_ADMIN') THEN CREATE ROLE $DSQL_ADMIN LOGIN; END IF;
END
\$\$;
GRANT rds_iam TO $USER_PLAIN;
GRANT dsql_iam TO $DSQL_USER, $DSQL_ADMIN;
SELECT 'CREATE DATABASE $DATABASE OWNER $USER_PLAIN' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DATABASE')
\gexec
EOF
}

start() {
  local pid keystore
  [[ -x "$PGBIN/postgres" ]] || die "PostgreSQL 15 is not installed (scripts/setup.sh)"
  id postgres >/dev/null 2>&1 || die "there is no OS user postgres (install postgresql-15)"
  ((${#SOCKET_DIR} < 90)) || die "socket path too long for a unix socket: $SOCKET_DIR (set IAM_TEST_WORK shorter)"
  standin_build
  standin_certs
  prepare_instance
  keystore="$(share_keystore)"
  if pid="$(running_pid)"; then
    write_pam_services "$keystore"
    say "postgres stand-in already running (pid $pid, port $PORT)"
    return 0
  fi
  standin_port_free "$PORT" IAM_STANDIN_PG_PORT
  write_pam_services "$keystore"
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    say "initialising PostgreSQL cluster $DATA"
    rm -rf "$DATA"
    install -d -o postgres -m 700 "$DATA"
    as_postgres "$PGBIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=peer --auth-host=reject >"$INSTANCE/log/initdb.log" 2>&1 ||
      die "initdb failed; see $INSTANCE/log/initdb.log"
    echo "include 'standin.conf'" >>"$DATA/postgresql.conf"
  fi
  write_config
  as_postgres "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start >/dev/null ||
    { tail -n 20 "$LOG" >&2; die "PostgreSQL did not start; see $LOG"; }
  setup_sql | admin >/dev/null || { stop; die "setting up roles failed"; }
  say "postgres stand-in running (pid $(running_pid || echo '?'), port $PORT, PAM services $SERVICE, $DSQL_SERVICE)"
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    as_postgres "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || standin_kill "$pid" 30
    if kill -0 "$pid" 2>/dev/null; then standin_kill "$pid" 30; fi
    say "postgres stand-in stopped (port $PORT)"
  fi
  standin_pam_remove "$SERVICE"
  standin_pam_remove "$DSQL_SERVICE"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    echo "running (pid $pid, port $PORT, socket dir $SOCKET_DIR)"
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
