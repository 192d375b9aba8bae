#!/usr/bin/env bash
# tier: fast
# Unit and integration tests (vectors, verifier, CLI, header drift): cargo test.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
isolated_aws_env cargo test --locked --workspace --quiet 2>&1
