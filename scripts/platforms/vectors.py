#!/usr/bin/env python3
"""Runs every token vector (crates/iam-db-auth/tests/vectors/tokens.jsonl) through a CLI built
for another target, and checks each output against the vector's expected token (same host and
parameters, as the CLI's own test compares them) and byte for byte against this machine's CLI.

Usage: vectors.py REFERENCE_CLI -- COMMAND...   (COMMAND runs the other CLI, e.g.
       qemu-aarch64 -L /usr/aarch64-linux-gnu target/aarch64-unknown-linux-gnu/release/iam-db-auth)
Prints "N passed, N failed" and exits non-zero on any failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

VECTORS = Path(__file__).resolve().parents[2] / "crates/iam-db-auth/tests/vectors/tokens.jsonl"


def command(v: dict) -> list[str]:
    """The CLI arguments for one vector (as crates/iam-db-auth-cli/tests/cli.rs builds them)."""
    kind = v["kind"]
    expires = str(v["expires"])
    if kind == "dsql":
        args = ["dsql", "generate-db-connect-auth-token"]
    elif kind == "dsql-admin":
        args = ["dsql", "generate-db-connect-admin-auth-token"]
    else:
        args = ["token", "--kind", kind, "--username", v["user"]]
        if v.get("port") is not None:
            args += ["--port", str(v["port"])]
        if kind != "rds":
            args += ["--expires-in", expires]
    args += ["--hostname", v["host"], "--region", v["region"], "--signing-time", v["time"]]
    if args[0] == "dsql":
        args += ["--expires-in", expires]
    return args


def params(token: str) -> tuple[str, dict[str, str]]:
    host, query = token.strip().split("/?", 1)
    return host, dict(kv.split("=", 1) for kv in query.split("&"))


def env(v: dict) -> dict[str, str]:
    e = {k: val for k, val in os.environ.items() if not k.startswith(("AWS_", "IAM_DB_AUTH_"))}
    e.update(
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/nonexistent/aws-config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
        AWS_ACCESS_KEY_ID=v["access_key_id"],
        AWS_SECRET_ACCESS_KEY=v["secret_access_key"],
    )
    if v.get("session_token"):
        e["AWS_SESSION_TOKEN"] = v["session_token"]
    return e


def main() -> int:
    sep = sys.argv.index("--")
    reference, other = sys.argv[1:sep], sys.argv[sep + 1 :]
    passed = failed = 0
    kinds = set()
    for line in VECTORS.read_text().splitlines():
        if not line.strip():
            continue
        v = json.loads(line)
        args = command(v)
        ref = subprocess.run([*reference, *args], env=env(v), capture_output=True, text=True, timeout=60)
        got = subprocess.run([*other, *args], env=env(v), capture_output=True, text=True, timeout=120)
        problems = []
        if ref.returncode != 0:
            problems.append(f"reference CLI failed: {ref.stderr.strip()}")
        if got.returncode != 0:
            problems.append(f"CLI failed ({got.returncode}): {got.stderr.strip()}")
        elif params(got.stdout) != params(v["expected"]):
            problems.append("token differs from the expected one")
        elif got.stdout != ref.stdout:
            problems.append("token differs from the reference CLI's")
        if problems:
            failed += 1
            print(f"FAIL {v['name']}: {'; '.join(problems)}")
        else:
            passed += 1
            kinds.add(v["kind"])
    for kind in ("rds", "dsql", "dsql-admin", "elasticache"):
        if kind not in kinds:
            failed += 1
            print(f"FAIL no {kind} vector passed")
    print(f"vectors: {passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
