"""A PostgreSQL server just far enough for the proxy's login, for the benchmarks that need more
sessions than the stand-in has backends (1,000 idle sessions; connection storms): SSLRequest,
TLS with the stand-in's server certificate (so the proxy verifies it as it does the stand-in's),
AuthenticationCleartextPassword, then AuthenticationOk, BackendKeyData, ReadyForQuery, and it
idles until the client leaves. Any password is accepted; it counts logins and distinct
passwords (tokens: how many the proxy signed), keeping only their SHA-256, never the text.

usage: proxy_pg_fake.py PORT CERT KEY STATS_FILE
(writes STATS_FILE as JSON on SIGUSR1, and on SIGTERM before it exits)
"""

import asyncio
import hashlib
import json
import os
import signal
import ssl
import struct
import sys
import time

stats = {"logins": 0, "tokens": 0, "first_login": None, "last_login": None}
seen: set[bytes] = set()


async def read_message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readexactly(5)
    length = struct.unpack("!i", head[1:])[0]
    if not 4 <= length <= 65536:
        raise ValueError("bad length")
    return head[:1], await reader.readexactly(length - 4)


async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context) -> None:
    try:
        length = struct.unpack("!i", await reader.readexactly(4))[0]
        await reader.readexactly(length - 4)  # SSLRequest
        writer.write(b"S")
        await writer.drain()
        await writer.start_tls(context)
        length = struct.unpack("!i", await reader.readexactly(4))[0]
        if not 8 <= length <= 10000:
            return
        await reader.readexactly(length - 4)  # StartupMessage
        writer.write(b"R" + struct.pack("!ii", 8, 3))
        await writer.drain()
        tag, body = await read_message(reader)
        if tag != b"p":
            return
        digest = hashlib.sha256(body).digest()
        now = time.time()
        stats["logins"] += 1
        if digest not in seen:
            seen.add(digest)
            stats["tokens"] += 1
        stats["first_login"] = stats["first_login"] or now
        stats["last_login"] = now
        writer.write(b"R" + struct.pack("!ii", 8, 0) + b"K" + struct.pack("!iii", 12, 4242, 77)
                     + b"Z" + struct.pack("!i", 5) + b"I")
        await writer.drain()
        while True:
            tag, _ = await read_message(reader)
            if tag == b"X":
                return
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, ValueError):
        return
    finally:
        writer.close()


async def main() -> None:
    port, cert, key, stats_file = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = await asyncio.start_server(lambda r, w: session(r, w, context), "127.0.0.1", port,
                                        backlog=2048)
    def dump() -> None:
        with open(stats_file + ".tmp", "w") as f:
            json.dump(stats, f)
        os.replace(stats_file + ".tmp", stats_file)

    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGUSR1, dump)
    print("listening", flush=True)
    await done.wait()
    server.close()
    dump()


asyncio.run(main())
