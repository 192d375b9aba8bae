#!/usr/bin/env bash
# tier: fast
# Python (ctypes) and Go (cgo) programs link the library, get tokens the verifier accepts, and
# report the library's errors.
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
echo "$passed passed, 0 failed"
