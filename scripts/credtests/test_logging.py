"""IAM_DB_AUTH_LOG: what each level writes to stderr, and that neither the log nor an error
message ever carries a secret, on the error paths of every source too. (Every scenario in the
other files already runs with debug logging and is checked for leaks by the fixture.)"""

from __future__ import annotations

import json
import re

from conftest import HOST, PORT
from standins import Container, Creds, Hang, Imds, Sts, iso
from test_sources import credentials_file, write_process

TOKEN = {"op": "token", "host": HOST, "port": PORT, "user": "app"}


def env_creds(scenario) -> dict:
    c = scenario.creds_secret(Creds.temporary("env", tag="log"))
    return {"AWS_ACCESS_KEY_ID": c.key_id, "AWS_SECRET_ACCESS_KEY": c.secret, "AWS_SESSION_TOKEN": c.token}


def lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("iam-db-auth[")]


def test_info_says_source_region_and_time(scenario):
    r = scenario.run([TOKEN, TOKEN], IAM_DB_AUTH_LOG="info", **env_creds(scenario))
    out = lines(r.stderr)
    assert any(re.search(r"info: credentials: using environment variables .* found in \d+ us", x) for x in out), out
    made = [x for x in out if "info: token made" in x]
    assert len(made) == 1, out  # the second call is a cache hit, which info does not report
    assert "region us-west-2 (from the endpoint name)" in made[0]
    assert "credentials from environment variables" in made[0]
    assert re.search(r"in \d+ us$", made[0])
    assert not any(": debug:" in x for x in out)


def test_debug_says_cache_hits_and_misses(scenario):
    steps = [TOKEN, TOKEN, dict(TOKEN, user="other"), dict(TOKEN, region="us-east-1")]
    r = scenario.run(steps, IAM_DB_AUTH_LOG="debug", AWS_REGION="eu-central-1", **env_creds(scenario))
    out = lines(r.stderr)
    misses = [x for x in out if "cache miss" in x]
    hits = [x for x in out if "cache hit" in x]
    assert len(misses) == 3 and len(hits) == 1, out
    assert any("credentials: environment: found" in x for x in out)
    assert any("region us-east-1 (given by the caller)" in x for x in out), out
    assert all(re.search(r"\d+ us", x) for x in hits + misses), out


def test_warn_is_quiet_on_success_and_default(scenario):
    scenario.env.pop("IAM_DB_AUTH_LOG")
    for extra in ({"IAM_DB_AUTH_LOG": "warn"}, {}):
        r = scenario.run([TOKEN, TOKEN], **extra, **env_creds(scenario))
        assert r.results[0]["ok"] and r.results[1]["ok"]
        assert lines(r.stderr) == [], r.stderr


def test_warn_reports_a_metadata_endpoint_that_does_not_answer(scenario):
    hang = Hang()
    try:
        r = scenario.run(
            [TOKEN], IAM_DB_AUTH_LOG="warn", AWS_EC2_METADATA_DISABLED="false", AWS_EC2_METADATA_SERVICE_ENDPOINT=hang.url
        )
    finally:
        hang.stop()
    assert not r.results[0]["ok"]
    out = lines(r.stderr)
    assert any("warn: credentials: EC2 instance metadata (IMDSv2) did not answer usefully; not asking it again for 30 s" in x for x in out), out
    assert not any(": info:" in x or ": debug:" in x for x in out), out


def process_config(scenario, name: str, stdout: str, stderr: str = "", code: int = 0) -> None:
    script = write_process(scenario, name, stdout, stderr, code)
    scenario.write(".aws/config", f"[default]\ncredential_process = {script}\n")


def process_doc(c: Creds, **over) -> dict:
    doc = {"Version": 1, "AccessKeyId": c.key_id, "SecretAccessKey": c.secret, "SessionToken": c.token, "Expiration": iso(c.expiration)}
    doc.update(over)
    return doc


def failing(scenario, **env) -> dict:
    r = scenario.run([TOKEN], **env)
    res = r.results[0]
    assert not res["ok"], "expected a failure"
    return res


