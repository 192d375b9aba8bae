#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs (scripts/setup.sh), builds, then runs
# every stage in scripts/tests/ in order. Each stage is a script that exits non-zero on
# failure. Prints one line per stage and a final "N passed, N failed" line.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

"$ROOT/scripts/setup.sh" || die "setup failed"

passed=0; failed=0; failed_names=()
for stage in "$ROOT"/scripts/tests/[0-9]*.sh; do
  name="$(basename "$stage" .sh)"
  if [[ -n "${IAM_TEST_ONLY:-}" && "$name" != *"$IAM_TEST_ONLY"* ]]; then continue; fi
  say "stage $name"
  start=$(date +%s)
  if bash "$stage"; then
    passed=$((passed + 1)); result=ok
  else
    failed=$((failed + 1)); failed_names+=("$name"); result=FAILED
  fi
  printf 'stage %-28s %s (%ss)\n' "$name" "$result" "$(( $(date +%s) - start ))"
done
if ((failed)); then echo "failed stages: ${failed_names[*]}"; fi
if ((passed + failed == 0)); then die "no stage ran"; fi
echo "stages: $passed passed, $failed failed"
((failed == 0))
