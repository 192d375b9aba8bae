"""The PostgreSQL stand-in is as strict as RDS: stock psql logs in with tokens from
`iam-db-auth token` (PGPASSWORD, verify-full), and every refusal is checked for its reason in
the server log (the verifier's words, or pg_hba's).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from conftest import BIN, DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, TempKey, aws_env, random_text, run, temporary_key
from pg_support import Pg, assert_refused, assert_stdout, libpq_env, psql_login

pytest_plugins = ["pg_support"]  # its fixtures

# What the verifier takes at most (it refuses longer tokens itself).
VERIFIER_LIMIT = 16384


def utc(minutes: int) -> str:
    """An RFC 3339 UTC time `minutes` from now."""
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Tokens:
    """Tokens from `iam-db-auth token` for the stand-in (demo key unless a key is given)."""

    pg: Pg
    temp: TempKey  # temporary credentials (a 1000-character session token: tokens of about 1.4 KB)
    expired: TempKey  # temporary credentials that expired a minute ago

    def rds(self, user: str = "iam_user", *options: str, key: TempKey | None = None,
            host: str = "127.0.0.1", port: int | None = None) -> str:
        env = key.env(AWS_REGION=self.pg.region) if key else self.pg.env()
        return self.pg.token(user, host, port, *options, env=env)

    def dsql(self, kind: str) -> str:
        r = run([BIN, "token", "--kind", kind, "--host", self.pg.dsql_host], env=self.pg.env(), check=True)
        return r.stdout.strip()


@pytest.fixture(scope="module")
def tokens(pg: Pg):
    with (
        temporary_key(pg.standin, session_token=random_text(1000), expiration=utc(60)) as temp,
        temporary_key(pg.standin, session_token=random_text(900), expiration=utc(-1)) as expired,
    ):
        yield Tokens(pg, temp, expired)


def conn(pg: Pg, user: str = "iam_user", host: str = "127.0.0.1", dbname: str | None = None) -> str:
    """verify-full to `host` (a name in the certificate), reached at 127.0.0.1."""
    return pg.conninfo(user=user, host=host, hostaddr="127.0.0.1", dbname=dbname)


def dsql_conn(pg: Pg, user: str) -> str:
    return conn(pg, user, pg.dsql_host, "postgres")


# (id, password, connection string, who is logged in)
ACCEPTED: list[tuple[str, Callable[[Tokens], str], Callable[[Pg], str], str]] = [
    ("verify_full", lambda t: t.rds(), lambda pg: conn(pg), "iam_user"),
    ("ipv6_loopback", lambda t: t.rds(), lambda pg: pg.conninfo(host="::1"), "iam_user"),
    ("signed_for_the_rds_name", lambda t: t.rds(host=t.pg.rds_host, port=5432),
     lambda pg: conn(pg, host=pg.rds_host), "iam_user"),
    ("session_token_credentials", lambda t: t.rds(key=t.temp), lambda pg: conn(pg), "iam_user"),
    ("dsql_user_with_dbconnect", lambda t: t.dsql("dsql"), lambda pg: dsql_conn(pg, "dsql_user"), "dsql_user"),
    ("admin_with_dbconnectadmin", lambda t: t.dsql("dsql-admin"), lambda pg: dsql_conn(pg, "admin"), "admin"),
]


@pytest.mark.parametrize("password, conninfo, who", [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_psql_logs_in_with_a_token(pg: Pg, tokens: Tokens, password, conninfo, who: str):
    assert_stdout(psql_login(conninfo(pg), libpq_env(PGPASSWORD=password(tokens))), f"{who} true")


def wrong_secret(t: Tokens) -> str:
    env = aws_env(AWS_ACCESS_KEY_ID=DEMO_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY="wrong" + DEMO_SECRET_ACCESS_KEY,
                  AWS_REGION=t.pg.region)
    return t.pg.token("iam_user", env=env)


# (id, password, connection string, the reason in the server log)
REFUSED: list[tuple[str, Callable[[Tokens], str], Callable[[Pg], str], str]] = [
    ("not_a_token", lambda t: "not-a-token", conn, "not a token"),
    ("token_for_another_user", lambda t: t.rds("dsql_user"), conn, "is for user 'dsql_user', not 'iam_user'"),
    ("expired", lambda t: t.rds("iam_user", "--signing-time", utc(-20)), conn, "the token expired"),
    ("wrong_secret", wrong_secret, conn, "signature does not match"),
    ("expired_temporary_credentials", lambda t: t.rds(key=t.expired), conn, "credentials of key '{expired}' expired"),
    # RDS checks the password as sent.
    ("newline_after_the_token", lambda t: t.rds() + "\n", conn, "X-Amz-Signature is not"),
    ("without_tls", lambda t: t.rds(), lambda pg: pg.conninfo(host="127.0.0.1", sslmode="disable"), "no encryption"),
    ("role_without_rds_iam", lambda t: t.rds("postgres"), lambda pg: conn(pg, "postgres"),
     "pg_hba.conf rejects connection"),
    ("admin_with_dbconnect", lambda t: t.dsql("dsql"), lambda pg: dsql_conn(pg, "admin"), "requires 'DbConnectAdmin'"),
    ("dsql_user_with_an_rds_token", lambda t: t.rds("dsql_user"), lambda pg: dsql_conn(pg, "dsql_user"),
     "not for this server"),
    ("iam_user_with_a_dsql_token", lambda t: t.dsql("dsql"), conn, "not for this server"),
]


@pytest.mark.parametrize("password, conninfo, reason", [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_psql_is_refused_for_the_reason_in_the_log(pg: Pg, tokens: Tokens, password, conninfo, reason: str):
    assert_refused(pg, password(tokens), conninfo(pg), reason.format(expired=tokens.expired.access_key_id))


ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@contextmanager
def sized_token(pg: Pg, size: int):
    """A valid token of exactly `size` bytes, from a key of its own whose session token is
    letters and digits (not percent-encoded: the token grows by exactly its length)."""
    # An id as long as temporary_key's: only the session token's length varies.
    probe = TempKey("ASIAE2E" + "X" * 13, "x", "A" * 100)
    overhead = len(pg.token("iam_user", env=probe.env(AWS_REGION=pg.region))) - 100
    with temporary_key(pg.standin, session_token=random_text(size - overhead, ALNUM)) as key:
        token = pg.token("iam_user", env=key.env(AWS_REGION=pg.region))
        assert len(token) == size
        yield token


def test_a_token_as_long_as_the_verifier_takes_logs_in(pg: Pg):
    with sized_token(pg, VERIFIER_LIMIT) as token:
        assert_stdout(psql_login(conn(pg), libpq_env(PGPASSWORD=token)), "iam_user true")


def test_a_token_one_byte_longer_is_refused_by_the_verifier(pg: Pg):
    with sized_token(pg, VERIFIER_LIMIT + 1) as token:
        assert_refused(pg, token, conn(pg), f"bytes long; at most {VERIFIER_LIMIT}")
