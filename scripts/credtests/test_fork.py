"""fork(): a child of a process that already used the library (and may have had threads inside
it at the moment of the fork) makes its own tokens. Python multiprocessing, fork start method."""

from __future__ import annotations

from conftest import HOST, PORT, assert_signed_by
from iamlib import Signed
from standins import Creds, Imds

TOKEN = {"op": "token", "host": HOST, "port": PORT, "user": "app"}


def test_fork_with_env_credentials_and_busy_threads(scenario):
    c = scenario.creds_secret(Creds.temporary("env", tag="fork"))
    env = {"AWS_ACCESS_KEY_ID": c.key_id, "AWS_SECRET_ACCESS_KEY": c.secret, "AWS_SESSION_TOKEN": c.token}
    # Debug logging on: the busy threads write to stderr all the time, so a fork lands while
    # one of them is inside the logger.
    r = scenario.run([TOKEN, dict(TOKEN, op="fork", children=20, threads=4), TOKEN], timeout=300, **env)
    before, forked, after = r.results
    assert_signed_by(before, c)
    assert forked["hung"] == 0, "a forked child hung"
    assert len(forked["children"]) == 20
    for child in forked["children"]:
        assert_signed_by(child, c)
    assert forked["busy"]["errors"] == 0 and forked["busy"]["calls"] > 0
    assert_signed_by(after, c)


def test_fork_after_instance_metadata_lookup(scenario):
    """The parent's runtime and HTTP connections are not reused in the child: the child asks
    the metadata endpoint again, on its own, and gets its own credentials."""
    with Imds() as imds:
        env = {"AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}
        r = scenario.run([TOKEN, dict(TOKEN, op="fork", children=3, threads=2), TOKEN], timeout=300, **env)
        scenario.secret(*imds.session_tokens)
        for c in imds.rec.issued:
            scenario.creds_secret(c)
        before, forked, after = r.results
        assert imds.rec.rejected == []
        parent_key = Signed.parse(before["token"]).key_id
        assert_signed_by(before, imds.rec.by_key(parent_key))
        assert forked["hung"] == 0 and len(forked["children"]) == 3
        child_keys = set()
        for child in forked["children"]:
            key = Signed.parse(child["token"]).key_id
            child_keys.add(key)
            assert_signed_by(child, imds.rec.by_key(key))
        assert parent_key not in child_keys, "a child reused the parent's credential state"
        assert len(imds.rec.issued) == 1 + len(child_keys) == 4
        assert Signed.parse(after["token"]).key_id == parent_key
