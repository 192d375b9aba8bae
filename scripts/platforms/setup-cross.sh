#!/usr/bin/env bash
# What the cross-target stages (72-aarch64, 74-musl, 76-macos) need, idempotent:
#   - Debian's aarch64 cross toolchain and runtime (for qemu-aarch64 -L /usr/aarch64-linux-gnu),
#     qemu-user, musl-tools, and the arm64 architecture in dpkg (for `apt-get download` only);
#   - the Rust targets;
#   - the arm64 sysroot in .work/sysroot-arm64: libmariadb-dev:arm64 (the plugin's headers),
#     the arm64 `mariadb` and `psql` clients and the libraries they load, unpacked with
#     `dpkg -x`. Debian cannot install these beside the amd64 server and client packages, so
#     they are never installed, only unpacked, and run as `qemu-aarch64 -L .work/sysroot-arm64`.
#   - zig (PyPI `ziglang`, in the venv) as the C compiler for macOS's ring build.
# Usage: scripts/platforms/setup-cross.sh   (prints nothing when everything is there)
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

# musl-dev:arm64 gives aarch64-linux-musl-gcc (a wrapper over the aarch64 gcc) for ring's C.
APT_PACKAGES=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross libc6-arm64-cross libgcc-s1-arm64-cross
  qemu-user musl-tools musl-dev:arm64)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
updated=0
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  dpkg --add-architecture arm64  # its package lists come with the update below
  updated=1
fi
if ((${#missing[@]})) || ((updated)); then
  say "installing Debian packages: ${missing[*]:-(arm64 package lists only)}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  ((${#missing[@]} == 0)) ||
    timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

for target in aarch64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl \
  aarch64-apple-darwin; do
  rustup target list --installed | grep -qx "$target" || timeout 600 rustup target add "$target"
done

# The arm64 packages the sysroot holds: the MariaDB client and headers, psql, and every library
# they load (the closure Debian 12's dependencies give, minus what libc6-arm64-cross has).
ARM64_PACKAGES=(
  libc6 libgcc-s1 libstdc++6
  libmariadb-dev libmariadb3 mariadb-client mariadb-client-core
  postgresql-client-15 libpq5
  libssl3 zlib1g libzstd1 liblz4-1 libedit2 libbsd0 libmd0 libncurses6 libtinfo6 libreadline8
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libcom-err2 libkrb5support0 libkeyutils1
  libldap-2.5-0 libsasl2-2 libgnutls30 libp11-kit0 libidn2-0 libunistring2 libtasn1-6
  libnettle8 libhogweed6 libgmp10 libffi8 libselinux1 libpcre2-8-0
)
SYSROOT="$WORK/sysroot-arm64"
stamp="$SYSROOT/.packages"
if [[ "$(cat "$stamp" 2>/dev/null)" != "${ARM64_PACKAGES[*]}" ]]; then
  say "unpacking the arm64 sysroot into $SYSROOT"
  debs="$WORK/debs-arm64"
  rm -rf "$debs" "$SYSROOT"
  mkdir -p "$debs" "$SYSROOT"
  (cd "$debs" && timeout 600 apt-get download -q "${ARM64_PACKAGES[@]/%/:arm64}" >/dev/null 2>&1) ||
    die "apt-get download of the arm64 packages failed"
  for deb in "$debs"/*.deb; do dpkg -x "$deb" "$SYSROOT"; done
  echo "${ARM64_PACKAGES[*]}" >"$stamp"
fi

[[ -x "$VENV/bin/python" ]] || die "no Python venv: run scripts/setup.sh"
if ! "$VENV/bin/python" -c 'import ziglang' 2>/dev/null; then
  say "installing zig (PyPI ziglang) into $VENV"
  timeout 600 "$VENV/bin/pip" install -q --disable-pip-version-check 'ziglang==0.17.1' ||
    die "could not install ziglang"
fi