def test_credential_process_errors_do_not_echo_credentials(scenario):
    c = scenario.creds_secret(Creds.temporary("process", tag="leak"))
    cases = [
        # A tool that prints its credentials to stderr and fails: the stderr is not echoed.
        dict(stdout="", stderr=json.dumps(process_doc(c)), code=1),
        dict(stdout="", stderr=f"debug: SessionToken={c.token} SecretAccessKey={c.secret}", code=2),
        # Broken JSON around the secrets.
        dict(stdout=json.dumps(process_doc(c))[:-1] + ",,}"),
        dict(stdout=json.dumps(process_doc(c)) + " trailing"),
        dict(stdout=json.dumps(process_doc(c, Version=2))),
        dict(stdout=json.dumps(process_doc(c, Expiration=c.secret))),
        dict(stdout=json.dumps(process_doc(c, Expiration="tomorrow " + c.token))),
        dict(stdout=json.dumps(process_doc(c, SecretAccessKey=None))),
        dict(stdout=json.dumps(process_doc(c, Version=c.secret))),
    ]
    for i, case in enumerate(cases):
        process_config(scenario, f"bad{i}", **case)
        res = failing(scenario)
        assert "credential_process" in res["message"] or "external process" in res["message"], res["message"]
    # A failing tool's own words still get through when they hold no credentials.
    process_config(scenario, "sso-expired", "", "Error: the SSO session has expired; run aws sso login", 1)
    assert "aws sso login" in failing(scenario)["message"]


def test_http_sources_errors_do_not_echo_credentials(scenario):
    with Container() as ctr:
        scenario.secret(ctr.auth_token)
        good = scenario.creds_secret(Creds.temporary("container", tag="bad"))
        # A trailing newline makes the token file's content an invalid header value.
        auth_file = scenario.write("pod-identity/token", ctr.auth_token + "\n")
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": ctr.full_uri, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(auth_file)}
        failing(scenario, **env)
        # Broken JSON with the secrets in it.
        auth_file.write_text(ctr.auth_token)
        ctr.serve_override = json.dumps(
            {"AccessKeyId": good.key_id, "SecretAccessKey": good.secret, "Token": good.token, "Expiration": good.secret}
        )
        failing(scenario, **env)
        ctr.serve_override = '{"AccessKeyId": "%s", "SecretAccessKey": "%s" "Token": "%s"}' % (good.key_id, good.secret, good.token)
        failing(scenario, **env)
    with Imds() as imds:
        imds_env = {"AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}
        imds.serve_override = json.dumps(
            {"Code": "Success", "AccessKeyId": good.key_id, "SecretAccessKey": good.secret, "Token": good.token, "Expiration": good.token}
        )
        failing(scenario, **imds_env)
        imds.serve_override = json.dumps({"Code": "AssumeRoleUnauthorizedAccess", "Message": "no trust"})
        assert "no trust" in failing(scenario, **imds_env)["message"]
        scenario.secret(*imds.session_tokens)
    with Sts() as sts:
        wrong = "eyJ" + good.secret.replace("/", "_").replace("+", "-")
        scenario.secret(wrong, sts.web_identity_token)
        token_file = scenario.write("eks/token", wrong)
        res = failing(
            scenario,
            AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
            AWS_ROLE_ARN=sts.role_arn,
            AWS_ENDPOINT_URL_STS=sts.url,
            AWS_REGION="us-west-2",
        )
        assert "InvalidIdentityToken" in res["message"] or "web identity" in res["message"], res["message"]
        # Assume role refused: the source profile's secret must not show.
        base = scenario.creds_secret(Creds.long_term("file", "untrusted"))
        scenario.write(".aws/credentials", credentials_file({"base": base}))
        scenario.write(".aws/config", f"[profile app]\nrole_arn = {sts.role_arn}\nsource_profile = base\nregion = us-west-2\n")
        res = failing(scenario, AWS_PROFILE="app", AWS_ENDPOINT_URL_STS=sts.url)
        assert "SignatureDoesNotMatch" in res["message"] or "AccessDenied" in res["message"] or "assume" in res["message"].lower(), res["message"]
