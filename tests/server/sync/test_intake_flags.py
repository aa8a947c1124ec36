"""Intake flags: each fires on a crafted case, a clean meal has none, and reviewers can list them."""

from __future__ import annotations

import os
from datetime import UTC, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ruyi.meal import UNSEALED, seal, uuid7
from ruyi.reasons import Reason
from tests.server.conftest import Api
from tests.server.sync.helpers import World, local, now_utc, yesterday_noon


def codes(world: World) -> set[str]:
    return {c for _s, c in world.open_flags()}


def test_a_clean_sale_has_no_flag(world: World) -> None:
    chain = world.chain(world.ta)
    chain.sale(elder=world.elders[0])
    chain.sale(elder=world.elders[0], slot="dinner", when=yesterday_noon() + timedelta(hours=6))
    chain.sale()
    world.push(world.ta, chain.records)
    assert world.flags() == []


def test_quote_mismatch_keeps_both_quotes(world: World) -> None:
    chain = world.chain(world.ta)
    expected = world.quote(
        world.elders[0], world.canteen_a, slot="lunch", when=yesterday_noon(), price=1200, withhold=None
    )
    chain.sale(elder=world.elders[0], when=yesterday_noon(), quote_over={"subsidy": 900, "elder_pays": 300})
    world.push(world.ta, chain.records)
    assert codes(world) == {"quote_mismatch"}
    (flag,) = world.api.ok("GET", "/api/v1/meal-flags", world.api.admin)
    data = flag["evidence"]
    assert data["terminal"]["subsidy"] == 900 and data["terminal"]["elder_pays"] == 300
    assert data["server"]["subsidy"] == expected.subsidy != 900
    assert {"subsidy", "elder_pays"} <= set(data["differs"])


def test_price_differs_from_the_menu(world: World) -> None:
    chain = world.chain(world.ta)
    chain.sale(price=100)
    world.push(world.ta, chain.records)
    assert codes(world) == {"quote_mismatch"}


def test_daily_limit_across_canteens_flags_the_later_meal_whichever_arrives_first(world: World) -> None:
    elder = world.elders[0]
    at_a, at_b = world.chain(world.ta), world.chain(world.tb)
    noon = yesterday_noon()
    first = at_a.sale(elder=elder, when=noon)
    world.history.clear()  # terminal B was offline: it did not know about the lunch at A
    second = at_b.sale(elder=elder, when=noon + timedelta(minutes=20))
    assert first.quote.subsidised and second.quote.subsidised
    world.push(world.tb, at_b.records)  # the later meal reaches the server first
    assert world.flags() == []
    world.push(world.ta, at_a.records)
    flagged = {(t, s, c) for t, s, c, _r in world.flags()}
    assert flagged == {(world.tb.id, 1, "daily_limit_exceeded")}


def test_second_meal_pushed_later_gets_limit_and_mismatch(world: World) -> None:
    elder = world.elders[0]
    at_a, at_b = world.chain(world.ta), world.chain(world.tb)
    noon = yesterday_noon()
    at_a.sale(elder=elder, when=noon)
    world.push(world.ta, at_a.records)
    world.history.clear()
    at_b.sale(elder=elder, when=noon + timedelta(minutes=20))
    world.push(world.tb, at_b.records)
    assert {(t, c) for t, _s, c, _r in world.flags()} == {
        (world.tb.id, "daily_limit_exceeded"),
        (world.tb.id, "quote_mismatch"),
    }


def test_a_voided_meal_does_not_count_towards_the_limit(api: Api, world: World) -> None:
    elder = world.elders[0]
    at_a, at_b = world.chain(world.ta), world.chain(world.tb)
    noon = yesterday_noon()
    at_a.void(at_a.sale(elder=elder, when=noon))
    world.push(world.ta, at_a.records)
    world.history.clear()
    at_b.sale(elder=elder, when=noon + timedelta(minutes=20))
    world.push(world.tb, at_b.records)
    flags = world.api.ok("GET", "/api/v1/meal-flags", world.api.admin)
    assert flags == [], [(f["seq"], f["code"], f["evidence"]) for f in flags]


