"""AWS IAM database authentication tokens for RDS, Aurora and DSQL, made by the iam-db-auth
library bundled in this package (no AWS SDK, no compiler).

    import iam_db_auth
    password = iam_db_auth.token("mydb.abc123.us-east-1.rds.amazonaws.com", 5432, "app")

Helpers for the drivers (each imported on its own, so only the driver used is loaded):
iam_db_auth.sqlalchemy, .psycopg, .psycopg2, .asyncpg, .pymysql, .aiomysql, .mysqlclient.
Every helper verifies the server (the RDS CA bundle by default, and the host name) before a
token is sent.
"""

from ._errors import (
    CAUnavailableError,
    CredentialsError,
    CredentialsExpiredError,
    CredentialsTimeoutError,
    Error,
    InsecureConnectionError,
    InternalError,
    InvalidRequestError,
    NoCredentialsError,
    RegionNotFoundError,
    UntrustedServerError,
)
from ._native import ca_file, clear_cache, library_path, library_version, token

__version__ = "1.0.0"

__all__ = [
    "CAUnavailableError",
    "CredentialsError",
    "CredentialsExpiredError",
    "CredentialsTimeoutError",
    "Error",
    "InsecureConnectionError",
    "InternalError",
    "InvalidRequestError",
    "NoCredentialsError",
    "RegionNotFoundError",
    "UntrustedServerError",
    "ca_file",
    "clear_cache",
    "library_path",
    "library_version",
    "token",
]
