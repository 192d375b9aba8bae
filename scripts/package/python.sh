#!/usr/bin/env bash
# artifact: the Python wheel (import iam_db_auth; the library inside, glibc 2.28 and newer): dist/python/
#
#   scripts/package.sh python [--lib PATH]
#     --lib PATH   the libiam_db_auth.so to put in the wheel (default: dist/native/'s x86_64
#                  library, built first with `scripts/package.sh native` when missing)
#
# The wheel is py3-none-manylinux_2_28_x86_64: pure Python (ctypes) around the bundled library,
# so one wheel serves every Python 3.9+ and installs without a compiler. The library's glibc
# floor is checked against the tag (scripts/package/check-glibc.sh) before the build; the build
# backend is setuptools (pinned in bindings/python/pyproject.toml), run by pip.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

TARGET=x86_64-unknown-linux-gnu
PLATFORM="manylinux_${GLIBC_FLOOR/./_}_x86_64"
OUT="$DIST/python"

lib=""
while (($#)); do
  case "$1" in
    --lib) (($# >= 2)) || die "--lib needs a path"; lib="$2"; shift 2 ;;
    *) die "usage: scripts/package.sh python [--lib PATH]" ;;
  esac
done
if [[ -z "$lib" ]]; then
  lib="$DIST/native/$TARGET/lib/libiam_db_auth.so"
  [[ -f "$lib" ]] || bash scripts/package/native.sh --target "$TARGET"
fi
[[ -f "$lib" ]] || die "no library at $lib"
scripts/package/check-glibc.sh "$lib" || die "$lib needs a glibc above the wheel's $PLATFORM"

pyproject_version="$(sed -n 's/^version = "\(.*\)"$/\1/p' bindings/python/pyproject.toml)"
[[ "$pyproject_version" == "$VERSION" ]] ||
  die "bindings/python/pyproject.toml has version $pyproject_version, the workspace $VERSION"

mkdir -p "$OUT"
stage="$(mktemp -d "$DIST/.python.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
cp -r bindings/python/pyproject.toml bindings/python/setup.py bindings/python/README.md bindings/python/src "$stage/"
find "$stage" -name __pycache__ -prune -exec rm -rf {} +
install -m 0755 "$lib" "$stage/src/iam_db_auth/libiam_db_auth.so"

rm -f "$OUT"/iam_db_auth-*.whl
PYTHON="$VENV/bin/python"; [[ -x "$PYTHON" ]] || PYTHON=python3
IAM_DB_AUTH_WHEEL_PLATFORM="$PLATFORM" timeout 600 "$PYTHON" -m pip wheel --quiet --no-deps \
  --disable-pip-version-check -w "$OUT" "$stage" || die "building the wheel failed"
wheel="$OUT/iam_db_auth-$VERSION-py3-none-$PLATFORM.whl"
[[ -f "$wheel" ]] || die "pip built no $wheel"
say "python: $wheel ($(du -k "$wheel" | cut -f1) KiB)"
