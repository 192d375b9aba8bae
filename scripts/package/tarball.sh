#!/usr/bin/env bash
# artifact: per target, dist/iam-db-auth-VERSION-TARGET.tar.gz: the CLI, the shared and static library, the header, the .pc file, man pages, completions, the RDS CA bundle, README, LICENSE
#
#   scripts/package.sh tarball [--target T|all]...   (default: all release targets)
#
# One directory, iam-db-auth-VERSION-TARGET/, laid out as a prefix (bin/, lib/, include/,
# share/): unpack it anywhere, or into /usr/local with --strip-components=1. The .pc file is
# relocatable (prefix=${pcfiledir}/../..). The binaries are native.sh's (glibc 2.28 and newer);
# they look for the CA bundle at /usr/share/iam-db-auth/rds-global-bundle.pem (copy it there,
# or set IAM_DB_AUTH_CA_FILE; without either they use the RDS bundle built into the library).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"

parse_targets tarball "${RELEASE_TARGETS[@]}" -- "$@"

epoch="$(source_date_epoch)"
for target in "${targets[@]}"; do
  bash scripts/package/native.sh --target "$target"
  zig_build_static "$target"
  name="iam-db-auth-$VERSION-$target"
  work="$(mktemp -d "${TMPDIR:-/tmp}/iam-db-auth-tarball.XXXXXX")"
  top="$work/$name"
  stage_tree "$target" "$top" "" "/lib" static pc-prefix='${pcfiledir}/../..'
  install -m 0644 README.md LICENSE "$top/"
  chmod -R u=rwX,go=rX "$top"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -C "$work" -cf - "$name" |
    gzip -9n >"$DIST/$name.tar.gz.tmp"
  mv "$DIST/$name.tar.gz.tmp" "$DIST/$name.tar.gz"
  rm -rf "$work"
  say "$DIST/$name.tar.gz ($(du -h "$DIST/$name.tar.gz" | cut -f1))"
done
