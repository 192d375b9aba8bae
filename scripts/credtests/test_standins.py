"""The stand-ins refuse what the real services refuse: the source tests pass because the
library sends what AWS requires, not because the stand-ins accept anything."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from standins import Container, Creds, Imds, SsoOidc, SsoPortal, Sts


def status(url: str, method: str = "GET", headers: dict | None = None, data: bytes | None = None) -> int:
    req = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def test_imds_requires_a_session_token():
    with Imds() as imds:
        base = imds.url + "/latest/meta-data/iam/security-credentials/"
        assert status(base) == 401  # IMDSv1 refused
        assert status(imds.url + "/latest/api/token", "PUT") == 400  # no TTL header
        assert status(imds.url + "/latest/api/token", "PUT", {"x-aws-ec2-metadata-token-ttl-seconds": "21601"}) == 400
        assert status(imds.url + "/latest/api/token", "PUT", {"x-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "1.2.3.4"}) == 403
        assert status(base, headers={"x-aws-ec2-metadata-token": "made-up"}) == 401
        assert status(imds.url + "/latest/api/token", "PUT", {"x-aws-ec2-metadata-token-ttl-seconds": "60"}) == 200
        token = next(iter(imds.session_tokens))
        assert status(base, headers={"x-aws-ec2-metadata-token": token}) == 200
        assert imds.rec.issued == []


def test_container_endpoint_checks_authorization():
    with Container() as ctr:
        assert status(ctr.full_uri) == 401
        assert status(ctr.full_uri, headers={"Authorization": ctr.auth_token + "x"}) == 401
        assert status(ctr.full_uri, headers={"Authorization": ctr.auth_token}) == 200
        assert len(ctr.rec.issued) == 1


def test_sts_checks_action_parameters_and_signature():
    with Sts() as sts:
        form = "application/x-www-form-urlencoded"
        def post(body: str, headers=None) -> int:
            return status(sts.url + "/", "POST", {"Content-Type": form, **(headers or {})}, body.encode())
        role = "RoleArn=" + urllib.parse.quote(sts.role_arn, safe="")
        assert post(f"Action=GetCallerIdentity&Version=2011-06-15&{role}&RoleSessionName=ab") == 400
        assert post(f"Action=AssumeRole&Version=2011-06-15&{role}&RoleSessionName=ab") == 403  # unsigned
        assert post(f"Action=AssumeRole&Version=2011-06-15&{role}&RoleSessionName=ab", {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAX/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00"}) == 403
        assert post(f"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&{role}&RoleSessionName=ab&WebIdentityToken=wrong") == 400
        assert post(f"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&RoleSessionName=ab&WebIdentityToken={sts.web_identity_token}") == 403
        assert post(f"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&{role}&RoleSessionName=a&WebIdentityToken={sts.web_identity_token}") == 400
        assert sts.rec.issued == []
        ok = f"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&{role}&RoleSessionName=ab&WebIdentityToken={sts.web_identity_token}"
        assert post(ok) == 200 and len(sts.rec.issued) == 1


def test_sts_signature_check_with_botocore():
    """A request signed by botocore with a trusted key is accepted; with the wrong secret, not."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    with Sts() as sts:
        good = Creds.temporary("test")
        sts.trust(good)
        body = "Action=AssumeRole&Version=2011-06-15&RoleArn=" + urllib.parse.quote(sts.role_arn, safe="") + "&RoleSessionName=botocore"
        def signed(secret: str) -> int:
            req = AWSRequest("POST", sts.url + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
            SigV4Auth(Credentials(good.key_id, secret, good.token), "sts", "us-east-1").add_auth(req)
            return status(sts.url + "/", "POST", dict(req.headers.items()), body.encode())
        # A secret that differs in its last character, whatever that character is.
        assert signed(good.secret[:-1] + ("y" if good.secret.endswith("x") else "x")) == 403
        assert signed(good.secret) == 200


def test_sso_portal_checks_bearer_token_account_and_role():
    with SsoPortal() as sso:
        q = f"/federation/credentials?account_id={sso.account_id}&role_name={sso.role_name}"
        assert status(sso.url + q) == 401
        assert status(sso.url + q, headers={"x-amz-sso_bearer_token": "nope"}) == 401
        assert status(sso.url + "/federation/credentials?account_id=1&role_name=x", headers={"x-amz-sso_bearer_token": sso.access_token}) == 403
        assert status(sso.url + q, headers={"x-amz-sso_bearer_token": sso.access_token}) == 200


def test_sso_oidc_checks_client_grant_and_refresh_token():
    with SsoPortal() as sso, SsoOidc("cid", "csecret", "Atzr|r1", portal=sso) as oidc:
        good = {"clientId": "cid", "clientSecret": "csecret", "grantType": "refresh_token", "refreshToken": "Atzr|r1"}
        def post(doc, path="/token", ctype="application/json", headers=None) -> int:
            body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
            return status(oidc.url + path, "POST", {"Content-Type": ctype, **(headers or {})}, body)
        assert status(oidc.url + "/token") == 404  # GET
        assert post(good, path="/token?x=1") == 404
        assert post(good, ctype="application/x-amz-json-1.1") == 400
        assert post(good, headers={"Authorization": "Bearer x"}) == 400
        assert post(b"clientId=cid") == 400
        assert post({k: v for k, v in good.items() if k != "clientSecret"}) == 400
        assert post(dict(good, deviceCode="d")) == 400
        assert post(dict(good, grantType="urn:ietf:params:oauth:grant-type:device_code")) == 400
        assert post(dict(good, clientSecret="wrong")) == 401
        assert post(dict(good, clientId="other")) == 401
        assert post(dict(good, refreshToken="Atzr|r0")) == 400
        assert oidc.tokens == [] and len(oidc.rec.rejected) == 11
        old_portal_token = sso.access_token
        assert post(good) == 200 and len(oidc.tokens) == 1
        # The refresh token rotated; the portal takes only the new access token.
        assert post(good) == 400
        assert sso.access_token == oidc.tokens[0][0] != old_portal_token
        q = f"/federation/credentials?account_id={sso.account_id}&role_name={sso.role_name}"
        assert status(sso.url + q, headers={"x-amz-sso_bearer_token": old_portal_token}) == 401
        assert status(sso.url + q, headers={"x-amz-sso_bearer_token": sso.access_token}) == 200
        assert post(dict(good, refreshToken=oidc.tokens[0][1])) == 200 and oidc.calls == 14
