#!/usr/bin/env bash
# Prints the newest glibc symbol version each ELF file needs and fails if one needs more than
# the floor (default 2.28, the glibc of RHEL 8 and Debian 10; GLIBC_FLOOR=X.Y to change it):
#
#   scripts/package/check-glibc.sh FILE...
#
# The version a file needs is the highest GLIBC_x.y among the versions it requires from any
# library (readelf's .gnu.version_r, which is what the dynamic loader checks at load time,
# whatever the file's architecture). A file needing GLIBC_PRIVATE fails too: no other glibc
# provides it. A file that needs no versioned glibc symbol (a static executable) prints "none".
set -euo pipefail
floor="${GLIBC_FLOOR:-2.28}"
(($#)) || { echo "usage: scripts/package/check-glibc.sh FILE..." >&2; exit 2; }
# Whether version $1 is above $2 (sort -V orders dotted versions).
above() { [[ "$1" != "$2" && "$(printf '%s\n%s\n' "$1" "$2" | sort -V | tail -n 1)" == "$1" ]]; }
failed=0
for file in "$@"; do
  if ! needs="$(LC_ALL=C readelf -V --wide "$file" 2>/dev/null)"; then
    echo "$file: not an ELF file" >&2; failed=1; continue
  fi
  # Only the needs section: a file may also define versions of its own.
  needs="$(awk '/^Version needs section/ { on = 1; next } /^Version (definition|symbols) section/ { on = 0 } on' <<<"$needs" |
    grep -o 'Name: GLIBC_[A-Z0-9_.]*' | sed 's/^Name: GLIBC_//' | sort -u)" || true
  if grep -qx PRIVATE <<<"$needs"; then
    echo "$file: needs GLIBC_PRIVATE" >&2; failed=1; continue
  fi
  highest="$(grep -E '^[0-9]+(\.[0-9]+)*$' <<<"$needs" | sort -V | tail -n 1)" || true
  if [[ -z "$highest" ]]; then
    printf '%s: none\n' "$file"
  elif above "$highest" "$floor"; then
    printf '%s: GLIBC_%s (above the floor %s)\n' "$file" "$highest" "$floor" >&2; failed=1
  else
    printf '%s: GLIBC_%s\n' "$file" "$highest"
  fi
done
exit "$failed"
