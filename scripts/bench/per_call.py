"""Per-call cost of a token in one Python process: libiam_db_auth through ctypes against
boto3's generate_db_auth_token.

usage:
  per_call.py compare LIB CALLS ROUNDS   JSON of per-call times (us), one sample per round and
                                         tool; tools alternate within each round
  per_call.py cold-ours LIB              one line: us from script start to the first token
  per_call.py cold-boto3                 (library load or `import boto3`, client, first token)

Every tool makes a str per call (ctypes' string_at + decode, as a Python caller would), and
the library's tokens are freed with iam_token_free. Credentials come from the environment
(scripts/bench.sh sets the demo key and disables the EC2 metadata endpoint).
"""

import ctypes
import json
import statistics
import sys
import time

HOST = "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com"
PORT = 5432
USER = "app_user"
REGION = "us-east-1"
IAM_FLAG_NO_CACHE = 1


class TokenOptions(ctypes.Structure):
    """iam_token_options from include/iam_db_auth.h."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("kind", ctypes.c_uint32),
        ("host", ctypes.c_char_p),
        ("port", ctypes.c_uint16),
        ("region", ctypes.c_char_p),
        ("user", ctypes.c_char_p),
        ("profile", ctypes.c_char_p),
        ("signing_host", ctypes.c_char_p),
        ("signing_port", ctypes.c_uint16),
        ("expires_in", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
    ]


def load(path):
    lib = ctypes.CDLL(path)
    lib.iam_token_get.restype = ctypes.c_void_p
    lib.iam_token_get.argtypes = [ctypes.c_char_p, ctypes.c_uint16, ctypes.c_char_p, ctypes.c_char_p]
    lib.iam_token_get_ext.restype = ctypes.c_void_p
    lib.iam_token_get_ext.argtypes = [ctypes.POINTER(TokenOptions)]
    lib.iam_token_options_init.argtypes = [ctypes.POINTER(TokenOptions)]
    lib.iam_token_free.argtypes = [ctypes.c_void_p]
    lib.iam_last_error_message.restype = ctypes.c_char_p
    return lib


def ours(lib, cached):
    host, user = HOST.encode(), USER.encode()
    options = TokenOptions()
    lib.iam_token_options_init(ctypes.byref(options))
    options.host, options.port, options.user = host, PORT, user
    options.flags = IAM_FLAG_NO_CACHE
    get, get_ext, free, string_at = lib.iam_token_get, lib.iam_token_get_ext, lib.iam_token_free, ctypes.string_at
    ref = ctypes.byref(options)

    def call():
        ptr = get(host, PORT, None, user) if cached else get_ext(ref)
        if not ptr:
            raise RuntimeError(lib.iam_last_error_message().decode())
        token = string_at(ptr).decode()
        free(ptr)
        return token

    return call


def boto3_call():
    import boto3

    client = boto3.client("rds", region_name=REGION)

    def call():
        return client.generate_db_auth_token(DBHostname=HOST, Port=PORT, DBUsername=USER, Region=REGION)

    return call


def per_call_us(call, n):
    start = time.perf_counter_ns()
    for _ in range(n):
        call()
    return (time.perf_counter_ns() - start) / n / 1000


def compare(lib_path, calls, rounds):
    lib = load(lib_path)
    tools = {
        "ours_cached": ours(lib, cached=True),
        "ours_uncached": ours(lib, cached=False),
        "boto3": boto3_call(),
    }
    for name, call in tools.items():
        token = call()
        if not token.startswith(f"{HOST}:{PORT}/?Action=connect&DBUser={USER}&X-Amz-Algorithm="):
            raise SystemExit(f"{name} made an unexpected token shape")
        per_call_us(call, max(1, calls // 10))  # warm up
    # boto3 is ~100x slower a call: give it fewer calls so each tool's round takes similar time.
    counts = {"ours_cached": calls * 20, "ours_uncached": calls, "boto3": max(1, calls // 20)}
    samples = {name: [] for name in tools}
    for _ in range(rounds):
        for name, call in tools.items():
            samples[name].append(per_call_us(call, counts[name]))
    result = {name: {"median_us": statistics.median(s), "samples_us": s, "calls_per_sample": counts[name]}
              for name, s in samples.items()}
    print(json.dumps(result))


def cold(tool, lib_path=None):
    start = time.perf_counter_ns()
    if tool == "ours":
        token = ours(load(lib_path), cached=True)()
    else:
        token = boto3_call()()
    took = (time.perf_counter_ns() - start) / 1000
    if not token.startswith(f"{HOST}:{PORT}/?Action=connect"):
        raise SystemExit("unexpected token shape")
    print(f"{took:.1f}")


def main(argv):
    if len(argv) == 5 and argv[1] == "compare":
        compare(argv[2], int(argv[3]), int(argv[4]))
    elif len(argv) == 3 and argv[1] == "cold-ours":
        cold("ours", argv[2])
    elif len(argv) == 2 and argv[1] == "cold-boto3":
        cold("boto3")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
