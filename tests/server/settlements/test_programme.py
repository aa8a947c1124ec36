"""The whole programme's month is one row of totals per canteen, summed from the daily rollups for all canteens
at once: each canteen's totals are the ones its own statement endpoint computes, voids, withheld-tier walk-ins,
a category tier and construction lines included; a canteen without a statement row still has its meals
settled; an open statement has no hash there (its own export has it)."""

from __future__ import annotations

import itertools
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col

from ruyi.settlement import Month
from server.base import as_uuid, utcnow
from server.canteens.tables import Canteen
from server.db import open_session
from server.meals.rollups import rebuild
from server.meals.tables import Meal, MealActivity, MealFlag
from server.settlements.facts import context
from server.settlements.programme import programme_month
from server.settlements.service import DEFAULT_CONFIG, compute
from server.settlements.tables import SettlementDecision, SettlementLine, SettlementStatement
from tests.server.conftest import CATEGORY_KEY
from tests.server.settlements.helpers import ZONE, S, at, close, create, last_month
from tests.server.sync.helpers import World, terminal


def _programme(world: World, month: str) -> dict[str, dict[str, Any]]:
    r = world.api.client.get("/api/v1/settlement-programme", headers=world.api.auditor, params={"month": month})
    assert r.status_code == 200, r.text
    return {c["canteen_code"]: c for c in json.loads(r.content)["canteens"]}


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
    assert [before[c]["state"] for c in sorted(before)] == ["none", "none"]
    for code, body in own.items():
        entry = after[code]
        assert entry["state"] == "draft" and entry["statement_hash"] is None
        assert entry["totals"] == body["statement"]["totals"]
    assert after["ry-02"]["totals"] == before["ry-02"]["totals"]  # a row alone changes nothing
    ta, tb = after["ry-01"]["totals"], after["ry-02"]["totals"]
    assert ta["construction"] == 50000 and ta["payable"] == before["ry-01"]["totals"]["payable"] + 50000
    assert (ta["meals"], tb["meals"]) == (6, 4)  # voided sales are not paid
    assert [v[0] for v in own["ry-01"]["statement"]["voided"]] == [str(voided_a.meal_id)]
    assert [v[0] for v in own["ry-02"]["statement"]["voided"]] == [str(voided_b.meal_id)]


def test_a_late_meal_of_a_closed_month_is_in_the_programme_as_in_the_statement(world: World) -> None:
    """A canteen whose closed month got a late meal is settled in full (its adjustment needs the meals); the
    programme row has the same totals as its own statement, adjustment included."""
    api = world.api
    m = last_month()
    a = world.chain(world.ta)
    a.sale(elder=world.elders[0], when=at(m.last_day, 11))
    world.push(world.ta, a.records)
    close(world, create(world, world.canteen_a, m)["id"])
    world.push(world.ta, [a.sale(elder=world.elders[2], when=at(m.last_day, 12))])
    now = m.next()
    own = api.ok("GET", f"{S}/{create(world, world.canteen_a, now)['id']}", api.auditor)["statement"]
    assert [x["kind"] for x in own["adjustments"]] == ["late_paid", "operating"]
    programme = _programme(world, str(now))
    assert programme["ry-01"]["totals"] == own["totals"] and own["totals"]["adjustments"] > 0
    assert programme["ry-01"]["state"] == "draft" and programme["ry-01"]["statement_hash"] is None


def test_a_held_meal_of_a_closed_month_stays_listed_until_decided_then_is_paid(world: World) -> None:
    """A meal held when its month closed is listed in the next month while undecided (nothing else happened to
    that month since), and paid there as an adjustment once accepted (the decision is what is late); the
    programme rows follow the statement each time."""
    api = world.api
    m = last_month()
    a = world.chain(world.ta)
    held = a.sale(elder=world.elders[0], when=at(m.last_day, 11))
    world.push(world.ta, a.records, snapshot=held.service_time - timedelta(hours=25))  # stale_roster: held
    with world.api.engine.begin() as conn:  # received a day before the close (not late): only the flag is left
        conn.execute(sa.update(MealActivity).values(received_at=utcnow() - timedelta(days=1)))
    close(world, create(world, world.canteen_a, m)["id"])
    now = m.next()
    sid = create(world, world.canteen_a, now)["id"]
    before = api.ok("GET", f"{S}/{sid}", api.auditor)["statement"]
    assert [h["meal_id"] for h in before["held"]] == [str(held.meal_id)] and before["totals"]["held_meals"] == 1
    assert _programme(world, str(now))["ry-01"]["totals"] == before["totals"]
    decision = {"meal_id": str(held.meal_id), "decision": "accepted", "note": "已核实"}
    api.ok("POST", f"{S}/{sid}/decisions", api.operator, 201, json=decision)
    after = api.ok("GET", f"{S}/{sid}", api.auditor)["statement"]
    assert [x["kind"] for x in after["adjustments"]][:1] == ["late_paid"] and after["totals"]["held_meals"] == 0
    assert _programme(world, str(now))["ry-01"]["totals"] == after["totals"]


