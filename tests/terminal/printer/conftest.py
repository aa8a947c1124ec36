"""Fixtures for the receipt printer tests: a loopback printer, and a check that no test leaves a thread or a
socket behind."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from terminal.virtual.printer import LoopbackPrinter


def _sockets() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(f"{fd} {target}")
    return found


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    threads_before = set(threading.enumerate())
    sockets_before = _sockets()
    yield
    deadline = time.monotonic() + 3.0
    while True:
        threads = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        sockets = _sockets() - sockets_before
        if not threads and not sockets:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"left behind: threads {threads}, sockets {sorted(sockets)}")
        time.sleep(0.02)


@pytest.fixture
def loopback() -> Iterator[LoopbackPrinter]:
    with LoopbackPrinter() as printer:
        yield printer
