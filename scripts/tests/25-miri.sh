#!/usr/bin/env bash
# tier: deep
# Stage 25: Miri, the interpreter that detects undefined behaviour (out-of-bounds and
# use-after-free accesses, invalid values, data races, leaks), over the unit tests of the pure
# modules: endpoint and region rules, timestamps, the signer, the verifier, requests, kinds,
# errors, secret buffers, settings, caches and the engine's token_with. The modules that call
# the OS or C (ffi, credentials, runtime, fork, the MySQL plugin) are Miri's blind spot (it
# cannot run foreign code): stages 40, 42 and 44 run them under valgrind and the sanitizers.
# Needs the machine's nightly toolchain with its miri component (scripts/setup.sh adds it).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
rustup toolchain list | grep -q '^nightly' || die "no nightly toolchain: Miri cannot run here"
cargo +nightly miri --version >/dev/null 2>&1 || die "the nightly toolchain has no miri component (scripts/setup.sh adds it)"
start=$(date +%s)
log="$WORK/miri.log"
MODULES=(endpoint timestamp sign request kind error secret config cache engine mysql::client_error)
# cargo-nextest (on the machine) runs one Miri process per test, on both cores; without it,
# cargo's own runner interprets the tests one after another.
if cargo nextest --version >/dev/null 2>&1; then
  # The engine's pure modules, and the whole verifier crate (it is pure).
  filter="(package(iam-db-auth) & test(/^($(IFS='|'; echo "${MODULES[*]}"))::/)) | package(iam-db-auth-verify)"
  isolated_aws_env cargo +nightly miri nextest run -p iam-db-auth -p iam-db-auth-verify --lib --no-fail-fast -E "$filter" >"$log" 2>&1 ||
    { grep -E "FAIL|panicked|Undefined Behavior" "$log" | head -n 40; tail -n 60 "$log"
      die "Miri found undefined behaviour or a failing test"; }
  grep -E "Summary" "$log"
  n="$(grep -oE '[0-9]+ tests run: [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')"
else
  isolated_aws_env cargo +nightly miri test --quiet -p iam-db-auth --lib -- "${MODULES[@]/%/::}" >"$log" 2>&1 ||
    { tail -n 60 "$log"; die "Miri found undefined behaviour or a failing test"; }
  grep -E "^test result" "$log"
  n="$(grep -oE '[0-9]+ passed' "$log" | grep -oE '[0-9]+')"
fi
((n >= 45)) || die "expected at least 45 tests under Miri, ran $n"
say "Miri: $n tests in $(( $(date +%s) - start )) s"
