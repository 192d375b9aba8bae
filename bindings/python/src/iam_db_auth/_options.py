"""The token settings a helper carries besides host, port and user."""

from __future__ import annotations

from typing import Optional, TypedDict


class TokenOptions(TypedDict, total=False):
    """Keyword arguments of `iam_db_auth.token` a helper passes on (see its docstring)."""

    region: Optional[str]
    profile: Optional[str]
    signing_host: Optional[str]
    signing_port: Optional[int]
    cache: bool


def pick(options: dict) -> TokenOptions:
    """The token settings among a helper's keyword arguments, removed from them."""
    return {k: options.pop(k) for k in ("region", "profile", "signing_host", "signing_port", "cache") if k in options}  # type: ignore[return-value]
