#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs (scripts/setup.sh), builds, then runs
# every stage in scripts/tests/ in order. Each stage is a script that exits non-zero on
# failure. Prints one line per stage and a final "N passed, N failed" line.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# CI machines have little disk, and incremental state only pays off on a developer's machine.
if [[ -n "${CI:-}" ]]; then export CARGO_INCREMENTAL=0; fi

# Disk: the suite builds six separate trees (tests, Miri, release, ASan, TSan with its own std,
# fuzz); kept together they took 11 GB, and a CI machine ran out of space mid-run (MariaDB then
# waits for space forever). On CI, or with IAM_TEST_CLEAN=1, a stage's private build tree is
# deleted when the stage ends; developers keep theirs for the next run.
clean_builds="${IAM_TEST_CLEAN:-${CI:+1}}"
declare -A STAGE_BUILD_DIRS=(
  [20-cargo-test]="target/debug"
  [25-miri]="target/miri"
  [44-sanitizers]="target/asan"
  [45-credentials]="target/tsan-std"
  [80-fuzz-smoke]="fuzz/target"
)
free_mb() { df -Pm "$ROOT" | awk 'NR == 2 { print $4 }'; }
min_free_mb="${IAM_TEST_MIN_FREE_MB:-6000}"
say "disk: $(free_mb) MB free under $ROOT"
if (( $(free_mb) < min_free_mb )); then
  echo "warning: less than $min_free_mb MB free; the build trees need about that much" >&2
fi

# No stage may hang the run: each gets a time limit (IAM_STAGE_TIMEOUT seconds), after which
# timeout(1) stops its whole process group and the stage counts as failed.
stage_timeout="${IAM_STAGE_TIMEOUT:-1500}"

"$ROOT/scripts/setup.sh" || die "setup failed"

suite_start=$(date +%s)
passed=0; failed=0; failed_names=()
for stage in "$ROOT"/scripts/tests/[0-9]*.sh; do
  name="$(basename "$stage" .sh)"
  if [[ -n "${IAM_TEST_ONLY:-}" && "$name" != *"$IAM_TEST_ONLY"* ]]; then continue; fi
  say "stage $name"
  start=$(date +%s)
  timeout --kill-after=30 "$stage_timeout" bash "$stage"
  status=$?
  if ((status == 0)); then
    passed=$((passed + 1)); result=ok
  else
    failed=$((failed + 1)); failed_names+=("$name"); result=FAILED
    ((status == 124 || status == 137)) && result="FAILED: timed out after $stage_timeout s"
  fi
  if [[ -n "$clean_builds" && -n "${STAGE_BUILD_DIRS[$name]:-}" ]]; then
    rm -rf "${ROOT:?}/${STAGE_BUILD_DIRS[$name]}"
  fi
  printf 'stage %-28s %s (%ss, %s MB free)\n' "$name" "$result" "$(( $(date +%s) - start ))" "$(free_mb)"
done
say "stages took $(( $(date +%s) - suite_start )) s"
if ((failed)); then echo "failed stages: ${failed_names[*]}"; fi
if ((passed + failed == 0)); then die "no stage ran"; fi
echo "stages: $passed passed, $failed failed"
((failed == 0))
