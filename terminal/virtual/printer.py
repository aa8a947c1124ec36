"""A receipt printer on loopback: a TCP server in the style of port 9100 that keeps every byte it is sent and
answers real-time status queries (``DLE EOT n``) the way a printer in the chosen state would.

A printer without real-time status (``answers_status=False``) takes the queries and never answers them.

States: online, paper near end, offline, paper out, cover open, printer error, garbage (answers a byte that is not
ESC/POS), silent (accepts connections, then neither reads nor answers) and refusing (the port is closed).

A real printer answers ``DLE EOT`` wherever the three bytes appear, even inside the data of an image. This one
answers only queries at the end of what it has received so far, that is, queries a client is waiting on: a client
never sends anything after a query before it has its answer, while three such bytes inside raster data are
(almost) never the last bytes of a read.

Usage::

    with LoopbackPrinter() as printer:
        ...  # print to 127.0.0.1:printer.port
        job = printer.wait_for_jobs(1)[0]
        receipt = decode(job.payload)
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Self

DLE, EOT = 0x10, 0x04


class PrinterState(StrEnum):
    ONLINE = "online"
    PAPER_NEAR_END = "paper_near_end"
    OFFLINE = "offline"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    ERROR = "error"
    GARBAGE = "garbage"
    SILENT = "silent"
    REFUSING = "refusing"


# Answers to DLE EOT 1 (printer), 2 (offline cause), 3 (error cause), 4 (paper roll sensor), in the bit layout of
# Epson's ESC/POS Command Reference ("DLE EOT n: Transmit real-time status"):
# bits 1 and 4 always set, 0x08 offline (n=1), 0x04 cover open / 0x20 paper end stop / 0x40 error (n=2),
# 0x08 autocutter error (n=3), 0x0C near end / 0x60 roll end (n=4).
STATUS_ANSWERS: dict[PrinterState, dict[int, int]] = {
    PrinterState.ONLINE: {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12},
    PrinterState.PAPER_NEAR_END: {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x1E},
    PrinterState.OFFLINE: {1: 0x1A, 2: 0x12, 3: 0x12, 4: 0x12},
    PrinterState.PAPER_OUT: {1: 0x1A, 2: 0x32, 3: 0x12, 4: 0x72},
    PrinterState.COVER_OPEN: {1: 0x1A, 2: 0x16, 3: 0x12, 4: 0x12},
    PrinterState.ERROR: {1: 0x1A, 2: 0x52, 3: 0x1A, 4: 0x12},
    PrinterState.GARBAGE: {1: 0x3F, 2: 0x3F, 3: 0x3F, 4: 0x3F},
}


@dataclass
class CapturedJob:
    """Everything one connection sent, in order."""

    number: int
    data: bytearray = field(default_factory=bytearray)
    status_queries: list[int] = field(default_factory=list)
    """The n of each ``DLE EOT n`` query seen (and answered, unless the printer had fallen silent), in order."""
    query_spans: list[tuple[int, int]] = field(default_factory=list)
    closed: bool = False
    """The client closed the connection (everything it sent is in `data`)."""
    silent: bool = False
    """Accepted while the printer was silent: nothing was read."""

    @property
    def payload(self) -> bytes:
        """What the client sent to be printed: `data` without the status queries."""
        out = bytearray()
        start = 0
        for begin, end in self.query_spans:
            out += self.data[start:begin]
            start = end
        out += self.data[start:]
        return bytes(out)

    def copy(self) -> CapturedJob:
        return CapturedJob(
            self.number,
            bytearray(self.data),
            list(self.status_queries),
            list(self.query_spans),
            self.closed,
            self.silent,
        )


class LoopbackPrinter:
    """See the module docstring. Thread-safe; all socket work happens on one background thread."""

    def __init__(
        self, state: PrinterState = PrinterState.ONLINE, host: str = "127.0.0.1", *, answers_status: bool = True
    ) -> None:
        self.host = host
        self.answers_status = answers_status
        """False: a printer without real-time status (many cheap ones): it takes ``DLE EOT n`` and answers nothing."""
        self.port = 0
        self._state = state
        self._lock = threading.Condition()
        self._jobs: list[CapturedJob] = []
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._listener: socket.socket | None = None
        self._connections: dict[socket.socket, CapturedJob] = {}
        self._silent: list[socket.socket] = []
        self._pending_state: PrinterState | None = None
        self._state_applied = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- lifecycle

    def start(self) -> Self:
        listener = self._listen(0)
        self.port = listener.getsockname()[1]
        if self._state is PrinterState.REFUSING:
            listener.close()
        else:
            self._listener = listener
            self._selector.register(listener, selectors.EVENT_READ, "accept")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._thread = threading.Thread(target=self._serve, name=f"loopback-printer-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        with self._lock:
            self._stopping = True
        self._wake()
        self._thread.join(timeout=5)
        if self._thread.is_alive():  # pragma: no cover - would be a bug in _serve
            raise RuntimeError("loopback printer thread did not stop")
        self._thread = None
        for sock in [*self._connections, *self._silent]:
            sock.close()
        self._connections.clear()
        self._silent.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        with self._lock:
            for job in self._jobs:
                job.closed = True
            self._lock.notify_all()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what tests use

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def state(self) -> PrinterState:
        return self._state

    @state.setter
    def state(self, state: PrinterState) -> None:
        """Change state; when this returns, a refusing printer's port is closed (or open again)."""
        if self._thread is None:
            self._state = state
            return
        self._state_applied.clear()
        with self._lock:
            self._pending_state = state
        self._wake()
        if not self._state_applied.wait(timeout=5):  # pragma: no cover - would be a bug in _serve
            raise RuntimeError("loopback printer did not change state")

    @property
    def jobs(self) -> list[CapturedJob]:
        """A snapshot of every connection so far, oldest first."""
        with self._lock:
            return [job.copy() for job in self._jobs]

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[CapturedJob]:
        """Wait until `count` connections have been closed by their client; return the closed jobs."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                closed = [job.copy() for job in self._jobs if job.closed]
                if len(closed) >= count:
                    return closed
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(closed)} of {count} print jobs arrived within {timeout} s")
                self._lock.wait(left)

    # --- the server thread

    def _listen(self, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, port))
        listener.listen(16)
        listener.setblocking(False)
        return listener

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full socketpair buffer: the thread is awake anyway
            self._wake_w.send(b"\0")

    def _serve(self) -> None:
        while True:
            for key, _ in self._selector.select(timeout=1.0):
                if key.data == "wake":
                    self._wake_r.recv(4096)
                elif key.data == "accept":
                    self._accept()
                else:
                    self._receive(key.fileobj)  # type: ignore[arg-type]
            with self._lock:
                stopping, pending, self._pending_state = self._stopping, self._pending_state, None
            if pending is not None:
                self._apply_state(pending)
            if stopping:
                return

    def _apply_state(self, state: PrinterState) -> None:
        if state is PrinterState.REFUSING and self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
        elif state is not PrinterState.REFUSING and self._listener is None:
            self._listener = self._listen(self.port)
            self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        self._state = state
        self._state_applied.set()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        with self._lock:
            job = CapturedJob(number=len(self._jobs) + 1)
            self._jobs.append(job)
            if self._state is PrinterState.SILENT:
                job.silent = True
                self._silent.append(sock)
                return
        sock.setblocking(False)
        self._connections[sock] = job
        self._selector.register(sock, selectors.EVENT_READ, "conn")

    def _receive(self, sock: socket.socket) -> None:
        job = self._connections[sock]
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._selector.unregister(sock)
            sock.close()
            del self._connections[sock]
            with self._lock:
                job.closed = True
                self._lock.notify_all()
            return
        with self._lock:
            answered_upto = job.query_spans[-1][1] if job.query_spans else 0
            job.data += chunk
            queries = _trailing_queries(job.data, answered_upto)
            job.query_spans.extend(queries)
            job.status_queries.extend(job.data[end - 1] for _, end in queries)
            # A printer that fell silent mid-connection reads on but answers nothing.
            answers = STATUS_ANSWERS.get(self._state, STATUS_ANSWERS[PrinterState.ONLINE])
            silent = self._state is PrinterState.SILENT or not self.answers_status
            self._lock.notify_all()
        if queries and not silent:
            reply = bytes(answers[job.data[end - 1]] for _, end in queries)
            with contextlib.suppress(OSError):  # the client is gone
                sock.sendall(reply)  # a byte or three: fits in any socket buffer


def _trailing_queries(data: bytearray, start: int) -> list[tuple[int, int]]:
    """Spans of the run of ``DLE EOT n`` commands that ends `data`, not reaching before `start`."""
    spans: list[tuple[int, int]] = []
    end = len(data)
    while end - 3 >= start and data[end - 3] == DLE and data[end - 2] == EOT and data[end - 1] in (1, 2, 3, 4):
        spans.insert(0, (end - 3, end))
        end -= 3
    return spans