def test_elder_cancelled_before_the_meal(api: Api, world: World) -> None:
    elder = world.elders[1]
    chain = world.chain(world.tb)
    r = chain.sale(elder=elder)  # the terminal's roster still had the elder enrolled
    yesterday = (now_utc() - timedelta(days=1)).date()
    api.ok(
        "POST",
        f"/api/v1/elders/{elder}/status",
        api.operator,
        201,
        json={"status": "cancelled", "effective_from": yesterday.isoformat(), "reason": "迁出"},
    )
    world.push(world.tb, chain.records)
    assert r.quote.subsidised
    assert codes(world) == {"elder_not_eligible", "quote_mismatch"}


def test_a_status_change_after_an_earlier_push_is_seen_by_the_next(api: Api, world: World) -> None:
    """Intake keeps elders' profiles between pushes: a registry change in between must not be missed."""
    elder = world.elders[1]
    chain = world.chain(world.tb)
    chain.sale(elder=elder, when=yesterday_noon() - timedelta(days=1))
    world.push(world.tb, chain.records)  # the elder's profile (enrolled) is read and kept
    assert world.flags() == []
    world.history.clear()
    second = chain.sale(elder=elder, when=yesterday_noon())  # priced while the roster had the elder enrolled
    api.ok(
        "POST",
        f"/api/v1/elders/{elder}/status",
        api.operator,
        201,
        json={"status": "suspended", "effective_from": yesterday_noon().date().isoformat(), "reason": "暂停"},
    )
    world.push(world.tb, chain.records)
    assert second.quote.subsidised
    assert {(s, c) for _t, s, c, _r in world.flags()} == {(2, "elder_not_eligible"), (2, "quote_mismatch")}


def test_card_revoked_before_the_meal(api: Api, world: World) -> None:
    elder = world.elders[0]
    chain = world.chain(world.ta)
    chain.sale(elder=elder, when=now_utc() - timedelta(seconds=1))  # the terminal did not know yet
    cards = api.ok("GET", f"/api/v1/elders/{elder}/cards", api.operator)
    api.ok(
        "POST",
        f"/api/v1/cards/{cards[0]['id']}/revoke",
        api.operator,
        json={"revoked_on": cards[0]["bound_on"], "reason": "挂失"},
    )
    world.push(world.ta, chain.records)
    assert codes(world) >= {"card_revoked", "quote_mismatch"}


def test_withheld_subsidy_on_a_revoked_card_is_not_a_mismatch(api: Api, world: World) -> None:
    elder = world.elders[0]
    cards = api.ok("GET", f"/api/v1/elders/{elder}/cards", api.operator)
    api.ok(
        "POST",
        f"/api/v1/cards/{cards[0]['id']}/revoke",
        api.operator,
        json={"revoked_on": cards[0]["bound_on"], "reason": "挂失"},
    )
    chain = world.chain(world.ta)
    chain.sale(elder=elder, when=now_utc() - timedelta(seconds=1), withhold=Reason.CARD_REVOKED)
    world.push(world.ta, chain.records)
    assert codes(world) == {"card_revoked"}


def test_stale_roster(world: World) -> None:
    chain = world.chain(world.ta)
    r = chain.sale()
    world.push(world.ta, chain.records, snapshot=r.service_time - timedelta(hours=25))
    assert codes(world) == {"stale_roster"}


def test_stale_roster_follows_the_canteens_own_offline_policy(api: Api, world: World) -> None:
    api.ok("PATCH", f"/api/v1/canteens/{world.canteen_a}", api.admin, json={"offline_hours": 72})
    chain = world.chain(world.ta)
    r = chain.sale()
    world.push(world.ta, chain.records, snapshot=r.service_time - timedelta(hours=25))  # within A's 72 hours
    assert world.flags() == []
    s = chain.sale()
    world.push(world.ta, chain.records, snapshot=s.service_time - timedelta(hours=73))
    (flag,) = world.api.ok("GET", "/api/v1/meal-flags", world.api.admin)
    assert flag["code"] == "stale_roster" and flag["evidence"]["limit_hours"] == 72


