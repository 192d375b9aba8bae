#!/usr/bin/env bash
# tier: deep
# The install tree (scripts/install.sh, cargo-c): installs into a scratch prefix that already
# holds someone else's files, checks the tree (versioned library and its links, SONAME, static
# library, header, .pc, CLI, man pages, completions, CA bundle, manifest), builds a C program
# through pkg-config dynamically and statically and runs both (tokens checked by the verifier),
# installs the MySQL plugin from the tree, then uninstalls and checks that exactly the other
# files are left.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
if ! cargo cinstall --version >/dev/null 2>&1; then
  say "installing cargo-c 0.10.24 (about 6 minutes)"
  cargo install cargo-c@0.10.24 --locked --quiet
fi
[[ -x "$BIN" ]] || cargo build --release --locked --quiet

out="$WORK/install"; rm -rf "$out"; mkdir -p "$out"
prefix="$out/prefix"
# Someone else's files, in directories the install also uses: they must survive.
mkdir -p "$prefix/lib/pkgconfig" "$prefix/share/man/man1"
echo other >"$prefix/lib/libother.so.1"; echo other >"$prefix/lib/pkgconfig/other.pc"
echo other >"$prefix/share/man/man1/other.1"
before="$(cd "$prefix" && find . | sort)"

start=$(date +%s)
scripts/install.sh --prefix "$prefix"
say "install took $(( $(date +%s) - start )) s"
(cd "$prefix" && find . | sort) >"$out/tree.txt"
sed 's/^/  /' "$out/tree.txt"

version="$(sed -nE 's/^#define IAM_DB_AUTH_VERSION "([0-9.]+)"$/\1/p' include/iam_db_auth.h)"
major="${version%%.*}"
lib="$prefix/lib"
[[ -f "$lib/libiam_db_auth.so.$version" && ! -L "$lib/libiam_db_auth.so.$version" ]] ||
  die "no libiam_db_auth.so.$version file"
[[ "$(readlink -f "$lib/libiam_db_auth.so.$major")" == "$lib/libiam_db_auth.so.$version" ]] ||
  die "libiam_db_auth.so.$major is not a link to libiam_db_auth.so.$version"
[[ "$(readlink -f "$lib/libiam_db_auth.so")" == "$lib/libiam_db_auth.so.$version" ]] ||
  die "libiam_db_auth.so is not a link to the library"
soname="$(objdump -p "$lib/libiam_db_auth.so.$version" | awk '$1 == "SONAME" { print $2 }')"
[[ "$soname" == "libiam_db_auth.so.$major" ]] || die "installed SONAME is '$soname'"
[[ -f "$lib/libiam_db_auth.a" ]] || die "no static library"
cmp -s include/iam_db_auth.h "$prefix/include/iam_db_auth.h" || die "the installed header is not include/iam_db_auth.h"
[[ -x "$prefix/bin/iam-db-auth" ]] || die "no CLI"
[[ "$("$prefix/bin/iam-db-auth" --version)" == "iam-db-auth $version" ]] || die "the CLI is not version $version"
for page in iam-db-auth iam-db-auth-token iam-db-auth-pgpass iam-db-auth-exec iam-db-auth-mysql-plugin-install; do
  [[ -s "$prefix/share/man/man1/$page.1" ]] || die "no man page $page.1"
done
man -l "$prefix/share/man/man1/iam-db-auth-token.1" 2>/dev/null | grep -q -- "--host" ||
  die "iam-db-auth-token.1 does not render or does not document --host"
bash -n "$prefix/share/bash-completion/completions/iam-db-auth" || die "the bash completion does not parse"
grep -q "pgpass" "$prefix/share/bash-completion/completions/iam-db-auth" || die "the bash completion lacks subcommands"
[[ -s "$prefix/share/zsh/site-functions/_iam-db-auth" && -s "$prefix/share/fish/vendor_completions.d/iam-db-auth.fish" ]] ||
  die "zsh or fish completion missing"
