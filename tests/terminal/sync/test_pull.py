"""Pull through the worker against the real server: a full resync first (written atomically, swapped into the
counter's place), then deltas since the saved cursor."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from ruyi.idnum import Sex, make_resident_id
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


def test_a_card_bound_again_after_being_revoked_is_accepted_after_a_delta(terminal: TerminalSide) -> None:
    """Lost, reported (revoked), found and bound again: the next delta lifts the revocation on the terminal."""
    site = terminal.site
    worker = terminal.make_worker(pull=True)

    def call(method: str, path: str, status: int, body: dict[str, Any]) -> Any:
        r = httpx.request(method, f"{site.server.url}{API}{path}", headers=site.admin, json=body, timeout=30)
        assert r.status_code == status, r.text
        return r.json()

    try:
        born = date(1950, 3, 1)
        who = call(
            "POST", "/elders", 201, {"name": "张三丰", "id_number": make_resident_id("320102", born, 7, Sex.MALE)}
        )
        card = call("POST", f"/elders/{who['id']}/cards", 201, {"kind": "uid", "serial": "04A1B2C3D4"})
        assert worker.sync_once()
        key = worker.snapshot.data.elders[0].cards[0]
        assert key not in worker.snapshot.revoked

        call("POST", f"/cards/{card['id']}/revoke", 200, {"revoked_on": card["bound_on"], "reason": "挂失"})
        assert worker.sync_once()
        assert key in worker.snapshot.revoked and worker.snapshot.data.elders[0].cards == ()

        call("POST", f"/elders/{who['id']}/cards", 201, {"kind": "uid", "serial": "04A1B2C3D4"})  # found again
        assert worker.sync_once()
        assert worker.state.cursor is not None
        assert key not in worker.snapshot.revoked and list(worker.snapshot.data.elders[0].cards) == [key]
    finally:
        worker.stop()
