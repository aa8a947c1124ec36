"""The offline policy at the counter, driven by the sync worker: a countdown before the limit, then full price
with ``offline_too_long``, and subsidies back after a successful sync (the terminal's clock is injected)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from ruyi.reasons import Reason
from terminal.counter import Counter, Sale
from terminal.devices.escpos_printer import EscposPrinter, PrinterConfig, TcpConnection
from terminal.devices.printing import PaperWidth
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot
from terminal.sync import SyncSettings, SyncWorker, read_credential
from terminal.virtual.printer import LoopbackPrinter
from tests.terminal.counter.world import NOON, OLD, Clock, snapshot_data
from tests.terminal.sync.live import Site

# ---- offline policy at the counter


@pytest.fixture
def loopback() -> Iterator[LoopbackPrinter]:
    with LoopbackPrinter() as printer:
        yield printer


def test_offline_countdown_then_full_price_then_back(site: Site, tmp_path: Path, loopback: LoopbackPrinter) -> None:
    """Never synced: the limit runs from the snapshot's making (24 h by default, countdown 60 min before). At the
    limit a subsidised elder pays full price with offline_too_long; a successful sync gives the subsidy back."""
    data = snapshot_data().model_copy(update={"created_at": NOON - timedelta(hours=24)})  # the limit at lunch
    clock = Clock(now=data.created_at)
    snapshot = Snapshot.of(data)
    ledger = Ledger.open(tmp_path / "ledger.sqlite3", terminal_id=site.terminal_id, canteen_id=site.canteen_id)
    (tmp_path / "snapshot.json").write_text(data.model_dump_json())
    worker = SyncWorker(
        ledger=ledger,
        settings=SyncSettings(server_url=site.server.url, timeout_s=2.0, pull=False),
        credential=lambda: read_credential(site.credential_file),
        state_path=tmp_path / "sync-state.json",
        snapshot=snapshot,
        snapshot_path=tmp_path / "snapshot.json",
        clock=clock,
    )
    printer = EscposPrinter(
        PrinterConfig(connection=TcpConnection(host=loopback.host, port=loopback.port), paper=PaperWidth.MM80)
    )
    counter = Counter(
        snapshot=snapshot,
        ledger=ledger,
        printer=printer,
        clock=clock,
        canteen_name="如意食堂",
        offline=worker,
        on_commit=worker.wake,
    )

    def sale() -> Sale:
        opened = counter.manual_lookup(OLD.elder_id, "卡忘带")
        assert isinstance(opened, Sale)
        return opened

    try:
        limit = data.created_at + timedelta(hours=24)
        assert worker.subsidy_stops_at() == limit
        clock.now = limit - timedelta(minutes=61)
        status = counter.status(query_printer=False)
        assert status.countdown is None and not status.offline_too_long
        assert sale().quote.subsidised

        clock.now = limit - timedelta(minutes=30)
        status = counter.status(query_printer=False)
        assert status.countdown == timedelta(minutes=30) and not status.offline_too_long
        assert sale().quote.subsidised

        clock.now = limit
        status = counter.status(query_printer=False)
        assert status.offline_too_long and status.countdown is None
        q = sale().quote
        assert not q.subsidised and q.subsidy == 0 and q.elder_pays == q.price
        assert q.reasons[0] is Reason.OFFLINE_TOO_LONG

        # A sale opened before the limit and confirmed after it is quoted again at full price.
        clock.now = limit - timedelta(seconds=1)
        early = sale()
        clock.now = limit + timedelta(seconds=1)
        result = counter.confirm(early, "cash")
        assert not result.committed and result.sale is not None
        assert result.sale.quote.reasons[0] is Reason.OFFLINE_TOO_LONG

        assert worker.sync_once(pull=False)  # the server answers: synced now, on the terminal's clock
        assert worker.status().last_success_at == clock.now
        assert worker.subsidy_stops_at() == clock.now + timedelta(hours=24)
        assert not counter.status(query_printer=False).offline_too_long
        assert sale().quote.subsidised
    finally:
        worker.stop()
        ledger.close()
