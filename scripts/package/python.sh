#!/usr/bin/env bash
# artifact: the Python wheel (import iam_db_auth; the library inside, glibc 2.28+) in dist/python/
#
# Usage: scripts/package.sh python [--lib PATH]
#   --lib PATH   the libiam_db_auth.so to put in the wheel (default: dist/native/'s x86_64 build
#                from `scripts/package.sh native` when there is one, else a build made here with
#                cargo-zigbuild for glibc 2.28)
# The wheel is py3-none-manylinux_2_28_x86_64: any Python 3.9+, no compiler to install it. The
# library's highest GLIBC_ symbol version is checked against that tag before the build.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

TARGET=x86_64-unknown-linux-gnu
GLIBC_FLOOR=2.28
PLATFORM="manylinux_${GLIBC_FLOOR/./_}_x86_64"
OUT="$ROOT/dist/python"

lib=""
while (($#)); do
  case "$1" in
    --lib) lib="${2:?--lib needs a path}"; shift 2 ;;
    *) die "unknown argument '$1' (scripts/package.sh python [--lib PATH])" ;;
  esac
done

if [[ -z "$lib" && -f "dist/native/$TARGET/libiam_db_auth.so" ]]; then
  lib="dist/native/$TARGET/libiam_db_auth.so"
fi
if [[ -z "$lib" ]]; then
  command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild is missing (cargo install cargo-zigbuild@0.24.1 --locked), or pass --lib"
  # zig comes from PyPI (ziglang, in the project's venv); cargo-zigbuild runs `python3 -m ziglang`.
  say "building libiam_db_auth.so for $TARGET with glibc $GLIBC_FLOOR (cargo zigbuild)"
  PATH="$VENV/bin:$PATH" timeout 3600 cargo zigbuild --release --quiet -p iam-db-auth --lib --target "$TARGET.$GLIBC_FLOOR"
  lib="target/$TARGET/release/libiam_db_auth.so"
fi
[[ -f "$lib" ]] || die "no library at $lib"

# The newest glibc symbol version the library needs must not be newer than the wheel's tag.
needed="$(objdump -T "$lib" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)"
[[ -n "$needed" ]] || die "$lib: no GLIBC_ symbol versions (not a glibc build?)"
if [[ "$(printf '%s\n%s\n' "$needed" "$GLIBC_FLOOR" | sort -V | tail -1)" != "$GLIBC_FLOOR" ]]; then
  die "$lib needs GLIBC_$needed, newer than the wheel's $PLATFORM (build it with cargo zigbuild --target $TARGET.$GLIBC_FLOOR)"
fi
say "library $lib: highest GLIBC_ version needed $needed (floor $GLIBC_FLOOR)"

mkdir -p "$OUT"
stage="$(mktemp -d "$OUT/.stage.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
cp -r bindings/python/pyproject.toml bindings/python/setup.py bindings/python/README.md bindings/python/src "$stage/"
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
install -m 755 "$lib" "$stage/src/iam_db_auth/libiam_db_auth.so"

rm -f "$OUT"/iam_db_auth-*.whl
PYTHON="$VENV/bin/python"; [[ -x "$PYTHON" ]] || PYTHON=python3
IAM_DB_AUTH_WHEEL_PLATFORM="$PLATFORM" timeout 600 "$PYTHON" -m pip wheel --quiet --no-deps --disable-pip-version-check \
  -w "$OUT" "$stage"
wheel="$(ls "$OUT"/iam_db_auth-*-py3-none-"$PLATFORM".whl)"
say "built $wheel ($(du -k "$wheel" | cut -f1) KiB)"
