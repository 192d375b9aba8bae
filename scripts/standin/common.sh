# Shared by mariadb.sh and postgres.sh (source it): the names the stand-ins answer to, the
# PAM module build, the TLS certificates, the keystore and the PAM service files.
#
# Layout under $WORK/standin/:
#   lib/pam_iam_db_auth.so   the PAM module, built from pam_iam_db_auth.c when the source changes
#   bin/iam-db-auth          a copy of the release verifier (a rebuild never breaks a running login)
#   tls/ca.pem, ca.key       a private CA; tls/server.pem, server.key signed by it
#   mariadb-<port>/, postgres-<port>/   one instance each (data, socket, pid, log)
# The keystore is $WORK/keystore (created with the demo key when missing; tests append keys).

source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

STANDIN_DIR="$WORK/standin"
STANDIN_SRC="$ROOT/scripts/standin"
STANDIN_KEYSTORE="$WORK/keystore"
STANDIN_REGION="us-east-1"
# Names a client may sign for (with a signing-host override) while it connects to 127.0.0.1.
STANDIN_RDS_HOST="mydb.c9akciq32.us-east-1.rds.amazonaws.com"
STANDIN_DSQL_HOST="abcdefghijklmnopqrst.dsql.us-east-1.on.aws"
STANDIN_TLS="$STANDIN_DIR/tls"
STANDIN_CA="$STANDIN_TLS/ca.pem"
STANDIN_PAM_MODULE="$STANDIN_DIR/lib/pam_iam_db_auth.so"
STANDIN_VERIFIER="$STANDIN_DIR/bin/iam-db-auth"

# A port from the environment, checked: it ends up in file names and PAM service names.
standin_port() {
  local value="$1" name="$2"
  [[ "$value" =~ ^[0-9]+$ ]] && ((value >= 1024 && value <= 65535)) ||
    die "$name must be a port number from 1024 to 65535, not '$value'"
  printf '%s' "$value"
}

# Copies $1 to $2 (mode $3, default 755) atomically: a verifier may be running from the old copy.
standin_install() {
  local src="$1" dst="$2" mode="${3:-755}"
  if [[ -f "$dst" ]] && cmp -s "$src" "$dst"; then return 0; fi
  mkdir -p "$(dirname "$dst")"
  install -m "$mode" "$src" "$dst.tmp.$$"
  mv -f "$dst.tmp.$$" "$dst"
}

# Builds the PAM module and copies the verifier into $STANDIN_DIR.
standin_build() {
  mkdir -p "$STANDIN_DIR/lib" "$STANDIN_DIR/bin"
  chmod 755 "$STANDIN_DIR" "$STANDIN_DIR/lib" "$STANDIN_DIR/bin"
  if [[ ! -f "$STANDIN_PAM_MODULE" || "$STANDIN_SRC/pam_iam_db_auth.c" -nt "$STANDIN_PAM_MODULE" ]]; then
    [[ -f /usr/include/security/pam_modules.h ]] || die "libpam0g-dev is missing (scripts/setup.sh installs it)"
    cc -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared \
      -o "$STANDIN_PAM_MODULE.tmp.$$" "$STANDIN_SRC/pam_iam_db_auth.c" -lpam ||
      die "building the PAM module failed"
    chmod 755 "$STANDIN_PAM_MODULE.tmp.$$"
    mv -f "$STANDIN_PAM_MODULE.tmp.$$" "$STANDIN_PAM_MODULE"
  fi
  if [[ ! -x "$BIN" ]]; then
    say "building the release binary (verifier)"
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed"
  fi
  standin_install "$BIN" "$STANDIN_VERIFIER"
}

