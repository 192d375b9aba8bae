"""psycopg 3: connection classes that put a fresh token and verified TLS into every connection,
usable by psycopg_pool.

    from iam_db_auth.psycopg import connection_class
    from psycopg_pool import ConnectionPool
    pool = ConnectionPool("host=mydb.abc123.us-east-1.rds.amazonaws.com user=app dbname=app",
                          connection_class=connection_class())

`connection_class(...)`/`async_connection_class(...)` take the token settings of
`iam_db_auth.token` (region, profile, signing_host, signing_port, cache) and `cafile`. The token
is for the conninfo's host (not hostaddr) and port, sslmode defaults to verify-full and
sslrootcert to `iam_db_auth.ca_file()`; a weaker sslmode is refused
(IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS=1 allows it).
"""

from __future__ import annotations

import asyncio
import getpass
import os
from typing import Any, Optional

import psycopg
from psycopg.conninfo import conninfo_to_dict

from ._native import token
from ._options import TokenOptions
from ._tls import libpq_defaults


def connect_params(conninfo: str = "", cafile: Optional[str] = None, options: Optional[TokenOptions] = None, **kwargs: Any) -> dict[str, Any]:
    """What to add to a connection's parameters: the password (a fresh token) and the TLS
    settings."""
    params = conninfo_to_dict(conninfo, **kwargs)
    host = str(params.get("host") or os.environ.get("PGHOST") or "")
    port = int(params.get("port") or os.environ.get("PGPORT") or 5432)
    user = str(params.get("user") or os.environ.get("PGUSER") or getpass.getuser())
    extra: dict[str, Any] = libpq_defaults(params, cafile)
    extra["password"] = token(host, port, user, **(options or {}))
    return extra


def connection_class(cafile: Optional[str] = None, **options: Any) -> type[psycopg.Connection]:
    """A psycopg.Connection subclass whose `connect` makes a token for every new connection."""
    opts: TokenOptions = options  # type: ignore[assignment]

    class IAMConnection(psycopg.Connection):  # type: ignore[type-arg]
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any):  # type: ignore[override]
            extra = connect_params(conninfo, cafile, opts, **_conninfo_only(kwargs))
            return super().connect(conninfo, **{**kwargs, **extra})

    return IAMConnection


def async_connection_class(cafile: Optional[str] = None, **options: Any) -> type[psycopg.AsyncConnection]:
    """A psycopg.AsyncConnection subclass (for psycopg_pool.AsyncConnectionPool); the token is
    made in a worker thread, so a slow credential source does not stop the event loop."""
    opts: TokenOptions = options  # type: ignore[assignment]

    class IAMAsyncConnection(psycopg.AsyncConnection):  # type: ignore[type-arg]
        @classmethod
        async def connect(cls, conninfo: str = "", **kwargs: Any):  # type: ignore[override]
            extra = await asyncio.to_thread(connect_params, conninfo, cafile, opts, **_conninfo_only(kwargs))
            return await super().connect(conninfo, **{**kwargs, **extra})

    return IAMAsyncConnection


# psycopg's connect takes these besides the connection parameters.
_NOT_CONNINFO = {"autocommit", "prepare_threshold", "context", "row_factory", "cursor_factory"}


def _conninfo_only(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k not in _NOT_CONNINFO}


Connection = connection_class()
AsyncConnection = async_connection_class()


def connect(conninfo: str = "", **kwargs: Any) -> psycopg.Connection:
    """`psycopg.connect` with a fresh token and verified TLS (default settings)."""
    return Connection.connect(conninfo, **kwargs)
