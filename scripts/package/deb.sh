#!/usr/bin/env bash
# artifact: dist/iam-db-auth_VERSION_amd64.deb and _arm64.deb (dpkg-deb): FHS paths, the library with its SONAME, header, .pc, CLI, a ready MariaDB plugin directory, the RDS CA bundle
#
#   scripts/package.sh deb [--target T|all]...   (default: all release targets)
#
# What the package installs (TRIPLET: x86_64-linux-gnu or aarch64-linux-gnu):
#   /usr/bin/iam-db-auth, its man pages (gzipped) and bash/zsh/fish completions
#   /usr/lib/TRIPLET/libiam_db_auth.so.VERSION with the links .so.1 (its SONAME) and .so,
#     /usr/lib/TRIPLET/pkgconfig/iam-db-auth.pc, /usr/include/iam_db_auth.h
#   /usr/share/iam-db-auth/rds-global-bundle.pem   where the library and the CLI look for it
#   /usr/lib/TRIPLET/iam-db-auth/mariadb-plugins/   the ready client plugin directory: its
#     postinst runs `iam-db-auth mysql-plugin install` there (mysql_clear_password.so -> the
#     library, links to libmariadb3's other plugins), again whenever libmariadb3's plugin
#     directory changes (a dpkg trigger), and its prerm removes those links, so `dpkg -r`
#     leaves nothing behind. Clients use it with --plugin-dir=DIR or MARIADB_PLUGIN_DIR=DIR.
# Depends: libc6 (>= 2.28), the glibc floor of the binaries (native.sh checks it).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
command -v dpkg-deb >/dev/null || die "needs dpkg-deb (Debian's dpkg)"

parse_targets deb "${RELEASE_TARGETS[@]}" -- "$@"

epoch="$(source_date_epoch)"
major="${VERSION%%.*}"
for target in "${targets[@]}"; do
  bash scripts/package/native.sh --target "$target"
  arch="$(deb_arch "$target")" tri="$(triplet "$target")"
  libdir="/usr/lib/$tri"
  plugins="$libdir/iam-db-auth/mariadb-plugins"
  work="$(mktemp -d "${TMPDIR:-/tmp}/iam-db-auth-deb.XXXXXX")"
  pkg="$work/pkg"
  stage_tree "$target" "$pkg" /usr "$libdir" gzip-man zsh-dir=/usr/share/zsh/vendor-completions
  install -d "$pkg$plugins"
  install -D -m 0644 README.md "$pkg/usr/share/doc/iam-db-auth/README.md"
  cat >"$pkg/usr/share/doc/iam-db-auth/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: iam-db-auth

Files: *
Copyright: the iam-db-auth authors
License: Apache-2.0
 On Debian systems, the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

  install -d "$pkg/DEBIAN"
  cat >"$pkg/DEBIAN/control" <<CONTROL
Package: iam-db-auth
Version: $VERSION
Architecture: $arch
Maintainer: iam-db-auth maintainers <iam-db-auth@users.noreply.github.com>
Installed-Size: $(du -sk --apparent-size "$pkg" | cut -f1)
Depends: libc6 (>= $GLIBC_FLOOR)
Suggests: libmariadb3, postgresql-client
Section: database
Priority: optional
Description: AWS IAM database authentication tokens for RDS, Aurora and DSQL
 iam-db-auth logs database clients in to AWS RDS, Aurora (MySQL, MariaDB,
 PostgreSQL) and Aurora DSQL with IAM database authentication instead of a
 password: the iam-db-auth command (token, exec, pgpass), the C library
 libiam_db_auth.so.$major, and a MariaDB/MySQL client plugin directory for
 libmariadb clients ($plugins).
CONTROL
  # The plugin directory's links: made at configure and whenever libmariadb3's plugins change.
  cat >"$pkg/DEBIAN/postinst" <<POSTINST
#!/bin/sh
# Makes $plugins a ready libmariadb client plugin directory:
# mysql_clear_password.so is this package's library, every other client plugin a link to
# libmariadb3's. Without libmariadb3's plugins (not installed yet), the plugin alone; the
# trigger adds the others when libmariadb3 puts them in place.
set -e
dir=$plugins
lib=$libdir/libiam_db_auth.so.$major
case "\$1" in
  configure|triggered)
    if ! /usr/bin/iam-db-auth mysql-plugin install "\$dir" --library "\$lib" \\
        --system-plugin-dir $libdir/libmariadb3/plugin >/dev/null 2>&1; then
      find "\$dir" -mindepth 1 -maxdepth 1 -xtype l -delete
      ln -sfn "\$lib" "\$dir/mysql_clear_password.so"
    fi ;;
esac
exit 0
POSTINST
  cat >"$pkg/DEBIAN/prerm" <<PRERM
#!/bin/sh
# Removes the links postinst made (only links: a file someone put there stays, and keeps the
# directory).
set -e
case "\$1" in
  remove|deconfigure)
    [ ! -d $plugins ] || find $plugins -mindepth 1 -maxdepth 1 -type l -delete ;;
esac
exit 0
PRERM
  # ldconfig: the loader's cache learns the new library (as dh_makeshlibs's packages do).
  printf '%s\n' "interest-noawait $libdir/libmariadb3/plugin" "activate-noawait ldconfig" >"$pkg/DEBIAN/triggers"
  chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm"
  (cd "$pkg" && find usr -type f | sort | xargs md5sum) >"$pkg/DEBIAN/md5sums"
  chmod -R u=rwX,go=rX "$pkg"
  find "$pkg" -exec touch -h -d "@$epoch" {} +
  out="$DIST/iam-db-auth_${VERSION}_$arch.deb"
  SOURCE_DATE_EPOCH="$epoch" dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out.tmp" >/dev/null
  mv "$out.tmp" "$out"
  rm -rf "$work"
  say "$out ($(du -h "$out" | cut -f1))"
done
