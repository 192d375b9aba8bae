"""Fake database servers for the "tokens only over verified TLS" tests: each speaks just enough
of its protocol to get a client to its TLS handshake and then to send its password, and keeps
whatever password it receives, so a test can tell whether a token was handed over.

- `FakeMysql`: MySQL protocol 10 handshake, TLS when the client asks, then an
  AuthSwitchRequest to `mysql_clear_password` (what RDS asks for); records the reply.
- `FakePostgres`: answers SSLRequest with 'S', does TLS, asks for a cleartext password
  (AuthenticationCleartextPassword); records the PasswordMessage.
- `FakeHttps`: serves one file over HTTPS (for `iam-db-auth ca update`).

Certificates come from `Certs`, made with the openssl command line: a self-signed server
certificate (trusted by nobody) and a private CA with a leaf that names only 127.0.0.1.

Everything listens on 127.0.0.1 only, every socket has a timeout, and each server runs in a
daemon thread that `close()` stops.
"""

from __future__ import annotations

import http.server
import os
import socket
import ssl
import struct
import subprocess
import threading
from pathlib import Path

TIMEOUT = 10.0


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


class Certs:
    """Test certificates under `dir`:
    - self_signed.pem/.key: a self-signed certificate naming `rds_host`, localhost, 127.0.0.1
      (an attacker's server: right names, no trusted issuer);
    - ca.pem, ip_only.pem/.key: a private CA and a leaf it signed for IP 127.0.0.1 only."""

    def __init__(self, dir: Path, rds_host: str):
        self.dir = dir
        dir.mkdir(parents=True, exist_ok=True)
        sans = f"subjectAltName=DNS:{rds_host},DNS:localhost,IP:127.0.0.1"
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
                "-keyout", "self_signed.key", "-out", "self_signed.pem",
                "-subj", f"/CN={rds_host}", "-addext", sans, cwd=dir)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3",
                "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=trust-tls test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=dir)
        openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "ip_only.key",
                "-out", "ip_only.csr", "-subj", "/CN=127.0.0.1", cwd=dir)
        (dir / "ip_only.ext").write_text(
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        openssl("x509", "-req", "-in", "ip_only.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "3", "-extfile", "ip_only.ext", "-out", "ip_only.pem",
                cwd=dir)

    def pair(self, name: str) -> tuple[Path, Path]:
        return self.dir / f"{name}.pem", self.dir / f"{name}.key"


class _Server:
    """A loopback TCP server handling each connection in a thread; `received` collects what
    the handler records (bytes)."""

    def __init__(self, cert: Path, key: Path):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.received: list[bytes] = []
        self.tls_connections = 0  # TLS handshakes started
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(TIMEOUT)
            threading.Thread(target=self._handle_safely, args=(conn,), daemon=True).start()

    def _handle_safely(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except Exception as e:  # the client hanging up early is the normal refusal
            with self._lock:
                self.errors.append(repr(e))
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def record(self, data: bytes) -> None:
        with self._lock:
            self.received.append(data)

    def start_tls(self, conn: socket.socket) -> ssl.SSLSocket:
        """Counts the handshake as started (a client that then rejects the certificate still
        reached the server), then does it."""
        with self._lock:
            self.tls_connections += 1
        return self.context.wrap_socket(conn, server_side=True)

    def got_token(self) -> bool:
        """Whether any password received was an IAM token (a presigned URL)."""
        with self._lock:
            return any(b"X-Amz-Signature=" in r for r in self.received)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.listener.close()


def _recv_exact(conn, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"peer closed after {len(data)} of {n} bytes")
        data += chunk
    return data


class FakeMysql(_Server):
    CLIENT_LONG_PASSWORD = 0x1
    CLIENT_CONNECT_WITH_DB = 0x8
    CLIENT_PROTOCOL_41 = 0x200
    CLIENT_SSL = 0x800
    CLIENT_TRANSACTIONS = 0x2000
    CLIENT_SECURE_CONNECTION = 0x8000
    CLIENT_PLUGIN_AUTH = 0x80000
    CLIENT_PLUGIN_AUTH_LENENC = 0x200000

    CAPS = (CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 | CLIENT_SSL
            | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
            | CLIENT_PLUGIN_AUTH_LENENC)

    @staticmethod
    def _packet(seq: int, payload: bytes) -> bytes:
        return struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload

    @staticmethod
    def _read(conn) -> tuple[int, bytes]:
        header = _recv_exact(conn, 4)
        length = header[0] | header[1] << 8 | header[2] << 16
        return header[3], _recv_exact(conn, length)

    def handle(self, conn: socket.socket) -> None:
        scramble = os.urandom(20).replace(b"\0", b"\1")
        greeting = (
            b"\x0a" + b"5.7.99-fake-rds\0" + struct.pack("<I", 7) + scramble[:8] + b"\0"
            + struct.pack("<H", self.CAPS & 0xFFFF) + bytes([45]) + struct.pack("<H", 2)
            + struct.pack("<H", self.CAPS >> 16) + bytes([21]) + b"\0" * 10
            + scramble[8:] + b"\0" + b"mysql_native_password\0"
        )
        conn.sendall(self._packet(0, greeting))
        seq, payload = self._read(conn)
        stream = conn
        client_caps = struct.unpack("<I", payload[:4])[0]
        if client_caps & self.CLIENT_SSL and len(payload) == 32:
            stream = self.start_tls(conn)
            seq, payload = self._read(stream)
        # The handshake response may carry an auth response for mysql_native_password
        # (empty without a password); record it too, then ask for the cleartext password.
        self.record(payload)
        switch = b"\xfe" + b"mysql_clear_password\0"
        stream.sendall(self._packet(seq + 1, switch))
        seq, password = self._read(stream)
        self.record(password)
        error = b"\xff" + struct.pack("<H", 1045) + b"#28000" + b"Access denied (fake server)"
        stream.sendall(self._packet(seq + 1, error))


class FakePostgres(_Server):
    SSL_REQUEST = 80877103
    GSSENC_REQUEST = 80877104

    def handle(self, conn: socket.socket) -> None:
        stream = conn
        while True:
            length, code = struct.unpack("!II", _recv_exact(stream, 8))
            if code == self.SSL_REQUEST and stream is conn:
                conn.sendall(b"S")
                stream = self.start_tls(conn)
                continue
            if code == self.GSSENC_REQUEST:
                stream.sendall(b"N")
                continue
            _recv_exact(stream, length - 8)  # the startup message's parameters
            break
        stream.sendall(b"R" + struct.pack("!II", 8, 3))  # AuthenticationCleartextPassword
        kind = _recv_exact(stream, 1)
        (length,) = struct.unpack("!I", _recv_exact(stream, 4))
        body = _recv_exact(stream, length - 4)
        if kind == b"p":
            self.record(body)
        fields = b"SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed (fake server)\0\0"
        stream.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)


class FakeHttps:
    """Serves `files` ({url path: bytes}) over HTTPS on 127.0.0.1; counts requests."""

    def __init__(self, cert: Path, key: Path, files: dict[str, bytes]):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the stdlib's name)
                outer.requests.append(self.path)
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-pem-file")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.timeout = TIMEOUT
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"https://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
