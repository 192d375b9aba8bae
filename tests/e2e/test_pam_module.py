"""The stand-ins' PAM module (scripts/standin/pam_iam_db_auth.c) inside a PAM application, as a
server hosts it (scripts/standin/pam_check.c): with SIGCHLD at its default, ignored, or reaped
by a handler, it reaps its verifier and leaves SIGCHLD as it found it; the password reaches the
verifier whole on stdin, with no stray descriptors; a hung verifier is killed after the timeout.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
from pathlib import Path

import pytest
from conftest import random_text, run, wait_until
from pg_support import Pg

pytest_plugins = ["pg_support"]  # its fixtures

RESULT = re.compile(
    r"^result=(?P<result>.+) ms=(?P<ms>\d+) children_left=(?P<children_left>yes|no) "
    r"reaped_by_handler=(?P<reaped>\d+) sigchld_kept=(?P<sigchld_kept>yes|no)$"
)


def pam_login(pam_check: Path, service: str, user: str, sigchld: str, password: str) -> dict[str, str]:
    """pam_check's report for one login (`password` on its stdin, byte for byte)."""
    r = run([pam_check, service, user, sigchld], input=password, timeout=30)
    m = RESULT.match(r.stdout.strip())
    assert m, f"exit {r.returncode}: {r.stdout} {r.stderr}"
    return m.groupdict()


@pytest.mark.parametrize("sigchld", ["plain", "ignore", "reaper"])
def test_the_module_accepts_a_token_reaps_its_child_and_restores_sigchld(pg: Pg, pam_check: Path, sigchld: str):
    report = pam_login(pam_check, pg.standin["IAM_STANDIN_PG_PAM_SERVICE"], "iam_user", sigchld, pg.token())
    del report["ms"]
    assert report == {"result": "Success", "children_left": "no", "reaped": "0", "sigchld_kept": "yes"}


def test_the_module_refuses_a_token_for_another_user(pg: Pg, pam_check: Path):
    report = pam_login(pam_check, pg.standin["IAM_STANDIN_PG_PAM_SERVICE"], "iam_user", "plain",
                       pg.token("dsql_user"))
    assert report["result"] == "Authentication failure"


@pytest.fixture(scope="session")
def pam_module(pg: Pg) -> str:
    """The module the stand-in's PAM service uses."""
    line = next(line for line in Path("/etc/pam.d", pg.standin["IAM_STANDIN_PG_PAM_SERVICE"]).read_text().splitlines()
                if line.startswith("auth "))
    return line.split()[2]


@pytest.fixture
def check_service(pam_module: str):
    """write(ARGUMENTS) -> a PAM service of this test's own: our module with ARGUMENTS (a
    `timeout=` and the program to run), pam_permit for account. Removed at the end."""
    name = f"iam-db-auth-pamcheck-{os.getpid()}-{secrets.token_hex(4)}"
    path = Path("/etc/pam.d", name)

    def write(arguments: str) -> str:
        path.write_text(f"auth required {pam_module} {arguments}\naccount required pam_permit.so\n")
        return name

    yield write
    path.unlink(missing_ok=True)


# The program stands in for the verifier: it fails if any descriptor beyond stderr but the
# module's exit pipe (3) is open, and succeeds iff stdin is the expected file byte for byte.
EXACT_BYTES = ("timeout=2 /bin/sh -c [for f in 4 5 6 7 8; do test -e /proc/$$/fd/$f && exit 5; done; "
               "test -e /proc/$$/fd/3 || exit 6; cmp -s {expected} -]")


@pytest.mark.parametrize("length, result", [(60000, "Success"), (59999, "Authentication failure")],
                         ids=["whole", "control_one_byte_short"])
def test_a_60000_byte_password_arrives_whole_with_no_stray_descriptors(
    pam_check: Path, check_service, tmp_path: Path, length: int, result: str
):
    expected = tmp_path / "expected"
    expected.write_text(random_text(60000))
    service = check_service(EXACT_BYTES.format(expected=expected))
    assert pam_login(pam_check, service, "u", "plain", expected.read_text()[:length])["result"] == result


def processes_running(argv: list[str]) -> list[int]:
    """Pids of processes whose command line is exactly `argv`."""
    want = ("\0".join(argv) + "\0").encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "cmdline").read_bytes() == want:
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


@pytest.mark.parametrize("sigchld", ["plain", "ignore"])
def test_a_hung_verifier_is_killed_after_the_timeout(pam_check: Path, check_service, sigchld: str):
    # A sleep of its own length, so its process is this test's.
    sleeper = ["sleep", f"{1000 + secrets.randbelow(9000)}.25"]
    service = check_service(f"timeout=1 /bin/sh -c [exec {' '.join(sleeper)}]")
    try:
        report = pam_login(pam_check, service, "u", sigchld, "pw\n")
        assert report["result"] == "System error" and report["children_left"] == "no", report
        assert 900 <= int(report["ms"]) < 5000, report
        assert wait_until(lambda: not processes_running(sleeper), 2), "the hung verifier is still running"
    finally:
        for pid in processes_running(sleeper):
            os.kill(pid, signal.SIGKILL)
