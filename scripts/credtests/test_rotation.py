"""Temporary credentials rotate inside one long-running process, and no token is handed out that
was signed by credentials already expired (or, from the cache, with less than two minutes of
their life left)."""

from __future__ import annotations

import datetime as dt
import json
import threading

from conftest import HOST, PORT, assert_signed_by
from iamlib import Signed
from standins import Container, Creds, iso, utcnow
from test_sources import write_process

CREDENTIALS_EXPIRED = 21
REPEAT = {"op": "repeat", "host": HOST, "port": PORT, "user": "app", "interval": 0.5}


def test_rotation_refreshes_before_expiry(scenario):
    """Credentials that expire in 303 s are replaced about 3 s later (the chain refreshes 5 min
    before expiry), again and again, without a restart."""
    with Container() as ctr:
        ctr.lifetime_s = 303
        scenario.secret(ctr.auth_token)
        auth_file = scenario.write("pod-identity/token", ctr.auth_token)
        r = scenario.run(
            [dict(REPEAT, seconds=12)],
            AWS_CONTAINER_CREDENTIALS_FULL_URI=ctr.full_uri,
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(auth_file),
        )
        for c in ctr.rec.issued:
            scenario.creds_secret(c)
        results = r.tokens()
        assert all(x["ok"] for x in results), [x for x in results if not x["ok"]][:1]
        used = []
        for x in results:
            key = Signed.parse(x["token"]).key_id
            creds = ctr.rec.by_key(key)
            assert creds is not None, f"token signed by {key}, which the endpoint never handed out"
            # Handed out with at least the cache's two minutes of the credentials' life left.
            assert creds.expiration.timestamp() - x["at"] >= 119, (key, creds.expiration, x["at"])
            if not used or used[-1] != key:
                used.append(key)
        assert len(set(used)) == len(used), "went back to older credentials"
        assert len(used) >= 3, f"credentials were not refreshed: {len(used)} sets over 12 s"
        assert_signed_by(results[0], ctr.rec.by_key(used[0]))
        assert_signed_by(results[-1], ctr.rec.by_key(used[-1]))


def test_refresh_failure_keeps_still_valid_credentials(scenario):
    """The endpoint fails during the refresh window: tokens keep coming, signed by the current
    credentials (still 5 min from expiry), with a warning, and no token is lost."""
    with Container() as ctr:
        ctr.lifetime_s = 302
        scenario.secret(ctr.auth_token)
        auth_file = scenario.write("pod-identity/token", ctr.auth_token)
        outage = threading.Timer(1.0, lambda: setattr(ctr, "fail_status", 503))
        outage.start()
        try:
            r = scenario.run(
                [dict(REPEAT, seconds=8)],
                AWS_CONTAINER_CREDENTIALS_FULL_URI=ctr.full_uri,
                AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(auth_file),
            )
        finally:
            outage.cancel()
        assert len(ctr.rec.issued) == 1
        first = scenario.creds_secret(ctr.rec.issued[0])
        results = r.tokens()
        assert all(x["ok"] for x in results), [x for x in results if not x["ok"]][:1]
        assert {Signed.parse(x["token"]).key_id for x in results} == {first.key_id}
        assert len(ctr.rec.requests) >= 2, "no refresh was attempted during the outage"
        assert "refreshing failed" in r.stderr and "still using those from container endpoint" in r.stderr
        assert_signed_by(results[-1], first)


def fixed_process(scenario, lifetime_s: float) -> Creds:
    """A credential_process that always prints the same credentials, expiring in lifetime_s."""
    c = scenario.creds_secret(Creds.temporary("process", lifetime_s, tag="fixed"))
    doc = {
        "Version": 1,
        "AccessKeyId": c.key_id,
        "SecretAccessKey": c.secret,
        "SessionToken": c.token,
        "Expiration": iso(c.expiration),
    }
    script = write_process(scenario, "fixed", json.dumps(doc))
    scenario.write(".aws/config", f"[default]\ncredential_process = {script}\n")
    return c


def test_no_token_signed_by_expired_credentials(scenario):
    c = fixed_process(scenario, 8)
    r = scenario.run([dict(REPEAT, seconds=14)])
    expiry = c.expiration.timestamp()
    results = r.tokens()
    ok = [x for x in results if x["ok"]]
    late = [x for x in results if not x["ok"]]
    assert ok and late, "expected tokens before the expiry and refusals after it"
    for x in ok:
        # `at` is taken after the call returned: allow for the call itself.
        assert x["at"] - x["ms"] / 1000 < expiry, "a token was handed out after its credentials expired"
        assert Signed.parse(x["token"]).key_id == c.key_id
    for x in late:
        assert x["code"] == CREDENTIALS_EXPIRED, x
        assert "expired" in x["message"]
    assert_signed_by(ok[0], c)


def signed_at(token: str) -> float:
    return dt.datetime.strptime(Signed.parse(token).date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc).timestamp()


def test_cached_tokens_keep_two_minutes_of_credential_life(scenario):
    c = fixed_process(scenario, 126)
    r = scenario.run([dict(REPEAT, seconds=10)])
    expiry = c.expiration.timestamp()
    results = r.tokens()
    assert all(x["ok"] for x in results)
    # A token signed in an earlier second than the call started came from the cache (two
    # fresh tokens made within one second are equal, so equality alone proves nothing).
    cached = [x for x in results if (x["at"] - x["ms"] / 1000) - signed_at(x["token"]) >= 1]
    assert cached, "the token cache was never used"
    for x in cached:
        left = expiry - x["at"]
        assert left > 119.5, f"cached token handed out with {left:.1f} s of credentials left"
    late = [x for x in results if expiry - x["at"] < 119]
    assert late, "the test did not run into the last two minutes of the credentials"
    assert all(x not in cached for x in late)
    assert_signed_by(results[-1], c)
