#!/usr/bin/env bash
# Installs everything the build and the tests need on a fresh Debian 12 machine (idempotent):
# Debian packages, Rust components, and a Python venv in .venv. `--deep` adds what only the deep
# tier needs (cargo-fuzz, the nightly toolchain's miri and rust-src, the cross tools, rpm, cargo-zigbuild).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

APT_PACKAGES=(
  build-essential pkg-config valgrind golang-go python3-venv python3-dev
  mariadb-server mariadb-client libmariadb-dev libpam0g-dev libclang-dev
  # The proxy's MySQL clients (tests/e2e/test_proxy_mysql.py): PHP PDO_mysql (mysqlnd),
  # MariaDB Connector/J (Debian's jar) on a headless JRE, node mysql2 (npm ci in
  # tests/e2e/clients/node-mysql).
  php-cli php-mysql libmariadb-java default-jre-headless nodejs
  postgresql postgresql-client libpq-dev openssl
  clang libclang-rt-14-dev gdb
  procps util-linux  # the stand-ins: pgrep, runuser, setsid
  libfaketime faketime  # clocks moved past a token's expiry (IAM_STANDIN_FAKETIME_FILE)
  # The Go package's tests build offline (GOPATH mode) against Debian's driver sources (stage 57).
  golang-github-jackc-pgx-v4-dev golang-github-go-sql-driver-mysql-dev
  # The Go cold-start benchmark's other side (scripts/bench/go-node-cold-start.sh).
  golang-github-aws-aws-sdk-go-v2-dev golang-github-aws-aws-sdk-go-dev
  # The proxy's PostgreSQL clients (tests/e2e/test_proxy_postgres.py): PgBouncer in front of it,
  # pgjdbc (Debian's jar) on a headless JRE, node-postgres (npm ci in tests/e2e/clients/node-pg;
  # npm below: a nodejs from NodeSource carries its own and conflicts with Debian's).
  pgbouncer libpostgresql-jdbc-java default-jre-headless nodejs
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# npm for the node clients of the e2e tests, when the installed nodejs did not bring one.
command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
# The Debian server packages start services on install; the tests run their own instances.
for svc in mariadb postgresql pgbouncer; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done

for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done

deep=0
[[ "${1:-}" == --deep ]] && deep=1

# Fuzzing (stage 80): cargo-fuzz, pinned. Miri (stage 25): the machine's nightly toolchain
# with its miri and rust-src components.
# The declared MSRV (stage 15): the toolchain named by the workspace's rust-version.
msrv="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml")"
if ((deep)) && [[ -n "$msrv" ]] && ! rustup toolchain list 2>/dev/null | grep -q "^$msrv-"; then
  say "installing Rust $msrv (the declared MSRV)"
  rustup toolchain install "$msrv" --profile minimal ||
    echo "warning: could not install Rust $msrv (stage 15 will fail)" >&2
fi

if ((deep)) && ! command -v cargo-fuzz >/dev/null 2>&1; then
  say "installing cargo-fuzz"
  cargo install cargo-fuzz@0.13.2 --locked --quiet
fi
if ((deep)) && rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  for component in miri rust-src; do
    # A failed download fails stage 25 (and leaves stage 45's TSan on its fallback), not the
    # whole run: those stages say what is missing.
    rustup +nightly component list --installed 2>/dev/null | grep -q "^$component" ||
      rustup component add --toolchain nightly "$component" ||
      echo "warning: could not add nightly's $component (stage 25 will fail: Miri cannot run)" >&2
  done
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating Python venv in $VENV"
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/scripts/requirements.txt"

# The cross targets (stages 72, 74, 76): cross toolchains, qemu-user, Rust targets, the arm64
# sysroot, zig.
if ((deep)); then
  "$ROOT/scripts/platforms/setup-cross.sh"
fi

# Release artifacts (stage 67): Debian's rpm (rpmbuild) and cargo-zigbuild at the version
# scripts/package/common.sh pins (the glibc 2.28 build; the package scripts install it too).
if ((deep)); then
  if ! dpkg-query -W -f='${Status}' rpm 2>/dev/null | grep -q "install ok installed"; then
    say "installing Debian's rpm (rpmbuild)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rpm >/dev/null
  fi
  zigbuild="$(sed -n 's/^ZIGBUILD_VERSION=//p' "$ROOT/scripts/package/common.sh")"
  if [[ "$(cargo-zigbuild --version 2>/dev/null)" != "cargo-zigbuild $zigbuild" ]]; then
    say "installing cargo-zigbuild $zigbuild"
    cargo install "cargo-zigbuild@$zigbuild" --locked --quiet
  fi
fi
