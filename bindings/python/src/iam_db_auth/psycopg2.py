"""psycopg2: a connection factory that puts a fresh token and verified TLS into every
connection, usable by psycopg2.pool (which passes it on to every connect).

    import iam_db_auth.psycopg2
    from psycopg2.pool import ThreadedConnectionPool
    pool = ThreadedConnectionPool(1, 10, host="mydb.abc123.us-east-1.rds.amazonaws.com",
                                  user="app", dbname="app",
                                  connection_factory=iam_db_auth.psycopg2.connection_factory())

`connection_factory(...)` takes the token settings of `iam_db_auth.token` and `cafile`; the token
is for the DSN's host (not hostaddr) and port; sslmode defaults to verify-full, sslrootcert to
`iam_db_auth.ca_file()`; a weaker sslmode is refused (IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS=1).
"""

from __future__ import annotations

import getpass
import os
from typing import Any, Optional

import psycopg2
import psycopg2.extensions

from ._native import token
from ._options import TokenOptions
from ._tls import libpq_defaults


def connection_factory(cafile: Optional[str] = None, **options: Any) -> type[psycopg2.extensions.connection]:
    """A psycopg2 connection class for `connection_factory=`."""
    opts: TokenOptions = options  # type: ignore[assignment]

    class IAMConnection(psycopg2.extensions.connection):
        def __init__(self, dsn: str, *args: Any, **kwargs: Any) -> None:
            params = psycopg2.extensions.parse_dsn(dsn)
            host = params.get("host") or os.environ.get("PGHOST") or ""
            port = int(params.get("port") or os.environ.get("PGPORT") or 5432)
            user = params.get("user") or os.environ.get("PGUSER") or getpass.getuser()
            params.update(libpq_defaults(params, cafile))
            params["password"] = token(host, port, user, **opts)
            super().__init__(psycopg2.extensions.make_dsn(**params), *args, **kwargs)

    return IAMConnection


Connection = connection_factory()


def connect(dsn: Optional[str] = None, **kwargs: Any) -> psycopg2.extensions.connection:
    """`psycopg2.connect` with a fresh token and verified TLS (default settings)."""
    kwargs.setdefault("connection_factory", Connection)
    return psycopg2.connect(dsn, **kwargs)
