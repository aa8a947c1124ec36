"""A small month end to end: meals pushed by terminals, the statement through the API, figures by hand and
equal to ruyi's settle over the same records; then review, close, and the closed month read back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from ruyi.meal import MealRecord
from ruyi.settlement import Month, fact_from_record, settle, statement_hash
from tests.server.settlements.helpers import S, at, close, create, last_month
from tests.server.sync.helpers import World


def _month(world: World) -> tuple[Month, dict[str, MealRecord], list[MealRecord]]:
    """Canteen A (terminals ta, ta2) and B (tb), the last two days but one of last month."""
    m = last_month()
    d1, d2 = m.last_day - timedelta(days=2), m.last_day - timedelta(days=1)
    e0, e1, e2, _ = world.elders  # e0, e2 live at A; e1 at B
    ta, ta2 = world.chain(world.ta), world.chain(world.ta2)
    tb = world.chain(world.tb)
    r: dict[str, MealRecord] = {}
    r["e0_lunch_d1"] = ta.sale(elder=e0, when=at(d1, 11, 30))
    r["e2_lunch_d1"] = ta.sale(elder=e2, when=at(d1, 11, 40))
    r["walkin_d1"] = ta.sale(when=at(d1, 11, 50))
    r["e0_dinner_d1"] = ta.sale(elder=e0, slot="dinner", when=at(d1, 17, 30))
    r["e0_lunch_d2"] = ta.sale(elder=e0, when=at(d2, 11, 30))
    r["void_e0_lunch_d2"] = ta.void(r["e0_lunch_d2"])
    r["e0_lunch_d2b"] = ta.sale(elder=e0, when=at(d2, 11, 35))
    # The terminal charged less than the rules say: intake flags quote_mismatch (held until decided).
    q = ta.world.quote(e2, world.canteen_a, slot="dinner", when=at(d2, 17, 0), price=1000, withhold=None)
    r["e2_dinner_d2_mismatch"] = ta.sale(
        elder=e2,
        slot="dinner",
        when=at(d2, 17, 0),
        quote_over={"subsidy": q.subsidy + 100, "elder_pays": q.elder_pays - 100},
    )
    r["e2_lunch_d2_manual"] = ta2.sale(elder=e2, when=at(d2, 11, 45), by="manual")
    r["e1_lunch_d1_at_b"] = tb.sale(elder=e1, when=at(d1, 12, 0))
    world.push(world.ta, ta.records)
    world.push(world.ta2, ta2.records)
    world.push(world.tb, tb.records)
    return m, r, [*ta.records, *ta2.records]


def _figures(body: dict[str, Any]) -> dict[str, int]:
    t: dict[str, int] = body["statement"]["totals"]
    return t


def test_golden_month_through_the_api_matches_ruyi_and_the_hand(world: World) -> None:
    api = world.api
    m, r, records_a = _month(world)
    sub = r["e0_lunch_d1"].quote.subsidy
    assert sub > 0 and all(r[k].quote.subsidy == sub for k in ("e2_lunch_d1", "e0_dinner_d1", "e0_lunch_d2b"))
    st = create(world, world.canteen_a, m)
    sid = st["id"]
    assert st["state"] == "draft"
    held = [f for f in st["flagged"] if f["status"] == "held"]
    assert [f["meal_id"] for f in held] == [str(r["e2_dinner_d2_mismatch"].meal_id)]
    assert [x["code"] for x in held[0]["flags"]] == ["quote_mismatch"]  # a counter error, not a registry change

    # By hand, before the decision: paid = e0 lunch d1, e2 lunch d1, walk-in, e0 dinner d1, e0 lunch d2b (its
    # first lunch voided), e2 manual lunch d2 (manual identification is listed, not held) = 6 meals, 5 subsidised.
    t = _figures(st)
    assert (t["meals"], t["subsidised_meals"], t["elders"], t["elder_days"]) == (6, 5, 2, 4)
    assert t["elder_subsidy"] == 5 * sub
    assert t["operating"] == 5 * 200  # ¥2 per paid subsidised meal
    assert t["payable"] == 5 * sub + 1000
    assert (t["held_meals"], t["held_subsidy"]) == (1, sub + 100)
    voided = st["statement"]["voided"]
    assert voided == [[str(r["e0_lunch_d2"].meal_id), str(r["void_e0_lunch_d2"].meal_id)]]

    # The decision is final and audited; accepted meals are paid (the stored quote subsidy).
    mid = str(r["e2_dinner_d2_mismatch"].meal_id)
    api.ok(
        "POST",
        f"{S}/{sid}/decisions",
        api.operator,
        201,
        json={"meal_id": mid, "decision": "accepted", "note": "终端版本旧，按实收"},
    )
    again = api.client.post(f"{S}/{sid}/decisions", headers=api.operator, json={"meal_id": mid, "decision": "rejected"})
    assert again.status_code == 409
    audit = api.ok("GET", "/api/v1/audit", api.auditor, params={"object_type": "meal", "object_id": mid})
    assert [a["action"] for a in audit] == ["settlement.decide"]
    assert audit[0]["after"]["decision"] == "accepted"

    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    t = _figures(body)
    assert (t["meals"], t["subsidised_meals"], t["held_meals"]) == (7, 6, 0)
    assert t["elder_subsidy"] == 5 * sub + sub + 100
    assert t["payable"] == 6 * sub + 100 + 6 * 200

    # The same records through ruyi's settle give the same statement and hash.
    decisions: dict[str, Literal["accepted", "rejected"]] = {mid: "accepted"}
    flags = {
        str(r["e2_dinner_d2_mismatch"].meal_id): ("quote_mismatch",),
        str(r["e2_lunch_d2_manual"].meal_id): ("manual_identification",),
    }
    facts = [
        fact_from_record(x, flags=flags.get(str(x.meal_id), ()), decision=decisions.get(str(x.meal_id)))
        for x in records_a
    ]
    expected = settle(canteen_id=world.canteen_a, month=m, facts=facts, rules=world.book).statement
    assert body["hash"] == statement_hash(expected)
    assert t["payable"] == expected.totals.payable

    closed = close(world, sid)
    assert closed["state"] == "closed" and closed["content_hash"] == statement_hash(expected)
    again_body = api.ok("GET", f"{S}/{sid}", api.admin)
    assert again_body["statement"] == closed["statement"] and again_body["hash"] == closed["content_hash"]
    listed = api.ok("GET", S, api.auditor, params={"month": str(m), "state": "closed"})
    assert [x["id"] for x in listed] == [sid]
