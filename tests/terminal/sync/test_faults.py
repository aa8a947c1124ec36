"""Sync faults end to end: the terminal's worker, the loopback fault proxy and a real server process (SQLite).
After each fault heals, every ledger record is on the server exactly once (lost 0, unexpected 0, duplicates 0)
with the same fen sums, and the ledger's cursor is at its head."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.faultproxy import Fault, FaultProxy
from tests.terminal.sync.conftest import assert_exactly_once, server_tally
from tests.terminal.sync.live import REPO, ServerProcess, Site, TerminalSide, register_site, wait_until


@pytest.fixture
def proxy(site: Site) -> Iterator[FaultProxy]:
    with FaultProxy(site.server.port) as p:
        yield p


def drain(side: TerminalSide, *, rounds: int = 10_000) -> int:
    """Run sync rounds in this thread until nothing is unsynced; the number of failed rounds."""
    for failed in range(rounds):
        if side.worker.sync_once(pull=False) and side.ledger.unsynced_count() == 0:
            return failed
    raise AssertionError(f"still {side.ledger.unsynced_count()} unsynced after {rounds} rounds")


def test_response_lost_after_commit_1000_batches(site: Site, proxy: FaultProxy, tmp_path: Path) -> None:
    """Every one of 1,000 one-meal batches is stored, then its answer is lost; the resend is a duplicate."""
    side = TerminalSide(site, tmp_path / "t", proxy.url, settings={"max_batch_records": 1})
    try:
        side.sell(1000)
        for _ in range(1000):
            proxy.fail_next(Fault.DROP_RESPONSE)
            proxy.fail_next(Fault.PASS)
        failed = drain(side)
        assert failed == 1000
        assert proxy.counts["responses_dropped"] == 1000
        tally = assert_exactly_once(site.server, side.ledger)
        assert tally.rows == 1000
    finally:
        side.close()


def test_resets_hangs_and_slow_links_heal(site: Site, proxy: FaultProxy, tmp_path: Path) -> None:
    """The worker thread pushes while meals are sold and the link resets, swallows requests, withholds answers
    and crawls; once it passes again, everything arrives once."""
    side = TerminalSide(
        site,
        tmp_path / "t",
        proxy.url,
        settings={
            "max_batch_records": 7,
            "timeout_s": 0.4,
            "push_interval_s": 0.05,
            "backoff_base_s": 0.05,
            "backoff_max_s": 0.3,
        },
    )
    rng = random.Random(6)
    try:
        side.worker.start()
        faults = [Fault.RESET, Fault.BLACKHOLE, Fault.HANG_RESPONSE, Fault.SLOW, Fault.DROP_RESPONSE, Fault.PASS]
        for i in range(24):
            fault = faults[i % len(faults)]
            before = proxy.counts[fault.value]
            proxy.set(fault)
            side.sell(rng.randint(1, 12))
            side.worker.wake()
            # Each phase lasts until the worker has met its fault at least once, however loaded the machine is.

            def met(f: Fault = fault, b: int = before) -> bool:
                return proxy.counts[f.value] > b

            wait_until(met, f"the worker to meet {fault.value}")
            time.sleep(rng.uniform(0.0, 0.2))  # and a little longer, at random (not a timing assertion)
        proxy.set(Fault.PASS)
        side.worker.wake()
        wait_until(lambda: side.ledger.unsynced_count() == 0, "the worker to catch up after healing", 120)
        applied = {f: proxy.counts[f.value] for f in faults}
        assert all(n > 0 for n in applied.values()), applied
        assert side.worker.status().reachable
        assert_exactly_once(site.server, side.ledger)
    finally:
        side.close()


def test_server_killed_mid_batch(tmp_path: Path) -> None:
    """SIGKILL of the server at random moments while the worker pushes batches; restarted on the same database."""
    server = ServerProcess(tmp_path / "server")
    server.migrate()
    server.start()
    site = register_site(server, tmp_path)
    side = TerminalSide(
        site, tmp_path / "t", server.url, settings={"max_batch_records": 10, "timeout_s": 1.0, "push_interval_s": 0.05}
    )
    rng = random.Random(9)
    try:
        side.worker.start()
        for _ in range(8):
            side.sell(rng.randint(20, 60))
            time.sleep(rng.uniform(0.0, 0.3))
            server.kill()
            side.sell(rng.randint(1, 10))  # the counter goes on while the server is down
            server.start()
        side.worker.wake()
        wait_until(lambda: side.ledger.unsynced_count() == 0, "the worker to catch up after the restarts", 120)
        tally = assert_exactly_once(server, side.ledger)
        assert tally.rows == side.ledger.head().seq
    finally:
        side.close()
        server.stop()


def test_terminal_sync_process_killed(site: Site, tmp_path: Path) -> None:
    """A separate sync process on the terminal's ledger, SIGKILLed at random moments and started again, while
    this process keeps selling: each restart resumes from the ledger's cursor."""
    side = TerminalSide(site, tmp_path / "t", site.server.url)
    rng = random.Random(12)
    args = [
        sys.executable,
        "-m",
        "tests.terminal.sync.child",
        str(side.workdir / "ledger.sqlite3"),
        str(side.workdir / "child-state.json"),
        str(side.workdir / "snapshot.json"),
        site.server.url,
        site.terminal_id,
        site.canteen_id,
        str(site.credential_file),
    ]
    kills = 0
    try:
        for _ in range(8):
            child = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            assert child.stdout is not None
            assert child.stdout.readline().strip() == b"ready"
            side.sell(rng.randint(10, 40))
            time.sleep(rng.uniform(0.0, 0.25))
            child.kill()
            child.wait(10)
            kills += 1
        child = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: side.ledger.unsynced_count() == 0, "the last sync process to catch up")
        finally:
            child.kill()
            child.wait(10)
        assert kills == 8
        assert_exactly_once(site.server, side.ledger)
    finally:
        side.close()


