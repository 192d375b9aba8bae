"""Differential test: our tokens against botocore's, byte for byte, on random inputs.

For each case, botocore (the reference signer; its clock frozen at the case's time) and
`iam-db-auth token --signing-time` sign the same request; the outputs must be identical, and
our verifier must accept botocore's token. Usage: botocore_diff.py IAM_DB_AUTH_BIN CASES SEED
"""
import datetime
import os
import random
import subprocess
import sys
import tempfile
from unittest import mock

import botocore.auth
import botocore.session

ALPHABET_USER = "abcxyzABC019_-.~+@/ =&%?#:é日本"
REGIONS = ["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1", "cn-north-1", "il-central-1"]


def random_host(rng):
    label = lambda: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(1, 12)))
    shape = rng.randrange(4)
    if shape == 0:
        host = f"{label()}.{label()}.{rng.choice(REGIONS)}.rds.amazonaws.com"
    elif shape == 1:
        host = f"{label()}.cluster-ro-{label()}.{rng.choice(REGIONS)}.rds.amazonaws.com"
    elif shape == 2:
        host = ".".join(label() for _ in range(rng.randint(1, 4)))
    else:
        host = f"{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    if rng.random() < 0.3:
        host = "".join(c.upper() if rng.random() < 0.5 else c for c in host)
    return host


def random_text(rng, alphabet, lo, hi):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def botocore_token(session, case):
    session.set_credentials(case["akid"], case["secret"], case["session_token"])
    client = session.create_client("rds", region_name=case["region"])
    frozen = datetime.datetime.fromtimestamp(case["time"], datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=frozen):
        return client.generate_db_auth_token(case["host"], case["port"], case["user"], Region=case["region"])


def our_token(binary, case):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": tempfile.gettempdir(),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_ACCESS_KEY_ID": case["akid"],
        "AWS_SECRET_ACCESS_KEY": case["secret"],
    }
    if case["session_token"]:
        env["AWS_SESSION_TOKEN"] = case["session_token"]
    when = datetime.datetime.fromtimestamp(case["time"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = subprocess.run(
        [binary, "token", "--host", case["host"], "--port", str(case["port"]), "--user", case["user"],
         "--region", case["region"], "--signing-time", when],
        env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"iam-db-auth failed: {out.stderr.strip()}")
    return out.stdout.rstrip("\n")


def verify(binary, case, token):
    with tempfile.NamedTemporaryFile("w", delete=False) as keystore:
        keystore.write(f"{case['akid']} {case['secret']} {case['session_token'] or ''}\n")
    try:
        endpoint = token.split("/?", 1)[0]
        when = datetime.datetime.fromtimestamp(case["time"] + 30, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        out = subprocess.run(
            [binary, "verify", "--keystore", keystore.name, "--endpoint", endpoint, "--region", case["region"],
             "--user", case["user"], "--now", when],
            input=token, capture_output=True, text=True, check=False)
        return out.returncode == 0, out.stderr.strip()
    finally:
        os.unlink(keystore.name)


def main():
    binary, cases, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    session = botocore.session.get_session()
    passed = failed = 0
    for i in range(cases):
        case = {
            "host": random_host(rng),
            "port": rng.choice([3306, 5432, 443, 1, 65535, rng.randint(1, 65535)]),
            "user": random_text(rng, ALPHABET_USER, 1, 24),
            "region": rng.choice(REGIONS),
            "akid": "AKIA" + random_text(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 16),
            "secret": random_text(rng, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/", 40, 40),
            "session_token": None if rng.random() < 0.4 else random_text(
                rng, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=", 16, 1200),
            "time": rng.randint(1_400_000_000, 2_200_000_000),
        }
        expected = botocore_token(session, case)
        try:
            got = our_token(binary, case)
        except RuntimeError as err:
            failed += 1
            print(f"case {i}: {err} (host={case['host']!r} user={case['user']!r})")
            continue
        ok, why = verify(binary, case, expected)
        if got == expected and ok:
            passed += 1
        else:
            failed += 1
            print(f"case {i}: host={case['host']!r} port={case['port']} user={case['user']!r} "
                  f"region={case['region']} session={'yes' if case['session_token'] else 'no'}: "
                  f"{'bytes differ' if got != expected else 'same bytes'}; verifier on botocore's token: {why or 'ok'}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed == cases else 1


if __name__ == "__main__":
    sys.exit(main())
