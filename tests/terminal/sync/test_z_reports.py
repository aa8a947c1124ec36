"""Z-reports from the counter to the server's settlement, on a live server (SQLite and PostgreSQL): the cashier
closes the day (``end_of_day``), a sync round pushes the meals and then the report, the server holds it, and the
month's statement reconciles that terminal-day without a finding. The worker keeps which reports the server took
in its state file, so a report goes once, a re-made one goes too, and a lost state file only re-sends."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from ruyi.settlement import Month
from server.base import UTCDateTime
from terminal.counter import Counter
from terminal.devices.escpos_printer import EscposPrinter, PrinterConfig, TcpConnection
from terminal.devices.printing import PaperWidth
from terminal.virtual.printer import LoopbackPrinter
from tests.terminal.sync.conftest import assert_exactly_once
from tests.terminal.sync.live import API, ZONE, TerminalSide


@pytest.fixture
def counter(terminal: TerminalSide) -> Iterator[Counter]:
    with LoopbackPrinter() as printer:
        yield Counter(
            snapshot=terminal.snapshot,
            ledger=terminal.ledger,
            printer=EscposPrinter(
                PrinterConfig(connection=TcpConnection(host=printer.host, port=printer.port), paper=PaperWidth.MM80)
            ),
            clock=terminal.clock,
            canteen_name="如意食堂",
        )


def _held(terminal: TerminalSide) -> list[dict[str, Any]]:
    engine = sa.create_engine(terminal.site.server.database_url)
    try:
        with engine.connect() as conn:
            query = (
                sa.text(
                    "SELECT day, made_at, meals, voids, price_total, subsidy_total, elder_pays_total, last_seq,"
                    " chain_head FROM z_reports WHERE terminal_id = :t ORDER BY id"
                )
                .bindparams(sa.bindparam("t", type_=sa.Uuid()))
                .columns(day=sa.Date(), made_at=UTCDateTime())
            )
            rows = conn.execute(query, {"t": uuid.UUID(terminal.site.terminal_id)}).mappings().all()
    finally:
        engine.dispose()
    return [dict(r) for r in rows]


def _reconciliation(terminal: TerminalSide, day: Any) -> list[dict[str, Any]]:
    site = terminal.site
    base = f"{site.server.url}{API}/settlements"
    month = str(Month.of(day))
    listed = site.get("/settlements", canteen_id=site.canteen_id, month=month)
    if listed:
        sid = listed[0]["id"]
    else:
        body = {"canteen_id": site.canteen_id, "month": month}
        r = httpx.post(base, headers=site.admin, json=body, timeout=30)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
    checks: list[dict[str, Any]] = site.get(f"/settlements/{sid}")["checks"]
    return [c for c in checks if c["subject"] == site.terminal_id and c["days"] == [day.isoformat()]]


def test_end_of_day_then_a_sync_round_puts_the_report_on_the_server(terminal: TerminalSide, counter: Counter) -> None:
    noon = datetime.now(ZONE).replace(hour=12, minute=0, second=0, microsecond=0)
    day = noon.date()
    terminal.clock.fixed = noon
    sold = terminal.sell(3)
    terminal.clock.fixed = noon + timedelta(minutes=5)
    terminal.ledger.record_void(sold[1].meal_id, reason="点错菜", cashier="c1", now=terminal.clock())
    terminal.clock.fixed = noon + timedelta(hours=8)
    result = counter.end_of_day(day)
    assert result.printed
    z = result.report
    assert (z.meals, z.voids, z.sales) == (2, 1, 3)

    assert terminal.worker.sync_once(pull=False)
    assert_exactly_once(terminal.site.server, terminal.ledger)
    [held] = _held(terminal)
    assert held["day"] == day and held["made_at"].astimezone(ZONE) == z.made_at
    assert (held["meals"], held["voids"], held["price_total"]) == (2, 1, z.price_total)
    assert (held["subsidy_total"], held["elder_pays_total"]) == (z.subsidy_total, z.elder_pays_total)
    assert (held["last_seq"], held["chain_head"]) == (4, z.chain_head)
    state = json.loads((terminal.workdir / "sync-state.json").read_text())
    assert state["z_reports_sent_through"] == 1
    # The server's meals and the terminal's report of that day agree: no reconciliation finding.
    assert _reconciliation(terminal, day) == []

    # Nothing new: the next round sends nothing. A sale after the report, and a new report: that one goes too,
    # and supersedes the first for the reconciliation, which still finds nothing.
    assert terminal.worker.sync_once(pull=False)
    assert len(_held(terminal)) == 1
    terminal.clock.fixed = noon.replace(hour=20, minute=30)
    terminal.sell(1)
    assert terminal.worker.sync_once(pull=False)
    assert [c["code"] for c in _reconciliation(terminal, day)] == ["terminal_mismatch"]  # the old report is short
    terminal.clock.fixed = noon.replace(hour=20, minute=31)
    again = counter.end_of_day(day).report
    assert terminal.worker.sync_once(pull=False)
    assert [h["meals"] for h in _held(terminal)] == [2, 3] and again.meals == 3
    assert _reconciliation(terminal, day) == []

    # A lost state file: the reports are sent again and the server keeps each once.
    (terminal.workdir / "sync-state.json").unlink()
    worker = terminal.make_worker()
    try:
        assert worker.send_z_reports() == 2
        assert len(_held(terminal)) == 2
    finally:
        worker.stop()
