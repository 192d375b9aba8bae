#!/usr/bin/env bash
# The C ABI: tests built against the committed header with -Wall -Wextra -Wpedantic -Werror,
# run directly (their tokens checked by the verifier) and under valgrind (no errors, no leaks).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
[[ -f "$LIB" ]] || cargo build --release --quiet

out="$WORK/c-tests"; mkdir -p "$out"
CFLAGS=(-std=c11 -O1 -g -Wall -Wextra -Wpedantic -Werror -I"$ROOT/include")
cc "${CFLAGS[@]}" c-tests/test_api.c -o "$out/test_api" -L"$ROOT/target/release" -liam_db_auth \
  -Wl,-rpath,"$ROOT/target/release" -lpthread
cc "${CFLAGS[@]}" c-tests/test_dlopen.c -o "$out/test_dlopen" -ldl

run_c() {
  isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" "$@"
}

run_c "$out/test_api" "$out/tokens.txt"
write_keystore "$out/keystore"
n=0
while IFS= read -r token; do
  endpoint="${token%%/?*}"
  user="$(sed -E 's/.*[?&]DBUser=([^&]*).*/\1/' <<<"$token")"
  region="$(sed -E 's/.*X-Amz-Credential=[^%]*%2F[0-9]{8}%2F([a-z0-9-]+)%2F.*/\1/' <<<"$token")"
  printf '%s' "$token" | "$BIN" verify --keystore "$out/keystore" --endpoint "$endpoint" \
    --region "$region" --user "$user" || die "the verifier refused a token from the C test"
  n=$((n + 1))
done <"$out/tokens.txt"
((n >= 3)) || die "expected at least 3 tokens from the C test, got $n"
say "verifier accepted $n tokens made through the C ABI"

run_c "$out/test_dlopen" "$LIB"

VALGRIND=(valgrind --quiet --error-exitcode=99 --leak-check=full
  --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible)
say "valgrind: test_api"
run_c "${VALGRIND[@]}" "$out/test_api" "$out/tokens-valgrind.txt" >"$out/valgrind-api.log" 2>&1 \
  || { cat "$out/valgrind-api.log"; die "valgrind found errors or leaks in test_api"; }
tail -n 1 "$out/valgrind-api.log"
say "valgrind: test_dlopen"
run_c "${VALGRIND[@]}" "$out/test_dlopen" "$LIB" >"$out/valgrind-dlopen.log" 2>&1 \
  || { cat "$out/valgrind-dlopen.log"; die "valgrind found errors or leaks in test_dlopen"; }
tail -n 1 "$out/valgrind-dlopen.log"
