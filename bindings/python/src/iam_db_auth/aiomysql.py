"""aiomysql: `connect` with a fresh token and verified TLS. aiomysql's own pool repeats the
password it was created with, so a pool of aiomysql connections that outlives a token is
SQLAlchemy's (`create_async_engine("mysql+aiomysql://...")` with
`iam_db_auth.sqlalchemy.install(engine.sync_engine)`), which calls the hook for every new
connection.
"""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from ._native import token
from ._options import pick
from ._tls import check_context, ssl_context


async def connect(host: str, port: int = 3306, user: str = "", *, cafile: Optional[str] = None, ssl: Any = None, **kwargs: Any) -> Any:
    """aiomysql.connect with password=a fresh token (made in a worker thread) and ssl=a
    verifying SSLContext (the RDS CA, or `cafile`); the rest goes to aiomysql."""
    import aiomysql

    options = pick(kwargs)
    if ssl is None:
        ssl = ssl_context(cafile)
    else:
        check_context(ssl, "aiomysql ssl")
    password = await asyncio.to_thread(token, host, port, user, **options)
    return await aiomysql.connect(host=host, port=port, user=user, password=password, ssl=ssl, **kwargs)
