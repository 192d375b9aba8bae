#!/usr/bin/env bash
# artifact: the C library (SONAME libiam_db_auth.so.1), the CLI and the header for glibc 2.28 and newer: dist/native/<target>/
#
#   scripts/package.sh native [--target T]...   (default: x86_64-unknown-linux-gnu; `--target all`:
#                                                x86_64- and aarch64-unknown-linux-gnu)
#
# Built with cargo-zigbuild for <target>.2.28 (scripts/package/common.sh), in target/zig. Each
# target's directory holds:
#   lib/libiam_db_auth.so                              the library (also the MariaDB client plugin)
#   lib/libiam_db_auth.so.1 -> libiam_db_auth.so       its SONAME, for programs linked against it
#   bin/iam-db-auth                                    the CLI
#   include/iam_db_auth.h                              the header
# The language packages are built from these files; every ELF file's glibc floor is checked
# (scripts/package/check-glibc.sh) before the directory is replaced.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

parse_targets native x86_64-unknown-linux-gnu -- "$@"

for target in "${targets[@]}"; do
  zig_build "$target"
  built="$ZIG_TARGET_DIR/$target/release"
  out="$DIST/native/$target"
  mkdir -p "$DIST"; stage="$(mktemp -d "$DIST/.native.XXXXXX")"; chmod 0755 "$stage"
  install -D -m 0755 "$built/libiam_db_auth.so" "$stage/lib/libiam_db_auth.so"
  soname_link "$stage/lib"
  install -D -m 0755 "$built/iam-db-auth" "$stage/bin/iam-db-auth"
  install -D -m 0644 include/iam_db_auth.h "$stage/include/iam_db_auth.h"
  scripts/package/check-glibc.sh "$stage/lib/libiam_db_auth.so" "$stage/bin/iam-db-auth" |
    sed "s|$stage/||" || { rm -rf "$stage"; die "$target: a binary needs a glibc above $GLIBC_FLOOR"; }
  rm -rf "$out"; mkdir -p "$(dirname "$out")"; mv "$stage" "$out"
  say "$target: $out ($(du -sh "$out" | cut -f1))"
done
