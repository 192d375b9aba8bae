#!/usr/bin/env bash
# tier: fast
# Python (ctypes) and Go (cgo) programs link the library, get tokens the verifier accepts, and
# report the library's errors, taken from the call that failed (iam_token_create).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
[[ -f "$LIB" ]] || cargo build --release --quiet
soname_link
out="$WORK/python-go"; mkdir -p "$out"
write_keystore "$out/keystore"
HOST=mydb.c9akciq32.us-east-1.rds.amazonaws.com
with_keys() {
  isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" \
    IAM_DB_AUTH_LIB="$LIB" LD_LIBRARY_PATH="$ROOT/target/release" "$@"
}
check_token() { # program-name token user
  printf '%s' "$2" | "$BIN" verify --keystore "$out/keystore" --endpoint "$HOST:5432" \
    --region us-east-1 --user "$3" -v || die "$1: the verifier refused its token"
}
passed=0

say "python ctypes"
token="$(with_keys python3 examples/python/iam_token_ctypes.py "$HOST" 5432 py_user)"
check_token python "$token" py_user; passed=$((passed + 1))
if msg="$(with_keys python3 examples/python/iam_token_ctypes.py "db.internal" 5432 py_user 2>&1)"; then
  die "python: expected a failure without a region"
fi
grep -q "no AWS region" <<<"$msg" || die "python: unexpected error text: $msg"
passed=$((passed + 1))

say "go cgo ($(go version | cut -d' ' -f3))"
export GOFLAGS=-mod=mod GOCACHE="$WORK/go-cache" GOPATH="$WORK/go-path"
(cd examples/go && CGO_CFLAGS="-I$ROOT/include" CGO_LDFLAGS="-L$ROOT/target/release -Wl,-rpath,$ROOT/target/release" \
  go build -o "$out/iam-token-go" .)
token="$(with_keys "$out/iam-token-go" "$HOST" 5432 go_user)"
check_token go "$token" go_user; passed=$((passed + 1))
if msg="$(with_keys "$out/iam-token-go" "https://$HOST" 5432 go_user 2>&1)"; then
  die "go: expected a failure for a host with a scheme"
fi
grep -q "URL scheme" <<<"$msg" || die "go: unexpected error text: $msg"
passed=$((passed + 1))

# Errors that survive goroutines: 1,000 goroutines on GOMAXPROCS=4, half failing with distinct
# inputs, each failure's message its own (examples/go/token_test.go). The negative control
# builds the same test over the two-call shape (token_twocall.go: the error read from the
# thread-local last error by a second cgo call), which must fail it: the test can see the bug.
go_test() {
  (cd examples/go && CGO_CFLAGS="-I$ROOT/include" CGO_LDFLAGS="-L$ROOT/target/release -Wl,-rpath,$ROOT/target/release" \
    isolated_aws_env timeout 300 go test -count=1 "$@" .)
}
say "go: errors belong to their call (1,000 goroutines, GOMAXPROCS=4)"
go_test -run TestErrorsBelongToTheirCall -v >"$out/go-test.log" 2>&1 || { cat "$out/go-test.log"; die "go test failed"; }
grep -E '^(--- |ok )' "$out/go-test.log"
passed=$((passed + 1))
say "go: the same test over the two-call shape must fail (negative control)"
if go_test -tags iam_twocall_canary -run TestErrorsBelongToTheirCall >"$out/go-canary.log" 2>&1; then
  cat "$out/go-canary.log"; die "the two-call shape passed the goroutine test: the test cannot see the bug"
fi
grep -a -q "calls got an answer that was not theirs" "$out/go-canary.log" ||
  { cat "$out/go-canary.log"; die "the two-call canary failed, but not the way the test checks"; }
echo "two-call shape: $(grep -a -o '[0-9]* of [0-9]* calls got an answer that was not theirs' "$out/go-canary.log")"
passed=$((passed + 1))
echo "$passed passed, 0 failed"
