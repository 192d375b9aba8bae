#!/usr/bin/env bash
# Builds release artifacts and language packages into dist/, one subcommand per artifact:
#
#   scripts/package.sh list          the artifacts this script can build
#   scripts/package.sh NAME [ARGS]   builds one (scripts/package/NAME.sh does the work)
#   scripts/package.sh all           builds every artifact, in the order of `list`
#
# Each scripts/package/NAME.sh starts with a `# artifact: <one line>` comment (what it builds and
# where it puts it) and writes only below dist/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# The scripts with an `# artifact:` line (the others are helpers they share); SHA256SUMS last,
# as it sums the others' output.
artifacts() {
  local f
  for f in "$ROOT"/scripts/package/*.sh; do
    [[ -f "$f" ]] && grep -q '^# artifact: ' "$f" && basename "$f" .sh
  done | awk '$0 == "checksums" { last = 1; next } { print } END { if (last) print "checksums" }'
  return 0
}

case "${1:-}" in
  ""|-h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  list)
    for name in $(artifacts); do
      printf '%-12s %s\n' "$name" "$(sed -n 's/^# artifact: //p' "scripts/package/$name.sh")"
    done ;;
  all)
    shift
    for name in $(artifacts); do say "package $name"; bash "scripts/package/$name.sh" "$@"; done ;;
  *)
    name="$1"; shift
    grep -qs '^# artifact: ' "scripts/package/$name.sh" || die "no artifact '$name' (scripts/package.sh list)"
    exec bash "scripts/package/$name.sh" "$@" ;;
esac
