"""Runs one driver scenario of the `iam_db_auth` wheel, inside the fresh venv the wheel was
installed into (test_package.py starts it). Not a test module: a client program.

    python client.py SCENARIO

The target comes from IAM_PKG_TEST (JSON): engine ("pg" or "mysql"), port, rds_host,
signing_port, user, database, ca (None: the helper's default, the RDS bundle), pool_timeout.
Each scenario opens a connection through the helper (from a pool where the driver has one),
prints {"user", "id"} as a JSON line, waits for a line on stdin (the test moves the clocks
meanwhile), then opens a second connection while holding the first (so a pool must log in
again), prints it, and exits 0. A failure prints {"error", "code", "message"} and exits 1.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys

CFG = json.loads(os.environ["IAM_PKG_TEST"])
CA = CFG.get("ca")
PG_Q = "SELECT current_user, pg_backend_pid()"
MY_Q = "SELECT CURRENT_USER(), CONNECTION_ID()"
TIMEOUT = float(CFG.get("pool_timeout", 20))


def step(row) -> None:
    print(json.dumps({"user": str(row[0]), "id": int(row[1])}), flush=True)
    sys.stdin.readline()


def pg_conninfo() -> str:
    # libpq: TLS names the RDS endpoint, the socket goes to the stand-in on loopback.
    return (f"host={CFG['rds_host']} hostaddr=127.0.0.1 port={CFG['port']} user={CFG['user']} "
            f"dbname={CFG['database']} connect_timeout=10")


PG_TOKEN = {"signing_port": CFG.get("signing_port")}
# Python's ssl module checks the name connected to: 127.0.0.1 (in the stand-in's certificate);
# the token is signed for the RDS endpoint.
NET_TOKEN = {"signing_host": CFG.get("rds_host"), "signing_port": CFG.get("signing_port")}


def my_kwargs() -> dict:
    return {"host": "127.0.0.1", "port": CFG["port"], "user": CFG["user"], "database": CFG["database"]}


# --- PostgreSQL ---

def psycopg_pool():
    from psycopg_pool import ConnectionPool

    from iam_db_auth.psycopg import connection_class

    cls = connection_class(cafile=CA, **PG_TOKEN)
    with ConnectionPool(pg_conninfo(), connection_class=cls, min_size=1, max_size=2, timeout=TIMEOUT) as pool:
        with pool.connection() as c1:
            step(c1.execute(PG_Q).fetchone())
            with pool.connection() as c2:
                step(c2.execute(PG_Q).fetchone())


def psycopg_async_pool():
    from psycopg_pool import AsyncConnectionPool

    from iam_db_auth.psycopg import async_connection_class

    async def main():
        cls = async_connection_class(cafile=CA, **PG_TOKEN)
        async with AsyncConnectionPool(pg_conninfo(), connection_class=cls, min_size=1, max_size=2, timeout=TIMEOUT) as pool:
            async with pool.connection() as c1:
                step(await (await c1.execute(PG_Q)).fetchone())
                async with pool.connection() as c2:
                    step(await (await c2.execute(PG_Q)).fetchone())

    asyncio.run(main())


def psycopg2_pool():
    from psycopg2.pool import ThreadedConnectionPool

    from iam_db_auth.psycopg2 import connection_factory

    pool = ThreadedConnectionPool(1, 2, pg_conninfo(), connection_factory=connection_factory(cafile=CA, **PG_TOKEN))
    try:
        c1 = pool.getconn()
        with c1.cursor() as cur:
            cur.execute(PG_Q)
            step(cur.fetchone())
        c2 = pool.getconn()
        with c2.cursor() as cur:
            cur.execute(PG_Q)
            step(cur.fetchone())
    finally:
        pool.closeall()


def asyncpg_pool():
    import iam_db_auth.asyncpg

    async def main():
        pool = await iam_db_auth.asyncpg.create_pool(
            "127.0.0.1", CFG["port"], CFG["user"], database=CFG["database"], cafile=CA,
            min_size=1, max_size=2, timeout=TIMEOUT, **NET_TOKEN)
        try:
            async with pool.acquire() as c1:
                step(await c1.fetchrow(PG_Q))
                async with pool.acquire() as c2:
                    step(await c2.fetchrow(PG_Q))
        finally:
            await pool.close()

    asyncio.run(main())


def sqlalchemy_sync(url: str, query: str, **token) -> None:
    from sqlalchemy import create_engine, text

    import iam_db_auth.sqlalchemy

    engine = create_engine(url, pool_size=2, max_overflow=0, pool_timeout=TIMEOUT)
    iam_db_auth.sqlalchemy.install(engine, cafile=CA, **token)
    with engine.connect() as c1:
        step(c1.execute(text(query)).one())
        with engine.connect() as c2:
            step(c2.execute(text(query)).one())
    engine.dispose()


def sqlalchemy_async(url: str, query: str, **token) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    import iam_db_auth.sqlalchemy

    async def main():
        engine = create_async_engine(url, pool_size=2, max_overflow=0, pool_timeout=TIMEOUT)
        iam_db_auth.sqlalchemy.install(engine.sync_engine, cafile=CA, **token)
        async with engine.connect() as c1:
            step((await c1.execute(text(query))).one())
            async with engine.connect() as c2:
                step((await c2.execute(text(query))).one())
        await engine.dispose()

    asyncio.run(main())


def pg_url(driver: str, libpq: bool) -> str:
    host = CFG["rds_host"] if libpq else "127.0.0.1"
    extra = "?hostaddr=127.0.0.1&connect_timeout=10" if libpq else ""
    return f"postgresql+{driver}://{CFG['user']}@{host}:{CFG['port']}/{CFG['database']}{extra}"


def my_url(driver: str) -> str:
    return f"mysql+{driver}://{CFG['user']}@127.0.0.1:{CFG['port']}/{CFG['database']}"


# --- MySQL / MariaDB ---

def pymysql_creator_pool():
    """PyMySQL connections from SQLAlchemy's pool through `creator=` (any pool taking a
    factory works the same)."""
    from sqlalchemy import create_engine, text

    import iam_db_auth.pymysql

    creator = functools.partial(iam_db_auth.pymysql.connect, cafile=CA, connect_timeout=10, **my_kwargs(), **NET_TOKEN)
    engine = create_engine("mysql+pymysql://", creator=creator, pool_size=2, max_overflow=0, pool_timeout=TIMEOUT)
    with engine.connect() as c1:
        step(c1.execute(text(MY_Q)).one())
        with engine.connect() as c2:
            step(c2.execute(text(MY_Q)).one())
    engine.dispose()


def aiomysql_connect():
    import iam_db_auth.aiomysql

    async def main():
        kwargs = my_kwargs()
        kwargs["db"] = kwargs.pop("database")
        c1 = await iam_db_auth.aiomysql.connect(cafile=CA, connect_timeout=10, **kwargs, **NET_TOKEN)
        async with c1.cursor() as cur:
            await cur.execute(MY_Q)
            step(await cur.fetchone())
        c2 = await iam_db_auth.aiomysql.connect(cafile=CA, connect_timeout=10, **kwargs, **NET_TOKEN)
        async with c2.cursor() as cur:
            await cur.execute(MY_Q)
            step(await cur.fetchone())
        c1.close()
        c2.close()

    asyncio.run(main())


def mysqlclient_connect():
    """MySQLdb through the plugin directory (token settings from IAM_DB_AUTH_* variables)."""
    import iam_db_auth.mysqlclient

    kwargs = my_kwargs()
    c1 = iam_db_auth.mysqlclient.connect(cafile=CA, connect_timeout=10, **kwargs)
    cur = c1.cursor()
    cur.execute(MY_Q)
    step(cur.fetchone())
    c2 = iam_db_auth.mysqlclient.connect(cafile=CA, connect_timeout=10, **kwargs)
    cur = c2.cursor()
    cur.execute(MY_Q)
    step(cur.fetchone())
    c1.close()
    c2.close()


SCENARIOS = {
    "psycopg-pool": psycopg_pool,
    "psycopg-async-pool": psycopg_async_pool,
    "psycopg2-pool": psycopg2_pool,
    "asyncpg-pool": asyncpg_pool,
    "sqlalchemy-psycopg": lambda: sqlalchemy_sync(pg_url("psycopg", True), PG_Q, **PG_TOKEN),
    "sqlalchemy-psycopg2": lambda: sqlalchemy_sync(pg_url("psycopg2", True), PG_Q, **PG_TOKEN),
    "sqlalchemy-asyncpg": lambda: sqlalchemy_async(pg_url("asyncpg", False), PG_Q, **NET_TOKEN),
    "pymysql-creator-pool": pymysql_creator_pool,
    "sqlalchemy-pymysql": lambda: sqlalchemy_sync(my_url("pymysql"), MY_Q, **NET_TOKEN),
    "aiomysql": aiomysql_connect,
    "sqlalchemy-aiomysql": lambda: sqlalchemy_async(my_url("aiomysql"), MY_Q, **NET_TOKEN),
    "mysqlclient": mysqlclient_connect,
    "sqlalchemy-mysqldb": lambda: sqlalchemy_sync(my_url("mysqldb"), MY_Q),
}


def main() -> int:
    try:
        SCENARIOS[sys.argv[1]]()
    except Exception as e:  # reported to the test, which decides
        print(json.dumps({"error": type(e).__name__, "code": getattr(e, "code", None), "message": str(e)[:2000]}), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
