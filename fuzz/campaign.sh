#!/usr/bin/env bash
# A long fuzzing campaign, one target after another on one core:
#   fuzz/campaign.sh target:seconds[:extra libFuzzer flags] ...
# Builds the targets once and runs copies of the binaries (so editing the sources meanwhile
# does not rebuild under a running campaign). Each run grows fuzz/corpus/<target>; its log
# (coverage over time, final stats) goes to .work/fuzz/<target>-<start>.log; crashes go to
# fuzz/artifacts/<target>/. A target that fails is reported and the next one runs; the exit
# status says whether any failed.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$ROOT/fuzz"
export RUSTC_BOOTSTRAP=1
logs="$WORK/fuzz"; bin="$logs/bin"; mkdir -p "$logs" "$bin"
cargo fuzz build -O
failures=0
built="target/x86_64-unknown-linux-gnu/release"
for spec in "$@"; do
  IFS=: read -r target seconds extra <<<"$spec"
  cp "$built/$target" "$bin/$target"
  log="$logs/$target-$(date +%Y%m%dT%H%M%S).log"
  mkdir -p "corpus/$target" "artifacts/$target"
  say "fuzzing $target for $seconds s (log: $log)"
  "$bin/$target" -artifact_prefix="artifacts/$target/" -max_total_time="$seconds" -timeout=10 \
    -print_final_stats=1 ${extra:-} "corpus/$target" >"$log" 2>&1 ||
    { say "$target failed: see $log"; failures=$((failures + 1)); continue; }
  grep -E "^#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss" "$log" || true
done
((failures == 0))
