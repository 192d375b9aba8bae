"""asyncpg: a `password=` callable that makes a fresh token for every new connection (asyncpg
calls it at each connect, pools included), and a verifying SSLContext.

    import asyncpg, iam_db_auth.asyncpg
    kwargs = iam_db_auth.asyncpg.connect_kwargs("mydb.abc123.us-east-1.rds.amazonaws.com", 5432, "app")
    pool = await asyncpg.create_pool(**kwargs, database="app")

The token is made in a worker thread, so a slow credential source does not stop the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Optional

from ._native import token
from ._tls import check_context, ssl_context


def password(host: str, port: int, user: str, **options: Any) -> Callable[[], Awaitable[str]]:
    """An async callable for asyncpg's `password=`: a token for `user` at `host:port` (token
    settings as `iam_db_auth.token`'s) each time it is called."""

    async def _password() -> str:
        return await asyncio.to_thread(token, host, port, user, **options)

    return _password


def connect_kwargs(host: str, port: int = 5432, user: str = "", *, cafile: Optional[str] = None, ssl: Any = None, **options: Any) -> dict[str, Any]:
    """host, port, user, password (the callable) and ssl (a verifying SSLContext with the RDS
    CA, or `cafile`) for asyncpg.connect / asyncpg.create_pool."""
    if ssl is None:
        ssl = ssl_context(cafile)
    else:
        check_context(ssl, "asyncpg ssl")
    return {"host": host, "port": port, "user": user, "password": password(host, port, user, **options), "ssl": ssl}


async def connect(host: str, port: int = 5432, user: str = "", **kwargs: Any) -> Any:
    """asyncpg.connect with a fresh token and verified TLS; token settings and `cafile` as
    `connect_kwargs`, everything else passed to asyncpg."""
    import asyncpg

    own = {k: kwargs.pop(k) for k in ("cafile", "ssl", "region", "profile", "signing_host", "signing_port", "cache") if k in kwargs}
    return await asyncpg.connect(**connect_kwargs(host, port, user, **own), **kwargs)


async def create_pool(host: str, port: int = 5432, user: str = "", **kwargs: Any) -> Any:
    """asyncpg.create_pool whose every new connection gets a fresh token and verified TLS."""
    import asyncpg

    own = {k: kwargs.pop(k) for k in ("cafile", "ssl", "region", "profile", "signing_host", "signing_port", "cache") if k in kwargs}
    return await asyncpg.create_pool(**connect_kwargs(host, port, user, **own), **kwargs)
