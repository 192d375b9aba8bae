#!/usr/bin/env bash
# tier: fast
# Unit and integration tests (vectors, verifier, CLI, header drift): cargo test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
isolated_aws_env cargo test --locked --workspace --quiet 2>&1
# The options struct grown for real: the library rebuilt with a field appended (test only).
isolated_aws_env cargo test --locked -p iam-db-auth --features abi-growth-test --test options_growth --quiet 2>&1
