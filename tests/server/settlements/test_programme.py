"""The whole programme's month is read for all canteens at once (one read of the month's meals, their voids
joined to them, bureau lines and closed months for every canteen together): each canteen's statement in it is
the one its own statement endpoint computes, voids, withheld-tier walk-ins, a category tier and construction
lines included, and a canteen without a statement row still has its meals settled."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.server.settlements.helpers import S, at, create, last_month
from tests.server.sync.helpers import World


def _programme(world: World, month: str) -> dict[str, dict[str, Any]]:
    r = world.api.client.get("/api/v1/settlement-programme", headers=world.api.auditor, params={"month": month})
    assert r.status_code == 200, r.text
    return {s["canteen_code"]: s for s in json.loads(r.content)["statements"]}


def test_programme_month_equals_each_canteens_statement(world: World) -> None:
    api = world.api
    e0, e1, e2, e3 = world.elders
    api.ok(
        "POST", f"/api/v1/elders/{e0}/categories", api.operator, 201, json={"code": "tekun", "valid_from": "2026-01-01"}
    )
    m = last_month()
    first, last = m.last_day - timedelta(days=2), m.last_day
    a, b = world.chain(world.ta), world.chain(world.tb)
    for i, day in enumerate((first, last)):
        a.sale(elder=e0, when=at(day, 11, i))
        a.sale(elder=e2, when=at(day, 11, 10 + i))
        a.sale(when=at(day, 12, i))
        b.sale(elder=e1, when=at(day, 11, 20 + i))
        b.sale(elder=e3, when=at(day, 17, i), slot="dinner")
    voided_a = a.sale(elder=e2, when=at(last, 12, 30))
    a.void(voided_a)
    voided_b = b.sale(when=at(first, 12, 40))
    b.void(voided_b)
    world.push(world.ta, a.records)
    world.push(world.tb, b.records)

    before = _programme(world, str(m))  # no statement rows yet: every canteen computed from its meals
    sid_a: str = create(world, world.canteen_a, m)["id"]
    api.ok("POST", f"{S}/{sid_a}/construction-lines", api.operator, 201, json={"amount": 50000, "note": "灶台"})
    sid_b: str = create(world, world.canteen_b, m)["id"]
    after = _programme(world, str(m))

    own = {code: api.ok("GET", f"{S}/{sid}", api.auditor) for code, sid in (("ry-01", sid_a), ("ry-02", sid_b))}
    assert set(after) == set(before) == {"ry-01", "ry-02"}
    for code, body in own.items():
        entry = after[code]
        assert entry["state"] == "draft"
        assert entry["statement_hash"] == body["hash"]
        assert entry["statement"]["totals"] == body["statement"]["totals"]
        assert entry["statement"]["voided"] == body["statement"]["voided"]
    assert after["ry-02"]["statement_hash"] == before["ry-02"]["statement_hash"]  # a row alone changes nothing
    ta, tb = after["ry-01"]["statement"]["totals"], after["ry-02"]["statement"]["totals"]
    assert ta["construction"] == 50000 and ta["payable"] == before["ry-01"]["statement"]["totals"]["payable"] + 50000
    assert (ta["meals"], tb["meals"]) == (6, 4)  # voided sales are not paid
    assert [v[0] for v in after["ry-01"]["statement"]["voided"]] == [str(voided_a.meal_id)]
    assert [v[0] for v in after["ry-02"]["statement"]["voided"]] == [str(voided_b.meal_id)]
