"""The MariaDB stand-in for RDS (scripts/standin/mariadb.sh) is real and as strict as RDS: the
stock `mariadb` client logs in with tokens from `iam-db-auth token` given as its password, and
every refusal is checked for its reason in the server log."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conftest import token
from mysql_support import (
    DEMO,
    VERIFIER_REJECTED,
    Credentials,
    logged_in_as,
    mariadb_login,
    port,
    refusal_log,
    sized_token,
)

# The stock client, the token as its password. (RDS's documentation adds
# --enable-cleartext-plugin: this client sends a cleartext password whenever the server asks for
# one, and the option, obsolete, would only print a warning among the results.)
STOCK = ("--no-defaults",)
# MariaDB's auth_pam_tool reads at most 10239 bytes of password.
PAM_TOOL_LIMIT = 10239


def utc(minutes: int) -> str:
    """An RFC 3339 time `minutes` from now."""
    return (datetime.now(timezone.utc) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def tls(standin) -> list[str]:
    return [f"--ssl-ca={standin['IAM_STANDIN_MARIADB_CA']}", "--ssl-verify-server-cert"]


def rds_token(standin, user: str, *extra: str, creds: Credentials = DEMO, host: str = "127.0.0.1") -> str:
    return token(host, port(standin), user, creds.env(), *extra)


def temporary_token(standin, user: str, session_length: int, expiration: str) -> tuple[str, Credentials]:
    creds = Credentials.temporary(session_length).register(standin, expiration)
    return rds_token(standin, user, creds=creds), creds


# --- logins ---------------------------------------------------------------------------------
# (user, the token's maker, TLS, what CURRENT_USER() says)
ACCEPTED = [
    pytest.param("iam_user", lambda s: rds_token(s, "iam_user"), True, "iam_user@%", id="token-over-verified-tls"),
    pytest.param("iam_user", lambda s: rds_token(s, "iam_user"), False, "iam_user@%", id="no-require-ssl-user-without-tls"),
    pytest.param("iam_ssl_user", lambda s: rds_token(s, "iam_ssl_user"), True, "iam_ssl_user@%", id="require-ssl-user-over-tls"),
    pytest.param(
        "iam_user",
        lambda s: rds_token(s, "iam_user", "--signing-host", s["IAM_STANDIN_MARIADB_RDS_HOST"], "--signing-port", s["IAM_STANDIN_MARIADB_RDS_PORT"]),
        True,
        "iam_user@%",
        id="signed-for-the-rds-name",
    ),
]


@pytest.mark.parametrize("user, make_token, over_tls, current_user", ACCEPTED)
def test_stock_client_logs_in_with_a_token(mariadb, user, make_token, over_tls, current_user):
    options = tls(mariadb) if over_tls else ["--skip-ssl"]
    result = mariadb_login(mariadb, user, *STOCK, *options, password=make_token(mariadb))
    assert logged_in_as(result) == current_user


def test_the_session_is_tls(mariadb):
    result = mariadb_login(
        mariadb, "iam_user", *STOCK, *tls(mariadb), password=rds_token(mariadb, "iam_user"), sql="SHOW STATUS LIKE 'Ssl_version'"
    )
    assert "\tTLSv1." in logged_in_as(result)


def test_over_the_unix_socket_a_token_for_localhost_logs_in_as_user_at_localhost(mariadb):
    result = mariadb_login(mariadb, "iam_user", *STOCK, host=None, password=rds_token(mariadb, "iam_user", host="localhost"))
    assert logged_in_as(result) == "iam_user@localhost"


def test_session_token_credentials_log_in(mariadb):
    # A typical session token: 1000 characters make a token of about 1.4 KB, far over the 511
    # bytes pam_exec would pass on.
    tok, _ = temporary_token(mariadb, "iam_user", 1000, utc(60))
    length = len(tok)  # (asserted apart: a failed assertion prints its operands, and this is a credential)
    assert length > 1000
    assert logged_in_as(mariadb_login(mariadb, "iam_user", *STOCK, *tls(mariadb), password=tok)) == "iam_user@%"


def test_a_token_just_under_auth_pam_tools_limit_logs_in(mariadb):
    tok, _ = sized_token(mariadb, PAM_TOOL_LIMIT)
    assert logged_in_as(mariadb_login(mariadb, "iam_user", *STOCK, *tls(mariadb), password=tok)) == "iam_user@%"


# --- refusals -------------------------------------------------------------------------------
def expired_temporary_credentials(s):
    tok, creds = temporary_token(s, "iam_user", 900, utc(-1))
    return tok, f"credentials of key '{creds.key_id}' expired"


# (user, TLS, maker of (password, the reason in the server log; None: the verifier did not
# refuse, the server itself did))
REFUSED = [
    pytest.param("iam_user", True, lambda s: ("not-a-token", "not a token"), id="wrong-password"),
    pytest.param(
        "iam_user",
        True,
        lambda s: (rds_token(s, "iam_ssl_user"), "is for user 'iam_ssl_user', not 'iam_user'"),
        id="token-for-another-user",
    ),
    pytest.param(
        "iam_user",
        True,
        lambda s: (rds_token(s, "iam_user", "--signing-time", utc(-20)), "the token expired"),
        id="expired-token-signed-20-minutes-ago",
    ),
    pytest.param(
        "iam_user",
        True,
        lambda s: (rds_token(s, "iam_user", creds=Credentials(DEMO.key_id, "wrong" + DEMO.secret)), "signature does not match"),
        id="wrong-secret",
    ),
    pytest.param(
        "iam_user",
        True,
        lambda s: (token("127.0.0.1", 5432, "iam_user", DEMO.env()), "not for this server"),
        id="token-for-another-port",
    ),
    pytest.param("iam_user", True, expired_temporary_credentials, id="expired-temporary-credentials"),
    # RDS checks the password as sent: a newline after a valid token is not stripped.
    pytest.param(
        "iam_user", True, lambda s: (rds_token(s, "iam_user") + "\n", "X-Amz-Signature is not"), id="token-with-a-newline-after-it"
    ),
    # The token itself is valid: the server refuses a REQUIRE SSL user over plain TCP, as RDS does.
    pytest.param("iam_ssl_user", False, lambda s: (rds_token(s, "iam_ssl_user"), None), id="require-ssl-user-without-tls"),
    # A known limit of MariaDB's auth_pam_tool, not of the verifier (real tokens are 0.8-1.5 KB).
    pytest.param(
        "iam_user",
        True,
        lambda s: (sized_token(s, 11000)[0], None),
        id="valid-11000-byte-token-over-auth-pam-tools-limit",
    ),
]


@pytest.mark.parametrize("user, over_tls, make", REFUSED)
def test_refused_with_the_reason_in_the_server_log(mariadb, user, over_tls, make):
    password, reason = make(mariadb)
    before = mariadb.log_size()
    result = mariadb_login(mariadb, user, *STOCK, *(tls(mariadb) if over_tls else ["--skip-ssl"]), password=password)
    assert result.returncode != 0 and f"ERROR 1045 (28000): Access denied for user '{user}'" in result.stderr, logged_in_as(result)
    log = refusal_log(mariadb, before, user)
    if reason is None:
        assert VERIFIER_REJECTED not in log, f"refused by the verifier, not by the server: {log[-600:]}"
    else:
        assert reason in log, f"the server log does not say {reason!r}: {log[-600:]}"


def test_no_token_or_secret_in_the_server_log(mariadb):
    # A login with session-token credentials, and one refused by the verifier with a valid token
    # of the demo key: then none of what they carried is in the log.
    tok, creds = temporary_token(mariadb, "iam_user", 1000, utc(60))
    assert logged_in_as(mariadb_login(mariadb, "iam_user", *STOCK, *tls(mariadb), password=tok)) == "iam_user@%"
    wrong_user_tok = rds_token(mariadb, "iam_ssl_user")
    before = mariadb.log_size()
    mariadb_login(mariadb, "iam_user", *STOCK, *tls(mariadb), password=wrong_user_tok)
    assert VERIFIER_REJECTED in refusal_log(mariadb, before, "iam_user")
    log = mariadb.log.read_text(errors="replace")
    secrets = {
        "session token": creds.session,
        "temporary secret": creds.secret,
        "demo secret": DEMO.secret,
        "signature of the accepted token": tok.rsplit("X-Amz-Signature=", 1)[1],
        "signature of the refused token": wrong_user_tok.rsplit("X-Amz-Signature=", 1)[1],
    }
    assert [name for name, value in secrets.items() if value in log] == []
