#!/usr/bin/env bash
# tier: fast
# The C ABI: tests built against the committed header with -Wall -Wextra -Wpedantic -Werror,
# run directly (their tokens checked by the verifier) and under valgrind (no errors, no leaks).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
[[ -f "$LIB" ]] || cargo build --release --quiet
soname_link

out="$WORK/c-tests"; mkdir -p "$out"
CFLAGS=(-std=c11 -O1 -g -Wall -Wextra -Wpedantic -Werror -I"$ROOT/include")
cc "${CFLAGS[@]}" c-tests/test_api.c -o "$out/test_api" -L"$ROOT/target/release" -liam_db_auth \
  -Wl,-rpath,"$ROOT/target/release" -lpthread
cc "${CFLAGS[@]}" c-tests/test_dlopen.c -o "$out/test_dlopen" -ldl
cc "${CFLAGS[@]}" c-tests/test_bad_input.c -o "$out/test_bad_input" -L"$ROOT/target/release" -liam_db_auth \
  -Wl,-rpath,"$ROOT/target/release" -lpthread

run_c() {
  isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" "$@"
}

write_keystore "$out/keystore"
verify_tokens() { # file minimum-count what
  local n=0 token endpoint user region
  while IFS= read -r token; do
    endpoint="${token%%/?*}"
    user="$(sed -E 's/.*[?&]DBUser=([^&]*).*/\1/' <<<"$token")"
    region="$(sed -E 's/.*X-Amz-Credential=[^%]*%2F[0-9]{8}%2F([a-z0-9-]+)%2F.*/\1/' <<<"$token")"
    printf '%s' "$token" | "$BIN" verify --keystore "$out/keystore" --endpoint "$endpoint" \
      --region "$region" --user "$user" || die "the verifier refused a token from $3"
    n=$((n + 1))
  done <"$1"
  ((n >= $2)) || die "expected at least $2 tokens from $3, got $n"
  say "verifier accepted $n tokens made by $3"
}
run_c "$out/test_api" "$out/tokens.txt"
verify_tokens "$out/tokens.txt" 3 test_api

# What the library exports: the functions its header declares and the MariaDB plugin's
# declaration, nothing else (no Rust symbol, no rust_eh_personality for a host to bind to).
exported="$(nm -D --defined-only "$LIB" | awk '{ print $NF }' | sed 's/@.*//' | sort -u)"
declared="$( { sed -nE 's/^[a-z][a-z0-9_ *]*[ *](iam_[a-z0-9_]+)\(.*/\1/p' include/iam_db_auth.h
  echo _mysql_client_plugin_declaration_; } | sort -u)"
if [[ "$exported" != "$declared" ]]; then
  diff <(echo "$declared") <(echo "$exported") | sed 's/^/  /' >&2 || true
  die "the library's dynamic symbols differ from the header's functions (< declared only, > exported only)"
fi
say "exports: $(wc -l <<<"$exported") symbols, each declared in the header (or the plugin declaration)"

soname="$(objdump -p "$LIB" | awk '$1 == "SONAME" { print $2 }')"
major="$(sed -nE 's/^#define IAM_DB_AUTH_VERSION_MAJOR ([0-9]+)$/\1/p' include/iam_db_auth.h)"
[[ -n "$major" && "$soname" == "libiam_db_auth.so.$major" ]] ||
  die "SONAME '$soname' is not libiam_db_auth.so.<major version of the header> ($major)"
say "SONAME: $soname"
# The header of the version being built is frozen as released (c-tests/abi/iam_db_auth-M.N.h):
# any change to it but the patch number needs a new minor version and a new frozen copy.
frozen="c-tests/abi/iam_db_auth-$major.$(sed -nE 's/^#define IAM_DB_AUTH_VERSION_MINOR ([0-9]+)$/\1/p' include/iam_db_auth.h).h"
without_patch() { grep -vE '^#define IAM_DB_AUTH_VERSION(_PATCH)? ' "$1"; }
[[ -f "$frozen" ]] && cmp -s <(without_patch include/iam_db_auth.h) <(without_patch "$frozen") ||
  die "include/iam_db_auth.h differs from $frozen (or it is missing): a released header never changes; bump the minor version and freeze the new header there"

# Old programs keep working: each frozen header of a released version (c-tests/abi/) with the
# program written against it, built against that header and run against this library.
for program in c-tests/abi/compat_*.c; do
  name="$(basename "$program" .c)"
  cc "${CFLAGS[@]}" -I"$ROOT/c-tests/abi" "$program" -o "$out/$name" -L"$ROOT/target/release" \
    -liam_db_auth -Wl,-rpath,"$ROOT/target/release" >"$out/$name.cc.log" 2>&1 ||
    { cat "$out/$name.cc.log"; die "$program does not build against its header"; }
  run_c "$out/$name" "$out/$name.tokens" >"$out/$name.log" || { cat "$out/$name.log"; die "$name failed"; }
  say "$name: $(tail -n 1 "$out/$name.log")"
  verify_tokens "$out/$name.tokens" 1 "$name"
done

run_c "$out/test_dlopen" "$LIB"
# The README's bad-input table, C rows.
run_c "$out/test_bad_input" >"$out/bad-input.log" || { cat "$out/bad-input.log"; die "test_bad_input failed"; }
tail -n 1 "$out/bad-input.log"

# Nothing the library does may end its host. Teardown: the library called from an atexit
# handler, a pthread-key destructor and a C++ static destructor, after the calling thread's
# thread-locals are gone, with credentials from the environment and from a credentials file
# (looked up on the library's runtime).
cc "${CFLAGS[@]}" c-tests/teardown.c -o "$out/teardown" -L"$ROOT/target/release" -liam_db_auth \
  -Wl,-rpath,"$ROOT/target/release" -lpthread
