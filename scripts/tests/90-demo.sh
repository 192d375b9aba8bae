#!/usr/bin/env bash
# tier: deep
# The README's first command, as a user runs it.
set -euo pipefail
exec bash "$(dirname "$0")/../demo.sh"
