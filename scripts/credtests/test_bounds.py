"""Every source is bounded. Files a setting names are read bounded: a FIFO, a device or an
oversized file at a shared file's path is refused at once with a message that names it, never
waited on or read whole. The container endpoint gets one attempt of 1 s connect and 1 s read."""

from __future__ import annotations

import os
import time

from conftest import HOST, PORT
from standins import Hang

TOKEN = {"op": "token", "host": HOST, "port": PORT, "user": "app"}
# The lookup's own bound; the process is given far longer, so a hang shows as a failed run.
BOUND = {"IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS": "3000"}


def test_a_fifo_credentials_file_is_refused_at_once(scenario):
    fifo = scenario.home / "creds.fifo"
    os.mkfifo(fifo)
    r = scenario.run([TOKEN, {**TOKEN, "profile": "other"}], timeout=15, AWS_SHARED_CREDENTIALS_FILE=str(fifo), **BOUND)
    for result in r.results:
        assert not result["ok"]
        assert "not a regular file" in result["message"], result["message"]
        assert result["ms"] < 1000, result["ms"]


def test_dev_zero_as_the_config_file_is_refused_at_once(scenario):
    r = scenario.run([TOKEN], timeout=15, AWS_CONFIG_FILE="/dev/zero", **BOUND)
    (result,) = r.results
    assert not result["ok"]
    assert "not a regular file" in result["message"], result["message"]
    assert result["ms"] < 1000, result["ms"]


def test_an_oversized_credentials_file_is_refused(scenario):
    path = scenario.write(".aws/credentials", "# padding\n" * 200_000)
    r = scenario.run([TOKEN], timeout=15, **BOUND)
    (result,) = r.results
    assert not result["ok"]
    assert "larger than" in result["message"] and str(path) in result["message"], result["message"]


def test_an_unreadable_credentials_file_is_not_reported_as_missing(scenario):
    if os.geteuid() == 0:
        # root reads any file: make the path unreadable another way, a directory's child.
        path = scenario.aws / "credentials"
        path.mkdir()
        want = "not a regular file"
    else:
        path = scenario.write(".aws/credentials", "[default]\n", mode=0o000)
        want = "cannot be read"
    r = scenario.run([TOKEN], timeout=15, **BOUND)
    (result,) = r.results
    assert not result["ok"]
    assert want in result["message"] and str(path) in result["message"], result["message"]


def test_a_fifo_web_identity_token_file_is_refused_at_once(scenario):
    fifo = scenario.home / "token.fifo"
    os.mkfifo(fifo)
    env = {"AWS_WEB_IDENTITY_TOKEN_FILE": str(fifo), "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/app"}
    r = scenario.run([TOKEN], timeout=15, **env, **BOUND)
    (result,) = r.results
    assert not result["ok"]
    assert "not a regular file" in result["message"] and str(fifo) in result["message"], result["message"]
    assert result["ms"] < 1000, result["ms"]


def test_a_stalled_container_endpoint_costs_one_attempt_of_about_a_second(scenario):
    hang = Hang()
    try:
        env = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": hang.url + "/v1/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": "not-a-secret",
            # The lookup's own bound far above the endpoint's, so only the endpoint's shows.
            "IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS": "30000",
        }
        r = scenario.run([TOKEN], timeout=40, **env)
        (result,) = r.results
        assert not result["ok"] and "container endpoint" in result["message"], result["message"]
        # 1 s read timeout, one attempt (aws-config's own: 5 s read, 3 attempts, 10-17 s).
        assert result["ms"] < 2500, result["ms"]
        assert hang.accepted == 1, hang.accepted
    finally:
        hang.stop()


def processes_running(argv: list[str]) -> list[int]:
    """The pids of live processes whose command line is exactly `argv`."""
    want = ("\0".join(argv) + "\0").encode()
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if f.read() == want:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_a_timed_out_credential_process_leaves_no_process_behind(scenario):
    # A helper that starts a grandchild and waits for ever: both must be gone after the bound.
    marker = str(4000 + os.getpid() % 1000) + ".25"
    script = scenario.write("hang.sh", f"#!/bin/sh\nsleep {marker} &\nsleep {marker}\n", mode=0o700)
    scenario.write(".aws/config", f"[default]\ncredential_process = {script}\n")
    try:
        r = scenario.run([TOKEN] * 3, timeout=30, IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS="1000")
        for result in r.results:
            assert not result["ok"] and "timed out" in result["message"], result["message"]
            assert result["ms"] < 2000, result["ms"]
        left = []
        for _ in range(20):  # reaping and group kills take a moment: up to 2 s
            left = processes_running(["sleep", marker])
            if not left:
                break
            time.sleep(0.1)
        assert left == [], f"{len(left)} helper processes left running after 3 timed-out calls"
    finally:
        for pid in processes_running(["sleep", marker]):
            os.kill(pid, 9)


