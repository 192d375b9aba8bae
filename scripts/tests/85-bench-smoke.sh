#!/usr/bin/env bash
# tier: deep
# The benchmarks keep compiling and running: scripts/bench.sh --smoke runs every part with tiny
# counts (cargo bench in --test mode, hyperfine against the AWS CLI, ctypes against boto3,
# threads, cold start, the MySQL plugin logins) and writes its report. Numbers are not checked
# (timing goals are measured, not asserted); what is checked: every criterion benchmark ran,
# both CLIs made tokens the verifier accepts (inside bench.sh), the report has every table, and
# the CLI's fast path with env credentials opens no certificate store, no AWS file and no
# connection.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

OUT="$WORK/bench-smoke"
IAM_BENCH_OUT="$OUT" scripts/bench.sh --smoke >"$WORK/bench-smoke.log" 2>&1 ||
  { tail -n 40 "$WORK/bench-smoke.log"; die "scripts/bench.sh --smoke failed"; }

ran="$(grep -c '^Success' "$OUT/criterion.txt" || true)"
expected="$(grep -cE '^Testing ' "$OUT/criterion.txt" || true)"
((expected >= 11)) || die "cargo bench ran $expected benchmarks, expected at least 11"
((ran == expected)) || die "cargo bench: $ran of $expected benchmarks succeeded"
say "cargo bench --test: $ran benchmarks ran"

for table in "### Targets" "### Side by side" "### (c) Throughput" "### (d) Cold start" "### (e) IAM logins" \
  "### The CLI's fast path"; do
  grep -qF "$table" "$OUT/results.md" || die "the bench report lacks '$table'"
done
[[ -s "$OUT/bench.png" ]] || die "no plot was drawn"

"$ROOT/.venv-bench/bin/python" - "$OUT/results.json" <<'EOF'
import json, sys
strace = json.load(open(sys.argv[1]))["strace"]
problems = []
if strace["certificate_files"]:
    problems.append(f"certificate files opened: {strace['certificate_files']}")
if strace["aws_files"]:
    problems.append(f"AWS files opened: {strace['aws_files']}")
if strace["connects"]:
    problems.append(f"{strace['connects']} connect() calls")
if not strace["opened"]:
    problems.append("strace saw no file opened at all (did it run?)")
if problems:
    sys.exit("iam-db-auth token with env credentials: " + "; ".join(problems))
print(f"fast path: {strace['syscalls']} system calls, no certificate store, no AWS file, no connection")
EOF
say "bench smoke run complete (report: $OUT/results.md)"
