"""Get an RDS IAM auth token from Python through the C ABI (ctypes), no AWS SDK needed.

Usage: python3 iam_token_ctypes.py HOST PORT USER [REGION]
Library: $IAM_DB_AUTH_LIB, else libiam_db_auth.so from the loader's search path.
Prints the token; on failure prints the library's error message and exits 1.
"""
import ctypes
import os
import sys


def load(path=None):
    lib = ctypes.CDLL(path or os.environ.get("IAM_DB_AUTH_LIB", "libiam_db_auth.so"))
    # The token is returned as a void pointer, not c_char_p: ctypes would copy a c_char_p into a
    # Python bytes and lose the pointer that iam_token_free needs.
    lib.iam_token_get.restype = ctypes.c_void_p
    lib.iam_token_get.argtypes = [ctypes.c_char_p, ctypes.c_uint16, ctypes.c_char_p, ctypes.c_char_p]
    lib.iam_token_free.restype = None
    lib.iam_token_free.argtypes = [ctypes.c_void_p]
    lib.iam_last_error_code.restype = ctypes.c_int
    lib.iam_last_error_message.restype = ctypes.c_char_p
    return lib


class TokenError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{message} (iam_error {code})")
        self.code = code


def token(lib, host, port, user, region=None):
    ptr = lib.iam_token_get(host.encode(), port, region.encode() if region else None, user.encode())
    if not ptr:
        raise TokenError(lib.iam_last_error_code(), lib.iam_last_error_message().decode())
    try:
        return ctypes.string_at(ptr).decode()
    finally:
        lib.iam_token_free(ptr)


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
