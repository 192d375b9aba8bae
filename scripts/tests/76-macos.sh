#!/usr/bin/env bash
# tier: deep
# macOS (aarch64-apple-darwin): the engine, the C ABI and the CLI type-check (`cargo check`,
# with clippy's lints as errors). Nothing is linked or run: docs/platforms.md says what that
# leaves untested. ring's build script compiles C against macOS's headers, which zig brings
# (scripts/platforms/zig-cc.sh). Missing prerequisites are installed by setup-cross.sh.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

"$ROOT/scripts/platforms/setup-cross.sh"
export CC_aarch64_apple_darwin="$ROOT/scripts/platforms/zig-cc.sh" ZIG_TARGET=aarch64-macos
export AR_aarch64_apple_darwin="$ROOT/scripts/platforms/zig-ar.sh"
say "cargo clippy --target aarch64-apple-darwin (engine + C ABI, CLI)"
cargo clippy --quiet --locked --target aarch64-apple-darwin -p iam-db-auth -p iam-db-auth-cli \
  -- -D warnings || die "the macOS check failed"
say "aarch64-apple-darwin: the engine, the C ABI and the CLI type-check"
