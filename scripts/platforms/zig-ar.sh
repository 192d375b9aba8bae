#!/usr/bin/env bash
# The archiver that goes with zig-cc.sh (zig's llvm-ar), for cross targets without binutils.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
exec "$root/.venv/bin/python" -m ziglang ar "$@"