# A CA and one server certificate for both servers (SANs: loopback and the RDS/DSQL-like names).
standin_certs() {
  local sans="DNS:localhost,IP:127.0.0.1,IP:::1,DNS:$STANDIN_RDS_HOST,DNS:$STANDIN_DSQL_HOST"
  if [[ -f "$STANDIN_TLS/server.pem" && "$(cat "$STANDIN_TLS/sans" 2>/dev/null)" == "$sans" ]] &&
    openssl x509 -checkend 86400 -noout -in "$STANDIN_TLS/server.pem" >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$STANDIN_TLS"
  chmod 755 "$STANDIN_TLS"
  (
    cd "$STANDIN_TLS"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -keyout ca.key -out ca.pem \
      -subj "/CN=iam-db-auth local stand-in CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' \
      "$sans" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
      -extfile server.ext -out server.pem
    rm -f server.csr server.ext ca.srl
    chmod 644 ca.pem server.pem
    printf '%s' "$sans" >sans
  ) >/dev/null 2>&1 || die "generating the TLS certificates failed"
}

standin_keystore() {
  [[ -f "$STANDIN_KEYSTORE" || -L "$STANDIN_KEYSTORE" ]] || write_keystore "$STANDIN_KEYSTORE"
}

# Writes /etc/pam.d/$1 (PAM only looks there): our module for auth, pam_permit for account
# (both servers call pam_acct_mgmt). The rest of the arguments are the verifier's command line.
#
# IAM_STANDIN_FAKETIME_FILE=FILE runs the verifier under libfaketime reading its offset from FILE
# on every call (e.g. `+16m`): tests that a pool keeps logging in after its first token expired
# move the clocks of the verifier and of the client by the same file, without restarting either.
# The verifier runs as the server's user: FILE must be readable by it (libfaketime silently
# ignores a file it cannot read, e.g. one under pytest's root-only tmp_path).
standin_pam_service() {
  local service="$1"; shift
  local file="/etc/pam.d/$service"
  local line=("$1") arg prefixed=0; shift
  for arg in "$@"; do
    if ((!prefixed)) && [[ "$arg" == /* && -n "${IAM_STANDIN_FAKETIME_FILE:-}" ]]; then
      line+=(/usr/bin/env "LD_PRELOAD=$(standin_libfaketime)" "FAKETIME_TIMESTAMP_FILE=$IAM_STANDIN_FAKETIME_FILE"
        FAKETIME_NO_CACHE=1)
      prefixed=1
    fi
    [[ "$arg" == /* ]] && prefixed=1
    line+=("$arg")
  done
  {
    echo "# Written by iam-db-auth scripts/standin; removed by its stop."
    echo "# owner: $WORK"
    echo "auth required ${line[*]}"
    echo "account required pam_permit.so"
  } >"$file.tmp.$$"
  chmod 644 "$file.tmp.$$"
  mv -f "$file.tmp.$$" "$file"
}

# libfaketime's library (Debian's libfaketime package, installed by scripts/setup.sh).
standin_libfaketime() {
  local lib
  lib="$(dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketime\.so\.1$')" ||
    die "IAM_STANDIN_FAKETIME_FILE is set but libfaketime is not installed (apt-get install libfaketime)"
  printf '%s\n' "$lib"
}

# Removes /etc/pam.d/$1 if this $WORK wrote it (another checkout's instance may own the port).
standin_pam_remove() {
  local file="/etc/pam.d/$1"
  if [[ -f "$file" ]] && grep -qxF "# owner: $WORK" "$file"; then rm -f "$file"; fi
}

# Fails if something (not ours: checked first) already listens on 127.0.0.1:$1.
standin_port_free() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
    die "port $1 is in use by another process (another stand-in? set ${2:-the port variable} to another port)"
  fi
}

# Whether the process $1 is alive and its command line contains $2 (a recycled pid is not ours).
standin_pid_is() {
  local pid="$1" needle="$2"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$needle"
}

# Sends SIGTERM to pid $1 and waits up to $2 seconds for it to go, then SIGKILL.
standin_kill() {
  local pid="$1" wait="${2:-30}" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  say "pid $pid did not stop in ${wait}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
}
