#!/usr/bin/env bash
# The test suite, in two tiers (each stage in scripts/tests/ says `# tier: fast`, `# tier: deep`
# or `# tier: fast deep`: a pytest stage then runs its fast checks in one and the rest in the other):
#
#   scripts/test.sh          the fast tier: lint, cargo test, the release build, the C ABI tests and
#                            one real login through each door (budget: 12 minutes on 2 cores, once
#                            setup has installed the packages)
#   scripts/test.sh --deep   the deep tier: Miri, sanitizers, credential sources, the long
#                            end-to-end matrices, the botocore differential, fuzz and benchmark
#                            smoke runs, the demo (budget: 60 minutes)
#   scripts/test.sh --all    both, fast first (what CI runs)
#
# Installs what it needs first (scripts/setup.sh; its time is printed apart). Prints one line per
# stage with its time, and a final "N passed, N failed" line. IAM_TEST_ONLY=<part of a name>
# runs the matching stages of the chosen tier(s).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

tiers=(fast)
case "${1:-}" in
  "") ;;
  --deep) tiers=(deep) ;;
  --all) tiers=(fast deep) ;;
  -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "usage: scripts/test.sh [--deep|--all]" ;;
esac

# CI machines have little disk, and incremental state only pays off on a developer's machine.
if [[ -n "${CI:-}" ]]; then export CARGO_INCREMENTAL=0; fi

# Disk: the deep tier builds separate trees (Miri, ASan, TSan with its own std, fuzz); on CI, or
# with IAM_TEST_CLEAN=1, a stage's private build tree is deleted when the stage ends.
clean_builds="${IAM_TEST_CLEAN:-${CI:+1}}"
declare -A STAGE_BUILD_DIRS=(
  [15-msrv-doc]="target/msrv"
  [25-miri]="target/miri"
  [44-sanitizers]="target/asan"
  [45-credentials]="target/tsan-std"
  [59-package-rust]="target/examples"
  [65-install]="target/capi"
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

setup_start=$(date +%s)
setup_args=()
[[ " ${tiers[*]} " == *" deep "* ]] && setup_args=(--deep)
"$ROOT/scripts/setup.sh" "${setup_args[@]}" || die "setup failed"
say "setup took $(( $(date +%s) - setup_start )) s"

# The stages of one tier, in order.
stages_of() {
  local tier="$1" stage
  for stage in "$ROOT"/scripts/tests/[0-9]*.sh; do
    grep -qE "^# tier:( [a-z]+)* $tier( |\$)" "$stage" && printf '%s\n' "$stage"
  done
}

passed=0; failed=0; failed_names=()
for tier in "${tiers[@]}"; do
  tier_start=$(date +%s)
  while IFS= read -r stage; do
    name="$(basename "$stage" .sh)"
    if [[ -n "${IAM_TEST_ONLY:-}" && "$name" != *"$IAM_TEST_ONLY"* ]]; then continue; fi
    say "stage $name ($tier)"
    start=$(date +%s)
    IAM_TEST_TIER="$tier" timeout --kill-after=30 "$stage_timeout" bash "$stage"
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
  done < <(stages_of "$tier")
  say "$tier tier took $(( $(date +%s) - tier_start )) s"
done
if ((failed)); then echo "failed stages: ${failed_names[*]}"; fi
if ((passed + failed == 0)); then die "no stage ran"; fi
echo "stages: $passed passed, $failed failed"
((failed == 0))
