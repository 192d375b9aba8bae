#!/usr/bin/env bash
# artifact: the npm package (bindings/node: index.js, the N-API addon and libiam_db_auth.so.1 for linux-x64, glibc 2.28+), dist/node/iam-db-auth-VERSION.tgz
#
# The addon is napi-rs over the C ABI (bindings/node/src/lib.rs), built with cargo-zigbuild for
# glibc 2.28 (scripts/package/common.sh); it finds libiam_db_auth.so.1 beside itself ($ORIGIN).
# The library is scripts/package/native.sh's (dist/native/; built first when missing), or the
# one in IAM_DB_AUTH_LIB_DIR. Both binaries' glibc floor is checked (check-glibc.sh).
#
# --quick: the host toolchain and target/release's library instead (no zig, glibc of this
# machine): the fast tier's package, never a release.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
target=x86_64-unknown-linux-gnu
native="bindings/node/native"
out="$ROOT/dist/node"
pack() {
  mkdir -p "$out"
  local tarball
  tarball="$(cd bindings/node && npm pack --silent --pack-destination "$out" | tail -n 1)"
  say "$(du -h "$out/$tarball" | cut -f1) $out/$tarball"
  echo "$out/$tarball"
}
if [[ "${1:-}" == --quick ]]; then
  [[ -f "$LIB" ]] || cargo build --release --quiet -p iam-db-auth
  soname_link
  (cd bindings/node && IAM_DB_AUTH_LIB_DIR="$ROOT/target/release" CARGO_TARGET_DIR="$ROOT/target/node" \
    cargo build --release --quiet --locked)
  rm -rf "$native"; mkdir -p "$native"
  cp "$ROOT/target/node/release/libiam_db_auth_node.so" "$native/iam-db-auth.linux-x64-gnu.node"
  cp "$LIB" "$native/libiam_db_auth.so.1"
  pack
  exit 0
fi
ensure_zigbuild
lib="${IAM_DB_AUTH_LIB_DIR:+$IAM_DB_AUTH_LIB_DIR/libiam_db_auth.so}"
if [[ -z "$lib" ]]; then
  lib="$DIST/native/$target/lib/libiam_db_auth.so"
  [[ -f "$lib" ]] || bash scripts/package/native.sh --target "$target"
fi
[[ -f "$lib" ]] || die "no library at $lib"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$lib" "$stage/libiam_db_auth.so.1"
ln -s libiam_db_auth.so.1 "$stage/libiam_db_auth.so"

say "building the N-API addon for $target, glibc $GLIBC_FLOOR"
(cd bindings/node && IAM_DB_AUTH_LIB_DIR="$stage" CARGO_TARGET_DIR="$ROOT/target/node" \
  timeout 1800 cargo zigbuild --release --quiet --locked --target "$target.$GLIBC_FLOOR")
rm -rf "$native"; mkdir -p "$native"
cp "$ROOT/target/node/$target/release/libiam_db_auth_node.so" "$native/iam-db-auth.linux-x64-gnu.node"
cp "$stage/libiam_db_auth.so.1" "$native/libiam_db_auth.so.1"
scripts/package/check-glibc.sh "$native/"* || die "a binary of the package needs a glibc above $GLIBC_FLOOR"
pack
