#!/usr/bin/env bash
# tier: deep
# Release artifacts (scripts/package.sh; docs/platforms.md, "Release artifacts"):
#   1. builds them for the targets in IAM_ARTIFACT_TARGETS (default x86_64-unknown-linux-gnu;
#      `all`: x86_64 and aarch64, about 25 more minutes of building on 2 cores, which CI's time
#      limit leaves no room for: aarch64 is checked in CI by stage 72's build): dist/native/, the
#      tarballs, the .debs, the .rpms, SHA256SUMS (cargo-zigbuild for glibc 2.28, in target/zig);
#   2. every ELF file shipped in any of them needs glibc 2.28 at most (check-glibc.sh), and the
#      aarch64 CLI runs (qemu);
#   3. each tarball lists exactly the expected files; a C program links the tarball's static
#      library through its relocatable .pc file and makes a token the verifier accepts;
#   4. the amd64 .deb: dpkg -i, then real logins with the installed files only: the mariadb client
#      through the installed plugin directory to the MariaDB stand-in, psql with the passfile
#      the installed CLI's pgpass writes to the PostgreSQL stand-in, a C program through the
#      installed .pc file; the installed CA bundle is the one the CLI finds; dpkg -r, and the
#      file system is as it was before (nothing left behind);
#   5. each .rpm's file list (rpm -qlp) is the expected one, and its requirements name no glibc
#      above 2.28;
#   6. SHA256SUMS verifies.
set -euo pipefail
source "$(dirname "$0")/../package/common.sh"
cd "$ROOT"
[[ -x "$BIN" ]] || cargo build --release --locked --quiet   # the stand-ins' verifier
scripts/platforms/setup-cross.sh >/dev/null
command -v rpmbuild >/dev/null || die "needs rpmbuild (scripts/setup.sh --deep installs Debian's rpm)"
[[ "$(id -u)" == 0 ]] || die "dpkg -i needs root"

