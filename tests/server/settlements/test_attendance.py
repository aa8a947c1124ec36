"""The attendance check measures a canteen's subsidised meals against its catchment: the eligible elders whose home
canteen it is plus the eligible elders served a subsidised meal there in the month. Visiting elders (another home
canteen, or none: the subsidy follows the person) never warn by themselves; more subsidised meals than people who
could have eaten them still does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ruyi.sync import card_key_digest
from tests.server.conftest import CARD_SECRET
from tests.server.helpers import elder
from tests.server.settlements.helpers import S, at, create, last_month
from tests.server.sync.helpers import World

DAYS = 10


def _homeless_elder(world: World, n: int) -> str:
    """An elder registered without a home canteen, with a card."""
    api = world.api
    e = elder(api, n, enrolled_on="2026-01-01")
    serial = f"04A1B2C4{n:04d}"
    api.ok("POST", f"/api/v1/elders/{e['id']}/cards", api.operator, 201, json={"kind": "uid", "serial": serial})
    world.cards[e["id"]] = card_key_digest(CARD_SECRET.encode(), "uid", serial)
    eid: str = e["id"]
    return eid


def _attendance(world: World, sid: str) -> list[dict[str, Any]]:
    body = world.api.ok("GET", f"{S}/{sid}", world.api.auditor)
    return [c for c in body["checks"] if c["code"].startswith("attendance")]


def test_a_month_of_visiting_elders_does_not_warn(world: World) -> None:
    """Canteen A has two home elders, who stay away; B's two home elders and two elders without a home canteen eat
    a subsidised lunch at A every day: four meals a day against a home roll of two, which warned every day when
    the catchment was the home roll alone."""
    _e0, e1, _e2, e3 = world.elders
    visitors = [e1, e3, _homeless_elder(world, 11), _homeless_elder(world, 12)]
    m = last_month()
    chain = world.chain(world.ta, own_ledger=True)
    for k in range(DAYS):
        day = m.last_day - timedelta(days=k)
        for i, e in enumerate(visitors):
            chain.sale(elder=e, when=at(day, 11, 30 + i))
    world.push(world.ta, chain.records)
    made = create(world, world.canteen_a, m)
    assert made["statement"]["totals"]["meals"] == DAYS * len(visitors)
    assert made["statement"]["totals"]["elder_subsidy"] > 0
    assert _attendance(world, made["id"]) == []


def test_more_subsidised_meals_than_people_warns(world: World) -> None:
    """One day at A: a home elder and a visitor, each subsidised three times at lunch (terminals that did not know
    of each other's meals): six meals against a catchment of three (A's two home elders and the visitor)."""
    e0, e1, _e2, _e3 = world.elders
    m = last_month()
    day = m.last_day - timedelta(days=2)
    chain = world.chain(world.ta)
    for k in range(3):
        world.history.clear()  # quoted as if offline: subsidised again
        chain.sale(elder=e0, when=at(day, 11, 10 * k))
        chain.sale(elder=e1, when=at(day, 11, 10 * k + 5))
    world.push(world.ta, chain.records)
    sid = create(world, world.canteen_a, m)["id"]
    [check] = _attendance(world, sid)
    assert check["code"] == "attendance_exceeded" and check["key"] == f"attendance_exceeded:{day}"
    assert check["severity"] == "warning" and len(check["meal_ids"]) == 6
    assert check["figures"]["meals"] == 6 and check["figures"]["enrolled"] == 3
    assert "catchment" in check["en"] and "服务范围" in check["zh"]
