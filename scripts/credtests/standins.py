"""Loopback stand-ins for the AWS services that hand out credentials.

Each stand-in is a small HTTP server on 127.0.0.1 that answers as the real service documents
(shapes taken from the AWS docs and from aws-sdk-rust's / botocore's recorded test traffic) and
is strict about what the real service requires: a request that would be refused by AWS is
refused here too, and the refusal is recorded in `rejected` so a test can show it was not
needed. Every set of credentials handed out is recorded in `issued` (with its expiry), so a test
can tell which source signed a token and whether those credentials were still valid.

Nothing here is a mock of the library under test: the library talks HTTP to these servers
exactly as it would to AWS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import socket
import string
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape as xml_escape

UTC = dt.timezone.utc


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def iso(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_text(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@dataclass
class Creds:
    """One set of AWS credentials, as a stand-in (or a test) hands them out."""

    key_id: str
    secret: str
    token: str | None = None
    expiration: dt.datetime | None = None
    source: str = ""

    @staticmethod
    def temporary(source: str, lifetime_s: float = 3600, tag: str = "") -> "Creds":
        # Session tokens carry '/', '+' and '=' like real ones, so URL encoding is exercised.
        body = random_text(300, string.ascii_letters + string.digits + "/+")
        return Creds(
            key_id="ASIA" + (tag.upper() + random_text(16, string.ascii_uppercase + string.digits))[:16],
            secret=random_text(40, string.ascii_letters + string.digits + "/+"),
            token="IQoJb3JpZ2luX2VjE" + body + "==",
            expiration=utcnow() + dt.timedelta(seconds=lifetime_s),
            source=source,
        )

    @staticmethod
    def long_term(source: str, tag: str = "") -> "Creds":
        return Creds(
            key_id="AKIA" + (tag.upper() + random_text(16, string.ascii_uppercase + string.digits))[:16],
            secret=random_text(40, string.ascii_letters + string.digits + "/+"),
            source=source,
        )

    def keystore_line(self) -> str:
        parts = [self.key_id, self.secret] + ([self.token] if self.token else [])
        return " ".join(parts)

    def secrets(self) -> list[str]:
        return [s for s in (self.secret, self.token) if s]


class Recorder:
    """What a stand-in saw and handed out."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.issued: list[Creds] = []
        self.requests: list[tuple[str, str]] = []
        self.rejected: list[str] = []

    def note(self, method: str, path: str) -> None:
        with self.lock:
            self.requests.append((method, path))

    def reject(self, why: str) -> None:
        with self.lock:
            self.rejected.append(why)

    def issue(self, creds: Creds) -> Creds:
        with self.lock:
            self.issued.append(creds)
        return creds

    def by_key(self, key_id: str) -> Creds | None:
        with self.lock:
            return next((c for c in self.issued if c.key_id == key_id), None)

    def count(self, method: str | None = None, prefix: str = "") -> int:
        with self.lock:
            return sum(
                1 for m, p in self.requests if (method is None or m == method) and p.startswith(prefix)
            )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "standin"

    def log_message(self, fmt, *args):  # quiet: tests print what matters
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer (not what a real endpoint does).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status: int, body: bytes | str, ctype: str = "text/plain", headers=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.standin.handle(self, "GET", b"")

    def do_PUT(self):
        self.server.standin.handle(self, "PUT", self._body())

    def do_POST(self):
        self.server.standin.handle(self, "POST", self._body())


class StandIn:
    """A loopback HTTP server; subclasses implement `serve`."""

    name = "stand-in"

    def __init__(self) -> None:
        self.rec = Recorder()
        self.lifetime_s: float = 3600
        # When set, the body of the credentials answer (to test how bad answers are handled).
        self.serve_override: str | None = None
        # When set, the credentials answer is this HTTP status (an outage).
        self.fail_status: int | None = None
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.standin = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def handle(self, h: _Handler, method: str, body: bytes) -> None:
        self.rec.note(method, h.path)
        try:
            self.serve(h, method, body)
        except Exception as e:  # a bug in the stand-in must show, not hang the client
            self.rec.reject(f"stand-in error: {e!r}")
            h.send(500, "stand-in error")

    def serve(self, h: _Handler, method: str, body: bytes) -> None:
        raise NotImplementedError

    def mint(self, tag: str = "") -> Creds:
        return self.rec.issue(Creds.temporary(self.name, self.lifetime_s, tag))


