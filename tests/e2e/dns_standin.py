"""A loopback DNS server answering from a table, so that name resolution through a CNAME is
tested without touching the system resolver: `iam-db-auth doctor --dns-server 127.0.0.1:PORT`.

The table maps a name to ("CNAME", target) or ("A", address). A query for a name follows its
CNAMEs inside the table and answers them all, then the A records of the last name (as a
recursive resolver does); a name not in the table gets NXDOMAIN. Names are compared without
regard to case; the answer's names are written uncompressed.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import threading
from dataclasses import dataclass, field

TYPE_A, TYPE_CNAME, TYPE_AAAA = 1, 5, 28
CLASS_IN = 1


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def decode_question(packet: bytes) -> tuple[str, int, int]:
    """The first question's name and type, and where the question ends."""
    labels, i = [], 12
    while packet[i]:
        n = packet[i]
        labels.append(packet[i + 1 : i + 1 + n].decode())
        i += 1 + n
    qtype, _ = struct.unpack("!HH", packet[i + 1 : i + 5])
    return ".".join(labels), qtype, i + 5


@dataclass
class DnsStandIn:
    table: dict[str, tuple[str, str]]
    queries: list[tuple[str, int]] = field(default_factory=list)
    _sock: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        assert self._sock is not None
        host, port = self._sock.getsockname()
        return f"{host}:{port}"

    def start(self) -> DnsStandIn:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, peer = self._sock.recvfrom(1500)
            except (socket.timeout, OSError):
                continue
            try:
                reply = self.reply(packet)
            except (IndexError, struct.error, UnicodeDecodeError):
                continue
            self._sock.sendto(reply, peer)

    def reply(self, packet: bytes) -> bytes:
        (qid,) = struct.unpack("!H", packet[:2])
        name, qtype, end = decode_question(packet)
        self.queries.append((name, qtype))
        table = {k.lower(): v for k, v in self.table.items()}
        answers, current, rcode = [], name, 0
        if current.lower() not in table:
            rcode = 3  # NXDOMAIN
        for _ in range(16):
            entry = table.get(current.lower())
            if entry is None:
                break
            kind, value = entry
            if kind == "CNAME":
                answers.append(encode_name(current) + struct.pack("!HHIH", TYPE_CNAME, CLASS_IN, 60, len(encode_name(value))) + encode_name(value))
                current = value
                continue
            if kind == "A" and qtype == TYPE_A:
                data = ipaddress.IPv4Address(value).packed
                answers.append(encode_name(current) + struct.pack("!HHIH", TYPE_A, CLASS_IN, 60, 4) + data)
            break
        # QR, RD, RA set; the question echoed.
        header = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0)
        return header + packet[12:end] + b"".join(answers)
