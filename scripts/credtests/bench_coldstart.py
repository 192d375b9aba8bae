"""Cold start and failure bounds, measured (never asserted: times depend on the machine).

Each measurement runs in fresh processes with a clean environment (no AWS settings from outside,
HOME in a temporary directory, the real metadata endpoint never reached):

  first token, env credentials     the first iam_token_get of a fresh process (C ABI, ctypes)
                                   and a whole `iam-db-auth token` process
  first token, IMDS stand-in       the same with credentials from a loopback IMDSv2 stand-in
  no credentials, black hole       no credentials anywhere, the metadata endpoint a loopback
                                   port that accepts nothing (full backlog: SYNs dropped): the
                                   first failure, then two more calls in the same process (the
                                   metadata endpoint is skipped for 30 s), then credentials
                                   appear in the environment and the next call
  no credentials, hanging server   the same with an endpoint that accepts and never answers

Usage: python bench_coldstart.py [--runs N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import BIN, HOST, LIB, PORT  # noqa: E402
from standins import BlackHole, Creds, Hang, Imds  # noqa: E402

TOKEN = {"op": "token", "host": HOST, "port": PORT, "user": "app"}


def clean_env(home: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IAM_DB_AUTH_"))}
    env.update(
        HOME=str(home),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL="http://127.0.0.1:9",
        IAM_DB_AUTH_LIB=str(LIB),
        PYTHONPATH=str(HERE),
    )
    env.update(extra)
    return env


def child(steps: list[dict], env: dict) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, str(HERE / "child.py"), json.dumps(steps)], env=env, capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise SystemExit(f"child failed: {proc.stderr[-2000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def summary(values: list[float]) -> dict:
    return {
        "median_ms": round(statistics.median(values), 3),
        "min_ms": round(min(values), 3),
        "max_ms": round(max(values), 3),
        "runs": len(values),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="iam-bench-"))
    out: dict[str, dict] = {}
    creds = Creds.long_term("env", "bench")
    env_creds = {"AWS_ACCESS_KEY_ID": creds.key_id, "AWS_SECRET_ACCESS_KEY": creds.secret}

    # First token with env credentials: the first C call of a fresh process, then a second.
    first, second = [], []
    for _ in range(args.runs):
        a, b = child([TOKEN, TOKEN], clean_env(home, **env_creds))
        assert a["ok"] and b["ok"], (a, b)
        first.append(a["ms"])
        second.append(b["ms"])
    out["env: first call in a fresh process"] = summary(first)
    out["env: second call (cache hit)"] = summary(second)

    cli = []
    for _ in range(args.runs):
        started = time.perf_counter()
        p = subprocess.run(
            [str(BIN), "token", "--host", HOST, "--port", str(PORT), "--user", "app"],
            env=clean_env(home, **env_creds),
            capture_output=True,
            text=True,
        )
        cli.append((time.perf_counter() - started) * 1000)
        assert p.returncode == 0, p.stderr
    out["env: whole `iam-db-auth token` process"] = summary(cli)

    with Imds() as imds:
        env = clean_env(home, AWS_EC2_METADATA_DISABLED="false", AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url)
        vals = []
        for _ in range(args.runs):
            (a,) = child([TOKEN], env)
            assert a["ok"], a
            vals.append(a["ms"])
        out["imds stand-in: first call in a fresh process"] = summary(vals)

    late = [
        TOKEN,
        TOKEN,
        TOKEN,
        {"op": "setenv", "name": "AWS_ACCESS_KEY_ID", "value": creds.key_id},
        {"op": "setenv", "name": "AWS_SECRET_ACCESS_KEY", "value": creds.secret},
        TOKEN,
    ]
    for label, make in (("black hole (SYNs dropped)", BlackHole), ("hanging server (accepts, never answers)", Hang)):
        endpoint = make()
        try:
            env = clean_env(home, AWS_EC2_METADATA_DISABLED="false", AWS_EC2_METADATA_SERVICE_ENDPOINT=endpoint.url)
            f1, f2, f3, ok = [], [], [], []
            message = ""
            for _ in range(args.runs):
                r = child(late, env)
                a, b, c, d = r[0], r[1], r[2], r[5]
                assert not a["ok"] and not b["ok"] and not c["ok"] and d["ok"], r
                message = a["message"]
                f1.append(a["ms"])
                f2.append(b["ms"])
                f3.append(c["ms"])
                ok.append(d["ms"])
            out[f"{label}: first failure"] = summary(f1)
            out[f"{label}: second failure, same process"] = summary(f2)
            out[f"{label}: third failure, same process"] = summary(f3)
            out[f"{label}: env credentials set, next call"] = summary(ok)
            out[f"{label}: first failure message"] = {"text": message}
        finally:
            endpoint.stop()

    shutil.rmtree(home, ignore_errors=True)
    width = max(len(k) for k in out)
    for k, v in out.items():
        if "text" in v:
            print(f"{k}:\n    {v['text']}")
        else:
            print(f"{k:<{width}}  median {v['median_ms']:>9.3f} ms  (min {v['min_ms']:.3f}, max {v['max_ms']:.3f}, {v['runs']} runs)")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
