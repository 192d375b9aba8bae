"""Verified TLS by default, for every helper: the server must prove it is the endpoint (a chain
to the CA, and the name) before a token is sent to it.

The CA is, in this order: the helper's `cafile` argument, IAM_DB_AUTH_CA_FILE, the copy
`iam-db-auth ca update` wrote, the installed RDS bundle, the RDS bundle built into the library
(`iam_db_auth.ca_file()`). IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS=1 lets a caller's weaker setting
through, as it does for the MariaDB plugin.
"""

from __future__ import annotations

import os
import ssl
from typing import Any, MutableMapping, Optional

from ._errors import InsecureConnectionError
from ._native import ca_file

_VERIFYING_SSLMODES = {"verify-full"}


def unverified_allowed() -> bool:
    return os.environ.get("IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS", "") in ("1", "true", "yes")


def ssl_context(cafile: Optional[str] = None) -> ssl.SSLContext:
    """An SSLContext that requires a certificate chain to the CA and a certificate valid for the
    host name connected to (Python's defaults for clients)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile or ca_file())
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def check_context(context: Any, what: str) -> None:
    """Refuses a caller's SSLContext that would not verify the server."""
    if unverified_allowed():
        return
    if not isinstance(context, ssl.SSLContext):
        raise InsecureConnectionError(
            30, f"{what}: pass an ssl.SSLContext (or none, for the RDS CA), not {type(context).__name__}"
        )
    if context.verify_mode != ssl.CERT_REQUIRED or not context.check_hostname:
        raise InsecureConnectionError(
            30,
            f"{what}: the SSLContext does not verify the server (verify_mode CERT_REQUIRED and "
            "check_hostname are needed before a token is sent); set IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS=1 "
            "to send it anyway",
        )


def libpq_defaults(params: MutableMapping[str, Any], cafile: Optional[str]) -> dict[str, str]:
    """The libpq settings to add to `params` (a conninfo as a dict): sslmode=verify-full and the
    CA as sslrootcert when the caller gave none; a weaker sslmode is refused."""
    extra: dict[str, str] = {}
    sslmode = params.get("sslmode") or os.environ.get("PGSSLMODE")
    if sslmode is None:
        extra["sslmode"] = "verify-full"
    elif sslmode not in _VERIFYING_SSLMODES and not unverified_allowed():
        raise InsecureConnectionError(
            30,
            f"sslmode={sslmode} would send the token to a server that did not prove it is the "
            "endpoint; use sslmode=verify-full (the default) or set IAM_DB_AUTH_ALLOW_UNVERIFIED_TLS=1",
        )
    if cafile:
        extra["sslrootcert"] = cafile
    elif not (params.get("sslrootcert") or os.environ.get("PGSSLROOTCERT")):
        extra["sslrootcert"] = ca_file()
    return extra
