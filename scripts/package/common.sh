# Shared by the release artifact scripts (sourced, not an artifact of its own): the version,
# the targets, and the glibc 2.28 build every shipped binary comes from.
#
# The build: cargo-zigbuild (pinned below, installed on first use) with zig from PyPI's
# `ziglang` in the project's venv (scripts/platforms/setup-cross.sh installs it), for
# <target>.2.28: zig links against glibc 2.28's symbol versions, so the library and the CLI load
# on glibc 2.28 and newer (RHEL 8, Debian 10, Ubuntu 20.04, Amazon Linux 2023) although this
# machine's glibc is 2.36. Its own build tree, target/zig, so target/release stays as it is.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

ZIGBUILD_VERSION=0.24.1
GLIBC_FLOOR=2.28
ZIG_TARGET_DIR="$ROOT/target/zig"
RELEASE_TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
# Where the library and the CLI look for the installed RDS CA bundle: src/ca/lookup.rs's default
# (the build leaves IAM_DB_AUTH_CA_INSTALLED unset); the .deb and the .rpm put it there, the
# tarball carries it too (docs/platforms.md).
CA_INSTALLED=/usr/share/iam-db-auth/rds-global-bundle.pem
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n 1)"
[[ -n "$VERSION" ]] || die "no version in Cargo.toml"
DIST="$ROOT/dist"

# Whether T is a target these scripts build.
known_target() {
  local t
  for t in "${RELEASE_TARGETS[@]}"; do [[ "$1" == "$t" ]] && return 0; done
  die "unknown target '$1' (known: ${RELEASE_TARGETS[*]})"
}

# The `--target T|all` (or `--target=T`) arguments of artifact script NAME, into the array
# `targets`; the DEFAULT targets when none is given: parse_targets NAME DEFAULT... -- "$@"
parse_targets() {
  local name="$1"; shift
  local defaults=()
  while (($#)) && [[ "$1" != -- ]]; do defaults+=("$1"); shift; done
  (($#)) && shift
  targets=()
  while (($#)); do
    case "$1" in
      --target) (($# >= 2)) || die "--target needs a value"
        if [[ "$2" == all ]]; then targets+=("${RELEASE_TARGETS[@]}"); else targets+=("$2"); fi; shift 2 ;;
      --target=*) targets+=("${1#--target=}"); shift ;;
      *) die "usage: scripts/package.sh $name [--target T|all]..." ;;
    esac
  done
  ((${#targets[@]})) || targets=("${defaults[@]}")
}

# Makes cargo-zigbuild (the pinned version) and zig usable; installs cargo-zigbuild if missing.
ensure_zigbuild() {
  "$VENV/bin/python" -c 'import ziglang' 2>/dev/null ||
    die "no zig in $VENV (PyPI ziglang): run scripts/platforms/setup-cross.sh"
  if [[ "$(cargo-zigbuild --version 2>/dev/null)" != "cargo-zigbuild $ZIGBUILD_VERSION" ]]; then
    say "installing cargo-zigbuild $ZIGBUILD_VERSION (about 2 minutes)"
    timeout 1200 cargo install "cargo-zigbuild@$ZIGBUILD_VERSION" --locked --quiet ||
      die "could not install cargo-zigbuild $ZIGBUILD_VERSION"
  fi
  # cargo-zigbuild runs zig as `python -m ziglang` with this Python.
  export CARGO_ZIGBUILD_PYTHON_PATH="$VENV/bin/python"
  unset IAM_DB_AUTH_CA_INSTALLED
}

# Builds the library and the CLI for target $1 and glibc 2.28 into target/zig/$1/release.
zig_build() {
  local target="$1"
  known_target "$target"
  ensure_zigbuild
  rustup target list --installed 2>/dev/null | grep -qx "$target" ||
    die "the Rust target $target is not installed (scripts/platforms/setup-cross.sh)"
  say "cargo zigbuild --target $target.$GLIBC_FLOOR (the library and the CLI)"
  timeout 3600 cargo zigbuild --release --locked --quiet --target "$target.$GLIBC_FLOOR" \
    -p iam-db-auth -p iam-db-auth-cli --target-dir "$ZIG_TARGET_DIR" ||
    die "cargo zigbuild failed for $target"
}

# The Debian architecture, multiarch triplet and RPM architecture of a Rust target.
deb_arch() { case "$1" in x86_64-*) echo amd64 ;; aarch64-*) echo arm64 ;; esac; }
triplet() { case "$1" in x86_64-*) echo x86_64-linux-gnu ;; aarch64-*) echo aarch64-linux-gnu ;; esac; }
rpm_arch() { echo "${1%%-*}"; }

# Builds the static library for target $1 (libiam_db_auth.a, same build tree and flags) and
# records the system libraries a program linking it needs (rustc's native-static-libs, for the
# .pc file's Libs.private) in target/zig/$1/native-static-libs.
zig_build_static() {
  local target="$1" log
  known_target "$target"
  ensure_zigbuild
  say "cargo-zigbuild rustc --crate-type staticlib --target $target.$GLIBC_FLOOR (the static library)"
  log="$(mktemp)"
  timeout 3600 cargo-zigbuild rustc --release --locked --target "$target.$GLIBC_FLOOR" \
    -p iam-db-auth --lib --crate-type staticlib --target-dir "$ZIG_TARGET_DIR" \
    -- --print native-static-libs 2>"$log" || { cat "$log" >&2; rm -f "$log"; die "the static library's build failed for $target"; }
  # Printed when the library is compiled (cargo replays it when it is not).
  if grep -q 'native-static-libs: ' "$log"; then
    sed -n 's/.*native-static-libs: //p' "$log" | tail -n 1 >"$ZIG_TARGET_DIR/$target/native-static-libs"
  fi
  rm -f "$log"
  [[ -s "$ZIG_TARGET_DIR/$target/native-static-libs" ]] ||
    die "rustc did not say which system libraries the static library needs (rm -rf $ZIG_TARGET_DIR/$target and retry)"
}

# An iam-db-auth CLI this machine runs, for the man pages and completions (the same text for
# every target).
host_cli() {
  local cli="$ZIG_TARGET_DIR/x86_64-unknown-linux-gnu/release/iam-db-auth"
  [[ -x "$cli" ]] || zig_build x86_64-unknown-linux-gnu >&2
  echo "$cli"
}

# Puts the installed files for target T under STAGE, laid out for PREFIX and LIBDIR:
#
#   stage_tree T STAGE PREFIX LIBDIR [static] [gzip-man] [zsh-dir=DIR] [pc-prefix=VALUE]
#
#   LIBDIR/libiam_db_auth.so.VERSION, .so.MAJOR (the SONAME) and .so links, LIBDIR/pkgconfig/
#   iam-db-auth.pc, PREFIX/include/iam_db_auth.h, PREFIX/bin/iam-db-auth, its man pages and
#   shell completions, PREFIX/share/iam-db-auth/rds-global-bundle.pem; with `static`, also
#   LIBDIR/libiam_db_auth.a. The binaries are dist/native/T's (scripts/package/native.sh).
#   pc-prefix: what the .pc file says for prefix (default PREFIX; the tarball's is relocatable).
stage_tree() {
  local target="$1" stage="$2" prefix="$3" libdir="$4"; shift 4
  local static=0 gzip_man=0 zsh_dir="$prefix/share/zsh/site-functions" pc_prefix="$prefix" opt
  for opt in "$@"; do
    case "$opt" in
      static) static=1 ;;
      gzip-man) gzip_man=1 ;;
      zsh-dir=*) zsh_dir="${opt#zsh-dir=}" ;;
      pc-prefix=*) pc_prefix="${opt#pc-prefix=}" ;;
      *) die "stage_tree: unknown option $opt" ;;
    esac
  done
  local native="$DIST/native/$target" major="${VERSION%%.*}" cli
  [[ -f "$native/lib/libiam_db_auth.so" ]] || die "no $native (scripts/package.sh native --target $target)"
  cli="$(host_cli)"
  install -D -m 0755 "$native/lib/libiam_db_auth.so" "$stage$libdir/libiam_db_auth.so.$VERSION"
  ln -sfn "libiam_db_auth.so.$VERSION" "$stage$libdir/libiam_db_auth.so.$major"
  ln -sfn "libiam_db_auth.so.$major" "$stage$libdir/libiam_db_auth.so"
  if ((static)); then
    install -D -m 0644 "$ZIG_TARGET_DIR/$target/release/libiam_db_auth.a" "$stage$libdir/libiam_db_auth.a"
    # Without the debug sections std's objects bring (22 MB to 16): the shared library and the
    # CLI are stripped too (the release profile).
    local strip=strip
    [[ "$target" == x86_64-* ]] || strip="${target%%-*}-linux-gnu-strip"
    "$strip" --strip-debug "$stage$libdir/libiam_db_auth.a"
  fi
  install -d "$stage$libdir/pkgconfig"
  local rel_libdir="\${prefix}${libdir#"$prefix"}"
  cat >"$stage$libdir/pkgconfig/iam-db-auth.pc" <<PC