class Imds(StandIn):
    """EC2 instance metadata, IMDSv2 only: a session token from `PUT /latest/api/token` (TTL
    header required, echoed back), then every GET must carry it. Paths and JSON as documented
    in the EC2 user guide ("Retrieve security credentials from instance metadata")."""

    name = "imds"
    role = "iam-db-auth-test-role"

    def __init__(self) -> None:
        super().__init__()
        self.session_tokens: set[str] = set()

    def serve(self, h, method, body):
        path = h.path
        if path == "/latest/api/token":
            if method != "PUT":
                self.rec.reject(f"{method} on the token path")
                return h.send(405, "")
            if h.headers.get("X-Forwarded-For"):
                self.rec.reject("token request with X-Forwarded-For")
                return h.send(403, "")
            ttl = h.headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                self.rec.reject(f"token request with TTL header {ttl!r}")
                return h.send(400, "")
            token = "AQAEA" + random_text(51)
            with self.rec.lock:
                self.session_tokens.add(token)
            return h.send(200, token, headers={"x-aws-ec2-metadata-token-ttl-seconds": ttl})
        if method != "GET":
            self.rec.reject(f"{method} {path}")
            return h.send(405, "")
        token = h.headers.get("x-aws-ec2-metadata-token")
        if token is None or token not in self.session_tokens:
            # IMDSv2 required ("HttpTokens: required"): IMDSv1 requests get 401.
            self.rec.reject(f"GET {path} without a valid session token")
            return h.send(401, "")
        base = "/latest/meta-data/iam/security-credentials/"
        if path == base:
            return h.send(200, self.role)
        if path == base + self.role:
            if self.serve_override is not None:
                return h.send(200, self.serve_override)
            c = self.mint("imds")
            doc = {
                "Code": "Success",
                "LastUpdated": iso(utcnow()),
                "Type": "AWS-HMAC",
                "AccessKeyId": c.key_id,
                "SecretAccessKey": c.secret,
                "Token": c.token,
                "Expiration": iso(c.expiration),
            }
            return h.send(200, json.dumps(doc, indent=2))
        return h.send(404, "")


class Container(StandIn):
    """The ECS / EKS Pod Identity credentials endpoint: `GET <full uri>` with the authorization
    token (read from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) in the `Authorization` header."""

    name = "container"
    path = "/v1/credentials"

    def __init__(self) -> None:
        super().__init__()
        self.auth_token = "eyJhbGciOiJSUzI1NiJ9." + random_text(120) + "." + random_text(40)

    @property
    def full_uri(self) -> str:
        return self.url + self.path

    def serve(self, h, method, body):
        if method != "GET" or h.path != self.path:
            self.rec.reject(f"{method} {h.path}")
            return h.send(404, "")
        if h.headers.get("Authorization") != self.auth_token:
            self.rec.reject("missing or wrong Authorization header")
            doc = {"Code": "AccessDeniedException", "Message": "invalid authorization token"}
            return h.send(401, json.dumps(doc), "application/json")
        if self.fail_status is not None:
            return h.send(self.fail_status, json.dumps({"Code": "ServiceUnavailable", "Message": "outage"}), "application/json")
        if self.serve_override is not None:
            return h.send(200, self.serve_override, "application/json")
        c = self.mint("ctr")
        doc = {
            "AccessKeyId": c.key_id,
            "SecretAccessKey": c.secret,
            "Token": c.token,
            "AccountId": "123456789012",
            "Expiration": iso(c.expiration),
            "RoleArn": "arn:aws:iam::123456789012:role/iam-db-auth-pod",
        }
        return h.send(200, json.dumps(doc), "application/json")