def test_a_void_as_the_terminal_makes_it_has_no_flag(world: World) -> None:
    chain = world.chain(world.ta)
    chain.void(chain.sale(elder=world.elders[0]))
    chain.void(chain.sale())
    world.push(world.ta, chain.records)
    assert world.flags() == []


def test_irregular_voids_are_flagged_with_what_is_wrong(world: World) -> None:
    at_a, at_b = world.chain(world.ta), world.chain(world.tb)
    other = at_b.sale()
    world.push(world.tb, at_b.records)
    sale = at_a.sale(elder=world.elders[0])
    first = at_a.void(sale)
    twice = at_a.void(sale, when=sale.service_time + timedelta(minutes=3))  # a later void: a higher meal id
    changed = at_a.void(at_a.sale(), quote=sale.quote)  # a walk-in voided with an elder's subsidy
    late = at_a.void(at_a.sale(), when=yesterday_noon() + timedelta(days=1))
    here: dict[str, Any] = {"terminal_id": world.ta.id, "canteen_id": world.ta.canteen_id}
    foreign = at_a.void(other, **here)
    nothing = at_a.void(other, refers_to=uuid7(0, bytes(10)), **here)
    world.push(world.ta, at_a.records)
    flags = {f["meal_id"]: f for f in world.api.ok("GET", "/api/v1/meal-flags", world.api.admin)}
    problems = {mid: f["evidence"]["problems"] for mid, f in flags.items() if f["code"] == "void_irregular"}
    assert problems == {
        str(twice.meal_id): ["repeated"],
        str(changed.meal_id): ["differs"],
        str(late.meal_id): ["other_day"],
        str(foreign.meal_id): ["other_terminal"],
        str(nothing.meal_id): ["unknown_sale"],
    }
    assert str(first.meal_id) not in flags
    assert flags[str(twice.meal_id)]["evidence"]["voided_by"] == str(first.meal_id)
    assert flags[str(changed.meal_id)]["evidence"]["sale"]["subsidy"] == 0


def test_manual_identification(world: World) -> None:
    chain = world.chain(world.ta)
    chain.sale(elder=world.elders[0], by="manual")
    world.push(world.ta, chain.records)
    assert codes(world) == {"manual_identification"}


def test_unknown_elder_and_menu_item(world: World) -> None:
    chain = world.chain(world.ta)
    r = chain.sale()
    seq, prev = chain.head
    odd = seal(
        r.model_copy(
            update={
                "meal_id": uuid7(int(r.service_time.timestamp() * 1000) + 1, os.urandom(10)),
                "seq": seq + 1,
                "prev_hash": prev,
                "elder_id": "E-404",
                "identified_by": "manual",
                "manual_reason": "名册外",
                "menu_item_id": "not-on-menu",
                "hash": UNSEALED,
            }
        )
    )
    chain.records.append(odd)
    world.push(world.ta, chain.records)
    assert set(world.open_flags()) == {(2, "manual_identification"), (2, "unknown_elder"), (2, "unknown_menu_item")}


@pytest.mark.parametrize(
    ("skew", "expected"),
    [
        (timedelta(minutes=10), {"clock_skew", "future_service_time"}),
        (timedelta(minutes=-10), {"clock_skew"}),
        # a day ahead: the roster (made by the server an hour ago) also looks a day older than the meal
        (timedelta(days=1), {"clock_skew", "future_service_time", "stale_roster"}),
        # a year back: before the menu item and before any rule version
        (timedelta(days=-365), {"clock_skew", "far_past_service_time", "unknown_menu_item"}),
        (timedelta(minutes=2), set()),
    ],
    ids=["+10min", "-10min", "+1day", "-1year", "+2min-within-threshold"],
)
def test_clock_skew(world: World, skew: timedelta, expected: set[str]) -> None:
    clock = now_utc() + skew  # the terminal's clock is off: its meals carry that clock's time
    chain = world.chain(world.ta)
    r = chain.sale(when=clock - timedelta(seconds=5))
    world.push(world.ta, chain.records, clock=clock)
    assert codes(world) == expected
    with world.api.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT service_date, terminal_clock, received_at FROM meals")).one()
    assert str(row.service_date) == r.service_time.astimezone(world.book.zone).date().isoformat()
    assert row.terminal_clock is not None and row.received_at is not None


