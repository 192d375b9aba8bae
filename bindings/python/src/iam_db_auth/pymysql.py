"""PyMySQL: `connect` with a fresh token (sent as RDS asks, with mysql_clear_password) and
verified TLS. Pools that take a creator function (SQLAlchemy's `creator=`, DBUtils' PooledDB)
call it for every new connection:

    import functools, iam_db_auth.pymysql
    creator = functools.partial(iam_db_auth.pymysql.connect,
                                "mydb.abc123.us-east-1.rds.amazonaws.com", 3306, "app", database="app")

With SQLAlchemy, `iam_db_auth.sqlalchemy.install(engine)` does the same for `mysql+pymysql://`.
"""

from __future__ import annotations

from typing import Any, Optional

import pymysql

from ._native import token
from ._options import pick
from ._tls import check_context, ssl_context


def connect(host: str, port: int = 3306, user: str = "", *, cafile: Optional[str] = None, ssl: Any = None, **kwargs: Any) -> pymysql.connections.Connection:
    """pymysql.connect with password=a fresh token and ssl=a verifying SSLContext (the RDS CA,
    or `cafile`); token settings as `iam_db_auth.token`'s; the rest goes to PyMySQL."""
    options = pick(kwargs)
    if ssl is None:
        ssl = ssl_context(cafile)
    else:
        check_context(ssl, "PyMySQL ssl")
    return pymysql.connect(host=host, port=port, user=user, password=token(host, port, user, **options), ssl=ssl, **kwargs)
