#!/usr/bin/env bash
# tier: deep
# The declared MSRV (workspace rust-version) builds every target with the locked dependencies,
# and the API documentation builds without a warning.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
msrv="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
[[ -n "$msrv" ]] || die "no rust-version in Cargo.toml"
rustup toolchain list | grep -q "^$msrv-" || die "toolchain $msrv is not installed (scripts/setup.sh --deep installs it)"
say "cargo +$msrv check --locked --workspace --all-targets"
cargo "+$msrv" check --quiet --locked --workspace --all-targets --target-dir "$ROOT/target/msrv"
say "cargo doc --no-deps --workspace, warnings as errors"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps --workspace --locked
