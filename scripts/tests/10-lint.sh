#!/usr/bin/env bash
# tier: fast
# Formatting and lints: cargo fmt --check and clippy with warnings as errors on every target.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
cargo fmt --all -- --check
cargo clippy --locked --workspace --all-targets --quiet -- -D warnings
