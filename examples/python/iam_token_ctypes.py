"""Get an RDS IAM auth token from Python through the C ABI (ctypes), no AWS SDK needed.

Usage: python3 iam_token_ctypes.py HOST PORT USER [REGION]
Library: $IAM_DB_AUTH_LIB, else libiam_db_auth.so.1 from the loader's search path.
Prints the token; on failure prints the library's error message and exits 1.

The failure comes back from the call that failed (iam_token_create's iam_failure object), not
from the per-thread last error, so the same code is right from asyncio executors and thread
pools, where a task may run its next call on another thread.
"""
import ctypes
import os
import sys

IAM_ERROR_OK = 0


class TokenOptions(ctypes.Structure):
    """struct iam_token_options from iam_db_auth.h (1.0), field for field."""

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


def load(path=None):
    lib = ctypes.CDLL(path or os.environ.get("IAM_DB_AUTH_LIB", "libiam_db_auth.so.1"))
    lib.iam_token_options_init_sized.restype = ctypes.c_int
    lib.iam_token_options_init_sized.argtypes = [ctypes.POINTER(TokenOptions), ctypes.c_size_t]
    # Out-parameters as void pointers, not c_char_p: ctypes would copy a c_char_p into a Python
    # bytes and lose the pointer that iam_token_free needs.
    lib.iam_token_create.restype = ctypes.c_int
    lib.iam_token_create.argtypes = [
        ctypes.POINTER(TokenOptions),
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.POINTER(ctypes.c_void_p),
    ]
    lib.iam_token_free.restype = None
    lib.iam_token_free.argtypes = [ctypes.c_void_p]
    lib.iam_failure_message.restype = ctypes.c_char_p
    lib.iam_failure_message.argtypes = [ctypes.c_void_p]
    lib.iam_failure_free.restype = None
    lib.iam_failure_free.argtypes = [ctypes.c_void_p]
    lib.iam_error_code_message.restype = ctypes.c_char_p
    lib.iam_error_code_message.argtypes = [ctypes.c_int]
    return lib


class TokenError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{message} (iam_error {code})")
        self.code = code


def token(lib, host, port, user, region=None):
    options = TokenOptions()
    code = lib.iam_token_options_init_sized(ctypes.byref(options), ctypes.sizeof(options))
    if code != IAM_ERROR_OK:
        raise TokenError(code, lib.iam_error_code_message(code).decode())
    # The encoded strings must outlive the call: the struct holds pointers into them.
    keep = (host.encode(), user.encode(), region.encode() if region else None)
    options.host, options.user, options.region = keep
    options.port = port
    token_ptr, failure = ctypes.c_void_p(), ctypes.c_void_p()
    code = lib.iam_token_create(ctypes.byref(options), ctypes.byref(token_ptr), ctypes.byref(failure))
    if code != IAM_ERROR_OK:
        try:
            raise TokenError(code, lib.iam_failure_message(failure).decode())
        finally:
            lib.iam_failure_free(failure)
    try:
        return ctypes.string_at(token_ptr).decode()
    finally:
        lib.iam_token_free(token_ptr)


def main(argv):
    if len(argv) not in (4, 5):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    lib = load()
    try:
        print(token(lib, argv[1], int(argv[2]), argv[3], argv[4] if len(argv) == 5 else None))
    except TokenError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
