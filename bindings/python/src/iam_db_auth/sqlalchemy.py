"""SQLAlchemy: a `do_connect` hook that puts a fresh token and verified TLS into every new
connection the engine's pool opens (sync and asyncio engines).

    from sqlalchemy import create_engine
    import iam_db_auth.sqlalchemy
    engine = create_engine("postgresql+psycopg://app@mydb.abc123.us-east-1.rds.amazonaws.com/app")
    iam_db_auth.sqlalchemy.install(engine)

Drivers: psycopg, psycopg2, asyncpg, pymysql, aiomysql (a token as the password), mysqldb
(mysqlclient: the bundled plugin makes the token at login; its settings come from the
IAM_DB_AUTH_* environment, see iam_db_auth.mysqlclient). For an asyncio engine pass
`engine.sync_engine`. The token is for the URL's host and port (or `signing_host`/`signing_port`).
"""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import event
from sqlalchemy.engine import Engine

from ._errors import InvalidRequestError
from ._native import token
from ._options import TokenOptions
from ._tls import check_context, libpq_defaults, ssl_context

_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


def install(engine: Engine, *, cafile: Optional[str] = None, **options: Any) -> None:
    """Registers the hook on `engine` (token settings as `iam_db_auth.token`'s)."""
    opts: TokenOptions = options  # type: ignore[assignment]
    driver = engine.dialect.driver
    if driver == "mysqldb" and opts:
        raise InvalidRequestError(
            8, "mysqlclient logs in through the plugin, which takes its token settings from IAM_DB_AUTH_* variables"
        )
    if driver not in ("psycopg", "psycopg2", "asyncpg", "pymysql", "aiomysql", "mysqldb"):
        raise InvalidRequestError(8, f"iam_db_auth.sqlalchemy does not know the driver {driver!r}")

    @event.listens_for(engine, "do_connect")
    def _do_connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        url = engine.url
        host = str(cparams.get("host") or url.host or "")
        port = int(cparams.get("port") or url.port or _DEFAULT_PORTS.get(dialect.name, 0))
        user = str(cparams.get("user") or url.username or "")
        if driver in ("psycopg", "psycopg2"):
            cparams.update(libpq_defaults(cparams, cafile))
        elif driver == "mysqldb":
            from . import mysqlclient

            cparams.setdefault("ssl", {"ca": cafile or mysqlclient.ca_file()})
            cparams.setdefault("read_default_file", mysqlclient.option_file())
            return
        elif "ssl" in cparams:
            check_context(cparams["ssl"], f"{driver} ssl")
        else:
            cparams["ssl"] = ssl_context(cafile)
        cparams["password"] = token(host, port, user, **opts)
