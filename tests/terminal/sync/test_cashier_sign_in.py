"""Cashiers from the real server to the counter (SQLite and PostgreSQL): a staff admin sets a cashier's PIN, the
terminal's pull writes the cashier with the PIN's salted hash into the snapshot (never the PIN), and with the
server down the counter signs the cashier in from that snapshot, locks after five wrong PINs and records the
meal under the cashier's staff id."""

from __future__ import annotations

from datetime import timedelta

import httpx

from terminal.counter import Counter, Sale
from terminal.snapshot import load_snapshot
from terminal.virtual.printer import LoopbackPrinter
from tests.terminal.counter.conftest import tcp_printer
from tests.terminal.sync.live import API, TerminalSide


def test_pulled_cashier_signs_in_offline(terminal: TerminalSide) -> None:
    site = terminal.site
    base = f"{site.server.url}{API}"
    body = {"username": f"wang-{site.canteen_id[:8]}", "display_name": "王芳", "role": "cashier"}
    staff = httpx.post(f"{base}/staff", headers=site.admin, json={**body, "canteen_id": site.canteen_id}, timeout=30)
    assert staff.status_code == 201, staff.text
    wang = staff.json()["staff"]["id"]
    r = httpx.post(
        f"{base}/staff/{wang}/cashier-pin", headers=site.admin, json={"number": "1001", "pin": "482913"}, timeout=30
    )
    assert r.status_code == 200, r.text

    worker = terminal.make_worker(pull=True)
    try:
        assert worker.sync_once()
    finally:
        worker.stop()
    raw = (terminal.workdir / "snapshot.json").read_bytes()
    assert b"482913" not in raw and b"scrypt$14$8$1$" in raw
    snapshot = load_snapshot(terminal.workdir / "snapshot.json")
    assert [(c.id, c.number, c.name) for c in snapshot.data.cashiers] == [(wang, "1001", "王芳")]

    site.server.stop()  # from here on the terminal is on its own
    terminal.clock.fixed = terminal.clock()
    with LoopbackPrinter() as loopback:
        counter = Counter(
            snapshot=snapshot,
            ledger=terminal.ledger,
            printer=tcp_printer(loopback),
            clock=terminal.clock,
            canteen_name="如意食堂",
            require_sign_in=True,
        )
        refused = counter.walk_in()
        assert not isinstance(refused, Sale) and refused.code == "cashier.signed_out"
        for _ in range(4):
            assert counter.sign_in("1001", "000000").code == "wrong"
        assert counter.sign_in("1001", "482913").ok  # a right PIN resets the count
        counter.sign_out()
        results = [counter.sign_in("1001", "111111") for _ in range(5)]
        assert [r.code for r in results] == ["wrong"] * 4 + ["locked"]
        assert results[-1].locked_until == terminal.clock() + timedelta(minutes=5)
        assert counter.sign_in("1001", "482913").code == "locked"
        terminal.clock.fixed += timedelta(minutes=5)
        assert counter.sign_in("1001", "482913").ok

        sale = counter.walk_in()
        assert isinstance(sale, Sale)
        result = counter.confirm(sale, "cash")
        assert result.committed and result.record is not None
        assert result.record.cashier == wang
        assert counter.ledger.z_report(terminal.clock().date(), now=terminal.clock()).by_cashier[wang].meals == 1