# ---------------------------------------------------------------------------------------------------------------
# The rollup path against the full statement, on random months written straight into the tables

PROP_RULES = """
format: 1
programme: prop-rules
name: 测试规则
timezone: Asia/Shanghai
versions:
  - id: "p1"
    effective_from: 2026-01-01
    min_age: 60
    subsidised_slots: [lunch, dinner]
    tiers: [{id: age60, label: 60周岁以上, when: {age_min: 60}, subsidy: {fixed: "3.00"}}]
    operating: {basis: meal, amount: "2.00", monthly_cap: "10.00"}
  - id: "p2"
    effective_from: 2026-03-11
    min_age: 60
    subsidised_slots: [lunch, dinner]
    tiers: [{id: age60, label: 60周岁以上, when: {age_min: 60}, subsidy: {fixed: "3.00"}}]
    operating: {basis: elder_day, amount: "3.00", monthly_cap: "25.00"}
  - id: "p3"
    effective_from: 2026-03-21
    min_age: 60
    subsidised_slots: [lunch, dinner]
    tiers: [{id: age60, label: 60周岁以上, when: {age_min: 60}, subsidy: {fixed: "3.00"}}]
"""
"""Operating subsidy per meal with a small cap, per elder-day with another cap from the 11th, none from the 21st."""
MARCH = Month(2026, 3)
FLAGS = ("manual_identification", "card_revoked", "stale_roster", "chain_gap")
_seq = itertools.count(1)


@dataclass
class Month3:
    """Three canteens (two on the city rules, one on PROP_RULES), a terminal each or two, a March statement each."""

    world: World
    canteens: list[uuid.UUID]
    terminals: dict[uuid.UUID, list[uuid.UUID]]
    statements: dict[uuid.UUID, uuid.UUID]


@pytest.fixture
def march(world: World) -> Month3:
    api = world.api
    api.ok("POST", "/api/v1/rulebooks", api.admin, json={"source": PROP_RULES})
    body = {"code": "ry-03", "name": "测试食堂", "programme": "prop-rules", "address": ""}
    c = api.ok("POST", "/api/v1/canteens", api.admin, 201, json=body)["id"]
    tc = terminal(api, c, "收银台1")
    canteens = [uuid.UUID(x) for x in (world.canteen_a, world.canteen_b, c)]
    terminals = {
        canteens[0]: [uuid.UUID(world.ta.id), uuid.UUID(world.ta2.id)],
        canteens[1]: [uuid.UUID(world.tb.id)],
        canteens[2]: [uuid.UUID(tc.id)],
    }
    statements = {k: uuid.UUID(create(world, str(k), MARCH)["id"]) for k in canteens}
    return Month3(world, canteens, terminals, statements)


def _meal(m: Month3, spec: dict[str, Any], *, kind: str = "sale", target: Meal | None = None) -> Meal:
    canteen = target.canteen_id if target is not None else m.canteens[spec["canteen"]]
    day = target.service_date if target is not None else _day(spec["day"])
    elder = spec["elder"] if target is None else json.loads(target.canonical).get("elder_id")
    subsidy = spec["subsidy"] if target is None else target.subsidy
    subsidised = subsidy > 0 or spec["subsidised"] if target is None else target.subsidised
    when = datetime.combine(day, time(11 if spec["slot"] == "lunch" else 17, 5), ZONE)
    canonical = json.dumps({"cashier": "c1", "elder_id": elder, "quote": {"tiers": ["age60"] if subsidy else []}})
    return Meal(
        meal_id=uuid.uuid4(),
        terminal_id=m.terminals[canteen][spec["terminal"] % len(m.terminals[canteen])],
        canteen_id=canteen,
        seq=next(_seq),
        kind=kind,
        refers_to=None if target is None else target.meal_id,
        elder_id=as_uuid(elder),
        identified_by="walk_in" if elder is None else spec["by"],
        slot=spec["slot"],
        menu_item_id="m",
        payment_method="cash",
        price=1200,
        subsidy=subsidy,
        elder_pays=1200 - subsidy,
        operating_subsidy=0,
        subsidised=subsidised,
        service_time=when,
        service_date=day,
        terminal_clock=when,
        canonical=canonical,
        hash="a" * 64,
        prev_hash="0" * 64,
    )


def _day(n: int) -> date:
    """Days 1-31 of March; 0 and 32 fall just outside it."""
    return MARCH.first_day + timedelta(days=n - 1)