def _sigv4_check(h, body: bytes, known: dict[str, Creds], service: str) -> str | None:
    """Verifies an AWS SigV4 `Authorization` header; returns None if valid, else why not."""
    auth = h.headers.get("Authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no SigV4 Authorization header"
    fields = dict(
        part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 ") :].split(",")
    )
    key_id, date, region, svc, term = fields["Credential"].split("/")
    if svc != service or term != "aws4_request":
        return f"credential scope for {svc}"
    creds = known.get(key_id)
    if creds is None:
        return f"unknown access key {key_id}"
    if creds.token and h.headers.get("X-Amz-Security-Token") != creds.token:
        return "temporary key without its session token"
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed:
        return "host not signed"
    amz_date = h.headers.get("X-Amz-Date", "")
    if not amz_date.startswith(date):
        return "X-Amz-Date outside the credential scope date"
    url = urllib.parse.urlsplit(h.path)
    query = sorted(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
    q = lambda s: urllib.parse.quote(s, safe="-_.~")  # noqa: E731
    canonical = "\n".join(
        [
            h.command,
            url.path or "/",
            "&".join(f"{q(k)}={q(v)}" for k, v in query),
            "".join(f"{name}:{' '.join(h.headers.get(name, '').split())}\n" for name in signed),
            ";".join(signed),
            h.headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{svc}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    k = ("AWS4" + creds.secret).encode()
    for part in (date, region, svc, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["Signature"]):
        return "signature does not match"
    return None


class Sts(StandIn):
    """AWS STS, query protocol (form-encoded POST, XML answers, API version 2011-06-15):
    `AssumeRole` (SigV4-signed by a key it knows) and `AssumeRoleWithWebIdentity` (unsigned,
    carrying the web identity token)."""

    name = "sts"
    ns = "https://sts.amazonaws.com/doc/2011-06-15/"

    def __init__(self) -> None:
        super().__init__()
        self.trusted: dict[str, Creds] = {}
        self.role_arn = "arn:aws:iam::123456789012:role/iam-db-auth-assumed"
        self.web_identity_token = "eyJraWQiOiJ0ZXN0In0." + random_text(200) + "." + random_text(60)

    def trust(self, creds: Creds) -> None:
        self.trusted[creds.key_id] = creds

    def error(self, h, status: int, code: str, message: str):
        self.rec.reject(f"{code}: {message}")
        doc = (
            f'<ErrorResponse xmlns="{self.ns}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{xml_escape(message)}</Message></Error>"
            f"<RequestId>{secrets.token_hex(8)}</RequestId></ErrorResponse>"
        )
        return h.send(status, doc, "text/xml")

    def serve(self, h, method, body):
        if method != "POST" or urllib.parse.urlsplit(h.path).path != "/":
            return self.error(h, 400, "InvalidAction", f"{method} {h.path}")
        if not h.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            return self.error(h, 400, "InvalidParameterValue", "not form-encoded")
        form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
        if form.get("Version") != "2011-06-15":
            return self.error(h, 400, "InvalidParameterValue", "Version")
        action = form.get("Action")
        if form.get("RoleArn") != self.role_arn:
            return self.error(h, 403, "AccessDenied", f"not authorized to assume {form.get('RoleArn')}")
        session = form.get("RoleSessionName", "")
        if not 2 <= len(session) <= 64 or any(c not in string.ascii_letters + string.digits + "+=,.@-_" for c in session):
            return self.error(h, 400, "ValidationError", "RoleSessionName")
        if action == "AssumeRole":
            why = _sigv4_check(h, body, self.trusted, "sts")
            if why:
                return self.error(h, 403, "SignatureDoesNotMatch", why)
            c = self.mint("ar")
            result = "AssumeRoleResult"
            extra = ""
        elif action == "AssumeRoleWithWebIdentity":
            if h.headers.get("Authorization"):
                return self.error(h, 400, "InvalidParameterValue", "AssumeRoleWithWebIdentity is unsigned")
            if form.get("WebIdentityToken") != self.web_identity_token:
                return self.error(h, 400, "InvalidIdentityToken", "the web identity token is not valid")
            c = self.mint("wi")
            result = "AssumeRoleWithWebIdentityResult"
            extra = (
                "<SubjectFromWebIdentityToken>system:serviceaccount:default:app</SubjectFromWebIdentityToken>"
                "<Audience>sts.amazonaws.com</Audience>"
                "<Provider>arn:aws:iam::123456789012:oidc-provider/oidc.example</Provider>"
            )
        else:
            return self.error(h, 400, "InvalidAction", f"Could not find operation {action}")
        doc = (
            f'<{action}Response xmlns="{self.ns}">\n  <{result}>\n    {extra}'
            "<AssumedRoleUser>"
            f"<AssumedRoleId>AROAEXAMPLEROLEID:{session}</AssumedRoleId>"
            f"<Arn>arn:aws:sts::123456789012:assumed-role/iam-db-auth-assumed/{session}</Arn>"
            "</AssumedRoleUser>\n    <Credentials>"
            f"<AccessKeyId>{c.key_id}</AccessKeyId>"
            f"<SecretAccessKey>{xml_escape(c.secret)}</SecretAccessKey>"
            f"<SessionToken>{xml_escape(c.token)}</SessionToken>"
            f"<Expiration>{iso(c.expiration)}</Expiration>"
            f"</Credentials>\n  </{result}>\n"
            f"  <ResponseMetadata><RequestId>{secrets.token_hex(8)}</RequestId></ResponseMetadata>\n"
            f"</{action}Response>\n"
        )
        return h.send(200, doc, "text/xml")


class SsoPortal(StandIn):
    """The IAM Identity Center portal: `GET /federation/credentials?account_id=&role_name=` with
    the cached access token in `x-amz-sso_bearer_token`; JSON `roleCredentials` with the
    expiration in epoch milliseconds."""

    name = "sso"
    account_id = "123456789012"
    role_name = "DatabaseAccess"

    def __init__(self) -> None:
        super().__init__()
        self.access_token = "aoaAAAAAG" + random_text(180)

    def serve(self, h, method, body):
        url = urllib.parse.urlsplit(h.path)
        if method != "GET" or url.path != "/federation/credentials":
            self.rec.reject(f"{method} {url.path}")
            return h.send(404, json.dumps({"message": "not found"}), "application/json")
        if h.headers.get("x-amz-sso_bearer_token") != self.access_token:
            self.rec.reject("missing or wrong x-amz-sso_bearer_token")
            return h.send(
                401,
                json.dumps({"message": "Session token not found or invalid"}),
                "application/json",
                {"x-amzn-ErrorType": "UnauthorizedException"},
            )
        q = dict(urllib.parse.parse_qsl(url.query))
        if q.get("account_id") != self.account_id or q.get("role_name") != self.role_name:
            self.rec.reject(f"unknown account/role {q}")
            return h.send(
                403,
                json.dumps({"message": "No access"}),
                "application/json",
                {"x-amzn-ErrorType": "ForbiddenException"},
            )
        c = self.mint("sso")
        doc = {
            "roleCredentials": {
                "accessKeyId": c.key_id,
                "secretAccessKey": c.secret,
                "sessionToken": c.token,
                "expiration": int(c.expiration.timestamp() * 1000),
            }
        }
        return h.send(200, json.dumps(doc), "application/json")


class SsoOidc(StandIn):
    """IAM Identity Center OIDC (`sso-oauth`), CreateToken with the refresh_token grant only:
    AWS restJson1, `POST /token`, unsigned (the SDK models CreateToken with no auth), a
    `Content-Type: application/json` body of clientId, clientSecret, grantType and refreshToken
    (field names from aws-sdk-ssooidc's CreateToken serializer). Each must match what the test
    configured; errors are the service's OAuth-style `{"error", "error_description"}` bodies with
    `x-amzn-ErrorType`. A good request gets a fresh access token and a new refresh token; the
    refresh token rotates (the old one is no longer accepted). `portal`, when given, is told to
    accept the new access token instead of the one it had, as Identity Center would."""

    name = "sso-oidc"
    refresh_fields = {"clientId", "clientSecret", "grantType", "refreshToken"}
    # Other CreateToken members (authorization-code and device grants): not for a refresh.
    other_fields = {"code", "codeVerifier", "deviceCode", "redirectUri", "scope"}

    def __init__(self, client_id: str, client_secret: str, refresh_token: str, portal: SsoPortal | None = None) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.portal = portal
        self.calls = 0
        # (access token, refresh token, expiresIn) for every token handed out, in order.
        self.tokens: list[tuple[str, str, int]] = []

    def error(self, h, status: int, kind: str, error: str, why: str):
        self.rec.reject(f"{kind}: {why}")
        doc = {"error": error, "error_description": why}
        return h.send(status, json.dumps(doc), "application/json", {"x-amzn-ErrorType": kind})

    def serve(self, h, method, body):
        with self.rec.lock:
            self.calls += 1
        if method != "POST" or h.path != "/token":
            self.rec.reject(f"{method} {h.path}")
            return h.send(404, json.dumps({"message": "not found"}), "application/json")
        ctype = h.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            return self.error(h, 400, "InvalidRequestException", "invalid_request", f"Content-Type {ctype!r}")
        if h.headers.get("Authorization"):
            return self.error(h, 400, "InvalidRequestException", "invalid_request", "CreateToken is unsigned")
        try:
            doc = json.loads(body)
        except ValueError:
            return self.error(h, 400, "InvalidRequestException", "invalid_request", "body is not JSON")
        if not isinstance(doc, dict):
            return self.error(h, 400, "InvalidRequestException", "invalid_request", "body is not a JSON object")
        missing = sorted(self.refresh_fields - doc.keys())
        unknown = sorted(doc.keys() - self.refresh_fields - self.other_fields)
        extra = sorted(doc.keys() & self.other_fields)
        if missing or unknown or extra:
            why = f"missing {missing}, unknown {unknown}, not for a refresh {extra}"
            return self.error(h, 400, "InvalidRequestException", "invalid_request", why)
        if any(not isinstance(doc[k], str) for k in self.refresh_fields):
            return self.error(h, 400, "InvalidRequestException", "invalid_request", "a field is not a string")
        if doc["grantType"] != "refresh_token":
            return self.error(h, 400, "UnsupportedGrantTypeException", "unsupported_grant_type", f"grantType {doc['grantType']!r}")
        if doc["clientId"] != self.client_id or doc["clientSecret"] != self.client_secret:
            return self.error(h, 401, "InvalidClientException", "invalid_client", "unknown client or wrong secret")
        if doc["refreshToken"] != self.refresh_token:
            return self.error(h, 400, "InvalidGrantException", "invalid_grant", "refresh token not valid")
        access = "aoaAAAAAG" + random_text(180)
        refresh = "Atzr|" + random_text(120)
        with self.rec.lock:
            self.refresh_token = refresh
            self.tokens.append((access, refresh, 3600))
        if self.portal is not None:
            self.portal.access_token = access
        out = {"accessToken": access, "expiresIn": 3600, "refreshToken": refresh, "tokenType": "Bearer"}
        return h.send(200, json.dumps(out), "application/json")


class Hang:
    """A metadata endpoint that accepts connections and never answers, counting them: shows
    whether a client came back (the timeout itself is measured in the benchmark, not here)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            c.close()


class BlackHole:
    """A loopback port that accepts nothing: a listening socket whose backlog is never
    accepted and is already full, so new connection attempts get no answer (SYNs dropped)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        port = self.sock.getsockname()[1]
        # Fill the backlog so later SYNs are dropped rather than queued.
        self.fillers = []
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            self.fillers.append(s)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def stop(self):
        for s in self.fillers:
            s.close()
        self.sock.close()
