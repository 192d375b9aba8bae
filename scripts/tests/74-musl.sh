#!/usr/bin/env bash
# tier: deep
# musl: the CLI for x86_64-unknown-linux-musl and aarch64-unknown-linux-musl as fully static
# executables (no program interpreter, no needed library), run in an empty root (docs/platforms.md):
#   - x86_64 in a chroot holding the executable alone; aarch64 under qemu-user with an empty
#     directory as its root for libraries (qemu-aarch64 -L EMPTY), as no static qemu is installed;
#   - every token vector, byte-identical to this machine's (glibc) CLI;
#   - a real login: `pgpass` (run in the empty root) writes the passfile psql logs in with, and
#     `exec` (the static CLI, psql on this machine) starts psql with its token over verified TLS.
# Missing prerequisites are installed by scripts/platforms/setup-cross.sh, or the stage fails.
set -euo pipefail
# The cross builds here test behaviour, not speed: without LTO and with 16 codegen units they
# build in a fraction of the release profile's time (the shipped artifacts use the full one).
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

"$ROOT/scripts/platforms/setup-cross.sh"
export CC_x86_64_unknown_linux_musl=musl-gcc
export CC_aarch64_unknown_linux_musl=aarch64-linux-musl-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-musl-gcc
OUT="$WORK/musl"; rm -rf "$OUT"; mkdir -p "$OUT"
[[ -x "$BIN" ]] || cargo build --release --locked --quiet || die "release build failed"

export IAM_STANDIN_PG_PORT="${IAM_STANDIN_PG_PORT:-15466}"
trap 'scripts/standin/postgres.sh stop >/dev/null 2>&1 || true' EXIT
scripts/standin/postgres.sh start >"$OUT/postgres-start.log" 2>&1 ||
  { cat "$OUT/postgres-start.log"; die "the PostgreSQL stand-in did not start"; }
eval "$(scripts/standin/postgres.sh env)"
demo=(AWS_ACCESS_KEY_ID="$DEMO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$DEMO_SECRET_ACCESS_KEY" AWS_REGION=us-east-1)
WHO="SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
conninfo="host=localhost port=$IAM_STANDIN_PG_PORT dbname=$IAM_STANDIN_PG_DATABASE user=$IAM_STANDIN_PG_USER sslmode=verify-full sslrootcert=$IAM_STANDIN_PG_CA"

for T in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  arch="${T%%-*}"
  say "$T: building the CLI"
  CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo build --release --locked --quiet --target "$T" -p iam-db-auth-cli --bin iam-db-auth ||
    die "build for $T failed"
  exe="$ROOT/target/$T/release/iam-db-auth"
  readelf -hW "$exe" | grep -q "Machine:.*$([[ $arch == x86_64 ]] && echo X86-64 || echo AArch64)" ||
    die "$exe is not an $arch executable"
  ! readelf -lW "$exe" | grep -q INTERP || die "$exe asks for a program interpreter (not static)"
  ! readelf -dW "$exe" | grep -q NEEDED || die "$exe needs shared libraries (not static)"

  # The empty root: the executable, a scratch directory, nothing else.
  root="$OUT/root-$arch"; mkdir -p "$root/tmp"; chmod 1777 "$root/tmp"
  cp "$exe" "$root/iam-db-auth"
  if [[ $arch == x86_64 ]]; then
    run=(timeout 60 chroot "$root" /iam-db-auth)
  else
    run=(timeout 120 qemu-aarch64 -L "$root" "$root/iam-db-auth")
  fi
  say "$T: token vectors in the empty root"
  python3 scripts/platforms/vectors.py "$BIN" -- "${run[@]}" | tee "$OUT/vectors-$arch.txt"

  say "$T: pgpass in the empty root, then psql with that passfile"
  isolated_aws_env "${demo[@]}" "${run[@]}" pgpass -q --host localhost --port "$IAM_STANDIN_PG_PORT" \
    --user "$IAM_STANDIN_PG_USER" --file "$([[ $arch == x86_64 ]] && echo /tmp/pgpass || echo "$root/tmp/pgpass")" ||
    die "$T: pgpass failed"
  got="$(isolated_aws_env PGCONNECT_TIMEOUT=20 PGPASSFILE="$root/tmp/pgpass" timeout 60 psql "$conninfo" -XAt -c "$WHO" \
    2>"$OUT/psql-$arch.log")" || { cat "$OUT/psql-$arch.log"; die "$T: psql could not log in with the passfile"; }
  [[ $got == "$IAM_STANDIN_PG_USER true" ]] || die "$T: psql logged in as '$got'"

  say "$T: exec psql (verified TLS through --ca-file)"
  exec_run=("${run[@]}")
  [[ $arch == x86_64 ]] && exec_run=(timeout 60 "$root/iam-db-auth")  # psql lives outside the empty root
  got="$(isolated_aws_env "${demo[@]}" XDG_CACHE_HOME="$OUT/cache" PGCONNECT_TIMEOUT=20 "${exec_run[@]}" exec \
    --ca-file "$IAM_STANDIN_PG_CA" --host localhost --port "$IAM_STANDIN_PG_PORT" --user "$IAM_STANDIN_PG_USER" -- \
    psql -XAt -d "$IAM_STANDIN_PG_DATABASE" -c "$WHO" 2>"$OUT/exec-$arch.log")" ||
    { cat "$OUT/exec-$arch.log"; die "$T: exec psql failed"; }
  [[ $got == "$IAM_STANDIN_PG_USER true" ]] || die "$T: exec psql logged in as '$got'"
  say "$T: static ($(stat -c %s "$exe") bytes); vectors, pgpass and exec logins passed"
done
