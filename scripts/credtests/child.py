"""A fresh process that uses the library through its C ABI and runs a list of steps.

Usage: python child.py '<json list of steps>'. Prints one JSON line per step to stdout; the
library's log (IAM_DB_AUTH_LOG) goes to stderr. Each test runs its scenario in a new process
because the library reads its settings once per process and keeps its caches for the process's
life, exactly as a real program would.

Steps (dicts, by "op"):
  token    host, port, user, [region], [profile], [flags], [ext]: one token or its error
  repeat   as token, plus seconds and interval: tokens until the time is up
  setenv   name, value       unsetenv name
  write    path, text        remove path
  sleep    seconds           clear (iam_cache_clear)
"""

import json
import os
import sys
import time

from iamlib import Lib, TokenError


def one(lib: Lib, step: dict) -> dict:
    started = time.perf_counter()
    try:
        if step.get("ext") or step.get("profile") or step.get("flags"):
            token = lib.token_ext(
                step["host"], step["port"], step["user"], step.get("region"), step.get("profile"), step.get("flags", 0)
            )
        else:
            token = lib.token(step["host"], step["port"], step["user"], step.get("region"))
        return {"ok": True, "token": token, "ms": (time.perf_counter() - started) * 1000, "at": time.time()}
    except TokenError as e:
        return {"ok": False, "code": e.code, "message": e.message, "ms": (time.perf_counter() - started) * 1000}


def main() -> None:
    lib = Lib()
    for step in json.loads(sys.argv[1]):
        op = step["op"]
        if op == "token":
            out = one(lib, step)
        elif op == "repeat":
            out = {"results": []}
            end = time.monotonic() + step["seconds"]
            while time.monotonic() < end:
                out["results"].append(one(lib, step))
                time.sleep(step.get("interval", 1))
        elif op == "setenv":
            os.environ[step["name"]] = step["value"]
            out = {}
        elif op == "unsetenv":
            os.environ.pop(step["name"], None)
            out = {}
        elif op == "write":
            os.makedirs(os.path.dirname(step["path"]), exist_ok=True)
            with open(step["path"], "w") as f:
                f.write(step["text"])
            out = {}
        elif op == "remove":
            os.remove(step["path"])
            out = {}
        elif op == "sleep":
            time.sleep(step["seconds"])
            out = {}
        elif op == "clear":
            lib.clear()
            out = {}
        else:
            raise SystemExit(f"unknown op {op}")
        out["op"] = op
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