out="$WORK/artifacts"; rm -rf "$out"; mkdir -p "$out"
read -r -a targets <<<"${IAM_ARTIFACT_TARGETS:-x86_64-unknown-linux-gnu}"
[[ "${targets[*]}" == all ]] && targets=("${RELEASE_TARGETS[@]}")
target_args=()
for target in "${targets[@]}"; do target_args+=(--target "$target"); done
say "targets: ${targets[*]}"
major="${VERSION%%.*}"
start=$(date +%s)
rm -f "$DIST"/*.tar.gz "$DIST"/*.deb "$DIST"/*.rpm "$DIST"/SHA256SUMS
for artifact in native tarball deb rpm; do
  scripts/package.sh "$artifact" "${target_args[@]}" >"$out/$artifact.log" 2>&1 ||
    { tail -n 30 "$out/$artifact.log"; die "scripts/package.sh $artifact failed (log: $out/$artifact.log)"; }
done
scripts/package.sh checksums >"$out/checksums.log" 2>&1 || { cat "$out/checksums.log"; die "checksums failed"; }
say "built in $(( $(date +%s) - start )) s:"
(cd "$DIST" && ls -l *.tar.gz *.deb *.rpm SHA256SUMS | awk '{ printf "  %9d  %s\n", $5, $9 }')

say "unpacking every artifact"
declare -A deb_arch_of=([x86_64-unknown-linux-gnu]=amd64 [aarch64-unknown-linux-gnu]=arm64)
for target in "${targets[@]}"; do
  mkdir -p "$out/tar-$target" "$out/deb-$target" "$out/rpm-$target"
  tar -xzf "$DIST/iam-db-auth-$VERSION-$target.tar.gz" -C "$out/tar-$target"
  dpkg-deb -x "$DIST/iam-db-auth_${VERSION}_${deb_arch_of[$target]}.deb" "$out/deb-$target"
  # rpm2archive (rpm's own tool) turns the payload into a tar (no cpio needed).
  rpm2archive - <"$DIST/iam-db-auth-$VERSION-1.${target%%-*}.rpm" | tar -xzf - -C "$out/rpm-$target"
done

say "glibc floor ($GLIBC_FLOOR) of every shipped ELF file"
elves=()
while IFS= read -r -d '' f; do
  [[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" == '177ELF' ]] && elves+=("$f")
done < <(find "$DIST/native" "$out"/tar-* "$out"/deb-* "$out"/rpm-* -type f -print0)
# Per target: the library and the CLI in dist/native, the tarball, the .deb and the .rpm.
want=$((8 * ${#targets[@]}))
((${#elves[@]} == want)) || { printf '  %s\n' "${elves[@]}"; die "expected $want ELF files (2 per artifact and target), found ${#elves[@]}"; }
scripts/package/check-glibc.sh "${elves[@]}" | sed "s|$ROOT/||; s|$out/||; s/^/  /"
for target in "${targets[@]}"; do
  lib="$out/tar-$target/iam-db-auth-$VERSION-$target/lib/libiam_db_auth.so.$VERSION"
  [[ "$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')" == "libiam_db_auth.so.$major" ]] ||
    die "$target: the library's SONAME is not libiam_db_auth.so.$major"
  readelf --dyn-syms --wide "$lib" | grep -q ' _mysql_client_plugin_declaration_$' ||
    die "$target: the library does not export the MariaDB plugin declaration"
done
if [[ " ${targets[*]} " == *" aarch64-unknown-linux-gnu "* ]]; then
  got="$(timeout 120 qemu-aarch64 -L /usr/aarch64-linux-gnu \
    "$out/tar-aarch64-unknown-linux-gnu/iam-db-auth-$VERSION-aarch64-unknown-linux-gnu/bin/iam-db-auth" --version)" ||
    die "the tarball's aarch64 CLI does not run under qemu"
  [[ "$got" == "iam-db-auth $VERSION" ]] || die "the aarch64 CLI says '$got'"
fi

say "tarball contents"
for target in "${targets[@]}"; do
  top="iam-db-auth-$VERSION-$target"
  expected="$(sed "s|^|$top/|" <<LIST
LICENSE
README.md
bin/iam-db-auth
include/iam_db_auth.h
lib/libiam_db_auth.a
lib/libiam_db_auth.so
lib/libiam_db_auth.so.$major
lib/libiam_db_auth.so.$VERSION
lib/pkgconfig/iam-db-auth.pc
$(cd "$out/deb-$target/usr/share/man/man1" && ls | sed 's/\.gz$//; s|^|share/man/man1/|')
share/bash-completion/completions/iam-db-auth
share/fish/vendor_completions.d/iam-db-auth.fish
share/iam-db-auth/rds-global-bundle.pem
share/zsh/site-functions/_iam-db-auth
LIST
)"
  listed="$(tar -tzf "$DIST/$top.tar.gz" | grep -v '/$' | sort)"
  if [[ "$listed" != "$(sort <<<"$expected")" ]]; then
    diff <(sort <<<"$expected") <(echo "$listed") | sed 's/^/  /' >&2 || true
    die "$top.tar.gz: unexpected contents (< expected only, > in the tarball only)"
  fi
  grep -q 'iam-db-auth-token.1' <<<"$listed" || die "$top.tar.gz: no man pages"
  say "  $top.tar.gz: $(wc -l <<<"$listed") files, as expected"
done

write_keystore "$out/keystore"
mkdir -p "$out/empty-cache"
demo=(AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" AWS_REGION=us-east-1)
# Runs a C program that makes tokens (c-tests/installed_app.c) and has the verifier check one.
check_app() { # program what [the CA file its library must find]
  isolated_aws_env "${demo[@]}" XDG_CACHE_HOME="$out/empty-cache" HOME="$out/empty-cache" \
    "$1" "$out/app.tokens" >"$out/app.log" || { cat "$out/app.log"; die "$2 failed"; }
  [[ -z "${3:-}" ]] || grep -qxF "ca: $3" "$out/app.log" || { cat "$out/app.log"; die "$2: its library does not find $3"; }
  local token; token="$(head -n 1 "$out/app.tokens")"
  printf '%s' "$token" | "$BIN" verify --keystore "$out/keystore" --endpoint "${token%%/?*}" \
    --region us-east-1 --user installed_app || die "the verifier refused the token of $2"
  say "  $2: token verified"
}
say "the x86_64 tarball's static library through its relocatable .pc file"
tarball_root="$out/tar-x86_64-unknown-linux-gnu/iam-db-auth-$VERSION-x86_64-unknown-linux-gnu"
export PKG_CONFIG_PATH="$tarball_root/lib/pkgconfig"
cc -std=c11 -Wall -Wextra -Werror c-tests/installed_app.c -o "$out/static-app" $(pkg-config --cflags iam-db-auth) \
  $(pkg-config --static --libs iam-db-auth | sed 's/-liam_db_auth\b/-l:libiam_db_auth.a/') 2>"$out/static.cc.log" ||
  { cat "$out/static.cc.log"; die "a static build against the tarball failed"; }
unset PKG_CONFIG_PATH
if readelf -d "$out/static-app" | grep -q 'NEEDED.*libiam_db_auth'; then die "the static program needs the shared library"; fi
check_app "$out/static-app" "a program linked with the tarball's libiam_db_auth.a"

# --- the .deb, installed for real --------------------------------------------------------
tri=x86_64-linux-gnu
plugins="/usr/lib/$tri/iam-db-auth/mariadb-plugins"
export IAM_STANDIN_MARIADB_PORT="${IAM_STANDIN_MARIADB_PORT:-13306}" IAM_STANDIN_PG_PORT="${IAM_STANDIN_PG_PORT:-15432}"
cleanup() {
  if dpkg-query -W -f='${Status}' iam-db-auth 2>/dev/null | grep -q 'install ok'; then dpkg -r iam-db-auth >/dev/null 2>&1 || true; fi
  scripts/standin/mariadb.sh stop >/dev/null 2>&1 || true
  scripts/standin/postgres.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
if dpkg-query -W -f='${Status}' iam-db-auth 2>/dev/null | grep -q 'install ok'; then
  say "removing an iam-db-auth package a failed run left installed"
  dpkg -r iam-db-auth >/dev/null
fi
[[ ! -e /usr/bin/iam-db-auth ]] || die "/usr/bin/iam-db-auth exists and is not from the package: this test would overwrite it"
scripts/standin/mariadb.sh start >/dev/null; eval "$(scripts/standin/mariadb.sh env)"
scripts/standin/postgres.sh start >/dev/null; eval "$(scripts/standin/postgres.sh env)"
# The file system the package may touch; /etc/pam.d holds the stand-ins' services (they come
# and go with other tests), /var/lib/dpkg's status files change with every dpkg call.
snapshot() { find /usr /etc /opt /var/cache /var/lib/dpkg/info /var/lib/dpkg/triggers -xdev -path /etc/pam.d -prune -o -print 2>/dev/null | sort; }
snapshot >"$out/before.txt"

say "dpkg -i iam-db-auth_${VERSION}_amd64.deb"
dpkg -i "$DIST/iam-db-auth_${VERSION}_amd64.deb" >"$out/dpkg-i.log" 2>&1 || { cat "$out/dpkg-i.log"; die "dpkg -i failed"; }
dpkg -L iam-db-auth | sed 's/^/  /' >"$out/dpkg-L.txt"
[[ "$(/usr/bin/iam-db-auth --version)" == "iam-db-auth $VERSION" ]] || die "the installed CLI is not version $VERSION"
[[ "$(readlink "/usr/lib/$tri/libiam_db_auth.so.$major")" == "libiam_db_auth.so.$VERSION" ]] || die "no SONAME link"
ldconfig -p | grep -q "libiam_db_auth.so.$major " || die "ldconfig does not know libiam_db_auth.so.$major"
[[ "$(readlink "$plugins/mysql_clear_password.so")" == "/usr/lib/$tri/libiam_db_auth.so.$major" ]] ||
  die "the plugin directory's mysql_clear_password.so -> '$(readlink "$plugins/mysql_clear_password.so")'"
for p in /usr/lib/$tri/libmariadb3/plugin/*.so; do
  [[ "$(basename "$p")" != mysql_clear_password.so ]] || continue   # ours instead
  [[ "$(readlink "$plugins/$(basename "$p")")" == "$p" ]] || die "the plugin directory has no link to $p"
done
say "  the plugin directory: $(cd "$plugins" && echo *)"
[[ "$(isolated_aws_env XDG_CACHE_HOME="$out/empty-cache" HOME="$out/empty-cache" /usr/bin/iam-db-auth ca path 2>/dev/null)" == "$CA_INSTALLED" ]] ||
  die "the installed CLI does not find the installed CA bundle"

say "the mariadb client through the installed plugin directory (MariaDB stand-in, verified TLS)"
maria() { # extra mariadb args...
  isolated_aws_env "${demo[@]}" timeout 60 mariadb --no-defaults -h 127.0.0.1 -P "$IAM_STANDIN_MARIADB_PORT" \
    -u "$IAM_STANDIN_MARIADB_SSL_USER" --ssl-ca="$IAM_STANDIN_MARIADB_CA" --ssl-verify-server-cert -N -B \
    "$@" -e "SELECT CURRENT_USER()"
}
if maria </dev/null >"$out/maria-control.log" 2>&1; then die "control: mariadb logged in without the plugin directory"; fi
got="$(maria --plugin-dir="$plugins" 2>"$out/maria.log")" || { cat "$out/maria.log"; die "mariadb could not log in through $plugins"; }
[[ "$got" == "$IAM_STANDIN_MARIADB_SSL_USER@%" ]] || die "mariadb logged in as '$got'"
say "  logged in as $got"

say "psql with the passfile the installed CLI's pgpass writes (PostgreSQL stand-in)"
conninfo="host=localhost port=$IAM_STANDIN_PG_PORT dbname=$IAM_STANDIN_PG_DATABASE user=$IAM_STANDIN_PG_USER sslmode=verify-full sslrootcert=$IAM_STANDIN_PG_CA"
WHO="SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
if isolated_aws_env PGCONNECT_TIMEOUT=20 PGPASSFILE="$out/no-passfile" timeout 60 psql "$conninfo" -XAt -c "$WHO" </dev/null >"$out/psql-control.log" 2>&1; then
  die "control: psql logged in without a passfile"
fi
isolated_aws_env "${demo[@]}" /usr/bin/iam-db-auth pgpass -q --host localhost --port "$IAM_STANDIN_PG_PORT" \
  --user "$IAM_STANDIN_PG_USER" --file "$out/pgpass" || die "the installed CLI's pgpass failed"
got="$(isolated_aws_env PGCONNECT_TIMEOUT=20 PGPASSFILE="$out/pgpass" timeout 60 psql "$conninfo" -XAt -c "$WHO" 2>"$out/psql.log")" ||
  { cat "$out/psql.log"; die "psql could not log in with the installed CLI's passfile"; }
[[ "$got" == "$IAM_STANDIN_PG_USER true" ]] || die "psql logged in as '$got'"
say "  logged in as $got"

say "a C program through the installed .pc file"
cc -std=c11 -Wall -Wextra -Werror c-tests/installed_app.c -o "$out/dynamic-app" $(pkg-config --cflags --libs iam-db-auth) ||
  die "a build through the installed iam-db-auth.pc failed"
# (The loader may name it through /lib, a link to usr/lib on merged-/usr systems.)
[[ "$(readlink -f "$(ldd "$out/dynamic-app" | awk '/libiam_db_auth/ { print $3 }')")" == "/usr/lib/$tri/libiam_db_auth.so.$VERSION" ]] ||
  die "the program does not load the installed library"
check_app "$out/dynamic-app" "a program linked with the installed library" "$CA_INSTALLED"

say "dpkg -r iam-db-auth"
dpkg -r iam-db-auth >"$out/dpkg-r.log" 2>&1 || { cat "$out/dpkg-r.log"; die "dpkg -r failed"; }
snapshot >"$out/after.txt"
if ! diff "$out/before.txt" "$out/after.txt" >"$out/left.diff"; then
  sed 's/^/  /' "$out/left.diff" >&2
  die "dpkg -r did not leave the file system as it was (< gone, > left behind)"
fi
say "  nothing left behind ($(wc -l <"$out/dpkg-L.txt") paths were installed)"

say "the .rpm file lists"
for target in "${targets[@]}"; do
  arch="${target%%-*}" rpm_file="$DIST/iam-db-auth-$VERSION-1.${target%%-*}.rpm"
  [[ "$(rpm -qp --qf '%{ARCH}' "$rpm_file")" == "$arch" ]] || die "$rpm_file is not for $arch"
  expected="$(sort <<LIST
/usr/bin/iam-db-auth
/usr/include/iam_db_auth.h
/usr/lib64/iam-db-auth
/usr/lib64/iam-db-auth/mariadb-plugins
/usr/lib64/libiam_db_auth.so
/usr/lib64/libiam_db_auth.so.$major
/usr/lib64/libiam_db_auth.so.$VERSION
/usr/lib64/pkgconfig/iam-db-auth.pc
$(cd "$out/deb-$target/usr/share/man/man1" && ls | sed 's|^|/usr/share/man/man1/|')
/usr/share/bash-completion/completions/iam-db-auth
/usr/share/doc/iam-db-auth/README.md
/usr/share/fish/vendor_completions.d/iam-db-auth.fish
/usr/share/iam-db-auth
/usr/share/iam-db-auth/rds-global-bundle.pem
/usr/share/licenses/iam-db-auth/LICENSE
/usr/share/zsh/site-functions/_iam-db-auth
LIST
)"
  listed="$(rpm -qlp "$rpm_file" | sort)"
  if [[ "$listed" != "$expected" ]]; then
    diff <(echo "$expected") <(echo "$listed") | sed 's/^/  /' >&2 || true
    die "$(basename "$rpm_file"): unexpected file list (< expected only, > in the package only)"
  fi
  grep -q '/usr/lib64/mariadb/plugin' <(rpm -qp --scripts "$rpm_file") ||
    die "$(basename "$rpm_file"): its scripts do not use Amazon Linux's plugin directory"
  glibc="$(rpm -qp --requires "$rpm_file" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -n 1)"
  [[ -n "$glibc" ]] || die "$(basename "$rpm_file"): no glibc requirement"
  [[ "$(printf '%s\n%s\n' "$glibc" "$GLIBC_FLOOR" | sort -V | tail -n 1)" == "$GLIBC_FLOOR" ]] ||
    die "$(basename "$rpm_file") requires GLIBC_$glibc"
  say "  $(basename "$rpm_file"): $(wc -l <<<"$listed") paths, as expected; requires GLIBC_$glibc at most"
done

say "SHA256SUMS"
(cd "$DIST" && sha256sum -c --quiet SHA256SUMS) || die "SHA256SUMS does not verify"
for f in "$DIST"/*.tar.gz "$DIST"/*.deb "$DIST"/*.rpm; do
  grep -q "  $(basename "$f")\$" "$DIST/SHA256SUMS" || die "SHA256SUMS does not list $(basename "$f")"
done
sums=$((3 * ${#targets[@]}))  # a tarball, a .deb and an .rpm per target
[[ "$(wc -l <"$DIST/SHA256SUMS")" -ge "$sums" ]] || die "SHA256SUMS lists fewer than the $sums release files"
say "release artifacts: ok ($(( $(date +%s) - start )) s)"
