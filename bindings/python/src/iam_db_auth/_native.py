"""The C ABI 1.0 of the bundled libiam_db_auth.so, through ctypes (include/iam_db_auth.h).

Failures come back from the call that failed (iam_token_create's iam_failure), never from the
per-thread last error, so calls from thread pools and asyncio executors get their own message.
ctypes releases the GIL for every call, so a token lookup that waits for a network credential
source does not stop other Python threads.
"""

from __future__ import annotations

import ctypes
import os

from ._errors import error_for

# Only the standard library's cheapest modules at import time (no typing, no pathlib: they
# cost more than loading the library itself; the package's cold start is measured).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal, Optional

    Kind = Literal["rds", "dsql", "dsql-admin", "elasticache", "memorydb"]

LIBRARY_NAME = "libiam_db_auth.so"
IAM_ERROR_OK = 0
IAM_FLAG_NO_CACHE = 1
IAM_FLAG_SERVERLESS = 2

_KINDS: dict[str, int] = {"rds": 0, "dsql": 1, "dsql-admin": 2, "elasticache": 3, "memorydb": 4}


class _Options(ctypes.Structure):
    """struct iam_token_options of the 1.0 header, field for field; the library learns which
    header it is from struct_size (iam_token_options_init_sized)."""

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


def library_path() -> str:
    """The shared library this package uses: the one inside the package (the wheel's), else
    IAM_DB_AUTH_LIB (a source checkout without a built library)."""
    bundled = os.path.join(os.path.dirname(os.path.realpath(__file__)), LIBRARY_NAME)
    if os.path.exists(bundled):
        return bundled
    override = os.environ.get("IAM_DB_AUTH_LIB")
    if override:
        return override
    raise ImportError(f"{bundled} is missing (a source checkout: set IAM_DB_AUTH_LIB to a built library)")


def _load() -> ctypes.CDLL:
    lib = ctypes.CDLL(library_path())
    opts_p, void_p, void_pp = ctypes.POINTER(_Options), ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)
    for name, restype, argtypes in (
        ("iam_token_options_init_sized", ctypes.c_int, [opts_p, ctypes.c_size_t]),
        # Out-parameters as void pointers: a c_char_p result would be copied into bytes and the
        # pointer iam_token_free needs would be lost.
        ("iam_token_create", ctypes.c_int, [opts_p, void_pp, void_pp]),
        ("iam_token_free", None, [void_p]),
        ("iam_failure_code", ctypes.c_int, [void_p]),
        ("iam_failure_message", ctypes.c_char_p, [void_p]),
        ("iam_failure_free", None, [void_p]),
        ("iam_error_code_message", ctypes.c_char_p, [ctypes.c_int]),
        ("iam_last_error_code", ctypes.c_int, []),
        ("iam_last_error_message", ctypes.c_char_p, []),
        ("iam_ca_file", ctypes.c_char_p, []),
        ("iam_cache_clear", None, []),
        ("iam_version", ctypes.c_char_p, []),
    ):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


_lib = _load()


def _text(value: Optional[str], name: str, required: bool = False) -> Optional[bytes]:
    """UTF-8 for the C ABI; None (NULL) for an unset optional value. A required value is passed
    even when empty, for the library to say what is wrong with it."""
    if value is None or (value == "" and not required):
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, not {type(value).__name__}")
    return value.encode()


def _port(value: Optional[int], name: str) -> int:
    if value is None:
        return 0
    port = int(value)
    if not 0 <= port <= 65535:
        from ._errors import InvalidRequestError

        raise InvalidRequestError(4, f"{name} {port} is not a port number (1-65535)")
    return port


def token(
    host: str,
    port: int,
    user: str,
    region: Optional[str] = None,
    profile: Optional[str] = None,
    *,
    signing_host: Optional[str] = None,
    signing_port: Optional[int] = None,
    kind: "Kind" = "rds",
    expires_in: Optional[int] = None,
    cache: bool = True,
    serverless: bool = False,
) -> str:
    """An IAM authentication token: the password for `user` at `host:port`.

    `region`: None to infer it from the endpoint name, else AWS_REGION, AWS_DEFAULT_REGION, the
    profile's region. `profile`: None for IAM_DB_AUTH_PROFILE, else the default chain.
    `signing_host`/`signing_port`: the endpoint to sign for when connecting through a tunnel, a
    port-forward or an IP address (default IAM_DB_AUTH_SIGNING_HOST/_PORT, else host/port).
    Tokens are cached per process and reused while at least two minutes of life are left
    (`cache=False` or IAM_DB_AUTH_CACHE=0 turns that off).

    Raises an `iam_db_auth.Error` subclass carrying the numbered code."""
    if kind not in _KINDS:
        from ._errors import InvalidRequestError

        raise InvalidRequestError(8, f"unknown token kind {kind!r} (one of {', '.join(_KINDS)})")
    options = _Options()
    code = _lib.iam_token_options_init_sized(ctypes.byref(options), ctypes.sizeof(options))
    if code != IAM_ERROR_OK:
        raise error_for(code, _lib.iam_error_code_message(code).decode())
    # The encoded strings must outlive the call: the struct holds pointers into them.
    keep = (
        _text(host, "host", required=True),
        _text(user, "user", required=True),
        _text(region, "region"),
        _text(profile, "profile"),
        _text(signing_host, "signing_host"),
    )
    options.host, options.user, options.region, options.profile, options.signing_host = keep
    options.port = _port(port, "port")
    options.signing_port = _port(signing_port, "signing_port")
    options.kind = _KINDS[kind]
    options.expires_in = int(expires_in or 0)
    options.flags = (0 if cache else IAM_FLAG_NO_CACHE) | (IAM_FLAG_SERVERLESS if serverless else 0)
    token_ptr, failure = ctypes.c_void_p(), ctypes.c_void_p()
    code = _lib.iam_token_create(ctypes.byref(options), ctypes.byref(token_ptr), ctypes.byref(failure))
    if code != IAM_ERROR_OK:
        try:
            message = (_lib.iam_failure_message(failure) or b"").decode(errors="replace")
        finally:
            _lib.iam_failure_free(failure)
        raise error_for(code, message)
    try:
        return ctypes.string_at(token_ptr).decode()
    finally:
        _lib.iam_token_free(token_ptr)


def ca_file() -> str:
    """The CA file (PEM) to verify database servers with when a connection names none, in the
    order every door of iam-db-auth follows: IAM_DB_AUTH_CA_FILE, the copy `iam-db-auth ca
    update` wrote (per user, then system), the installed RDS bundle, else the RDS bundle built
    into the library (written out to a file)."""
    # iam_ca_file's path and its error are per OS thread: ctypes copies the path at once, and
    # the error is read by the next call, on the same thread (a Python thread is one OS thread).
    path = _lib.iam_ca_file()
    if path is None:
        code = _lib.iam_last_error_code()
        message = (_lib.iam_last_error_message() or b"").decode(errors="replace")
        raise error_for(code or 32, message or "no CA file could be found")
    return path.decode()


def clear_cache() -> None:
    """Forgets every cached token and credential (for example after rotating keys)."""
    _lib.iam_cache_clear()


def library_version() -> str:
    """The bundled library's version ("1.0.0")."""
    return _lib.iam_version().decode()