def test_last_second_of_a_month_stays_in_its_month(api: Api, world: World) -> None:
    month_end = local("2026-10-31 23:59:59")
    chain = world.chain(world.ta)
    chain.sale(when=month_end)
    chain.sale(when=month_end.astimezone(UTC) + timedelta(seconds=0.5))  # the same instant written in UTC
    world.push(world.ta, chain.records)
    with world.api.engine.connect() as conn:
        days = [str(d) for d in conn.execute(sa.text("SELECT service_date FROM meals ORDER BY seq")).scalars()]
    assert days == ["2026-10-31", "2026-10-31"]


def test_meal_flags_api(api: Api, world: World) -> None:
    at_a, at_b = world.chain(world.ta), world.chain(world.tb)
    at_a.sale(elder=world.elders[0], by="manual")
    at_b.sale(elder=world.elders[1], by="manual")
    world.push(world.ta, at_a.records)
    world.push(world.tb, at_b.records)
    month = now_utc().astimezone(world.book.zone).strftime("%Y-%m")
    listed = api.ok("GET", "/api/v1/meal-flags", api.auditor, params={"month": month})
    assert {f["canteen_id"] for f in listed} == {world.canteen_a, world.canteen_b}
    assert all(f["code"] == "manual_identification" and f["zh"] and f["en"] for f in listed)
    only_a = api.ok("GET", "/api/v1/meal-flags", api.admin, params={"canteen_id": world.canteen_a})
    assert [f["canteen_id"] for f in only_a] == [world.canteen_a]
    assert api.ok("GET", "/api/v1/meal-flags", api.admin, params={"code": "clock_skew"}) == []
    assert api.ok("GET", "/api/v1/meal-flags", api.admin, params={"month": "2020-01"}) == []
    mine = api.ok("GET", "/api/v1/meal-flags", api.manager(world.canteen_a))
    assert [f["canteen_id"] for f in mine] == [world.canteen_a]
    r = api.client.get(
        "/api/v1/meal-flags", headers=api.manager(world.canteen_a), params={"canteen_id": world.canteen_b}
    )
    assert r.status_code == 404
    assert api.client.get("/api/v1/meal-flags", headers=world.ta.headers).status_code == 403
    assert api.client.get("/api/v1/meal-flags", headers=api.admin, params={"code": "nope"}).status_code == 422


def test_quote_preview_counts_the_meals_the_server_holds(world: World) -> None:
    """Staff previewing a second lunch for an elder who already ate at another canteen see the limit."""
    elder = world.elders[0]
    noon = yesterday_noon()
    chain = world.chain(world.tb)
    assert chain.sale(elder=elder, when=noon).quote.subsidised
    item = world.items[(world.canteen_a, "lunch")][0]
    body = {"elder_id": elder, "canteen_id": world.canteen_a, "menu_item_id": item, "on": noon.date().isoformat()}
    later = (noon + timedelta(hours=1)).isoformat()
    before = world.api.ok("POST", "/api/v1/quotes/preview", world.api.operator, json={**body, "service_time": later})
    assert before["subsidised"] and before["subsidised_today"] == 0
    world.push(world.tb, chain.records)
    after = world.api.ok("POST", "/api/v1/quotes/preview", world.api.operator, json={**body, "service_time": later})
    assert not after["subsidised"] and after["subsidised_today"] == 1
    assert [r["code"] for r in after["reasons"]] == ["slot_limit_reached"]
    earlier = (noon - timedelta(hours=1)).isoformat()
    first = world.api.ok("POST", "/api/v1/quotes/preview", world.api.operator, json={**body, "service_time": earlier})
    assert first["subsidised"]  # a meal later that day does not count against an earlier one