prefix=$pc_prefix
exec_prefix=\${prefix}
libdir=$rel_libdir
includedir=\${prefix}/include

Name: iam-db-auth
Description: AWS IAM database authentication tokens (RDS, Aurora, DSQL, ElastiCache, MemoryDB)
Version: $VERSION
Libs: -L\${libdir} -liam_db_auth
Libs.private: $(cat "$ZIG_TARGET_DIR/$target/native-static-libs" 2>/dev/null || echo "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc")
Cflags: -I\${includedir}
PC
  install -D -m 0644 "$native/include/iam_db_auth.h" "$stage$prefix/include/iam_db_auth.h"
  install -D -m 0755 "$native/bin/iam-db-auth" "$stage$prefix/bin/iam-db-auth"
  install -d "$stage$prefix/share/man/man1"
  "$cli" generate-man "$stage$prefix/share/man/man1" >/dev/null
  ((gzip_man)) && gzip -9n "$stage$prefix/share/man/man1/"*.1
  install -d "$stage$prefix/share/bash-completion/completions" "$stage$zsh_dir" \
    "$stage$prefix/share/fish/vendor_completions.d"
  "$cli" completions bash >"$stage$prefix/share/bash-completion/completions/iam-db-auth"
  "$cli" completions zsh >"$stage$zsh_dir/_iam-db-auth"
  "$cli" completions fish >"$stage$prefix/share/fish/vendor_completions.d/iam-db-auth.fish"
  install -D -m 0644 certs/rds-global-bundle.pem "$stage$prefix/share/iam-db-auth/rds-global-bundle.pem"
}

# The time stamp every artifact's files get: the last commit's (reproducible archives).
source_date_epoch() { git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s; }