ELDERS = [None, "ext-7", "0b6a5c86-1f1e-4a5e-9d57-1b3c2d4e5f60", "0B6A5C86-1F1E-4A5E-9D57-1B3C2D4E5F60"]
meal_specs = st.fixed_dictionaries(
    {
        "canteen": st.integers(0, 2),
        "terminal": st.integers(0, 1),
        "day": st.integers(0, 32),
        "elder": st.sampled_from(ELDERS) | st.integers(0, 3),
        "by": st.sampled_from(["card", "manual"]),
        "slot": st.sampled_from(["lunch", "dinner"]),
        "subsidy": st.sampled_from([0, 0, 300, 500]),
        "subsidised": st.booleans(),
        "flags": st.lists(st.tuples(st.sampled_from(FLAGS), st.booleans()), max_size=2, unique_by=lambda f: f[0]),
        "decision": st.sampled_from([None, None, "accepted", "rejected"]),
        "voids": st.integers(0, 2),
    }
)
line_specs = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from(["construction", "correction"]), st.integers(-500, 900)), max_size=3
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(meal_specs, min_size=1, max_size=12), lines=line_specs, void_of_void=st.booleans())
def test_rollup_totals_equal_the_full_statements(
    march: Month3, specs: list[dict[str, Any]], lines: list[tuple[int, str, int]], void_of_void: bool
) -> None:
    """Examples add to the same month, so later ones meet a fuller month: every time, each canteen's totals from
    the rollups equal its full statement's, field by field."""
    engine = march.world.api.engine
    with open_session(engine, write=True) as session:
        for spec in specs:
            if isinstance(spec["elder"], int):
                spec["elder"] = march.world.elders[spec["elder"]]
            sale = _meal(march, spec)
            session.add(sale)
            session.flush()
            voids = [_meal(march, spec, kind="void", target=sale) for _ in range(spec["voids"])]
            if void_of_void and voids:
                voids.append(_meal(march, spec, kind="void", target=voids[0]))
            session.add_all(voids)
            for code, resolved in spec["flags"]:
                session.add(_flag(sale, code, resolved))
            if spec["decision"] is not None and MARCH.contains(sale.service_date):
                session.add(_decision(march, sale, spec["decision"]))
        for index, kind, amount in lines:
            session.add(_line(session, march.statements[march.canteens[index]], kind, amount))
        rebuild(session)
        session.commit()
    with open_session(engine, write=False) as session:
        fast = {
            uuid.UUID(e.figures.canteen_id): e.figures.totals
            for e in programme_month(session, month=MARCH, category_key=CATEGORY_KEY, config=DEFAULT_CONFIG)
        }
        for c in march.canteens:
            row = session.get(SettlementStatement, march.statements[c])
            canteen = session.get(Canteen, c)
            assert row is not None and canteen is not None
            ctx = context(session, canteen, category_key=CATEGORY_KEY, config=DEFAULT_CONFIG)
            full = compute(session, row=row, ctx=ctx, with_checks=False).settlement.statement.totals
            assert fast[c] == full, canteen.code


def _flag(meal: Meal, code: str, resolved: bool) -> MealFlag:
    return MealFlag(
        meal_id=meal.meal_id,
        code=code,
        canteen_id=meal.canteen_id,
        service_date=meal.service_date,
        evidence={},
        resolved_at=utcnow() if resolved else None,
    )


def _decision(m: Month3, meal: Meal, decision: str) -> SettlementDecision:
    return SettlementDecision(
        meal_id=meal.meal_id,
        canteen_id=meal.canteen_id,
        origin_month=str(MARCH),
        statement_id=m.statements[meal.canteen_id],
        decision=decision,
        decided_by="test",
    )


def _line(session: Session, statement_id: uuid.UUID, kind: str, amount: int) -> SettlementLine:
    number = session.execute(
        sa.select(sa.func.count()).where(col(SettlementLine.statement_id) == statement_id)
    ).scalar_one()
    return SettlementLine(
        statement_id=statement_id,
        line_no=int(number) + 1,
        kind=kind,
        origin_month="2026-01" if kind == "correction" else None,
        amount=amount,
        note="",
        created_by="test",
    )


def test_another_canteens_void_cancels_the_sale_is_flagged_and_blocks_nothing(world: World) -> None:
    """No terminal voids another canteen's sale, but intake keeps whatever it is sent: the void cancels the sale in
    the statement as in the rollups, is flagged ``void_irregular`` for the reviewer, and the statement computes."""
    m = last_month()
    a, b = world.chain(world.ta), world.chain(world.tb)
    kept = a.sale(elder=world.elders[0], when=at(m.last_day, 11, 0))
    taken = a.sale(elder=world.elders[2], when=at(m.last_day, 11, 5))
    world.push(world.ta, a.records)
    foreign = b.void(taken)
    world.push(world.tb, b.records)
    (flag,) = world.api.ok("GET", "/api/v1/meal-flags", world.api.auditor)
    assert (flag["meal_id"], flag["code"]) == (str(foreign.meal_id), "void_irregular")
    assert flag["evidence"]["problems"] == ["other_terminal"]
    sid = create(world, world.canteen_a, m)["id"]
    statement = world.api.ok("GET", f"{S}/{sid}", world.api.auditor)["statement"]
    assert statement["voided"] == [[str(taken.meal_id), str(foreign.meal_id)]]
    assert statement["totals"]["meals"] == 1 and statement["totals"]["elder_subsidy"] == kept.quote.subsidy
    assert _programme(world, str(m))["ry-01"]["totals"] == statement["totals"]
