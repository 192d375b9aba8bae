#!/usr/bin/env bash
# tier: deep
# Stage 80: the fuzz targets (fuzz/, cargo-fuzz, libFuzzer + ASan) still build, lint clean,
# replay their committed corpus and every input that once crashed them (fuzz/regressions/),
# and fuzz a few seconds each without a finding. The long runs that built the corpus are
# fuzz/campaign.sh (see fuzz/README.md); this keeps them honest between campaigns.
#
# IAM_FUZZ_SECONDS (default 5): fuzzing time per target after the replay.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT/fuzz"
command -v cargo-fuzz >/dev/null || die "cargo-fuzz is not installed (scripts/setup.sh installs it)"
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, sanitizer coverage); the toolchain
# is stable, and this makes it accept them.
export RUSTC_BOOTSTRAP=1
seconds="${IAM_FUZZ_SECONDS:-5}"

say "lint: cargo fmt --check, clippy -D warnings (fuzz crate)"
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings

start=$(date +%s)
cargo fuzz build -O 2>&1 | grep -vE "^\s+(Compiling|Checking)" || true
bin="$ROOT/fuzz/target/x86_64-unknown-linux-gnu/release"
say "fuzz targets built in $(( $(date +%s) - start )) s"

targets=($(cargo fuzz list))
((${#targets[@]} >= 6)) || die "expected at least 6 fuzz targets, found: ${targets[*]}"
scratch="$WORK/fuzz-smoke"; rm -rf "$scratch"
for target in "${targets[@]}"; do
  [[ -x "$bin/$target" ]] || die "$target was not built"
  [[ -d "corpus/$target" ]] && (( $(ls "corpus/$target" | wc -l) > 0 )) || die "no committed corpus for $target"
  mkdir -p "$scratch/$target" "$scratch/artifacts-$target"
  dirs=("corpus/$target")
  [[ -d "regressions/$target" ]] && dirs+=("regressions/$target")
  # New inputs go to the scratch directory (the first one given), never into the committed
  # corpus. A crash, leak, timeout or OOM fails the stage and leaves its input in the log dir.
  log="$scratch/$target.log"
  if ! "$bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$scratch/artifacts-$target/" -print_final_stats=1 \
      "$scratch/$target" "${dirs[@]}" >"$log" 2>&1; then
    tail -n 40 "$log"
    die "fuzz target $target failed (input in $scratch/artifacts-$target/)"
  fi
  runs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')"
  cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)"
  printf '  ok    %-14s %9s runs, %s (corpus %s inputs%s)\n' "$target" "$runs" "$cov" \
    "$(ls "corpus/$target" | wc -l)" \
    "$([[ -d "regressions/$target" ]] && echo ", $(ls "regressions/$target" | wc -l) regression inputs")"
done
echo "${#targets[@]} passed, 0 failed"
