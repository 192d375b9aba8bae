"""What happens with no credentials: the error lists every source tried, a network source that
failed is not asked again for a while (seen as connections counted at a stand-in, never as a
timing assertion: times are measured by bench_coldstart.py), and credentials that appear later
are picked up by the next call. Region lookup never touches the network."""

from __future__ import annotations

from conftest import HOST, PORT, assert_signed_by
from standins import Container, Creds, Hang, Imds
from test_sources import credentials_file

SOURCES = ["environment", "profile 'default'", "web identity", "container endpoint", "EC2 instance metadata"]
TOKEN = {"op": "token", "host": HOST, "port": PORT, "user": "app"}


def hang_env(hang: Hang) -> dict:
    return {"AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": hang.url}


def test_no_credentials_lists_sources_and_backs_off_the_metadata_endpoint(scenario):
    hang = Hang()
    try:
        r = scenario.run([TOKEN, TOKEN, TOKEN], **hang_env(hang))
        first, second, third = r.results
        assert not first["ok"] and not second["ok"] and not third["ok"]
        for source in SOURCES:
            assert source in first["message"], (source, first["message"])
        assert "EC2 instance metadata (IMDSv2) (" in first["message"]
        # One connection to the metadata endpoint for all three calls: the later calls skip it.
        assert hang.accepted == 1, hang.accepted
        assert "skipped: it failed less than 30 s ago" in second["message"]
        assert "skipped" in third["message"]
        for source in SOURCES:
            assert source in second["message"]
    finally:
        hang.stop()


def test_env_credentials_set_later_are_used_at_once(scenario):
    hang = Hang()
    try:
        c = scenario.creds_secret(Creds.long_term("env", "late"))
        steps = [
            TOKEN,
            {"op": "setenv", "name": "AWS_ACCESS_KEY_ID", "value": c.key_id},
            {"op": "setenv", "name": "AWS_SECRET_ACCESS_KEY", "value": c.secret},
            TOKEN,
        ]
        r = scenario.run(steps, **hang_env(hang))
        assert not r.results[0]["ok"]
        assert_signed_by(r.results[3], c)
        assert hang.accepted == 1
    finally:
        hang.stop()


def test_credentials_file_written_later_is_used_at_once(scenario):
    hang = Hang()
    try:
        c = scenario.creds_secret(Creds.long_term("file", "latefile"))
        path = scenario.home / ".aws/credentials"
        steps = [
            TOKEN,
            {"op": "write", "path": str(path), "text": credentials_file({"default": c})},
            TOKEN,
        ]
        r = scenario.run(steps, **hang_env(hang))
        assert not r.results[0]["ok"]
        assert_signed_by(r.results[2], c)
    finally:
        hang.stop()


def test_config_file_changed_later_is_used_at_once(scenario):
    """A profile that first has no credentials, then gets them (e.g. after `aws configure`)."""
    old = scenario.creds_secret(Creds.long_term("file", "old"))
    new = scenario.creds_secret(Creds.long_term("file", "new"))
    path = scenario.write(".aws/credentials", credentials_file({"default": old}))
    steps = [
        {**TOKEN, "profile": "dbs"},
        {"op": "write", "path": str(path), "text": credentials_file({"default": old, "dbs": new})},
        {**TOKEN, "profile": "dbs"},
    ]
    r = scenario.run(steps)
    assert not r.results[0]["ok"] and "dbs" in r.results[0]["message"]
    assert_signed_by(r.results[2], new)


def test_a_failing_container_endpoint_is_skipped_then_retried(scenario):
    """The container endpoint answering errors counts as a network failure too."""
    with Container() as ctr:
        auth_file = scenario.write("pod-identity/token", "not-the-token")
        env = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": ctr.full_uri,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(auth_file),
        }
        r = scenario.run([TOKEN, TOKEN], **env)
        assert not r.results[0]["ok"] and "container endpoint" in r.results[0]["message"]
        assert not r.results[1]["ok"]
        asked = len(ctr.rec.requests)
        assert asked >= 1
        assert "skipped" in r.results[1]["message"], r.results[1]["message"]
        assert len(ctr.rec.requests) == asked


def test_region_lookup_never_uses_the_network(scenario):
    with Imds() as imds:
        c = scenario.creds_secret(Creds.long_term("env", "noregion"))
        r = scenario.run(
            [{"op": "token", "host": "db.internal", "port": PORT, "user": "app"}],
            AWS_ACCESS_KEY_ID=c.key_id,
            AWS_SECRET_ACCESS_KEY=c.secret,
            AWS_EC2_METADATA_DISABLED="false",
            AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url,
        )
        res = r.results[0]
        assert not res["ok"] and "no AWS region" in res["message"], res
        assert imds.rec.requests == []


def test_expired_credentials_are_refused(scenario):
    with Container() as ctr:
        ctr.lifetime_s = -60
        scenario.secret(ctr.auth_token)
        auth_file = scenario.write("pod-identity/token", ctr.auth_token)
        r = scenario.token(
            AWS_CONTAINER_CREDENTIALS_FULL_URI=ctr.full_uri,
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(auth_file),
        )
        scenario.creds_secret(ctr.rec.issued[0])
        assert not r["ok"] and "expired" in r["message"], r
