#!/usr/bin/env bash
# Builds the opt-in LD_PRELOAD library for libpq programs, target/release/libiam_db_auth_pq.so,
# from pq-preload/iam_pq_preload.c (see docs/postgres.md). It links libiam_db_auth.so (found next
# to it, $ORIGIN) and no libpq: libpq's functions are looked up at run time. Prints its path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[[ -f "$LIB" ]] || cargo build --release --quiet || die "cargo build --release failed"
soname_link
OUT="$ROOT/target/release/libiam_db_auth_pq.so"
SRC="$ROOT/pq-preload/iam_pq_preload.c"
# No -Wpedantic: dlsym hands back functions as void *, which POSIX allows and ISO C does not.
if [[ ! -f "$OUT" || "$SRC" -nt "$OUT" || "$LIB" -nt "$OUT" || "$ROOT/include/iam_db_auth.h" -nt "$OUT" ]]; then
  cc -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -fvisibility=hidden \
    $(pkg-config --cflags libpq) -I "$ROOT/include" -o "$OUT.tmp.$$" "$SRC" \
    -L "$ROOT/target/release" -liam_db_auth -Wl,-rpath,'$ORIGIN' -Wl,-z,defs -ldl ||
    { rm -f "$OUT.tmp.$$"; die "building $OUT failed"; }
  mv -f "$OUT.tmp.$$" "$OUT"
fi
echo "$OUT"
