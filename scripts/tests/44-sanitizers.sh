#!/usr/bin/env bash
# tier: deep
# Stage 44: the C tests once more under AddressSanitizer + UndefinedBehaviorSanitizer.
#
# - The C programs are built with clang -fsanitize=address,undefined -fno-sanitize-recover
#   (every UB report is fatal), -Wall -Wextra -Wpedantic -Werror.
# - The library they load is ASan-instrumented too: our crate and every dependency are built
#   with -Zsanitizer=address (stable toolchain, RUSTC_BOOTSTRAP=1; a debug build in
#   target/asan). Rust's std is not rebuilt (that needs -Zbuild-std), so its own code is not
#   instrumented, but every allocation goes through ASan's malloc. The .so leaves the __asan_*
#   symbols to the program's runtime (clang's, linked statically and exported).
# - A negative control (c-tests/asan_canary.c) proves the instrumentation: it lies about its
#   options struct's size and must be stopped with a heap-buffer-overflow inside ffi::options::read.
# - LeakSanitizer runs at every exit (detect_leaks=1): no leaks.
# - The MySQL plugin (the same instrumented library, as mysql_clear_password.so) is loaded by
#   libmariadb in an ASan program, logs in to the MariaDB stand-in three times with Connector/C's
#   deinit + dlclose + reload between logins, and is refused once (no credentials): the pytest
#   module tests/e2e/test_mysql_plugin_asan.py, given the library in IAM_DB_AUTH_ASAN_LIB.
# Prints one line per check and "N passed, N failed".
set -uo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
[[ -x "$BIN" ]] || cargo build --release --quiet || die "release build failed"
command -v clang >/dev/null || die "clang is not installed (scripts/setup.sh installs it)"

