#!/usr/bin/env bash
# tier: fast deep
# The Go module (bindings/go) as a user gets it: scripts/package.sh go's tarball unpacked into a
# GOPATH, built offline (GO111MODULE=off, GOPROXY=off) against Debian's packaged pgx v4 and
# go-sql-driver/mysql sources, linked to the library with cgo.
#   fast: the unit tests: tokens, typed failures from goroutines, context, the CA lookup, and a
#         fake server with a self-signed certificate that gets no token from either driver helper
#         (with a control: the same fake captures a token sent over unverified TLS).
#   deep: pgxpool and database/sql pools logging in to the stand-ins over verified TLS, and
#         opening a connection after their first token expired (the clocks of the test process
#         and of the stand-ins' verifier moved 16 minutes by libfaketime; the first token is
#         refused then, the pool logs in with a fresh one).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
tier="${IAM_TEST_TIER:-all}"
for dir in /usr/share/gocode/src/github.com/jackc/pgx/v4 /usr/share/gocode/src/github.com/go-sql-driver/mysql; do
  [[ -d "$dir" ]] || die "$dir is missing (scripts/setup.sh installs golang-github-jackc-pgx-v4-dev and golang-github-go-sql-driver-mysql-dev)"
done
# The library a user links: scripts/package.sh native's (glibc 2.28) when built, else the
# release build's.
libdir="$ROOT/dist/native/x86_64-unknown-linux-gnu/lib"
if [[ ! -f "$libdir/libiam_db_auth.so" ]]; then
  [[ -f "$LIB" ]] || cargo build --release --quiet
  soname_link
  libdir="$ROOT/target/release"
fi
say "linking $libdir/libiam_db_auth.so"
out="$WORK/package-go"; rm -rf "$out"; mkdir -p "$out/gopath/src"
tarball="$(bash scripts/package.sh go | tail -n 1)"
tar -C "$out/gopath/src" -xzf "$tarball"
module="$(sed -n 's/^module //p' bindings/go/go.mod)"
export GO111MODULE=off GOPROXY=off GOFLAGS= GOPATH="$out/gopath:/usr/share/gocode" GOCACHE="$WORK/go-cache"
export CGO_LDFLAGS="-L$libdir -Wl,-rpath,$libdir"
cd "$out/gopath/src/$module"
passed=0

if [[ "$tier" != deep ]]; then
  say "go vet, go test (GOPATH mode, $(go version | cut -d' ' -f3))"
  [[ -z "$(gofmt -l .)" ]] || die "not gofmt-formatted: $(gofmt -l . | tr '\n' ' ')"
  timeout 300 go vet ./... || die "go vet failed"
  timeout 300 go vet -tags standin ./... || die "go vet (standin tests) failed"
  isolated_aws_env timeout 300 go test -count=1 -v ./... >"$out/go-test.log" 2>&1 ||
    { cat "$out/go-test.log"; die "go test failed"; }
  grep -E '^(--- |ok |FAIL)' "$out/go-test.log"
  passed=$((passed + $(grep -c '^--- PASS' "$out/go-test.log")))
fi

if [[ "$tier" != fast ]]; then
  clock="$out/faketime"; echo "+0" >"$clock"; chmod 644 "$clock"
  export IAM_STANDIN_FAKETIME_FILE="$clock"
  export IAM_STANDIN_MARIADB_PORT="${IAM_STANDIN_MARIADB_PORT:-13440}" IAM_STANDIN_PG_PORT="${IAM_STANDIN_PG_PORT:-15440}"
  stop_standins() {
    bash "$ROOT/scripts/standin/mariadb.sh" stop || true
    bash "$ROOT/scripts/standin/postgres.sh" stop || true
  }
  trap stop_standins EXIT
  timeout 300 bash "$ROOT/scripts/standin/mariadb.sh" start
  timeout 300 bash "$ROOT/scripts/standin/postgres.sh" start
  eval "$(bash "$ROOT/scripts/standin/mariadb.sh" env)"
  eval "$(bash "$ROOT/scripts/standin/postgres.sh" env)"
  faketime_lib="$(dpkg -L libfaketime | grep -m1 '/libfaketime\.so\.1$')"
  for pkg in iampgx iammysql; do
    say "go: $pkg against the stand-in, a pool across an expired token"
    timeout 300 go test -c -tags standin -o "$out/$pkg.test" "./$pkg"
    case "$pkg" in iampgx) ca="$IAM_STANDIN_PG_CA" ;; *) ca="$IAM_STANDIN_MARIADB_CA" ;; esac
    # The test binary runs under libfaketime (the library's clock: signing time, token cache);
    # the stand-in's verifier reads the same file.
    (cd "$out" && isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" \
      IAM_DB_AUTH_CA_FILE="$ca" IAM_TEST_FAKETIME_FILE="$clock" \
      LD_PRELOAD="$faketime_lib" FAKETIME_TIMESTAMP_FILE="$clock" FAKETIME_NO_CACHE=1 \
      timeout 120 "$out/$pkg.test" -test.run Standin -test.v -test.count=1) >"$out/$pkg-standin.log" 2>&1 ||
      { cat "$out/$pkg-standin.log"; die "$pkg against the stand-in failed"; }
    grep -E '^(--- |ok |PASS|FAIL)' "$out/$pkg-standin.log"
    passed=$((passed + $(grep -c '^--- PASS' "$out/$pkg-standin.log")))
  done
fi
echo "$passed passed, 0 failed"
