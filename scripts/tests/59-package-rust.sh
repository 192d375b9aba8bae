#!/usr/bin/env bash
# tier: deep
# The Rust recipes (examples/rust, a workspace of its own so the fast tier never builds sqlx):
# builds them with the locked dependencies, then runs tests/e2e/test_package_rust.py against the
# stand-ins: sqlx pools on PostgreSQL and MariaDB over verified TLS, a pool that keeps logging in
# after its first token expired (libfaketime), a fake server that gets no token.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

[[ -x "$BIN" && -f "$LIB" ]] || cargo build --release --locked --quiet || die "release build failed"
examples_target="$ROOT/target/examples"
say "building the Rust recipes (examples/rust)"
(cd examples/rust && CARGO_TARGET_DIR="$examples_target" cargo build --locked --quiet --examples) ||
  die "examples/rust does not build"
isolated_aws_env IAM_RUST_EXAMPLES="$examples_target/debug/examples" \
  "$VENV/bin/python" -m pytest -q -rs -p no:cacheprovider --basetemp="$WORK/rust-pytest" \
  tests/e2e/test_package_rust.py