c++ -std=c++17 -O1 -g -Wall -Wextra -Wpedantic -Werror -I"$ROOT/include" c-tests/teardown_static.cpp \
  -o "$out/teardown_static" -L"$ROOT/target/release" -liam_db_auth -Wl,-rpath,"$ROOT/target/release"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$DEMO_ACCESS_KEY_ID" \
  "$DEMO_SECRET_ACCESS_KEY" >"$out/teardown-credentials"
# Runs a teardown test (the rest of the line) with credentials from the environment, then from
# a credentials file; `where` is the handler that must say "ok".
teardown_case() {
  local where="$1" status got; shift
  for creds in env file; do
    status=0
    if [[ $creds == env ]]; then
      got="$(run_c "$@" 2>&1)" || status=$?
    else
      got="$(isolated_aws_env AWS_SHARED_CREDENTIALS_FILE="$out/teardown-credentials" "$@" 2>&1)" || status=$?
    fi
    [[ $status == 0 && $got == *"$where: ok"* ]] ||
      die "$where (credentials from $creds): status $status; $(tail -n 5 <<<"$got")"
  done
}
teardown_case atexit "$out/teardown" atexit
teardown_case "pthread-key destructor" "$out/teardown" key
teardown_case "static destructor" "$out/teardown_static"
say "the library works from atexit handlers, pthread-key destructors and C++ static destructors"

# A log line into a broken stderr pipe with SIGPIPE at its default action.
cc "${CFLAGS[@]}" c-tests/sigpipe.c -o "$out/sigpipe" -L"$ROOT/target/release" -liam_db_auth \
  -Wl,-rpath,"$ROOT/target/release" -lpthread
status=0; run_c "$out/sigpipe" >"$out/sigpipe.log" 2>&1 || status=$?
((status == 0)) || { cat "$out/sigpipe.log"; die "sigpipe failed (status $status; 141 is SIGPIPE)"; }
tail -n 1 "$out/sigpipe.log"

# PQsetdbLogin through the libpq shim connects where libpq says: explicit host and port win
# over a connection string in dbName (recording servers on loopback; plain libpq is the control).
SHIM="$(scripts/build-pq-preload.sh)"
cc "${CFLAGS[@]}" $(pkg-config --cflags libpq) c-tests/pq_setdblogin.c -o "$out/pq_setdblogin" \
  $(pkg-config --libs libpq) -lpthread
run_c "$out/pq_setdblogin" plain >"$out/pq-setdblogin-plain.log" 2>&1 ||
  { cat "$out/pq-setdblogin-plain.log"; die "pq_setdblogin without the shim failed"; }
run_c AWS_REGION=us-east-1 LD_PRELOAD="$SHIM" "$out/pq_setdblogin" shim >"$out/pq-setdblogin-shim.log" 2>&1 ||
  { cat "$out/pq-setdblogin-shim.log"; die "pq_setdblogin through the shim failed"; }
say "PQsetdbLogin: $(tail -n 1 "$out/pq-setdblogin-plain.log") without the shim, $(tail -n 1 "$out/pq-setdblogin-shim.log") with it"

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
# Possibly-lost blocks are allowed here only: the rows that ask for a profile that does not
# exist leave aws-config's provider objects for that profile in the library's process-wide
# state (kept on purpose, never torn down), inside hash tables that valgrind sees only through
# interior pointers. LeakSanitizer (stage 44), which follows interior pointers, finds no leak.
say "valgrind: test_bad_input"
run_c valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect "$out/test_bad_input" >"$out/valgrind-bad-input.log" 2>&1 \
  || { cat "$out/valgrind-bad-input.log"; die "valgrind found errors or leaks in test_bad_input"; }
tail -n 1 "$out/valgrind-bad-input.log"

# Teardown under valgrind: the calls served on a thread of their own leave no leak and no
# destructor registered too late (environment credentials: the file source's provider state
# shows as possibly lost, as in test_bad_input).
for t in "teardown atexit" "teardown key" teardown_static; do
  say "valgrind: $t"
  read -r prog arg <<<"$t"
  run_c "${VALGRIND[@]}" "$out/$prog" ${arg:+"$arg"} >"$out/valgrind-teardown.log" 2>&1 \
    || { cat "$out/valgrind-teardown.log"; die "valgrind found errors or leaks in $t"; }
  tail -n 1 "$out/valgrind-teardown.log"
done

# The fork and thread tests of stage 45 (c-tests/fork.c, threads.c), small, under valgrind.
# fork: memory errors in parent and children, no leak check: a forked child holds memory only
# its parent's threads (gone in the child) referenced, which valgrind calls lost.
for t in fork threads; do
  cc -O1 -g -Wall -Wextra -Werror -pthread -I"$ROOT/include" "c-tests/$t.c" -L"$ROOT/target/release" \
    -liam_db_auth -Wl,-rpath,"$ROOT/target/release" -o "$out/$t"
done
say "valgrind: threads (4 x 200 calls)"
run_c "${VALGRIND[@]}" "$out/threads" "$DEMO_ACCESS_KEY_ID" "$out/threads.sample" 4 200 >"$out/valgrind-threads.log" 2>&1 \
  || { cat "$out/valgrind-threads.log"; die "valgrind found errors or leaks in threads"; }
tail -n 1 "$out/valgrind-threads.log"
say "valgrind: fork (3 children, busy threads)"
run_c valgrind --quiet --error-exitcode=99 --leak-check=no "$out/fork" "$DEMO_ACCESS_KEY_ID" "$out" 3 \
  >"$out/valgrind-fork.log" 2>&1 || { cat "$out/valgrind-fork.log"; die "valgrind found errors in fork"; }
tail -n 1 "$out/valgrind-fork.log"
