"""A loopback stand-in for AWS STS GetCallerIdentity, for `iam-db-auth doctor` and `policy`.

It checks a request as STS does, strictly enough to fail a wrong one: SigV4 (AWS4-HMAC-SHA256,
service `sts`, the scope's date = X-Amz-Date's), the access key known to the stand-ins'
keystore (the same file the database stand-ins' verifier reads: `ACCESS_KEY_ID SECRET
[SESSION_TOKEN [EXPIRATION]]`), the session token, the expiry, the request's time within 5
minutes of its own clock, and the signature recomputed from the canonical request. It answers
with an account id and a `Date` header from its own clock, which a test may set apart from the
real one (`skew`) to stand for a machine whose clock is off.

Errors are STS's: InvalidClientTokenId, ExpiredToken, SignatureDoesNotMatch (also "Signature
expired"), IncompleteSignature, MissingAuthenticationToken.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

ACCOUNT = "210987654321"
# AWS refuses a signature more than this many seconds from its clock.
TIME_WINDOW = 300


@dataclass
class StsStandIn:
    keystore: Path
    account: str = ACCOUNT
    skew: float = 0.0
    # (certificate, key) files: serve HTTPS as `localhost` instead of HTTP.
    tls: tuple[Path, Path] | None = None
    # (access key id, outcome) of every request, for tests to check that doctor asked.
    seen: list[tuple[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.server_address[1]
        return f"https://localhost:{port}" if self.tls else f"http://127.0.0.1:{port}"

    def now(self) -> float:
        return time.time() + self.skew

    def start(self) -> StsStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet: pytest shows failures, not every request
                pass

            def date_time_string(self, timestamp=None):
                return email.utils.formatdate(standin.now(), usegmt=True)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(min(length, 65536))
                status, xml, key = standin.answer(self, body)
                standin.seen.append((key, "ok" if status == 200 else xml.split("<Code>")[-1].split("<")[0]))
                payload = xml.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def keys(self) -> dict[str, list[str]]:
        keys = {}
        for line in self.keystore.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("#"):
                keys[parts[0]] = parts
        return keys

    def answer(self, request: BaseHTTPRequestHandler, body: bytes) -> tuple[int, str, str]:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return error(403, "MissingAuthenticationToken", "Request is missing Authentication Token", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            credential = parts["Credential"].split("/")
            signed_headers = parts["SignedHeaders"].split(";")
            signature = parts["Signature"]
            key_id, day, region, service, terminator = credential
        except (ValueError, KeyError):
            return error(400, "IncompleteSignature", "Authorization header is malformed", "")
        amz_date = request.headers.get("X-Amz-Date", "")
        if (algorithm != "AWS4-HMAC-SHA256" or service != "sts" or terminator != "aws4_request"
                or day != amz_date[:8] or "host" not in signed_headers or "x-amz-date" not in signed_headers):
            return error(400, "IncompleteSignature", "Credential scope or signed headers are wrong", key_id)
        if b"Action=GetCallerIdentity" not in body:
            return error(400, "InvalidAction", "Only GetCallerIdentity is served here", key_id)
        key = self.keys().get(key_id)
        if key is None:
            return error(403, "InvalidClientTokenId", "The security token included in the request is invalid.", key_id)
        session = key[2] if len(key) >= 3 else None
        if request.headers.get("X-Amz-Security-Token") != session:
            return error(403, "InvalidClientTokenId", "The security token included in the request is invalid.", key_id)
        if len(key) >= 4:
            expires = datetime.fromisoformat(key[3].replace("Z", "+00:00"))
            if expires.timestamp() <= self.now():
                return error(400, "ExpiredToken", "The security token included in the request is expired", key_id)
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        if abs(signed_at - self.now()) > TIME_WINDOW:
            ours = datetime.fromtimestamp(self.now(), timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            return error(403, "SignatureDoesNotMatch",
                         f"Signature expired: {amz_date} is now earlier than {ours} - 5 min.", key_id)
        canonical = "\n".join([
            "POST",
            quote(request.path.split("?")[0] or "/", safe="/-_.~"),
            "",
            "".join(f"{h}:{' '.join(request.headers.get(h, '').split())}\n" for h in signed_headers),
            ";".join(signed_headers),
            hashlib.sha256(body).hexdigest(),
        ])
        scope = f"{day}/{region}/sts/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + key[1]).encode()
        for part in (day, region, "sts", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return error(403, "SignatureDoesNotMatch",
                         "The request signature we calculated does not match the signature you provided.", key_id)
        kind = f"assumed-role/e2e-role/{key_id}" if session else f"user/e2e-{key_id}"
        return 200, (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<GetCallerIdentityResult><Arn>arn:aws:{'sts' if session else 'iam'}::{self.account}:{kind}</Arn>"
            f"<UserId>AIDAE2E{key_id[-8:]}</UserId><Account>{self.account}</Account></GetCallerIdentityResult>"
            "<ResponseMetadata><RequestId>e2e</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        ), key_id


def error(status: int, code: str, message: str, key_id: str) -> tuple[int, str, str]:
    kind = "Sender"
    return status, (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>e2e</RequestId></ErrorResponse>"
    ), key_id
