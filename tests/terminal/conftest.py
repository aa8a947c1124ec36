"""Fixtures for terminal tests on the real PC/SC stack: a private pcscd with the vpcd driver (``pcscd``), virtual
cards to tap on its reader (``vcard``), and a running card-reader watcher (``watcher``, ``start_watcher``)."""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest

from terminal.devices.cards import (
    DEFAULT_KIND_ORDER,
    CardError,
    CardKind,
    CardSource,
    CardTapped,
    ReaderEvent,
    ReaderState,
    ReaderStatus,
)
from terminal.devices.pcsc_reader import PcscCardReader
from terminal.virtual.pcscd import READER_NAME, PrivatePcscd, socket_path
from terminal.virtual.vpcd import CardSlot

# libpcsclite reads PCSCLITE_CSOCK_NAME at the process's first PC/SC call (not at import) and keeps it for good:
# point it at the private daemon now, before any test can talk to PC/SC (the daemon is started on demand).
_RUNTIME_DIR = Path(tempfile.gettempdir()) / f"ruyi-pcscd-{os.getpid()}-{uuid.uuid4().hex[:8]}"
os.environ["PCSCLITE_CSOCK_NAME"] = str(socket_path(_RUNTIME_DIR))

CARD_SECRET = b"test card-key secret, not for production"
EVENT_TIMEOUT = 10.0


class Watcher:
    """Runs a :class:`CardSource` in a thread and lets a test wait for its events (polling, with a timeout)."""

    def __init__(self, source: CardSource) -> None:
        self.source = source
        self.seen: list[ReaderEvent] = []  # every event, in order
        self._queue: queue.Queue[ReaderEvent] = queue.Queue()
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="card-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.source.run(self._on_event, self._stop)
        except BaseException as failure:  # reported by wait_for and stop; run() must not raise at all
            self._failure = failure
            raise

    def _on_event(self, event: ReaderEvent) -> None:
        self.seen.append(event)
        self._queue.put(event)

    def wait_for(self, match: Callable[[ReaderEvent], bool], what: str, timeout: float = EVENT_TIMEOUT) -> ReaderEvent:
        """The next event that ``match``es; events before it are passed over."""
        deadline = time.monotonic() + timeout
        passed: list[ReaderEvent] = []
        while True:
            remaining = deadline - time.monotonic()
            try:
                event = self._queue.get(timeout=max(remaining, 0))
            except queue.Empty:
                raise AssertionError(
                    f"no {what} within {timeout} s; passed over {passed}; watcher failure: {self._failure!r}"
                ) from None
            if match(event):
                return event
            passed.append(event)

    def next_card_event(self, timeout: float = EVENT_TIMEOUT) -> CardTapped | CardError:
        """The next tap result, passing over reader status changes."""
        event = self.wait_for(lambda e: isinstance(e, CardTapped | CardError), "tap result", timeout)
        assert isinstance(event, CardTapped | CardError)
        return event

    def wait_status(self, state: ReaderState, timeout: float = EVENT_TIMEOUT) -> ReaderStatus:
        event = self.wait_for(
            lambda e: isinstance(e, ReaderStatus) and e.state is state, f"reader status {state}", timeout
        )
        assert isinstance(event, ReaderStatus)
        return event

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"the card source did not return within {timeout} s of stop")
        if self._failure is not None:
            raise AssertionError(f"the card source raised {self._failure!r}") from self._failure


@pytest.fixture(scope="session")
def _pcscd_daemon() -> Iterator[PrivatePcscd]:
    daemon = PrivatePcscd(_RUNTIME_DIR)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.close()


@pytest.fixture
def pcscd(_pcscd_daemon: PrivatePcscd) -> PrivatePcscd:
    """The private pcscd, running with its vpcd reader (a test may stop, kill or restart it)."""
    _pcscd_daemon.ensure_running()
    return _pcscd_daemon


@pytest.fixture
def vcard(pcscd: PrivatePcscd) -> Iterator[CardSlot]:
    """Tap virtual cards on the reader: ``vcard.tap(UidCard(...))``; whatever is left is removed afterwards."""
    slot = CardSlot(lambda: pcscd.port, wait_empty=pcscd.wait_reader_empty)
    yield slot
    slot.remove_all()
    pcscd.wait_reader_empty()


@pytest.fixture
def card_secret() -> bytes:
    return CARD_SECRET


StartWatcher = Callable[..., Watcher]


@pytest.fixture
def start_watcher(pcscd: PrivatePcscd, card_secret: bytes) -> Iterator[StartWatcher]:
    """Start a :class:`PcscCardReader` on the private reader; by default wait until it reports the reader."""
    watchers: list[Watcher] = []

    def start(
        *,
        kinds: Iterable[CardKind | str] = DEFAULT_KIND_ORDER,
        reader_name: str | None = READER_NAME,
        wait_connected: bool = True,
    ) -> Watcher:
        source = PcscCardReader(
            secret=card_secret, reader_name=reader_name, kinds=kinds, poll_seconds=0.2, retry_seconds=0.2
        )
        watcher = Watcher(source)
        watcher.start()
        watchers.append(watcher)
        if wait_connected:
            watcher.wait_status(ReaderState.CONNECTED)
        return watcher

    yield start
    failures = []
    for watcher in watchers:
        try:
            watcher.stop()
        except AssertionError as failure:
            failures.append(failure)
    if failures:
        raise failures[0]


@pytest.fixture
def watcher(start_watcher: StartWatcher) -> Watcher:
    """A watcher with the default kind order, already connected to the private reader."""
    return start_watcher()
