#!/usr/bin/env bash
# tier: deep
# Differential test against botocore (the AWS CLI's signer): random hosts, ports (443
# included), users full of characters that need encoding, session tokens, times. Byte-identical
# tokens, and our verifier accepts botocore's.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"
[[ -x "$BIN" ]] || cargo build --release --quiet
seed="${IAM_DIFF_SEED:-$(date +%s)}"
say "botocore $("$VENV/bin/python" -c 'import botocore; print(botocore.__version__)'), seed $seed"
isolated_aws_env "$VENV/bin/python" scripts/botocore_diff.py "$BIN" "${IAM_DIFF_CASES:-300}" "$seed"