def test_an_endless_credential_process_output_is_capped(scenario):
    script = scenario.write("yes.sh", "#!/bin/sh\nexec yes AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", mode=0o700)
    scenario.write(".aws/config", f"[default]\ncredential_process = {script}\n")
    r = scenario.run([TOKEN], timeout=30, IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS="5000")
    (result,) = r.results
    assert not result["ok"]
    # Refused as soon as the cap is passed, not at the lookup's bound.
    assert "more than" in result["message"] and result["ms"] < 2000, result
    assert processes_running(["yes", "A" * 61]) == []


def test_a_fifo_web_identity_token_file_in_a_profile_is_refused_at_once(scenario):
    fifo = scenario.home / "token.fifo"
    os.mkfifo(fifo)
    scenario.write(
        ".aws/config",
        f"[default]\nrole_arn = arn:aws:iam::123456789012:role/app\nweb_identity_token_file = {fifo}\n",
    )
    r = scenario.run([TOKEN], timeout=15, **BOUND)
    (result,) = r.results
    assert not result["ok"]
    assert "not a regular file" in result["message"] and str(fifo) in result["message"], result["message"]
    assert result["ms"] < 1000, result["ms"]


def _sso_profile_with_fifo_token_cache(scenario) -> None:
    """A profile whose SSO token cache file (~/.aws/sso/cache/<sha1 of the session>.json, which
    aws-config reads itself) is a FIFO nobody writes: a read of it never returns."""
    import hashlib

    cache = scenario.home / ".aws" / "sso" / "cache"
    cache.mkdir(parents=True)
    os.mkfifo(cache / (hashlib.sha1(b"corp").hexdigest() + ".json"))
    scenario.write(
        ".aws/config",
        "[profile sso]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = app\n"
        "[sso-session corp]\nsso_region = us-east-1\nsso_start_url = https://corp.awsapps.com/start\n"
        "[profile static]\nregion = us-east-1\n",
    )
    scenario.write(
        ".aws/credentials",
        "[static]\naws_access_key_id = AKIDSTATICEXAMPLE000\naws_secret_access_key = staticSecretKeyExample/0123456789abcdef\n",
    )


def test_a_source_that_blocks_in_a_file_read_is_still_bounded(scenario):
    # aws-config reads the SSO token cache with a blocking read: the bound holds anyway, and
    # another profile's lookup in the same process is not held up by the stuck one.
    _sso_profile_with_fifo_token_cache(scenario)
    r = scenario.run(
        [{**TOKEN, "profile": "sso"}, {**TOKEN, "profile": "static"}],
        timeout=20,
        IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS="1500",
    )
    stuck, other = r.results
    assert not stuck["ok"] and "timed out" in stuck["message"], stuck
    assert stuck["ms"] < 2500, stuck["ms"]
    assert other["ok"], other
    assert other["ms"] < 1000, other["ms"]


def test_a_timed_out_credential_process_behind_a_role_leaves_no_process_behind(scenario):
    # The same bound for a tool a role's source_profile names (aws-config would run it without
    # killing it at the bound).
    marker = str(5000 + os.getpid() % 1000) + ".25"
    script = scenario.write("hang.sh", f"#!/bin/sh\nsleep {marker} &\nsleep {marker}\n", mode=0o700)
    scenario.write(
        ".aws/config",
        "[default]\nrole_arn = arn:aws:iam::123456789012:role/app\nsource_profile = base\nregion = us-east-1\n"
        f"[profile base]\ncredential_process = {script}\n",
    )
    try:
        r = scenario.run([TOKEN] * 2, timeout=30, IAM_DB_AUTH_CREDENTIALS_TIMEOUT_MS="1000")
        for result in r.results:
            assert not result["ok"] and "timed out" in result["message"], result["message"]
            assert result["ms"] < 2000, result["ms"]
        left = []
        for _ in range(20):
            left = processes_running(["sleep", marker])
            if not left:
                break
            time.sleep(0.1)
        assert left == [], f"{len(left)} helper processes left running after 2 timed-out calls"
    finally:
        for pid in processes_running(["sleep", marker]):
            os.kill(pid, 9)