def test_conflict_is_processed_with_an_alert(site: Site, tmp_path: Path) -> None:
    """The same meal id with other content (two ledgers made with the same random bytes and clock): 409, the
    stored meal stands, the second terminal's cursor moves on and its status counts the conflict."""
    fixed = TerminalSide(site, tmp_path / "a", site.server.url)
    try:
        fixed.clock.fixed = fixed.clock()
        fixed.ledger.close()
        from terminal.ledger import Ledger  # noqa: PLC0415

        def same_bytes(n: int) -> bytes:
            return b"\x07" * n

        fixed.ledger = Ledger.open(
            tmp_path / "a" / "l2.sqlite3",
            terminal_id=site.terminal_id,
            canteen_id=site.canteen_id,
            urandom=same_bytes,
        )
        fixed.worker = fixed.make_worker()
        first = fixed.sell(1)[0]
        fixed.worker.push_pending()
        other = Ledger.open(
            tmp_path / "a" / "l3.sqlite3", terminal_id=site.terminal_id, canteen_id=site.canteen_id, urandom=same_bytes
        )
        fixed.worker.stop()
        fixed.ledger.close()
        fixed.ledger = other
        fixed.worker = fixed.make_worker()
        second = fixed.sell(1, slot_item=1)[0]  # another item: other content, same id and seq
        assert second.meal_id == first.meal_id and second.hash != first.hash
        result = fixed.worker.push_pending()
        assert result.conflicts == 1
        assert fixed.worker.status().conflicts == 1
        assert other.synced_up_to() == 1
        stored = server_tally(site.server, site.terminal_id)
        assert stored.rows == 1 and stored.price == first.quote.price  # the original is unchanged
    finally:
        fixed.close()


def test_upgrade_required_shows_on_status(terminal: TerminalSide) -> None:
    terminal.sell(1)
    worker = terminal.make_worker(protocol=99)
    try:
        assert worker.sync_once(pull=False) is False
        status = worker.status()
        assert status.upgrade_required and status.reachable and status.last_error == "sync.upgrade_required"
        assert status.unsynced == 1
    finally:
        worker.stop()
