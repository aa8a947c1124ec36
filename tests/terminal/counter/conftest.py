"""Fixtures for the counter tests: a real ledger in a temporary directory, a loopback TCP printer driven through
the real ESC/POS printer, the snapshot built by the real builder, and a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.counter import Counter
from terminal.devices.escpos_printer import EscposPrinter, PrinterConfig, TcpConnection
from terminal.devices.printing import PaperWidth
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot
from terminal.virtual.escpos_decode import Receipt, decode
from terminal.virtual.printer import LoopbackPrinter
from tests.terminal.counter.world import CANTEEN_ID, CANTEEN_NAME, TERMINAL_ID, ZONE, Clock, snapshot_data


@pytest.fixture
def loopback() -> Iterator[LoopbackPrinter]:
    with LoopbackPrinter() as printer:
        yield printer


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def snapshot() -> Snapshot:
    return Snapshot.of(snapshot_data())


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.sqlite3", terminal_id=TERMINAL_ID, canteen_id=CANTEEN_ID, zone=ZONE) as led:
        yield led


def tcp_printer(loopback: LoopbackPrinter, paper: PaperWidth = PaperWidth.MM80) -> EscposPrinter:
    return EscposPrinter(
        PrinterConfig(connection=TcpConnection(host=loopback.host, port=loopback.port), paper=paper, timeout_s=1.0)
    )


@pytest.fixture
def counter(snapshot: Snapshot, ledger: Ledger, loopback: LoopbackPrinter, clock: Clock) -> Counter:
    return Counter(
        snapshot=snapshot, ledger=ledger, printer=tcp_printer(loopback), clock=clock, canteen_name=CANTEEN_NAME
    )


def printed(loopback: LoopbackPrinter) -> list[Receipt]:
    """Every receipt the loopback printer was sent, decoded (status-only connections left out)."""
    jobs = loopback.wait_for_jobs(len(loopback.jobs))  # every connection so far, once its client closed it
    return [decode(job.payload) for job in jobs if job.payload]