cmp -s certs/rds-global-bundle.pem "$prefix/share/iam-db-auth/rds-global-bundle.pem" || die "the CA bundle is not installed"
# The library and the CLI find the installed bundle (no CA_FILE, no cached copy: an empty cache).
mkdir -p "$out/empty-cache"
ca_env=(isolated_aws_env XDG_CACHE_HOME="$out/empty-cache" HOME="$out/empty-cache")
[[ "$("${ca_env[@]}" "$prefix/bin/iam-db-auth" ca path)" == "$prefix/share/iam-db-auth/rds-global-bundle.pem" ]] ||
  die "iam-db-auth ca path does not give the installed bundle: $("${ca_env[@]}" "$prefix/bin/iam-db-auth" ca path 2>&1)"

say "pkg-config: $(PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config --modversion iam-db-auth)"
export PKG_CONFIG_PATH="$lib/pkgconfig"
[[ "$(pkg-config --modversion iam-db-auth)" == "$version" ]] || die "iam-db-auth.pc is not version $version"
cflags="$(pkg-config --cflags iam-db-auth)"
# Dynamically: the program records the SONAME and finds it in the tree.
cc -std=c11 -Wall -Wextra -Wpedantic -Werror c-tests/installed_app.c -o "$out/dynamic" \
  $cflags $(pkg-config --libs iam-db-auth) -Wl,-rpath,"$lib" 2>"$out/dynamic.cc.log" || { cat "$out/dynamic.cc.log"; die "dynamic build failed"; }
readelf -d "$out/dynamic" | grep -q "NEEDED.*\[libiam_db_auth.so.$major\]" || die "the program does not need libiam_db_auth.so.$major"
# Statically: the archive and the system libraries it needs (the .pc file's Libs.private).
static_libs="$(pkg-config --static --libs iam-db-auth | sed 's/-liam_db_auth\b/-l:libiam_db_auth.a/')"
cc -std=c11 -Wall -Wextra -Wpedantic -Werror c-tests/installed_app.c -o "$out/static" \
  $cflags $static_libs 2>"$out/static.cc.log" ||
  { cat "$out/static.cc.log"; die "static build failed"; }
if readelf -d "$out/static" | grep -q "NEEDED.*libiam_db_auth"; then die "the static program needs the shared library"; fi
write_keystore "$out/keystore"
for program in dynamic static; do
  "${ca_env[@]}" AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" \
    "$out/$program" "$out/$program.tokens" >"$out/$program.log" || { cat "$out/$program.log"; die "$program program failed"; }
  grep -qxF "ca: $prefix/share/iam-db-auth/rds-global-bundle.pem" "$out/$program.log" ||
    { cat "$out/$program.log"; die "the $program program's library does not find the installed CA bundle"; }
  token="$(head -n 1 "$out/$program.tokens")"
  printf '%s' "$token" | "$prefix/bin/iam-db-auth" verify --keystore "$out/keystore" \
    --endpoint "${token%%/?*}" --region us-east-1 --user installed_app || die "the verifier refused the $program program's token"
  say "$program: $(head -n 1 "$out/$program.log"), verified; it finds the installed CA bundle"
done

say "mysql-plugin install from the tree"
"$prefix/bin/iam-db-auth" mysql-plugin install "$out/plugins" >"$out/plugin.log"
[[ "$(readlink "$out/plugins/mysql_clear_password.so")" == "$lib/libiam_db_auth.so.$major" ]] ||
  die "mysql_clear_password.so -> $(readlink "$out/plugins/mysql_clear_password.so"), not the tree's SONAME link"
nm -D --defined-only "$out/plugins/mysql_clear_password.so" | grep -q " _mysql_client_plugin_declaration_$" ||
  die "the plugin link does not lead to the plugin"

say "uninstall"
scripts/install.sh --uninstall --prefix "$prefix"
after="$(cd "$prefix" && find . | sort)"
if [[ "$after" != "$before" ]]; then
  diff <(echo "$before") <(echo "$after") | sed 's/^/  /' >&2 || true
  die "uninstall did not leave exactly the files that were there before (< before, > after)"
fi
scripts/install.sh --uninstall --prefix "$prefix" 2>/dev/null && die "a second uninstall should find no manifest"
say "install, use and uninstall: ok"
