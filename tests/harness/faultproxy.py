"""A loopback TCP fault proxy for HTTP/1.1 between a client and a server (this kernel has no ``tc netem``).

It listens on 127.0.0.1 and forwards to an upstream port. Each request (the first bytes a client sends on a
connection, or after the previous response began) gets a :class:`Fault`, decided when the request starts: the
proxy's current fault (:meth:`FaultProxy.set`), unless faults were queued for the next requests
(:meth:`FaultProxy.fail_next`). Switching takes effect at the next request, also on connections already open
(keep-alive). The proxy counts requests and the faults it applied, so a test can say what it did.

Faults:

- ``PASS``: forward both ways;
- ``RESET``: the request is not forwarded; the client's connection is reset (RST);
- ``BLACKHOLE``: the request is swallowed, nothing is answered, the connection stays open (the client times out);
- ``DROP_RESPONSE``: the request is forwarded whole; when the server's answer starts, the client's connection is
  reset and the answer thrown away (the server committed, the client never learns it);
- ``HANG_RESPONSE``: the request is forwarded; the answer is withheld and the connection kept open (the client
  times out after the server committed);
- ``SLOW``: both ways in chunks of ``slow_chunk`` bytes with ``slow_delay_s`` between chunks.

HTTP requests are assumed not pipelined (httpx does not pipeline), which is what lets the proxy tell requests
apart on a kept-alive connection without parsing HTTP.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import Counter, deque
from enum import StrEnum
from types import TracebackType
from typing import Literal, Self

_BUF = 65536


class Fault(StrEnum):
    PASS = "pass"
    RESET = "reset"
    BLACKHOLE = "blackhole"
    DROP_RESPONSE = "drop_response"
    HANG_RESPONSE = "hang_response"
    SLOW = "slow"


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0) instead of FIN. ``shutdown(SHUT_RD)`` first wakes the other pump thread's
    ``recv`` on this socket: a plain ``close`` would leave the connection open until that ``recv`` returned."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Link:
    """One client connection and its upstream connection, pumped by two threads."""

    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.phase: Literal["idle", "request", "response"] = "idle"
        self.fault = Fault.PASS
        self.lock = threading.Lock()
        self.closed = False

    def run(self) -> None:
        try:
            self.upstream = socket.create_connection(self.proxy.upstream, timeout=5)
            self.upstream.settimeout(None)
        except OSError:
            _reset(self.client)
            return
        threading.Thread(target=self._pump_back, name="faultproxy-back", daemon=True).start()
        self._pump_forward()

    def close(self, *, reset: bool = False) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
        (_reset if reset else _close)(self.client)
        if self.upstream is not None:
            _close(self.upstream)

    def _pump_forward(self) -> None:
        """Client -> upstream; decides each request's fault when it starts."""
        assert self.upstream is not None
        try:
            while True:
                data = self.client.recv(_BUF)
                if not data:
                    break
                if self.phase != "request":
                    self.fault = self.proxy._next_fault()
                    self.phase = "request"
                    if self.fault is Fault.RESET:
                        self.close(reset=True)
                        return
                if self.fault is Fault.BLACKHOLE:
                    continue
                self._send(self.upstream, data)
        except OSError:
            pass
        self.close()

    def _pump_back(self) -> None:
        """Upstream -> client, applying the current request's fault to its answer."""
        assert self.upstream is not None
        try:
            while True:
                data = self.upstream.recv(_BUF)
                if not data:
                    break
                self.phase = "response"
                if self.fault is Fault.DROP_RESPONSE:
                    self.proxy._count("responses_dropped")
                    self.close(reset=True)
                    return
                if self.fault is Fault.HANG_RESPONSE:
                    continue
                self._send(self.client, data)
        except OSError:
            pass
        if self.fault is Fault.HANG_RESPONSE:
            return  # keep the client hanging until it gives up (its own close ends _pump_forward)
        self.close()

    def _send(self, sock: socket.socket, data: bytes) -> None:
        if self.fault is not Fault.SLOW:
            sock.sendall(data)
            return
        chunk, delay = self.proxy.slow_chunk, self.proxy.slow_delay_s
        for i in range(0, len(data), chunk):
            time.sleep(delay)
            sock.sendall(data[i : i + chunk])


class FaultProxy:
    """``with FaultProxy(upstream_port) as proxy:`` point the client at ``proxy.url``; ``proxy.set(Fault.X)``."""

    def __init__(
        self,
        upstream_port: int,
        *,
        upstream_host: str = "127.0.0.1",
        slow_chunk: int = 256,
        slow_delay_s: float = 0.02,
    ) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.slow_chunk = slow_chunk
        self.slow_delay_s = slow_delay_s
        self._fault = Fault.PASS
        self._queued: deque[Fault] = deque()
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        """``requests`` and one entry per fault applied (``pass``, ``reset`` ...), plus ``responses_dropped``."""
        self._links: list[_Link] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="faultproxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def set(self, fault: Fault) -> None:
        """The fault for every following request (until changed); queued faults go first."""
        with self._lock:
            self._fault = fault

    def fail_next(self, fault: Fault, n: int = 1) -> None:
        """Apply ``fault`` to the next ``n`` requests, then go back to the current fault."""
        with self._lock:
            self._queued.extend([fault] * n)

    def reset_connections(self) -> None:
        """Reset every open connection now (e.g. to cut a request in flight)."""
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close(reset=True)

    def _next_fault(self) -> Fault:
        with self._lock:
            fault = self._queued.popleft() if self._queued else self._fault
            self.counts["requests"] += 1
            self.counts[fault.value] += 1
            return fault

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            link = _Link(self, client)
            with self._lock:
                self._links = [x for x in self._links if not x.closed]
                self._links.append(link)
            threading.Thread(target=link.run, name="faultproxy-link", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        self.reset_connections()
        self._thread.join(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
