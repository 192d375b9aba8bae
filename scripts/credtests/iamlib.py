"""The library's C ABI through ctypes (the way a Python program without our bindings uses it),
and helpers to read a token's signed parameters."""

from __future__ import annotations

import ctypes
import os
import urllib.parse
from dataclasses import dataclass

IAM_FLAG_NO_CACHE = 1


class IamTokenOptions(ctypes.Structure):
    # Mirrors `struct iam_token_options` in include/iam_db_auth.h, field for field.
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


class TokenError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.message = message


class Lib:
    """The library through ctypes, errors from the call that failed (iam_token_create's
    iam_failure object), as every binding of ours gets them."""

    def __init__(self, path: str | None = None):
        path = path or os.environ["IAM_DB_AUTH_LIB"]
        lib = ctypes.CDLL(path)
        lib.iam_token_options_init_sized.restype = ctypes.c_int
        lib.iam_token_options_init_sized.argtypes = [ctypes.POINTER(IamTokenOptions), ctypes.c_size_t]
        lib.iam_token_create.restype = ctypes.c_int
        lib.iam_token_create.argtypes = [
            ctypes.POINTER(IamTokenOptions),
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.POINTER(ctypes.c_void_p),
        ]
        lib.iam_token_free.restype = None
        lib.iam_token_free.argtypes = [ctypes.c_void_p]
        lib.iam_failure_message.restype = ctypes.c_char_p
        lib.iam_failure_message.argtypes = [ctypes.c_void_p]
        lib.iam_failure_free.restype = None
        lib.iam_failure_free.argtypes = [ctypes.c_void_p]
        lib.iam_cache_clear.restype = None
        self.lib = lib

    def _options(self) -> IamTokenOptions:
        opts = IamTokenOptions()
        code = self.lib.iam_token_options_init_sized(ctypes.byref(opts), ctypes.sizeof(opts))
        if code != 0:
            raise RuntimeError(f"IamTokenOptions does not match the library's struct (iam_error {code})")
        return opts

    def _create(self, opts: IamTokenOptions) -> str:
        token, failure = ctypes.c_void_p(), ctypes.c_void_p()
        code = self.lib.iam_token_create(ctypes.byref(opts), ctypes.byref(token), ctypes.byref(failure))
        if code != 0:
            try:
                raise TokenError(code, self.lib.iam_failure_message(failure).decode())
            finally:
                self.lib.iam_failure_free(failure)
        try:
            return ctypes.string_at(token).decode()
        finally:
            self.lib.iam_token_free(token)

    def token(self, host: str, port: int, user: str, region: str | None = None) -> str:
        return self.token_ext(host, port, user, region)

    def token_ext(self, host, port, user, region=None, profile=None, flags=0) -> str:
        opts = self._options()
        keep = [s.encode() if s is not None else None for s in (host, user, region, profile)]
        opts.host, opts.user, opts.region, opts.profile = keep
        opts.port = port
        opts.flags = flags
        return self._create(opts)

    def clear(self) -> None:
        self.lib.iam_cache_clear()


@dataclass
class Signed:
    """What a token says about the credentials that signed it."""

    key_id: str
    session_token: str | None
    date: str
    region: str
    user: str

    @staticmethod
    def parse(token: str) -> "Signed":
        _, _, query = token.partition("/?")
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        key_id, date, region, service, term = params["X-Amz-Credential"].split("/")
        assert service == "rds-db" and term == "aws4_request", token[:80]
        return Signed(key_id, params.get("X-Amz-Security-Token"), params["X-Amz-Date"], region, params["DBUser"])
