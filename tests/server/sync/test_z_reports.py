"""Z-reports: a terminal sends its end of day, the server keeps each once, and the month's settlement reconciles
the latest report of each terminal-day against the stored meals (quiet when they agree, an error with evidence
when they do not). The reports are made by the terminal ledger's own arithmetic over the records pushed."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ruyi.meal import MealRecord
from terminal.ledger import ZReport, _z_report
from terminal.sync import z_report_body
from tests.server.settlements.helpers import S, at, create, last_month
from tests.server.sync.helpers import Term, World

Z = "/api/v1/sync/z-reports"


def _day_records(world: World, term: Term) -> tuple[date, list[MealRecord], list[MealRecord]]:
    """On the last day of last month: a subsidised sale, a dinner, three walk-ins, one of them voided; pushed.
    Returns the day, the sales not voided, and all the records."""
    day = last_month().last_day
    chain = world.chain(term)
    kept = [chain.sale(elder=world.elders[0], when=at(day, 11, 30))]
    walk_ins = [chain.sale(when=at(day, 12, i)) for i in range(3)]
    chain.void(walk_ins[1])
    kept += [walk_ins[0], walk_ins[2], chain.sale(elder=world.elders[2], slot="dinner", when=at(day, 17, 30))]
    world.push(term, chain.records)
    return day, kept, chain.records


def _report(term: Term, day: date, records: list[MealRecord], *, made_at: datetime, **change: Any) -> dict[str, Any]:
    """The Z-report body the terminal's worker sends for ``records`` (figures overridden by ``change``)."""
    z: ZReport = _z_report(term.id, term.canteen_id, day, made_at, records)
    body: dict[str, Any] = json.loads(z_report_body(z))
    body.update(change)
    return body


def _send(world: World, term: Term, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    r = world.api.client.post(Z, headers=term.headers, json=body)
    assert r.status_code == status, r.text
    result: dict[str, Any] = r.json()
    return result


def _terminal_checks(world: World, canteen_id: str, term: Term, day: date) -> list[dict[str, Any]]:
    """The reconciliation findings about ``term`` on ``day`` in its canteen's statement of last month."""
    api = world.api
    listed = api.ok("GET", S, api.auditor, params={"canteen_id": canteen_id, "month": str(last_month())})
    sid = listed[0]["id"] if listed else create(world, canteen_id, last_month())["id"]
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    return [
        c
        for c in body["checks"]
        if c["code"] in ("terminal_mismatch", "zreport_missing") and c["key"] == f"{c['code']}:{term.id}:{day}"
    ]


def _stored(world: World) -> list[tuple[Any, ...]]:
    with world.api.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text("SELECT meals, voids, price_total, subsidy_total, elder_pays_total FROM z_reports ORDER BY id")
            )
        ]


def test_a_matching_report_reconciles_quietly(world: World) -> None:
    day, kept, records = _day_records(world, world.ta)
    assert _terminal_checks(world, world.canteen_a, world.ta, day)[0]["code"] == "zreport_missing"  # none yet
    body = _report(world.ta, day, records, made_at=at(day, 21, 0))
    # The ledger's figures are net of voids: four meals kept, one sale voided.
    assert (body["meals"], body["voids"]) == (4, 1)
    assert body["price_total"] == sum(r.quote.price for r in kept)
    assert body["subsidy_total"] == sum(r.quote.subsidy for r in kept) > 0
    assert (body["first_seq"], body["last_seq"], body["chain_head"]) == (1, 6, records[-1].hash)
    assert _send(world, world.ta, body)["outcome"] == "stored"
    assert _terminal_checks(world, world.canteen_a, world.ta, day) == []


def test_a_report_with_other_totals_fires_the_reconciliation_check(world: World) -> None:
    day, _kept, records = _day_records(world, world.ta)
    honest = _report(world.ta, day, records, made_at=at(day, 21, 0))
    body = honest | {"price_total": honest["price_total"] + 100, "elder_pays_total": honest["elder_pays_total"] + 100}
    _send(world, world.ta, body)
    [check] = _terminal_checks(world, world.canteen_a, world.ta, day)
    assert check["code"] == "terminal_mismatch" and check["severity"] == "error"
    assert check["subject"] == world.ta.id and check["days"] == [day.isoformat()]
    assert check["figures"] == {
        "server_price_total": honest["price_total"],
        "server_elder_pays_total": honest["elder_pays_total"],
        "terminal_price_total": honest["price_total"] + 100,
        "terminal_elder_pays_total": honest["elder_pays_total"] + 100,
    }
    sales = {str(r.meal_id) for r in records if r.kind == "sale"}
    assert set(check["meal_ids"]) == sales  # every sale of that terminal-day, the voided one included


