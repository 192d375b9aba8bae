"""Protocol-level PostgreSQL clients for the proxy benchmarks (no driver: only the login, so the
client's own cost stays out of the numbers):

  hold PORT COUNT USER DB      opens COUNT sessions (logged in: ReadyForQuery read), prints
                               "ready COUNT", keeps them open until stdin closes
  storm PORT COUNT CONCURRENCY DB USER...
                               COUNT logins, CONCURRENCY at a time, users taken in turn; each
                               logs in, reads ReadyForQuery, sends Terminate, closes; prints JSON
                               {"logins", "failed", "seconds"}
"""

import asyncio
import json
import struct
import sys
import time


def startup(user: str, db: str) -> bytes:
    body = struct.pack("!i", 196608) + f"user\0{user}\0database\0{db}\0\0".encode()
    return struct.pack("!i", len(body) + 4) + body


async def login(port: int, user: str, db: str):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
    writer.write(startup(user, db))
    await writer.drain()
    while True:
        head = await asyncio.wait_for(reader.readexactly(5), 30)
        body = await reader.readexactly(struct.unpack("!i", head[1:])[0] - 4)
        if head[:1] == b"E":
            writer.close()
            raise RuntimeError(body.decode(errors="replace"))
        if head[:1] == b"Z":
            return reader, writer


async def hold(port: int, count: int, user: str, db: str) -> None:
    sessions = []
    for start in range(0, count, 50):
        sessions += await asyncio.gather(*(login(port, user, db)
                                           for _ in range(start, min(count, start + 50))))
    print(f"ready {len(sessions)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for _, writer in sessions:
        writer.close()


async def storm(port: int, count: int, concurrency: int, db: str, users: list[str]) -> None:
    failed = 0
    next_login = 0

    async def worker() -> None:
        nonlocal failed, next_login
        while next_login < count:
            user = users[next_login % len(users)]
            next_login += 1
            try:
                _, writer = await login(port, user, db)
                writer.write(b"X" + struct.pack("!i", 4))
                await writer.drain()
                writer.close()
            except (OSError, RuntimeError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                failed += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    print(json.dumps({"logins": count - failed, "failed": failed,
                      "seconds": time.monotonic() - started}))


if __name__ == "__main__":
    if sys.argv[1] == "hold":
        asyncio.run(hold(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]))
    elif sys.argv[1] == "storm":
        asyncio.run(storm(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
                          sys.argv[6:]))
    else:
        sys.exit(__doc__)
