"""Helpers for the MariaDB/MySQL end-to-end tests: the stock `mariadb` client, the stand-in's
admin connection, refusals read from the server log, made-to-measure credentials and tokens,
and the C login program (c-tests/mysql_plugin_login.c)."""

from __future__ import annotations

import base64
import os
import secrets
import shlex
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path

from conftest import BIN, DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY, ROOT, StandIn, aws_env, run, token, wait_until

# The stand-in's region (IAM_STANDIN_REGION); 127.0.0.1 names none, so clients are told it.
REGION = "us-east-1"
C_LOGIN_SOURCE = ROOT / "c-tests/mysql_plugin_login.c"

# The server writes this line for every refused login, after the verifier's own reason (the
# verifier runs inside the authentication, the server logs once it has answered the client).
ACCESS_DENIED = "Access denied for user '{user}'"
# The verifier's prefix for every refusal it makes.
VERIFIER_REJECTED = "iam-db-auth: rejected"


def install_plugins(directory: Path, *options: str) -> subprocess.CompletedProcess:
    """`iam-db-auth mysql-plugin install DIRECTORY OPTIONS...`: a client plugin directory."""
    return run([BIN, "mysql-plugin", "install", directory, *options])


def port(standin: StandIn) -> int:
    return int(standin["IAM_STANDIN_MARIADB_PORT"])


def mariadb_login(
    standin: StandIn,
    user: str,
    *options: str | os.PathLike,
    env: dict[str, str] | None = None,
    password: str | None = None,
    host: str | None = "127.0.0.1",
    sql: str = "SELECT CURRENT_USER()",
) -> subprocess.CompletedProcess:
    """The stock `mariadb` client logs in to the stand-in as `user` and runs `sql` (batch mode,
    no column names: stdout is the bare result). `options` come first (where --no-defaults and
    --defaults-file must be). `env` is the whole environment (default: no AWS settings at all);
    a `password` travels in MYSQL_PWD, never on the command line. `host` None: the unix socket."""
    env = dict(env if env is not None else aws_env())
    if password is not None:
        env["MYSQL_PWD"] = password
    where = ["-h", host, "-P", str(port(standin))] if host else [f"--socket={standin['IAM_STANDIN_MARIADB_SOCKET']}"]
    args = ["mariadb", *options, *where, "-u", user, "-D", standin["IAM_STANDIN_MARIADB_DATABASE"]]
    return run([*args, "-N", "-B", "-e", sql], env=env)


def logged_in_as(result: subprocess.CompletedProcess) -> str:
    """The CURRENT_USER() a login printed, with the client's errors when there is none."""
    if result.returncode != 0:
        return f"<not logged in: exit {result.returncode}: {result.stderr.strip()[-600:]}>"
    return result.stdout.strip()


def admin_sql(standin: StandIn, sql: str) -> str:
    """Runs `sql` as the stand-in's root over its unix socket; returns the bare result."""
    out = run(
        ["mariadb", "--no-defaults", f"--socket={standin['IAM_STANDIN_MARIADB_SOCKET']}", "-uroot", "-N", "-B", "-e", sql],
        check=True,
    )
    return out.stdout.strip()


def refusal_log(standin: StandIn, offset: int, user: str, timeout: float = 10) -> str:
    """The server log written since `offset` once it holds the server's refusal of `user` (the
    last line of a refused login), so a reason the verifier wrote before it is there too."""
    denied = ACCESS_DENIED.format(user=user)

    def written() -> str:
        text = standin.log_since(offset)
        return text if denied in text else ""

    text = wait_until(written, timeout)
    assert text, f"no {denied!r} in the server log within {timeout} s: {standin.log_since(offset)[-800:]!r}"
    return text


def random_key_id(prefix: str = "ASIA") -> str:
    """An access key id no earlier run put in the keystore (the keystore outlives a run)."""
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(20 - len(prefix)))


def session_token(length: int) -> str:
    """A session token of `length` characters, shaped like AWS's (base64, with / + =)."""
    return base64.b64encode(secrets.token_bytes(length * 3 // 4 + 3)).decode()[:length]


@dataclass
class Credentials:
    """A key the stand-in's verifier knows (after `register`), and the environment that hands it
    to a client."""

    key_id: str
    secret: str
    session: str | None = None

    @classmethod
    def temporary(cls, session_length: int) -> Credentials:
        return cls(random_key_id("ASIA"), "tempSecret/" + session_token(30), session_token(session_length))

    def register(self, standin: StandIn, expiration: str | None = None) -> Credentials:
        standin.add_key(" ".join(x for x in (self.key_id, self.secret, self.session, expiration) if x))
        return self

    def env(self, **extra: str | None) -> dict[str, str]:
        """Only these credentials and the stand-in's region (`extra` adds or removes names)."""
        settings = {
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_SESSION_TOKEN": self.session,
            "AWS_REGION": REGION,
        }
        return aws_env(**{**settings, **extra})


# The long-term demo key the stand-ins' verifier knows from the start.
DEMO = Credentials(DEMO_ACCESS_KEY_ID, DEMO_SECRET_ACCESS_KEY)


def sized_token(standin: StandIn, limit: int, user: str = "iam_user") -> tuple[str, Credentials]:
    """A valid token for 127.0.0.1:PORT of `limit`-100 to `limit` bytes (its session token sized
    to fit), with the credentials that made it, registered with the verifier."""
    length = limit - 600
    for _ in range(20):
        creds = Credentials(random_key_id("ASIA"), "bigSecret+" + session_token(30), session_token(length))
        tok = token("127.0.0.1", port(standin), user, creds.env())
        if limit - 100 <= len(tok) <= limit:
            return tok, creds.register(standin)
        length -= len(tok) - limit + 10
    raise AssertionError(f"could not size a token to {limit} bytes")


def build_c_login(dest: Path, compiler: list[str], *flags: str) -> Path:
    """Builds c-tests/mysql_plugin_login.c against libmariadb with `compiler` and warnings as
    errors; fails the test with the compiler's messages if it does not build."""

    def config(what: str) -> list[str]:
        return shlex.split(run(["mariadb_config", what], check=True).stdout)

    out = run(
        [*compiler, "-Wall", "-Wextra", "-Werror", *flags, *config("--cflags"), C_LOGIN_SOURCE, *config("--libs"), "-o", dest],
        timeout=180,
    )
    assert out.returncode == 0, f"{C_LOGIN_SOURCE.name} does not build warning-free:\n{out.stderr[-3000:]}"
    return dest


def c_run(
    program: Path,
    standin: StandIn,
    *options: str | os.PathLike,
    user: str = "iam_user",
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    """The C login program (under `prefix`, e.g. valgrind, if given) logs in to the stand-in
    over 127.0.0.1 as `user` (environment: the demo key unless `env` says otherwise)."""
    return run([*prefix, program, *options, "127.0.0.1", port(standin), user], env=env if env is not None else DEMO.env(), timeout=180)
