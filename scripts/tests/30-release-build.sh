#!/usr/bin/env bash
# tier: fast
# The release artifacts every later stage uses: target/release/{libiam_db_auth.so,iam-db-auth}.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
cargo build --release --locked --quiet
test -f "$LIB" && test -x "$BIN"
soname_link
say "library: $(stat -c %s "$LIB") bytes stripped; binary: $(stat -c %s "$BIN") bytes"
# The library must not depend on libmariadb or libpq (it is loaded inside their clients).
if ldd "$LIB" | grep -Eq 'libmariadb|libmysqlclient|libpq'; then
  die "libiam_db_auth.so links a database client library"
fi
