"""The exceptions: one base class carrying the C ABI's numbered code, one subclass per family.

Programs decide on `code` (or the class), never on the message, whose wording may improve.
"""

from __future__ import annotations


class Error(Exception):
    """A token could not be made (or a connection was refused before a token was sent).

    `code` is the C ABI's `IAM_ERROR_*` number (docs/c-api.md); `message` the library's whole
    message, which never contains a token or a secret."""

    code: int
    message: str

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} (iam_error {code})")
        self.code = code
        self.message = message


class InvalidRequestError(Error, ValueError):
    """The request is malformed: host, port, user, region, profile, lifetime, options (codes 1-11
    but 7)."""


class RegionNotFoundError(Error):
    """No region was given, none could be inferred from the host, none is configured (code 7)."""


class CredentialsError(Error):
    """No usable AWS credentials (codes 20-23)."""


class NoCredentialsError(CredentialsError):
    """No credential source provided AWS credentials (code 20)."""


class CredentialsExpiredError(CredentialsError):
    """The credentials found have already expired (code 21)."""


class CredentialsTimeoutError(CredentialsError, TimeoutError):
    """Looking for credentials took longer than IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS (code 22)."""


class InsecureConnectionError(Error):
    """The connection would not verify the server (no TLS, or TLS without checking the
    certificate and its name), so no token was made for it (code 30)."""


class UntrustedServerError(Error):
    """The server's certificate did not prove it is the endpoint (code 31)."""


class CAUnavailableError(Error):
    """The CA certificates to verify servers with could not be read (code 32)."""


class InternalError(Error):
    """A bug in the library (code 99)."""


_BY_CODE: dict[int, type[Error]] = {
    7: RegionNotFoundError,
    20: NoCredentialsError,
    21: CredentialsExpiredError,
    22: CredentialsTimeoutError,
    23: CredentialsError,
    30: InsecureConnectionError,
    31: UntrustedServerError,
    32: CAUnavailableError,
    99: InternalError,
}


def error_for(code: int, message: str) -> Error:
    """The exception for a code; a code this version does not know is a plain `Error`."""
    if 1 <= code <= 11 and code != 7:
        return InvalidRequestError(code, message)
    return _BY_CODE.get(code, Error)(code, message)
