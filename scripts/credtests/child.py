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
  fork     as token, plus children and threads: with `threads` threads making tokens for
           other users in a loop, fork `children` times (multiprocessing, fork start method);
           each child makes one token and hands it back; a child that does not answer within
           20 s counts as hung
"""

import json
import multiprocessing
import os
import sys
import threading
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


def in_child(lib: Lib, step: dict, queue) -> None:
    queue.put(one(lib, step))


def fork(lib: Lib, step: dict) -> dict:
    stop = threading.Event()
    busy = {"calls": 0, "errors": 0}

    def hammer(n: int) -> None:
        i = 0
        while not stop.is_set():
            r = one(lib, dict(step, user=f"busy{n}-{i % 50}"))
            busy["calls"] += 1
            busy["errors"] += 0 if r["ok"] else 1
            i += 1

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(step.get("threads", 0))]
    for t in threads:
        t.start()
    ctx = multiprocessing.get_context("fork")
    children, hung = [], 0
    for _ in range(step["children"]):
        queue = ctx.Queue()
        p = ctx.Process(target=in_child, args=(lib, step, queue))
        p.start()
        try:
            children.append(queue.get(timeout=20))
        except Exception:
            hung += 1
            p.kill()
        p.join(5)
    stop.set()
    for t in threads:
        t.join()
    return {"children": children, "hung": hung, "busy": busy}


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
        elif op == "fork":
            out = fork(lib, step)
        elif op == "clear":
            lib.clear()
            out = {}
        else:
            raise SystemExit(f"unknown op {op}")
        out["op"] = op
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
