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
