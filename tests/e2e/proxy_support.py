"""Running `iam-db-auth proxy` for a test (test_proxy_*.py).

    from proxy_support import proxy

    with proxy("postgres", f"localhost:{pg_port}", "--ca", ca, env=demo_env()) as p:
        psql(host=p.host, port=p.port, ...)
        assert "outcome=ok" in p.wait_for_log("session ")

The proxy listens on 127.0.0.1 port 0 unless `listen=` says otherwise (a port the kernel
picks, read back from its "listening on" line: no race with another process for a "free"
port), or on the listeners of `--config FILE` (pass `listeners=N` to wait for N of them). Its
stderr is captured line by line (`p.log()`); `stop()` sends SIGTERM and waits a bounded time,
then kills it. Every wait is bounded: a proxy that does not start within `start_timeout`
fails the test with its log.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from conftest import BIN, demo_env

LISTENING = re.compile(r"listening on (\S+) \((\w+), listener '([^']*)'\)")
# How long `stop()` waits after SIGTERM before it kills (the proxy's own grace comes first).
STOP_BOUND = 20.0


@dataclass
class Listening:
    """One listener as the proxy reported it."""

    address: str  # "127.0.0.1:PORT", "[::1]:PORT" or "unix:PATH"
    engine: str
    name: str

    @property
    def host(self) -> str:
        """For clients: the IP address, or the unix socket's directory (PostgreSQL)."""
        if self.address.startswith("unix:"):
            path = Path(self.address[5:])
            return str(path.parent) if path.name.startswith(".s.PGSQL.") else str(path)
        return self.address.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        if self.address.startswith("unix:"):
            name = Path(self.address[5:]).name
            return int(name.rsplit(".", 1)[1]) if name.startswith(".s.PGSQL.") else 0
        return int(self.address.rsplit(":", 1)[1])

    @property
    def socket(self) -> str | None:
        """The unix socket file, for a unix listener."""
        return self.address[5:] if self.address.startswith("unix:") else None


@dataclass
class Proxy:
    process: subprocess.Popen
    args: list[str]
    listeners: list[Listening] = field(default_factory=list)
    _lines: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # The first listener, for the common one-listener case.
    @property
    def host(self) -> str:
        return self.listeners[0].host

    @property
    def port(self) -> int:
        return self.listeners[0].port

    @property
    def address(self) -> str:
        return self.listeners[0].address

    def log(self) -> str:
        """Everything the proxy wrote to stderr so far."""
        with self._lock:
            return "".join(self._lines)

    def log_lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def wait_for_log(self, pattern: str, timeout: float = 10.0, count: int = 1) -> str:
        """Waits until `count` lines match the regular expression `pattern`; returns the last
        of them. Fails with the log on time-out."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            matches = [line for line in self.log_lines() if regex.search(line)]
            if len(matches) >= count:
                return matches[count - 1]
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"no{'' if count == 1 else f' {count}'} log line matching {pattern!r} "
                    f"within {timeout} s; log:\n{self.log()}"
                )
            time.sleep(0.02)

    def signal(self, sig: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self, timeout: float = STOP_BOUND) -> int:
        """SIGTERM, then up to `timeout` s for it to exit, then SIGKILL; its exit status."""
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise AssertionError(
                f"the proxy did not exit within {timeout} s of SIGTERM; log:\n{self.log()}"
            ) from None

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._lock:
                self._lines.append(line)
                if m := LISTENING.search(line):
                    self.listeners.append(Listening(m.group(1), m.group(2), m.group(3)))


def start(
    *args: str | os.PathLike,
    env: dict[str, str] | None = None,
    listeners: int = 1,
    start_timeout: float = 15.0,
    preexec=None,
) -> Proxy:
    """Starts `iam-db-auth proxy ARGS` and waits until `listeners` listeners are up."""
    argv = [str(BIN), "proxy", *(str(a) for a in args)]
    process = subprocess.Popen(
        argv,
        env=env if env is not None else demo_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
    )
    p = Proxy(process, argv)
    threading.Thread(target=p._read, daemon=True).start()
    deadline = time.monotonic() + start_timeout
    while True:
        with p._lock:
            up = len(p.listeners)
        if up >= listeners:
            return p
        if process.poll() is not None:
            time.sleep(0.1)  # the reader's last lines
            raise ProxyExited(process.returncode, p.log())
        if time.monotonic() >= deadline:
            process.kill()
            process.wait(timeout=10)
            raise AssertionError(
                f"the proxy did not listen within {start_timeout} s; log:\n{p.log()}"
            )
        time.sleep(0.02)


class ProxyExited(AssertionError):
    """The proxy exited before it listened (its status and log are on the exception)."""

    def __init__(self, returncode: int, log: str):
        super().__init__(f"the proxy exited with {returncode} before it listened; log:\n{log}")
        self.returncode = returncode
        self.log = log


@contextmanager
def proxy(
    engine: str | None,
    target: str | None,
    *extra: str | os.PathLike,
    listen: str = "127.0.0.1:0",
    env: dict[str, str] | None = None,
    listeners: int = 1,
    start_timeout: float = 15.0,
) -> Iterator[Proxy]:
    """A running proxy for the `with` block, stopped (bounded) at its end.

    `engine`/`target` None: the listeners come from `extra` (e.g. `--config FILE`)."""
    args: list[str | os.PathLike] = []
    if engine is not None:
        args += ["--engine", engine, "--listen", listen, "--target", target]
    args += list(extra)
    p = start(*args, env=env, listeners=listeners, start_timeout=start_timeout)
    try:
        yield p
    finally:
        if p.process.poll() is None:
            p.stop()
