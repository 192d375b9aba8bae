"""Cold start of the Python package against boto3: a fresh process that loads the package and
makes one token (environment credentials), CPU time (user + system, from wait4), medians.

    python scripts/bench/python_cold_start.py OURS_PYTHON BOTO3_PYTHON [RUNS]

OURS_PYTHON is a venv's python with the iam_db_auth wheel installed; BOTO3_PYTHON one with boto3.
Also prints the parts of our process, measured inside it with time.process_time(): `import
ctypes`, loading the library (ctypes.CDLL: the dynamic loader, relocations, the library's
initialisers), importing the package's Python modules, and the first token (options,
credentials from the environment, region, signing). The library's own share is loading it plus
the first token.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

HOST = "mydb.c9akciq32.us-east-1.rds.amazonaws.com"
ENV = {
    "PATH": "/usr/bin:/bin",
    "AWS_ACCESS_KEY_ID": "AKIAIAMDBAUTHDEMO001",
    "AWS_SECRET_ACCESS_KEY": "iamDbAuthDemoSecret/0123456789+abcdefghijkl",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}
OURS = f"""
import iam_db_auth
iam_db_auth.token({HOST!r}, 5432, "app")
"""
# The same work split in parts, timed inside the process: the library's own share is loading it
# (ctypes.CDLL: the dynamic loader, relocations, initialisers) and the first token; the package's
# Python modules are imported after the library is mapped (a second dlopen of it is a lookup).
OURS_PARTS = f"""
import sysconfig, time, json
path = sysconfig.get_paths()["platlib"] + "/iam_db_auth/libiam_db_auth.so"
t0 = time.process_time()
import ctypes
t1 = time.process_time()
ctypes.CDLL(path)
t2 = time.process_time()
import iam_db_auth
t3 = time.process_time()
iam_db_auth.token({HOST!r}, 5432, "app")
t4 = time.process_time()
print(json.dumps({{"import_ctypes": t1 - t0, "load_library": t2 - t1, "import_package": t3 - t2,
                  "first_token": t4 - t3}}))
"""
BOTO3 = f"""
import boto3
boto3.client("rds").generate_db_auth_token({HOST!r}, 5432, "app")
"""


def cpu(python: str, code: str) -> tuple[float, str]:
    proc = subprocess.Popen([python, "-c", code], env=ENV, stdout=subprocess.PIPE)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, f"{python} failed"
    return usage.ru_utime + usage.ru_stime, out


def main() -> None:
    ours_python, boto3_python = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    bare = statistics.median(cpu(ours_python, "pass")[0] for _ in range(runs))
    ours = statistics.median(cpu(ours_python, OURS)[0] for _ in range(runs))
    boto3 = statistics.median(cpu(boto3_python, BOTO3)[0] for _ in range(max(runs // 5, 5)))
    parts = [json.loads(cpu(ours_python, OURS_PARTS)[1]) for _ in range(runs)]
    med = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
    share = statistics.median(p["load_library"] + p["first_token"] for p in parts)
    print(json.dumps({
        "runs": runs,
        "python_bare_ms": round(bare * 1e3, 2),
        "ours_process_ms": round(ours * 1e3, 2),
        "boto3_process_ms": round(boto3 * 1e3, 2),
        "ratio": round(boto3 / ours, 1),
        "ours_minus_bare_ms": round((ours - bare) * 1e3, 2),
        "library_share_ms": round(share * 1e3, 3),
        "parts_ms": {k: round(v * 1e3, 3) for k, v in med.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
