"""Eligibility as of now, through the API on both databases: a death, cancellation, suspension, category end or
card revocation registered AFTER the meals holds the meals it covers (``eligibility_changed``, the fact shown)
until a reviewer decides; in a month already closed it becomes a downward adjustment of the next open month
pointing back, and the closed statement and its hash stay as they were."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from ruyi.settlement import Month
from ruyi.sync import card_key_digest
from server.base import local_today
from tests.server.conftest import CARD_SECRET
from tests.server.settlements.helpers import S, at, close, create, last_month
from tests.server.sync.helpers import World

LOST = "04FFEE0000000001"
KINDS = ["deceased", "cancelled", "suspended", "category_end", "card_revoked"]
WORDS = {
    "deceased": "elder deceased since {d}",
    "cancelled": "elder cancelled since {d}",
    "suspended": "elder suspended since {d}",
    "category_end": "category 特困（五保） ended on {d}",  # the rule book's label, not the code
    "card_revoked": "card revoked since {d}",
}


def _meals(world: World, kind: str, m: Month) -> tuple[str, list[Any], date]:
    """Three lunches of one elder (4 days before the month's end, the day before it, its last day), pushed; and
    the fact's effective date (2 days before the end: the last two meals are no longer supported)."""
    api = world.api
    e = world.elders[0]
    if kind == "category_end":  # a 特困 elder: ¥10.00 less the co-payment floor, rather than the age tier's
        api.ok(
            "POST",
            f"/api/v1/elders/{e}/categories",
            api.operator,
            201,
            json={"code": "tekun", "valid_from": "2026-01-01"},
        )
    if kind == "card_revoked":  # a card held since January (the world's cards are bound today), tapped for these
        body = {"kind": "uid", "serial": LOST, "bound_on": "2026-01-01"}
        api.ok("POST", f"/api/v1/elders/{e}/cards", api.operator, 201, json=body)
        world.cards[e] = card_key_digest(CARD_SECRET.encode(), "uid", LOST)
    chain = world.chain(world.ta)
    meals = [chain.sale(elder=e, when=at(m.last_day - timedelta(days=d), 11, 30)) for d in (4, 1, 0)]
    world.push(world.ta, chain.records)
    assert all(x.quote.subsidy > 0 for x in meals)
    return e, meals, m.last_day - timedelta(days=2)


def _register(world: World, kind: str, elder: str, effective: date) -> None:
    """The fact, recorded now (after the meals)."""
    api = world.api
    if kind == "category_end":
        (span,) = api.ok("GET", f"/api/v1/elders/{elder}", api.operator)["categories"]
        path = f"/api/v1/elders/{elder}/categories/{span['id']}/end"
        api.ok("POST", path, api.operator, json={"valid_to": str(effective)})
    elif kind == "card_revoked":
        (card,) = [c for c in api.ok("GET", f"/api/v1/elders/{elder}/cards", api.operator) if c["bound_on"] < "2026-02"]
        api.ok(
            "POST",
            f"/api/v1/cards/{card['id']}/revoke",
            api.operator,
            json={"revoked_on": str(effective + timedelta(days=1)), "reason": "挂失"},
        )
    else:
        body = {"status": kind, "effective_from": str(effective + timedelta(days=1)), "reason": "家属告知"}
        api.ok("POST", f"/api/v1/elders/{elder}/status", api.operator, 201, json=body)


def _programme_totals(world: World, m: Month) -> dict[str, Any]:
    r = world.api.client.get("/api/v1/settlement-programme", headers=world.api.auditor, params={"month": str(m)})
    assert r.status_code == 200, r.text
    (row,) = [c for c in json.loads(r.content)["canteens"] if c["canteen_code"] == "ry-01"]
    totals: dict[str, Any] = row["totals"]
    return totals


def _words(kind: str, effective: date) -> str:
    return WORDS[kind].format(d=effective if kind == "category_end" else effective + timedelta(days=1))


@pytest.mark.parametrize("kind", KINDS)
def test_open_month_meals_are_held_with_the_fact_until_decided(world: World, kind: str) -> None:
    api = world.api
    m = last_month()
    elder, meals, effective = _meals(world, kind, m)
    sid = create(world, world.canteen_a, m)["id"]
    before = api.ok("GET", f"{S}/{sid}", api.auditor)
    assert before["statement"]["totals"]["held_meals"] == 0
    _register(world, kind, elder, effective)
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    late = sorted(str(x.meal_id) for x in meals[1:])
    held = {f["meal_id"]: f for f in body["flagged"] if f["status"] == "held"}
    assert sorted(held) == late
    assert all("eligibility_changed" in {c["code"] for c in f["flags"]} for f in held.values())
    (check,) = [c for c in body["checks"] if c["code"] == "eligibility_changed"]
    assert check["severity"] == "error" and body["can_close"] is False
    assert _words(kind, effective) in check["en"] and f"recorded {local_today()}" in check["en"]
    assert " by " in check["en"]
    totals = body["statement"]["totals"]
    assert totals["elder_subsidy"] == meals[0].quote.subsidy
    assert totals["held_subsidy"] == sum(x.quote.subsidy for x in meals[1:])
    assert _programme_totals(world, m) == totals  # the programme's month holds them too
    # A reviewer decides through the same decisions as any flagged meal: accepted is paid, rejected is not.
    api.ok(
        "POST",
        f"{S}/{sid}/decisions",
        api.operator,
        201,
        json={"meal_id": late[0], "decision": "accepted", "note": "核实后照付"},
    )
    api.ok(
        "POST",
        f"{S}/{sid}/decisions",
        api.operator,
        201,
        json={"meal_id": late[1], "decision": "rejected", "note": "身故后不付"},
    )
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    assert not [c for c in body["checks"] if c["code"] == "eligibility_changed"]
    paid = {mid for line in body["statement"]["lines"] for mid in line["meal_ids"]}
    assert paid == {str(meals[0].meal_id), late[0]}
    assert body["statement"]["totals"]["held_meals"] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_closed_month_gets_a_downward_adjustment_and_keeps_its_hash(world: World, kind: str) -> None:
    api = world.api
    m = last_month()
    elder, meals, effective = _meals(world, kind, m)
    sid = create(world, world.canteen_a, m)["id"]
    closed = close(world, sid)
    digest = closed["content_hash"]
    assert closed["statement"]["totals"]["elder_subsidy"] == sum(x.quote.subsidy for x in meals)
    _register(world, kind, elder, effective)
    assert api.ok("GET", f"{S}/{sid}", api.auditor)["hash"] == digest  # the closed month never changes
    nxt = create(world, world.canteen_a, m.next())
    late = sorted(str(x.meal_id) for x in meals[1:])
    lost = sum(x.quote.subsidy for x in meals[1:])
    adj = nxt["statement"]["adjustments"]
    assert [(a["origin"], a["kind"], a["amount"], a["meal_ids"]) for a in adj] == [
        (str(m), "eligibility_changed", -lost, late),
        (str(m), "operating", -400, late),
    ]
    assert _words(kind, effective) in adj[0]["note"]
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    assert body["hash"] == digest
    # The meals are listed, held, in the next month: accepting one pays it back there.
    nid = nxt["id"]
    listed = api.ok("GET", f"{S}/{nid}", api.auditor)
    held = listed["flagged"]
    (check,) = [c for c in listed["checks"] if c["code"] == "eligibility_changed"]
    assert check["severity"] == "error" and check["key"] == f"eligibility_changed:{m}"
    assert sorted(f["meal_id"] for f in held if f["status"] == "held" and f["origin_month"] == str(m)) == late
    api.ok(
        "POST",
        f"{S}/{nid}/decisions",
        api.operator,
        201,
        json={"meal_id": late[0], "decision": "accepted", "note": "核实后照付"},
    )
    adj = api.ok("GET", f"{S}/{nid}", api.auditor)["statement"]["adjustments"]
    kept = next(x for x in meals if str(x.meal_id) == late[0]).quote.subsidy
    assert [(a["kind"], a["amount"], a["meal_ids"]) for a in adj] == [
        ("eligibility_changed", -(lost - kept), [late[1]]),
        ("operating", -200, [late[1]]),
    ]


def test_the_exports_name_the_fact_behind_a_held_meal(world: World) -> None:
    """A clerk reading the CSV sees why each meal is held: the death, its date and when it was recorded."""
    api = world.api
    m = last_month()
    elder, _, effective = _meals(world, "deceased", m)
    sid = create(world, world.canteen_a, m)["id"]
    _register(world, "deceased", elder, effective)
    r = api.client.get(f"{S}/{sid}/export", headers=api.auditor, params={"format": "csv"})
    assert r.status_code == 200, r.text
    held = [row for row in r.content.decode("utf-8-sig").splitlines() if row.endswith(",held")]
    words = f"待审核：登记信息变更，补贴不再成立；老人 {effective + timedelta(days=1)} 起身故（{local_today()} 登记"
    assert len(held) == 2 and all(words in row for row in held), held
