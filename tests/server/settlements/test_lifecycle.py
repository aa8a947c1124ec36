"""Lifecycle: errors block closing, warnings need notes, closed is immutable and verified on every read, no
reopening, late meals become adjustments of the next open month pointing back, bulk decisions audited,
corrections within the window."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ruyi.settlement import Month
from tests.server.settlements.helpers import S, at, close, create, last_month, note_all_warnings
from tests.server.sync.helpers import World


def _two_canteens(world: World) -> tuple[str, str]:
    """e0 subsidised at A and, 20 minutes later, at B (B's terminal did not know): errors on A's month."""
    m = last_month()
    day = m.last_day - timedelta(days=1)
    e0 = world.elders[0]
    ta, tb = world.chain(world.ta), world.chain(world.tb)
    ours = ta.sale(elder=e0, when=at(day, 11, 30))
    world.history.clear()  # B quotes as if offline: subsidised again
    theirs = tb.sale(elder=e0, when=at(day, 11, 50))
    world.push(world.ta, ta.records)
    world.push(world.tb, tb.records)
    return str(ours.meal_id), str(theirs.meal_id)


def test_errors_block_review_and_close_until_decided(world: World) -> None:
    api = world.api
    ours, _ = _two_canteens(world)
    sid = create(world, world.canteen_a, last_month())["id"]
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    errors = {c["code"] for c in body["checks"] if c["severity"] == "error"}
    assert "two_canteens" in errors and body["can_close"] is False
    note_all_warnings(world, sid)
    r = api.client.post(f"{S}/{sid}/review", headers=api.auditor)
    assert r.status_code == 409 and r.json()["error"] == "settlement.checks_block"
    assert any(p["code"] == "two_canteens" for p in r.json()["detail"]["problems"])
    # An error cannot be noted away …
    key = next(c["key"] for c in body["checks"] if c["code"] == "two_canteens")
    r = api.client.post(f"{S}/{sid}/notes", headers=api.auditor, json={"key": key, "note": "ok"})
    assert r.status_code == 422
    # … only a decision on the meal it names resolves it.
    api.ok(
        "POST",
        f"{S}/{sid}/decisions",
        api.operator,
        201,
        json={"meal_id": ours, "decision": "rejected", "note": "重复就餐"},
    )
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    assert not [c for c in body["checks"] if c["severity"] == "error"]
    assert body["statement"]["totals"]["elder_subsidy"] == 0
    closed = close(world, sid)
    assert closed["state"] == "closed"


def test_warnings_need_notes_and_reviewed_goes_back_to_draft_on_change(world: World) -> None:
    api = world.api
    m = last_month()
    chain = world.chain(world.ta)
    chain.sale(elder=world.elders[0], when=at(m.last_day, 12, 0))
    world.push(world.ta, chain.records)
    sid = create(world, world.canteen_a, m)["id"]
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    assert {c["code"] for c in body["checks"]} == {"zreport_missing"}  # the terminal sent no Z-report
    r = api.client.post(f"{S}/{sid}/review", headers=api.auditor)
    assert r.status_code == 409
    assert [p["code"] for p in r.json()["detail"]["problems"]] == ["zreport_missing"]
    note_all_warnings(world, sid, "终端尚未上报日结")
    assert api.ok("POST", f"{S}/{sid}/review", api.auditor)["state"] == "reviewed"
    api.ok("POST", f"{S}/{sid}/construction-lines", api.operator, 201, json={"amount": 500000, "note": "助餐点改造"})
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    assert body["state"] == "draft" and body["statement"]["totals"]["construction"] == 500000
    r = api.client.post(f"{S}/{sid}/close", headers=api.auditor)
    assert r.status_code == 409  # must be reviewed again
    # Operators prepare, auditors review and close.
    assert api.client.post(f"{S}/{sid}/review", headers=api.operator).status_code == 403
    assert (
        api.client.post(
            f"{S}/{sid}/construction-lines", headers=api.auditor, json={"amount": 1, "note": "x"}
        ).status_code
        == 403
    )


def test_a_meal_arriving_between_review_and_close_sends_the_statement_back(world: World) -> None:
    api = world.api
    m = last_month()
    chain = world.chain(world.ta)
    chain.sale(elder=world.elders[0], when=at(m.last_day, 11, 0))
    world.push(world.ta, chain.records)
    sid = create(world, world.canteen_a, m)["id"]
    note_all_warnings(world, sid, "终端尚未上报日结")
    reviewed = api.ok("POST", f"{S}/{sid}/review", api.auditor)
    chain.sale(elder=world.elders[2], when=at(m.last_day, 11, 30))  # an offline terminal catches up
    world.push(world.ta, chain.records)
    r = api.client.post(f"{S}/{sid}/close", headers=api.auditor2)
    assert r.status_code == 409 and r.json()["error"] == "settlement.changed_since_review"
    back = api.ok("GET", f"{S}/{sid}", api.auditor)
    assert back["state"] == "draft" and back["statement"]["totals"]["meals"] == 2
    assert reviewed["statement"]["totals"]["meals"] == 1
    entry = api.ok("GET", "/api/v1/audit", api.auditor, params={"action": "settlement.changed_since_review"})[0]
    assert entry["after"]["state"] == "draft"
    assert api.ok("POST", f"{S}/{sid}/review", api.auditor)["state"] == "reviewed"
    closed = api.ok("POST", f"{S}/{sid}/close", api.auditor2)
    assert closed["state"] == "closed" and closed["statement"]["totals"]["meals"] == 2


def test_closed_is_immutable_verified_and_late_meals_become_adjustments(world: World) -> None:
    api = world.api
    m = last_month()
    chain = world.chain(world.ta)
    first = chain.sale(elder=world.elders[0], when=at(m.last_day - timedelta(days=1), 12, 0))
    world.push(world.ta, chain.records)
    sid = create(world, world.canteen_a, m)["id"]
    closed = close(world, sid)
    digest = closed["content_hash"]
    assert closed["statement"]["totals"]["elder_subsidy"] == first.quote.subsidy
    # Nothing changes a closed statement; there is no way back.
    for path, body in (
        ("construction-lines", {"amount": 100, "note": "x"}),
        ("decisions/bulk", {"code": "quote_mismatch", "decision": "accepted", "note": "x"}),
        ("notes", {"code": "zreport_missing", "note": "x"}),
        ("checks", None),
        ("review", None),
        ("close", None),
    ):
        headers = api.admin
        r = api.client.post(f"{S}/{sid}/{path}", headers=headers, json=body)
        assert r.status_code == 409, (path, r.text)
    assert (
        api.client.post(S, headers=api.operator, json={"canteen_id": world.canteen_a, "month": str(m)}).status_code
        == 409
    )
    # A meal of the closed month arrives late.
    late = chain.sale(elder=world.elders[2], when=at(m.last_day, 12, 0))
    world.push(world.ta, [late])
    assert api.ok("GET", f"{S}/{sid}", api.auditor)["hash"] == digest  # the closed month is as it was
    nxt = create(world, world.canteen_a, m.next())
    adj = nxt["statement"]["adjustments"]
    assert [(a["origin"], a["kind"], a["amount"], a["meal_ids"]) for a in adj] == [
        (str(m), "late_paid", late.quote.subsidy, [str(late.meal_id)]),
        (str(m), "operating", 200, [str(late.meal_id)]),
    ]
    assert nxt["statement"]["totals"]["payable"] == late.quote.subsidy + 200
    # Every read verifies the stored bytes: a tampered statement is an alert, never served.
    with api.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE settlement_statements SET body = replace(body, :old, :new) WHERE id = :id"),
            {
                "old": '"payable":',
                "new": '"payable":1',
                "id": sid if api.engine.dialect.name == "postgresql" else sid.replace("-", ""),
            },
        )
    r = api.client.get(f"{S}/{sid}", headers=api.auditor)
    assert r.status_code == 500 and r.json()["error"] == "settlement.integrity"
    assert api.client.get(f"{S}/{sid}/export", headers=api.auditor, params={"format": "csv"}).status_code == 500


def test_bulk_decisions_by_flag_type_are_audited(world: World) -> None:
    api = world.api
    m = last_month()
    chain = world.chain(world.ta)
    meals = [chain.sale(elder=world.elders[i], when=at(m.last_day, 12, i)) for i in (0, 2)]
    snapshot = at(m.last_day, 12, 0) - timedelta(days=3)  # a roster older than the offline policy: stale_roster
    world.push(world.ta, chain.records, snapshot=snapshot)
    sid = create(world, world.canteen_a, m)["id"]
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    assert sorted(f["meal_id"] for f in body["flagged"] if f["status"] == "held") == sorted(
        str(x.meal_id) for x in meals
    )
    out = api.ok(
        "POST",
        f"{S}/{sid}/decisions/bulk",
        api.operator,
        json={"code": "stale_roster", "decision": "accepted", "note": "网络故障期间"},
    )
    assert out["decided"] == 2
    entry = api.ok("GET", "/api/v1/audit", api.auditor, params={"action": "settlement.decide_bulk"})[0]
    assert (
        entry["after"]["meal_ids"] == sorted(str(x.meal_id) for x in meals) and entry["after"]["code"] == "stale_roster"
    )
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    assert body["statement"]["totals"]["held_meals"] == 0
    assert {d["bulk_code"] for d in body["decisions"]} == {"stale_roster"}


@pytest.mark.parametrize(
    ("back", "amount", "status"), [(1, 5000, 201), (1, -5000, 201), (5, -5000, 201), (5, 5000, 422), (0, -1, 422)]
)
def test_corrections_downward_always_upward_within_window(world: World, back: int, amount: int, status: int) -> None:
    api = world.api
    m = last_month()
    sid = create(world, world.canteen_a, m)["id"]
    origin = _back(m, back)
    r = api.client.post(
        f"{S}/{sid}/corrections",
        headers=api.operator,
        json={"origin_month": str(origin), "amount": amount, "note": "更正"},
    )
    assert r.status_code == status, r.text
    if status == 201:
        t = api.ok("GET", f"{S}/{sid}", api.auditor)["statement"]["totals"]
        assert t["adjustments"] == amount


def _back(m: Month, months: int) -> Month:
    i = m.index() - months
    return Month(i // 12, i % 12 + 1)
