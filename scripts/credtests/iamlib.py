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
    def __init__(self, path: str | None = None):
        path = path or os.environ["IAM_DB_AUTH_LIB"]
        lib = ctypes.CDLL(path)
        lib.iam_token_get.restype = ctypes.c_void_p
        lib.iam_token_get.argtypes = [ctypes.c_char_p, ctypes.c_uint16, ctypes.c_char_p, ctypes.c_char_p]
        lib.iam_token_get_ext.restype = ctypes.c_void_p
        lib.iam_token_get_ext.argtypes = [ctypes.POINTER(IamTokenOptions)]
        lib.iam_token_options_init.restype = None
        lib.iam_token_options_init.argtypes = [ctypes.POINTER(IamTokenOptions)]
        lib.iam_token_free.restype = None
        lib.iam_token_free.argtypes = [ctypes.c_void_p]
        lib.iam_last_error_code.restype = ctypes.c_int
        lib.iam_last_error_message.restype = ctypes.c_char_p
        lib.iam_cache_clear.restype = None
        self.lib = lib
        if ctypes.sizeof(IamTokenOptions) != self._c_size():
            raise RuntimeError("IamTokenOptions does not match the library's struct")

    def _c_size(self) -> int:
        opts = IamTokenOptions()
        self.lib.iam_token_options_init(ctypes.byref(opts))
        return opts.struct_size

    def _take(self, ptr) -> str:
        if not ptr:
            raise TokenError(self.lib.iam_last_error_code(), self.lib.iam_last_error_message().decode())
        try:
            return ctypes.string_at(ptr).decode()
        finally:
            self.lib.iam_token_free(ptr)

    def token(self, host: str, port: int, user: str, region: str | None = None) -> str:
        enc = lambda s: None if s is None else s.encode()  # noqa: E731
        return self._take(self.lib.iam_token_get(enc(host), port, enc(region), enc(user)))

    def token_ext(self, host, port, user, region=None, profile=None, flags=0) -> str:
        opts = IamTokenOptions()
        self.lib.iam_token_options_init(ctypes.byref(opts))
        keep = [s.encode() if s else None for s in (host, user, region, profile)]
        opts.host, opts.user, opts.region, opts.profile = keep
        opts.port = port
        opts.flags = flags
        return self._take(self.lib.iam_token_get_ext(ctypes.byref(opts)))

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