def test_a_later_report_of_the_day_supersedes_and_all_are_kept(world: World) -> None:
    day, _kept, records = _day_records(world, world.ta)
    early = _report(world.ta, day, records[:3], made_at=at(day, 12, 5))  # made before the day was over
    _send(world, world.ta, early)
    assert [c["code"] for c in _terminal_checks(world, world.canteen_a, world.ta, day)] == ["terminal_mismatch"]
    final = _report(world.ta, day, records, made_at=at(day, 21, 0))
    _send(world, world.ta, final)
    assert _terminal_checks(world, world.canteen_a, world.ta, day) == []
    assert len(_stored(world)) == 2


def test_the_same_report_twice_is_kept_once_and_another_under_its_key_conflicts(world: World) -> None:
    day, _kept, records = _day_records(world, world.ta)
    body = _report(world.ta, day, records, made_at=at(day, 21, 0))
    assert _send(world, world.ta, body)["outcome"] == "stored"
    assert _send(world, world.ta, body)["outcome"] == "duplicate"
    # The same instant written with another offset is the same key.
    same_instant = body | {"made_at": (at(day, 21, 0) - timedelta(hours=8)).replace(tzinfo=None).isoformat() + "Z"}
    assert _send(world, world.ta, same_instant)["outcome"] == "duplicate"
    assert _stored(world) == [(4, 1, body["price_total"], body["subsidy_total"], body["elder_pays_total"])]
    other = body | {"meals": 3, "voids": 2}
    assert _send(world, world.ta, other, 409)["outcome"] == "conflict"
    assert _stored(world) == [(4, 1, body["price_total"], body["subsidy_total"], body["elder_pays_total"])]
    assert _terminal_checks(world, world.canteen_a, world.ta, day) == []  # the stored one stands


def test_a_terminal_sends_only_its_own_reports(world: World) -> None:
    day, _kept, records = _day_records(world, world.ta)
    theirs = _report(world.ta, day, records, made_at=at(day, 21, 0))
    r = world.api.client.post(Z, headers=world.ta2.headers, json=theirs)  # same canteen, another terminal
    assert r.status_code == 403 and r.json()["error"] == "auth.forbidden"
    r = world.api.client.post(Z, headers=world.tb.headers, json=theirs)  # another canteen's terminal
    assert r.status_code == 403
    r = world.api.client.post(Z, headers=world.ta.headers, json=theirs | {"canteen_id": world.canteen_b})
    assert r.status_code == 403
    r = world.api.client.post(Z, headers=world.api.admin, json=theirs)  # staff: terminals only
    assert r.status_code == 403
    assert _stored(world) == []
    assert _terminal_checks(world, world.canteen_a, world.ta, day)[0]["code"] == "zreport_missing"


def test_a_report_whose_figures_do_not_add_up_is_refused(world: World) -> None:
    day, _kept, records = _day_records(world, world.ta)
    body = _report(world.ta, day, records, made_at=at(day, 21, 0))
    for bad in (
        {"price_total": body["price_total"] + 1},
        {"chain_head": None},
        {"first_seq": 7},
        {"protocol": 1, "made_at": "2026-10-31T21:00:00"},  # not timezone-aware
    ):
        r = world.api.client.post(Z, headers=world.ta.headers, json=body | bad)
        assert r.status_code == 422, (bad, r.text)
    r = world.api.client.post(Z, headers=world.ta.headers, json=body | {"protocol": 2})
    assert r.status_code == 426 and r.json()["error"] == "sync.upgrade_required"
    assert _stored(world) == []


def test_z_reports_are_append_only(world: World) -> None:
    day, _kept, records = _day_records(world, world.ta)
    _send(world, world.ta, _report(world.ta, day, records, made_at=at(day, 21, 0)))
    for statement in ("UPDATE z_reports SET meals = 0", "DELETE FROM z_reports"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), world.api.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert len(_stored(world)) == 1