out="$WORK/sanitizers"; rm -rf "$out"; mkdir -p "$out"
passed=0; failed=0
pass() { passed=$((passed + 1)); printf '  ok    %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$1"; [[ -n "${2:-}" ]] && printf '%s\n' "$2" | tail -n 40 | sed 's/^/        /'; }

say "building the library with -Zsanitizer=address (target/asan)"
start=$(date +%s)
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=address -Cforce-frame-pointers=yes" \
  cargo build --quiet -p iam-db-auth --lib --target x86_64-unknown-linux-gnu --target-dir "$ROOT/target/asan" ||
  die "the ASan build of the library failed"
ASAN_DIR="$ROOT/target/asan/x86_64-unknown-linux-gnu/debug"
ASAN_LIB="$ASAN_DIR/libiam_db_auth.so"
soname_link "$ASAN_DIR"
say "ASan library built in $(( $(date +%s) - start )) s"
if (( $(nm -D "$ASAN_LIB" | grep -c ' U __asan_report_load') > 0 )); then
  pass "the library is instrumented (it calls __asan_report_* from the program's runtime)"
else
  fail "the library is instrumented" "no __asan_report_* references in $ASAN_LIB"
fi

SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
CFLAGS=(-std=c11 -O1 -g -Wall -Wextra -Wpedantic -Werror -I"$ROOT/include")
LINK=(-L"$ASAN_DIR" -liam_db_auth -Wl,-rpath,"$ASAN_DIR" -lpthread)
build() { # output source [extra flags...]
  local dst="$1" src="$2"; shift 2
  clang "${CFLAGS[@]}" "${SAN[@]}" "$src" -o "$dst" "$@" 2>"$dst.cc.log" ||
    { fail "build $(basename "$src")" "$(cat "$dst.cc.log")"; return 1; }
}
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
with_keys() {
  isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" "$@"
}

# --- the C API test suite and dlopen/dlclose ------------------------------------------------------
if build "$out/test_api" c-tests/test_api.c "${LINK[@]}"; then
  log="$out/test_api.log"
  if with_keys "$out/test_api" "$out/tokens.txt" >"$log" 2>&1 && tail -n 1 "$log" | grep -q ", 0 failed"; then
    pass "test_api under ASan+UBSan+LSan: $(tail -n 1 "$log")"
  else
    fail "test_api under ASan+UBSan+LSan" "$(cat "$log")"
  fi
  write_keystore "$out/keystore"
  n=0; bad=0
  while IFS= read -r token; do
    endpoint="${token%%/?*}"
    user="$(sed -E 's/.*[?&]DBUser=([^&]*).*/\1/' <<<"$token")"
    region="$(sed -E 's/.*X-Amz-Credential=[^%]*%2F[0-9]{8}%2F([a-z0-9-]+)%2F.*/\1/' <<<"$token")"
    printf '%s' "$token" | "$BIN" verify --keystore "$out/keystore" --endpoint "$endpoint" \
      --region "$region" --user "$user" 2>>"$out/verify.log" || bad=$((bad + 1))
    n=$((n + 1))
  done <"$out/tokens.txt"
  if ((n >= 3 && bad == 0)); then
    pass "the verifier accepts the $n tokens the instrumented library made"
  else
    fail "the verifier accepts the instrumented library's tokens ($bad of $n refused)" "$(cat "$out/verify.log")"
  fi
fi
if build "$out/test_dlopen" c-tests/test_dlopen.c -ldl; then
  if with_keys "$out/test_dlopen" "$ASAN_LIB" >"$out/dlopen.log" 2>&1; then
    pass "test_dlopen under ASan+UBSan+LSan: $(tail -n 1 "$out/dlopen.log")"
  else
    fail "test_dlopen under ASan+UBSan+LSan" "$(cat "$out/dlopen.log")"
  fi
fi

if build "$out/test_bad_input" c-tests/test_bad_input.c "${LINK[@]}"; then
  if with_keys "$out/test_bad_input" >"$out/bad-input.log" 2>&1 && tail -n 1 "$out/bad-input.log" | grep -q ", 0 failed"; then
    pass "test_bad_input under ASan+UBSan+LSan: $(tail -n 1 "$out/bad-input.log")"
  else
    fail "test_bad_input under ASan+UBSan+LSan" "$(cat "$out/bad-input.log")"
  fi
fi

# The fork and thread tests of stage 45: a fork while threads are inside the library; 8 threads
# mixing cache hits and misses.
if build "$out/threads" c-tests/threads.c -std=gnu11 "${LINK[@]}"; then
  if with_keys "$out/threads" "$DEMO_ACCESS_KEY_ID" "$out/threads.sample" 8 500 >"$out/threads.log" 2>&1; then
    pass "threads under ASan+UBSan+LSan: $(tail -n 1 "$out/threads.log" | cut -d: -f2- | cut -c1-60)"
  else
    fail "threads under ASan+UBSan+LSan" "$(cat "$out/threads.log")"
  fi
fi
if build "$out/fork" c-tests/fork.c -std=gnu11 "${LINK[@]}"; then
  if with_keys "$out/fork" "$DEMO_ACCESS_KEY_ID" "$out" 10 >"$out/fork.log" 2>&1; then
    pass "fork under ASan+UBSan+LSan: $(tail -n 1 "$out/fork.log")"
  else
    fail "fork under ASan+UBSan+LSan" "$(cat "$out/fork.log")"
  fi
fi

# --- negative control -------------------------------------------------------------------------
if build "$out/asan_canary" c-tests/asan_canary.c "${LINK[@]}"; then
  with_keys "$out/asan_canary" >"$out/canary.log" 2>&1; rc=$?
  if ((rc != 0)) && grep -q "heap-buffer-overflow" "$out/canary.log" &&
    grep -q "iam_db_auth::ffi::options::read" "$out/canary.log"; then
    pass "negative control: an overread inside the library is caught, in ffi::options::read"
  else
    fail "negative control: expected a heap-buffer-overflow in ffi::options::read (exit $rc)" "$(cat "$out/canary.log")"
  fi
fi

# --- the MySQL plugin, loaded and unloaded by libmariadb -------------------------------------------
# tests/e2e/test_mysql_plugin_asan.py, against the instrumented library built above.
if [[ -x "$VENV/bin/python" ]]; then
  log="$out/mysql-plugin.log"
  if isolated_aws_env IAM_STANDIN_MARIADB_PORT="${IAM_STANDIN_SANITIZER_PORT:-13308}" IAM_DB_AUTH_ASAN_LIB="$ASAN_LIB" \
    "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider --basetemp="$out/pytest" \
    tests/e2e/test_mysql_plugin_asan.py >"$log" 2>&1 && tail -n 1 "$log" | grep -Eq "^[0-9]+ passed in"; then
    pass "plugin: 3 logins with deinit + dlclose + reload, and a refused login: no ASan/UBSan/LSan report"
  else
    fail "plugin under ASan (tests/e2e/test_mysql_plugin_asan.py)" "$(cat "$log")"
  fi
else
  fail "no Python venv: run scripts/setup.sh"
fi

# --- the libpq LD_PRELOAD shim (pq-preload/), loaded into a libpq program ------------------------
# Under ASan: the shim and c-tests/pg_login.c built with the sanitizers, the instrumented library
# behind the shim. Under valgrind: the release shim and library in an uninstrumented pg_login.
# Both log in to the PostgreSQL stand-in with a token the shim adds (no passfile, no password).
if command -v pkg-config >/dev/null && pkg-config --exists libpq && [[ -x scripts/standin/postgres.sh ]]; then
  export IAM_STANDIN_PG_PORT="${IAM_STANDIN_SANITIZER_PG_PORT:-15449}"
  trap 'scripts/standin/postgres.sh stop >/dev/null 2>&1 || true' EXIT
  if scripts/standin/postgres.sh start >"$out/pg-standin.log" 2>&1; then
    eval "$(scripts/standin/postgres.sh env)"
    CONN="host=localhost port=$IAM_STANDIN_PG_PORT dbname=$IAM_STANDIN_PG_DATABASE user=$IAM_STANDIN_PG_USER sslmode=verify-full sslrootcert=$IAM_STANDIN_PG_CA"
    shimmed() { # shim program...
      local shim="$1"; shift
      isolated_aws_env AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" \
        AWS_REGION="$IAM_STANDIN_REGION" PGPASSFILE="$out/no-passfile" IAM_DB_AUTH_PQ_HOSTS=localhost \
        LD_PRELOAD="$shim" "$@"
    }
    # shellcheck disable=SC2046
    if clang -std=gnu11 -O1 -g -Wall -Wextra -Werror "${SAN[@]}" -fPIC -shared -fvisibility=hidden \
        $(pkg-config --cflags libpq) -I"$ROOT/include" pq-preload/iam_pq_preload.c -o "$out/libiam_db_auth_pq.so" \
        -L"$ASAN_DIR" -liam_db_auth -Wl,-rpath,"$ASAN_DIR" -ldl 2>"$out/shim.cc.log" &&
      clang -std=c11 -O1 -g -Wall -Wextra -Wpedantic -Werror "${SAN[@]}" $(pkg-config --cflags libpq) \
        c-tests/pg_login.c -o "$out/pg_login" $(pkg-config --libs libpq) 2>>"$out/shim.cc.log"; then
      out_login="$(shimmed "$out/libiam_db_auth_pq.so" "$out/pg_login" "$CONN" 2>&1)"
      if [[ "$out_login" == "$IAM_STANDIN_PG_USER ssl=t libpq="* ]]; then
        pass "pq shim: pg_login logs in with the shim's token, no ASan/UBSan/LSan report"
      else
        fail "pq shim: pg_login under ASan" "$out_login"
      fi
    else
      fail "build the pq shim and pg_login with sanitizers" "$(cat "$out/shim.cc.log")"
    fi
    if SHIM="$(scripts/build-pq-preload.sh 2>"$out/shim-release.log")" &&
      cc -std=c11 -O1 -g -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags libpq) c-tests/pg_login.c \
        -o "$out/pg_login_plain" $(pkg-config --libs libpq) 2>>"$out/shim-release.log"; then
      out_login="$(shimmed "$SHIM" valgrind --quiet --error-exitcode=99 --leak-check=full \
        --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
        "$out/pg_login_plain" "$CONN" 2>&1)"; rc=$?
      if ((rc == 0)) && [[ "$out_login" == "$IAM_STANDIN_PG_USER ssl=t libpq="* ]]; then
        pass "pq shim: pg_login logs in under valgrind, no errors, no leaks"
      else
        fail "pq shim: pg_login under valgrind (exit $rc)" "$out_login"
      fi
    else
      fail "build the release pq shim and pg_login" "$(cat "$out/shim-release.log")"
    fi
  else
    fail "the PostgreSQL stand-in did not start" "$(tail -n 20 "$out/pg-standin.log")"
  fi
else
  fail "libpq (pkg-config libpq) or the PostgreSQL stand-in is missing (scripts/setup.sh installs libpq-dev)"
fi

echo "$passed passed, $failed failed"
((failed == 0))
