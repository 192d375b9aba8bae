#!/usr/bin/env bash
# artifact: the Go module (bindings/go, packages iamdbauth, iampgx, iammysql) as a source tarball, dist/go/iam-db-auth-go-VERSION.tar.gz
#
# Go has no binary packages: a Go program builds the module's source, which links
# libiam_db_auth.so.1 with cgo (the library comes from the release tarball, the .deb, or
# scripts/install.sh). The tarball holds the module rooted at its import path
# (github.com/iam-db-auth/iam-db-auth/bindings/go), for GOPATH mode (`tar -C $GOPATH/src -x`)
# or a `replace` directive; docs/packages.md says how.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
version="$(sed -n 's/^#define IAM_DB_AUTH_VERSION "\(.*\)"$/\1/p' include/iam_db_auth.h)"
[[ -n "$version" ]] || die "no IAM_DB_AUTH_VERSION in include/iam_db_auth.h"
cmp -s include/iam_db_auth.h bindings/go/iam_db_auth.h ||
  die "bindings/go/iam_db_auth.h differs from include/iam_db_auth.h (cp include/iam_db_auth.h bindings/go/)"
module="$(sed -n 's/^module //p' bindings/go/go.mod)"
out="$ROOT/dist/go"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$module" "$out"
# Only what git tracks (no editor files, no test caches), with stable owners and times.
git ls-files -z bindings/go | while IFS= read -r -d '' f; do
  mkdir -p "$stage/$module/$(dirname "${f#bindings/go/}")"
  cp -p "$f" "$stage/$module/${f#bindings/go/}"
done
[[ -f "$stage/$module/go.mod" ]] || die "bindings/go is not committed yet (git add it first)"
tarball="$out/iam-db-auth-go-$version.tar.gz"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00Z' \
  -cf - "${module%%/*}" | gzip -n >"$tarball.tmp"
mv -f "$tarball.tmp" "$tarball"
say "$(du -h "$tarball" | cut -f1) $tarball"
echo "$tarball"
