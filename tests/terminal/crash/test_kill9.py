"""kill -9 at 200+ random points in a loop of taps and sales (DESIGN §4.1, §4.2).

A zygote process forks short-lived children that run the real counter (SQLite ledger, ESC/POS receipts to a
loopback TCP printer in this process); each child is SIGKILLed a random few milliseconds after it starts. After
every kill: ``PRAGMA integrity_check`` and the hash chain are sound, sequence numbers have no gap or duplicate,
every meal id on any receipt the printer received is in the ledger (nothing printed that is not committed), and
every committed sale or void whose complete receipt never reached the printer is in the reprint queue.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest

from terminal.ledger import Ledger
from terminal.snapshot import write_snapshot
from terminal.virtual.escpos_decode import decode
from terminal.virtual.printer import LoopbackPrinter
from tests.terminal.counter.world import CANTEEN_ID, DAY, TERMINAL_ID, ZONE, snapshot_data

REPO = Path(__file__).resolve().parents[3]
KILLS = 220


class Receipts:
    """Meal ids on what the loopback printer received: any QR code (``seen``), and on complete receipts (QR and
    cut: ``complete``). Each job is decoded again only when more of it has arrived."""

    def __init__(self, printer: LoopbackPrinter) -> None:
        self.printer = printer
        self._decoded: dict[int, tuple[int, set[UUID], bool]] = {}

    def scan(self) -> tuple[set[UUID], set[UUID]]:
        seen: set[UUID] = set()
        complete: set[UUID] = set()
        for job in self.printer.jobs:
            payload = job.payload
            known = self._decoded.get(job.number)
            if known is None or known[0] != len(payload):
                receipt = decode(payload)
                known = (len(payload), {UUID(q.data) for q in receipt.qr_codes}, bool(receipt.cuts))
                self._decoded[job.number] = known
            seen |= known[1]
            if known[2]:
                complete |= known[1]
        return seen, complete


@pytest.fixture
def zygote(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], LoopbackPrinter]]:
    write_snapshot(tmp_path / "snapshot.json", snapshot_data())
    (tmp_path / "escpos").mkdir()
    Ledger.open(tmp_path / "ledger.sqlite3", terminal_id=TERMINAL_ID, canteen_id=CANTEEN_ID, zone=ZONE).close()
    with LoopbackPrinter() as printer:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.terminal.crash.zygote",
                str(tmp_path),
                str(printer.port),
                str(time.monotonic()),
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            yield proc, printer
        finally:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def check(path: Path, receipts: Receipts) -> tuple[int, int]:
    with Ledger.open(path, terminal_id=TERMINAL_ID, canteen_id=CANTEEN_ID, zone=ZONE) as ledger:
        report = ledger.integrity_report()
        assert report.sqlite == ("ok",), report.sqlite
        assert report.ok, report
        records = ledger.records()
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        ids = {r.meal_id for r in records}
        assert len(ids) == len(records)
        seen, complete = receipts.scan()
        assert seen <= ids, f"printed but not committed: {seen - ids}"
        voided = {r.refers_to for r in records if r.kind == "void"}
        queue = {r.meal_id for r in ledger.reprint_queue(since=DAY)}
        owed = {r.meal_id for r in records if (r.kind == "sale" and r.meal_id not in voided) or r.kind == "void"}
        missing = (owed - complete) - queue
        assert not missing, f"committed, never printed, not offered for reprint: {missing}"
        return len(records), len(queue)


def test_kill9_loop(zygote: tuple[subprocess.Popen[str], LoopbackPrinter], tmp_path: Path) -> None:
    proc, printer = zygote
    assert proc.stdin is not None and proc.stdout is not None
    receipts = Receipts(printer)
    rng = random.Random(20250610)
    most_queued = 0
    killed_while_running = 0
    for n in range(KILLS):
        proc.stdin.write(f"go {n}\n")
        proc.stdin.flush()
        pid = int(proc.stdout.readline())
        # Even children are killed anywhere from their start (opening the ledger, the start-up reprint, a sale);
        # odd ones only after their first commit, so the loop does real work however loaded the machine is.
        if n % 2 == 1:
            assert proc.stdout.readline().split() == ["committed"], f"child {n} died before its first commit"
        time.sleep(rng.uniform(0.001, 0.040))  # where the kill lands; nothing is asserted about time
        os.kill(pid, signal.SIGKILL)
        dead = proc.stdout.readline().split()
        assert dead[0] == "dead"
        status = int(dead[1])
        if os.WIFSIGNALED(status):
            assert os.WTERMSIG(status) == signal.SIGKILL
            killed_while_running += 1
        else:  # the child ended by itself: that is a crash of the counter, not a kill
            raise AssertionError(f"child {n} exited with {os.WEXITSTATUS(status)} before it was killed")
        _, queued = check(tmp_path / "ledger.sqlite3", receipts)
        most_queued = max(most_queued, queued)
    # Let the printer take in whatever the last child had sent, then check once more.
    printer.wait_for_jobs(len(printer.jobs))
    total, _ = check(tmp_path / "ledger.sqlite3", receipts)
    assert killed_while_running == KILLS
    assert total >= KILLS // 2  # every odd child committed at least one record
    print(f"\nkill -9: {KILLS} kills, {total} records committed, at most {most_queued} receipts queued for reprint")
