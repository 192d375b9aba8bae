#!/usr/bin/env bash
# A C compiler for cross targets without a system toolchain (macOS): zig's clang with the
# target's libc headers, from PyPI's ziglang in the project's venv. Usage (by cc-rs):
#   CC_aarch64_apple_darwin=scripts/platforms/zig-cc.sh ZIG_TARGET=aarch64-macos
# cc-rs passes its own target (`--target=arm64-apple-macosx`), Apple's `-arch NAME` and
# `-mmacosx-version-min`, and the SDK's `-isysroot`, which zig does not take: the target comes
# from ZIG_TARGET instead, and zig brings its own headers.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
args=()
while (($#)); do
  case "$1" in
    -arch|-isysroot) shift 2; continue ;;
    -mmacosx-version-min=*|-mmacos-version-min=*|--target=*|-target=*) shift; continue ;;
    -target) shift 2; continue ;;
  esac
  args+=("$1"); shift
done
exec "$root/.venv/bin/python" -m ziglang cc -target "${ZIG_TARGET:?set ZIG_TARGET, e.g. aarch64-macos}" "${args[@]}"
