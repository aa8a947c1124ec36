"""decode_statement is the inverse of statement_bytes: the golden months and random months round-trip."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given, settings

from ruyi.settlement import (
    ConstructionLine,
    CorrectionLine,
    MealFact,
    Month,
    Statement,
    decode_statement,
    settle,
    statement_bytes,
    statement_hash,
)
from tests.ruyi.factories import book
from tests.ruyi.test_settlement import fact, months, void
from tests.ruyi.test_settlement_golden import with_cap

CITY = book("ruyi-city")


def _round_trip(statement: Statement) -> None:
    data = statement_bytes(statement)
    back = decode_statement(data)
    assert back == statement
    assert statement_bytes(back) == data
    assert statement_hash(back) == statement_hash(statement)


def test_a_month_with_every_part_round_trips() -> None:
    d1, d2 = date(2026, 6, 1), date(2026, 6, 2)
    m1 = fact(d1, elder="e1", subsidy=200, meal_id="m01")
    m2 = fact(d1, elder="e2", subsidy=500, tiers=("age80",), meal_id="m02")
    v2 = dataclasses.replace(void(m2), meal_id="v02")
    m3 = fact(d2, elder="e2", subsidy=500, tiers=("age80",), flags=("elder_not_eligible",), meal_id="m03")
    m4 = fact(d2, elder=None, price=1500, subsidy=0, meal_id="m04")
    s = settle(
        canteen_id="c1",
        month=Month(2026, 6),
        facts=[m1, m2, v2, m3, m4],
        rules=with_cap(CITY, 0, 300),
        construction=[ConstructionLine("k1", 500000, "助餐点改造一期")],
        corrections=[CorrectionLine("x1", Month(2026, 5), -1200, "多付")],
    ).statement
    assert s.held and s.voided and s.adjustments and s.operating
    _round_trip(s)


def test_refuses_other_bytes() -> None:
    s = settle(canteen_id="c1", month=Month(2026, 6), facts=[], rules=CITY).statement
    data = statement_bytes(s)
    with pytest.raises(ValueError):
        decode_statement(data.replace(b'"month":"2026-06"', b'"month":"2026-6"'))
    with pytest.raises(ValueError):
        decode_statement(data.replace(b'"canteen_id":"c1"', b'"canteen_id":1'))
    with pytest.raises(ValueError):
        decode_statement(data.replace(b'"format"', b'"formats"'))


@settings(max_examples=25, deadline=None)
@given(facts=months())
def test_random_months_round_trip(facts: list[MealFact]) -> None:
    _round_trip(settle(canteen_id="c1", month=Month(2026, 6), facts=facts, rules=CITY).statement)
