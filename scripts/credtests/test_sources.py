"""One test per credential source, through the C ABI: the token carries the key id and session
token that source handed out, and the project's verifier accepts it with that source's keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from conftest import HOST, PORT, REGION, assert_signed_by
from standins import Container, Creds, Imds, SsoOidc, SsoPortal, Sts, iso, random_text, utcnow


def test_env_long_term(scenario):
    c = scenario.creds_secret(Creds.long_term("env", "env"))
    r = scenario.token(AWS_ACCESS_KEY_ID=c.key_id, AWS_SECRET_ACCESS_KEY=c.secret)
    assert_signed_by(r, c)
    assert "X-Amz-Security-Token" not in r["token"]


def test_env_session(scenario):
    c = scenario.creds_secret(Creds.temporary("env", tag="envs"))
    r = scenario.token(AWS_ACCESS_KEY_ID=c.key_id, AWS_SECRET_ACCESS_KEY=c.secret, AWS_SESSION_TOKEN=c.token)
    assert_signed_by(r, c)


def credentials_file(profiles: dict[str, Creds]) -> str:
    out = []
    for name, c in profiles.items():
        out += [f"[{name}]", f"aws_access_key_id = {c.key_id}", f"aws_secret_access_key = {c.secret}"]
        if c.token:
            out.append(f"aws_session_token = {c.token}")
    return "\n".join(out) + "\n"


def test_shared_credentials_file(scenario):
    c = scenario.creds_secret(Creds.long_term("file", "file"))
    scenario.write(".aws/credentials", credentials_file({"default": c}))
    assert_signed_by(scenario.token(), c)


def test_shared_credentials_file_session(scenario):
    c = scenario.creds_secret(Creds.temporary("file", tag="files"))
    scenario.write(".aws/credentials", credentials_file({"default": c}))
    assert_signed_by(scenario.token(), c)


def two_profiles(scenario) -> tuple[Creds, Creds]:
    default = scenario.creds_secret(Creds.long_term("file", "dflt"))
    dev = scenario.creds_secret(Creds.long_term("config", "dev"))
    scenario.write(".aws/credentials", credentials_file({"default": default}))
    # Keys for 'dev' live in the config file (allowed there too), with its region.
    scenario.write(
        ".aws/config",
        f"[default]\nregion = eu-west-1\n\n[profile dev]\nregion = {REGION}\n"
        f"aws_access_key_id = {dev.key_id}\naws_secret_access_key = {dev.secret}\n",
    )
    return default, dev


def test_config_profile_from_aws_profile(scenario):
    default, dev = two_profiles(scenario)
    r = scenario.run([{"op": "token", "host": "db.internal", "port": PORT, "user": "app"}], AWS_PROFILE="dev")
    # Host without a region in it: the region comes from profile 'dev' too.
    assert_signed_by(r.results[0], dev, endpoint=f"db.internal:{PORT}")
    assert "profile 'dev' (AWS_PROFILE)" in r.stderr


def test_config_profile_from_api_option(scenario):
    default, dev = two_profiles(scenario)
    steps = [
        {"op": "token", "host": HOST, "port": PORT, "user": "app", "profile": "dev"},
        {"op": "token", "host": HOST, "port": PORT, "user": "app"},
    ]
    # AWS_PROFILE names a profile that does not exist: the option must win over it, and the
    # default chain (second call) must then fail on it rather than fall back silently.
    r = scenario.run(steps, AWS_PROFILE="nosuch")
    assert_signed_by(r.results[0], dev)
    assert not r.results[1]["ok"] and "nosuch" in r.results[1]["message"]
    r = scenario.run(steps)
    assert_signed_by(r.results[0], dev)
    assert_signed_by(r.results[1], default)


def test_profile_from_iam_db_auth_profile_env(scenario):
    default, dev = two_profiles(scenario)
    assert_signed_by(scenario.token(IAM_DB_AUTH_PROFILE="dev"), dev)


def test_assume_role_source_profile(scenario):
    with Sts() as sts:
        base = scenario.creds_secret(Creds.long_term("file", "base"))
        sts.trust(base)
        scenario.write(".aws/credentials", credentials_file({"base": base}))
        scenario.write(
            ".aws/config",
            f"[profile app]\nrole_arn = {sts.role_arn}\nsource_profile = base\nregion = {REGION}\n",
        )
        r = scenario.token(AWS_PROFILE="app", AWS_ENDPOINT_URL_STS=sts.url)
        assert sts.rec.rejected == [], sts.rec.rejected
        assert len(sts.rec.issued) == 1
        role = scenario.creds_secret(sts.rec.issued[0])
        assert_signed_by(r, role)


def test_assume_role_chained_from_temporary_source(scenario):
    # source_profile with a session token: STS must see it signed and carried.
    with Sts() as sts:
        base = scenario.creds_secret(Creds.temporary("file", tag="based"))
        sts.trust(base)
        scenario.write(".aws/credentials", credentials_file({"base": base}))
        scenario.write(".aws/config", f"[profile app]\nrole_arn = {sts.role_arn}\nsource_profile = base\nregion = {REGION}\n")
        r = scenario.token(profile="app", AWS_ENDPOINT_URL_STS=sts.url)
        assert sts.rec.rejected == [], sts.rec.rejected
        assert_signed_by(r, scenario.creds_secret(sts.rec.issued[0]))


def write_process(scenario, name: str, stdout: str, stderr: str = "", code: int = 0):
    script = scenario.write(
        f"bin/{name}",
        f"#!/bin/sh\ncat <<'EOF'\n{stdout}\nEOF\ncat >&2 <<'EOF'\n{stderr}\nEOF\nexit {code}\n",
        mode=0o700,
    )
    return script


def test_credential_process(scenario):
    c = scenario.creds_secret(Creds.temporary("process", tag="proc"))
    doc = {
        "Version": 1,
        "AccessKeyId": c.key_id,
        "SecretAccessKey": c.secret,
        "SessionToken": c.token,
        "Expiration": iso(c.expiration),
    }
    script = write_process(scenario, "creds", json.dumps(doc))
    scenario.write(".aws/config", f"[default]\ncredential_process = {script} --role app\n")
    assert_signed_by(scenario.token(), c)


def test_assume_role_from_a_source_profile_with_credential_process(scenario):
    # The role's base credentials come from a credential_process in its source_profile: the
    # library runs that tool itself (bounded, its process group killed at the bound), and
    # aws-config assumes the roles with what it printed.
    with Sts() as sts:
        base = scenario.creds_secret(Creds.temporary("process", tag="chain"))
        sts.trust(base)
        doc = {"Version": 1, "AccessKeyId": base.key_id, "SecretAccessKey": base.secret,
               "SessionToken": base.token, "Expiration": iso(base.expiration)}
        script = write_process(scenario, "creds", json.dumps(doc))
        scenario.write(
            ".aws/config",
            f"[profile app]\nrole_arn = {sts.role_arn}\nsource_profile = base\nregion = {REGION}\n"
            f"[profile base]\ncredential_process = {script}\n",
        )
        r = scenario.token(profile="app", AWS_ENDPOINT_URL_STS=sts.url)
        assert sts.rec.rejected == [], sts.rec.rejected
        assert len(sts.rec.issued) == 1, sts.rec.issued
        assert_signed_by(r, scenario.creds_secret(sts.rec.issued[-1]))


def test_web_identity(scenario):
    with Sts() as sts:
        scenario.secret(sts.web_identity_token)
        token_file = scenario.write("eks/token", sts.web_identity_token)
        r = scenario.token(
            AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
            AWS_ROLE_ARN=sts.role_arn,
            AWS_ROLE_SESSION_NAME="iam-db-auth-test",
            AWS_ENDPOINT_URL_STS=sts.url,
            AWS_REGION=REGION,
        )
        assert sts.rec.rejected == [], sts.rec.rejected
        assert_signed_by(r, scenario.creds_secret(sts.rec.issued[0]))
        assert "web identity" in r_log(scenario)


def r_log(scenario) -> str:
    return scenario.runs[-1].stderr


def test_web_identity_from_profile(scenario):
    with Sts() as sts:
        scenario.secret(sts.web_identity_token)
        token_file = scenario.write("eks/token", sts.web_identity_token)
        scenario.write(
            ".aws/config",
            f"[default]\nregion = {REGION}\nrole_arn = {sts.role_arn}\nweb_identity_token_file = {token_file}\n",
        )
        r = scenario.token(AWS_ENDPOINT_URL_STS=sts.url)
        assert sts.rec.rejected == [], sts.rec.rejected
        assert_signed_by(r, scenario.creds_secret(sts.rec.issued[0]))


def test_container_endpoint(scenario):
    with Container() as ctr:
        scenario.secret(ctr.auth_token)
        # EKS Pod Identity writes the token without a trailing newline.
        auth_file = scenario.write("pod-identity/token", ctr.auth_token)
        r = scenario.token(
            AWS_CONTAINER_CREDENTIALS_FULL_URI=ctr.full_uri,
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(auth_file),
        )
        assert ctr.rec.rejected == [], ctr.rec.rejected
        assert_signed_by(r, scenario.creds_secret(ctr.rec.issued[0]))


def test_container_endpoint_token_in_env(scenario):
    with Container() as ctr:
        scenario.secret(ctr.auth_token)
        r = scenario.token(
            AWS_CONTAINER_CREDENTIALS_FULL_URI=ctr.full_uri,
            AWS_CONTAINER_AUTHORIZATION_TOKEN=ctr.auth_token,
        )
        assert ctr.rec.rejected == [], ctr.rec.rejected
        assert_signed_by(r, scenario.creds_secret(ctr.rec.issued[0]))


def imds_env(imds: Imds) -> dict:
    return {"AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.url}


def test_imds_v2(scenario):
    with Imds() as imds:
        r = scenario.token(**imds_env(imds))
        assert imds.rec.rejected == [], imds.rec.rejected
        # Token first (PUT, TTL header checked by the stand-in), then role name, then credentials.
        assert [m for m, _ in imds.rec.requests] == ["PUT", "GET", "GET"]
        assert imds.rec.requests[0][1] == "/latest/api/token"
        scenario.secret(*imds.session_tokens)
        assert_signed_by(r, scenario.creds_secret(imds.rec.issued[0]))


def sso_config(
    scenario, sso: SsoPortal, legacy: bool, expires_in: dt.timedelta = dt.timedelta(hours=1), refreshable: bool = True
) -> tuple[dict, Path]:
    """The profile 'sso' and its cached token (expiring `expires_in` from now); with an
    sso-session and `refreshable`, the token carries what SSO-OIDC needs to refresh it.
    Returns the cached document and its path."""
    start_url = "https://d-9067642ac7.awsapps.com/start"
    expires = iso(utcnow() + expires_in)
    if legacy:
        scenario.write(
            ".aws/config",
            f"[profile sso]\nsso_start_url = {start_url}\nsso_region = {REGION}\n"
            f"sso_account_id = {sso.account_id}\nsso_role_name = {sso.role_name}\nregion = {REGION}\n",
        )
        key = start_url
        doc = {"accessToken": sso.access_token, "expiresAt": expires, "region": REGION, "startUrl": start_url}
    else:
        scenario.write(
            ".aws/config",
            f"[profile sso]\nsso_session = corp\nsso_account_id = {sso.account_id}\n"
            f"sso_role_name = {sso.role_name}\nregion = {REGION}\n\n"
            f"[sso-session corp]\nsso_region = {REGION}\nsso_start_url = {start_url}\n"
            "sso_registration_scopes = sso:account:access\n",
        )
        key = "corp"
        refresh, client_secret = "Atzr|" + random_text(120), random_text(200)
        scenario.secret(refresh, client_secret)
        doc = {
            "accessToken": sso.access_token,
            "expiresAt": expires,
            "refreshToken": refresh,
            "clientId": "_" + random_text(21),
            "clientSecret": client_secret,
            "registrationExpiresAt": iso(utcnow() + dt.timedelta(days=90)),
            "region": REGION,
            "startUrl": start_url,
        }
        if not refreshable:
            for k in ("refreshToken", "clientId", "clientSecret", "registrationExpiresAt"):
                del doc[k]
    name = hashlib.sha1(key.encode()).hexdigest()
    path = scenario.write(f".aws/sso/cache/{name}.json", json.dumps(doc))
    scenario.secret(sso.access_token)
    return doc, path


def test_sso_session(scenario):
    with SsoPortal() as sso:
        sso_config(scenario, sso, legacy=False)
        r = scenario.token(AWS_PROFILE="sso", AWS_ENDPOINT_URL_SSO=sso.url)
        assert sso.rec.rejected == [], sso.rec.rejected
        assert_signed_by(r, scenario.creds_secret(sso.rec.issued[0]))


def parse_iso(text: str) -> dt.datetime:
    # aws-config writes fractional seconds ("2026-01-01T00:00:00.123456Z"); stand-ins do not.
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_sso_session_token_refresh(scenario):
    """A cached token within aws-config's 5-minute refresh window is refreshed with SSO-OIDC
    CreateToken (refresh_token grant); the portal then accepts only the new access token, and
    the cache file is rewritten with the new tokens."""
    with SsoPortal() as sso:
        old, path = sso_config(scenario, sso, legacy=False, expires_in=dt.timedelta(minutes=2))
        with SsoOidc(old["clientId"], old["clientSecret"], old["refreshToken"], portal=sso) as oidc:
            r = scenario.token(AWS_PROFILE="sso", AWS_ENDPOINT_URL_SSO=sso.url, AWS_ENDPOINT_URL_SSO_OIDC=oidc.url)
            for access, refresh, _ in oidc.tokens:
                scenario.secret(access, refresh)
            assert oidc.rec.rejected == [], oidc.rec.rejected
            assert oidc.calls == 1 and oidc.rec.requests == [("POST", "/token")]
            new_access, new_refresh, _ = oidc.tokens[0]
            # The portal knows only the new access token now: one request, nothing refused.
            assert sso.access_token == new_access != old["accessToken"]
            assert sso.rec.rejected == [], sso.rec.rejected
            assert len(sso.rec.requests) == 1
            assert_signed_by(r, scenario.creds_secret(sso.rec.issued[0]))
            cached = json.loads(path.read_text())
            assert cached["accessToken"] == new_access
            assert cached["refreshToken"] == new_refresh
            assert (cached["clientId"], cached["clientSecret"]) == (old["clientId"], old["clientSecret"])
            assert cached["registrationExpiresAt"] == old["registrationExpiresAt"]
            expires = parse_iso(cached["expiresAt"])
            assert expires > parse_iso(old["expiresAt"])
            assert expires >= utcnow() + dt.timedelta(minutes=55)


def test_sso_session_expired_without_refresh(scenario):
    """An expired cached token that cannot be refreshed fails, naming the profile, saying the
    SSO token expired and cannot be refreshed (aws-config's words) and what to run (ours), and
    SSO-OIDC is never called (nor the portal)."""
    with SsoPortal() as sso, SsoOidc("unused", "unused", "unused", portal=sso) as oidc:
        sso_config(scenario, sso, legacy=False, expires_in=-dt.timedelta(minutes=10), refreshable=False)
        r = scenario.token(AWS_PROFILE="sso", AWS_ENDPOINT_URL_SSO=sso.url, AWS_ENDPOINT_URL_SSO_OIDC=oidc.url)
        assert not r["ok"], r
        message = r["message"]
        assert "SSO token has expired and cannot be refreshed" in message, message
        assert "profile 'sso'" in message, message
        assert "run aws sso login" in message, message
        assert oidc.calls == 0 and oidc.rec.requests == []
        assert sso.rec.requests == []


def test_sso_legacy_profile(scenario):
    with SsoPortal() as sso:
        sso_config(scenario, sso, legacy=True)
        r = scenario.token(profile="sso", AWS_ENDPOINT_URL_SSO=sso.url)
        assert sso.rec.rejected == [], sso.rec.rejected
        assert_signed_by(r, scenario.creds_secret(sso.rec.issued[0]))


def test_chain_order_env_then_files_then_network(scenario):
    """The first source that has credentials wins and later ones are never asked."""
    with Imds() as imds, Container() as ctr:
        env = scenario.creds_secret(Creds.long_term("env", "ord1"))
        file = scenario.creds_secret(Creds.long_term("file", "ord2"))
        scenario.write(".aws/credentials", credentials_file({"default": file}))
        auth_file = scenario.write("pod-identity/token", ctr.auth_token)
        scenario.secret(ctr.auth_token)
        net = dict(
            imds_env(imds),
            AWS_CONTAINER_CREDENTIALS_FULL_URI=ctr.full_uri,
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(auth_file),
        )
        assert_signed_by(scenario.token(AWS_ACCESS_KEY_ID=env.key_id, AWS_SECRET_ACCESS_KEY=env.secret, **net), env)
        assert_signed_by(scenario.token(**net), file)
        assert imds.rec.requests == [] and ctr.rec.requests == []
        (scenario.home / ".aws/credentials").unlink()
        assert_signed_by(scenario.token(**net), scenario.creds_secret(ctr.rec.issued[0]))
        assert imds.rec.requests == []
        del net["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        r = scenario.token(**net)
        scenario.secret(*imds.session_tokens)
        assert_signed_by(r, scenario.creds_secret(imds.rec.issued[0]))
