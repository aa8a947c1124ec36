"""Pull through the worker against the real server: a full resync first (written atomically, swapped into the
counter's place), then deltas since the saved cursor."""

from __future__ import annotations

import httpx

from terminal.snapshot import Snapshot, load_snapshot
from tests.terminal.sync.live import API, TerminalSide


def test_full_resync_then_a_menu_delta(terminal: TerminalSide) -> None:
    swapped: list[Snapshot] = []
    worker = terminal.make_worker(pull=True)
    worker.on_snapshot = swapped.append
    try:
        assert worker.sync_once()
        site = terminal.site
        assert {m.id for m in worker.snapshot.data.menu} == {m.id for m in site.menu}
        assert swapped and swapped[-1] is worker.snapshot
        on_disk = load_snapshot(terminal.workdir / "snapshot.json")
        assert on_disk.data == worker.snapshot.data
        assert worker.state.cursor is not None and worker.status().roster_as_of is not None

        body = {"name": "早餐", "price": 500, "slot": "breakfast", "effective_from": "2020-01-01"}
        r = httpx.post(f"{site.server.url}{API}/canteens/{site.canteen_id}/menu-items", headers=site.admin, json=body)
        assert r.status_code == 201, r.text
        assert worker.sync_once()
        assert r.json()["id"] in {m.id for m in worker.snapshot.data.menu}
        assert len(swapped) == 2
        assert load_snapshot(terminal.workdir / "snapshot.json").data == worker.snapshot.data
    finally:
        worker.stop()
