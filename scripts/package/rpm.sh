#!/usr/bin/env bash
# artifact: dist/iam-db-auth-VERSION-1.x86_64.rpm and .aarch64.rpm (rpmbuild): Amazon Linux / RHEL paths (/usr/lib64), a ready MariaDB plugin directory over Amazon Linux's, the RDS CA bundle
#
#   scripts/package.sh rpm [--target T|all]...   (default: all release targets)
#
# What the package installs:
#   /usr/bin/iam-db-auth, its man pages (gzipped) and bash/zsh/fish completions
#   /usr/lib64/libiam_db_auth.so.VERSION with the links .so.1 (its SONAME) and .so,
#     /usr/lib64/pkgconfig/iam-db-auth.pc, /usr/include/iam_db_auth.h
#   /usr/share/iam-db-auth/rds-global-bundle.pem   where the library and the CLI look for it
#   /usr/lib64/iam-db-auth/mariadb-plugins/   the ready client plugin directory: %post runs
#     `iam-db-auth mysql-plugin install` there against Amazon Linux's (and RHEL's)
#     mariadb-connector-c plugin directory /usr/lib64/mariadb/plugin, again when that package
#     is installed, upgraded or removed (triggers); %preun on erase removes the links.
# Built with Debian's rpmbuild from the staged files (no %build); rpm's automatic requirements
# name the glibc symbol versions the binaries need (GLIBC_2.28 at most).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$ROOT"
command -v rpmbuild >/dev/null || die "needs rpmbuild (Debian: apt-get install rpm)"

parse_targets rpm "${RELEASE_TARGETS[@]}" -- "$@"

epoch="$(source_date_epoch)"
major="${VERSION%%.*}"
libdir=/usr/lib64
plugins="$libdir/iam-db-auth/mariadb-plugins"
system_plugins="$libdir/mariadb/plugin"
for target in "${targets[@]}"; do
  bash scripts/package/native.sh --target "$target"
  arch="$(rpm_arch "$target")"
  work="$(mktemp -d "${TMPDIR:-/tmp}/iam-db-auth-rpm.XXXXXX")"
  tree="$work/tree"
  stage_tree "$target" "$tree" /usr "$libdir" gzip-man
  install -d "$tree$plugins"
  install -D -m 0644 README.md "$tree/usr/share/doc/iam-db-auth/README.md"
  install -D -m 0644 LICENSE "$tree/usr/share/licenses/iam-db-auth/LICENSE"
  chmod -R u=rwX,go=rX "$tree"
  refresh="/usr/bin/iam-db-auth mysql-plugin install $plugins --library $libdir/libiam_db_auth.so.$major --system-plugin-dir $system_plugins >/dev/null 2>&1 || { find $plugins -mindepth 1 -maxdepth 1 -xtype l -delete; ln -sfn $libdir/libiam_db_auth.so.$major $plugins/mysql_clear_password.so; }"
  cat >"$work/iam-db-auth.spec" <<SPEC
Name: iam-db-auth
Version: $VERSION
Release: 1
Summary: AWS IAM database authentication tokens for RDS, Aurora and DSQL
License: Apache-2.0
# The files are built and staged before rpmbuild runs (scripts/package/rpm.sh).
%global debug_package %{nil}
%global __os_install_post %{nil}
%global _build_id_links none
# xz: as small as the .deb, and every rpm since RHEL 6 reads it.
%global _binary_payload w9.xzdio

%description
iam-db-auth logs database clients in to AWS RDS, Aurora (MySQL, MariaDB,
PostgreSQL) and Aurora DSQL with IAM database authentication instead of a
password: the iam-db-auth command (token, exec, pgpass), the C library
libiam_db_auth.so.$major, and a MariaDB/MySQL client plugin directory for
libmariadb clients ($plugins).

%install
cp -a $tree/. %{buildroot}/

%post
$refresh
exit 0

%triggerin -- mariadb-connector-c
$refresh
exit 0

%triggerpostun -- mariadb-connector-c
$refresh
exit 0

%preun
if [ "\$1" = 0 ]; then find $plugins -mindepth 1 -maxdepth 1 -type l -delete; fi
exit 0

%files
/usr/bin/iam-db-auth
$libdir/libiam_db_auth.so.$VERSION
$libdir/libiam_db_auth.so.$major
$libdir/libiam_db_auth.so
$libdir/pkgconfig/iam-db-auth.pc
/usr/include/iam_db_auth.h
/usr/share/man/man1/iam-db-auth*.1.gz
/usr/share/bash-completion/completions/iam-db-auth
/usr/share/zsh/site-functions/_iam-db-auth
/usr/share/fish/vendor_completions.d/iam-db-auth.fish
%dir /usr/share/iam-db-auth
/usr/share/iam-db-auth/rds-global-bundle.pem
%dir $libdir/iam-db-auth
%dir $plugins
%doc /usr/share/doc/iam-db-auth/README.md
%license /usr/share/licenses/iam-db-auth/LICENSE
SPEC
  SOURCE_DATE_EPOCH="$epoch" timeout 600 rpmbuild -bb --quiet --target "$arch-linux" \
    --define "_topdir $work/rpmbuild" --define "_rpmdir $work/out" \
    --define "use_source_date_epoch_as_buildtime 1" --define "clamp_mtime_to_source_date_epoch 1" \
    "$work/iam-db-auth.spec" >"$work/rpmbuild.log" 2>&1 || { cat "$work/rpmbuild.log" >&2; die "rpmbuild failed for $target"; }
  built="$(find "$work/out" -name "*.rpm" | head -n 1)"
  [[ -n "$built" ]] || die "rpmbuild made no package for $target"
  out="$DIST/iam-db-auth-$VERSION-1.$arch.rpm"
  mv "$built" "$out"
  rm -rf "$work"
  say "$out ($(du -h "$out" | cut -f1))"
done
