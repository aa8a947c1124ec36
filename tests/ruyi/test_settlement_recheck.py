"""Eligibility as of now: facts recorded after the meals (a death, a cancellation, a suspension, a category that
ended, a card reported lost) hold the meals they cover until a reviewer decides, or, for a closed month, become an
``eligibility_changed`` adjustment of the next open month; the closed statement never changes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest

from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange
from ruyi.settlement import (
    ELIGIBILITY_CHANGED,
    Decision,
    MealFact,
    Month,
    PriorMonth,
    Registry,
    RegistryFact,
    Revocation,
    can_close,
    recheck,
    settle,
    settled_of,
    statement_hash,
    verify_statement,
)
from tests.ruyi.factories import SHANGHAI, book
from tests.ruyi.test_settlement import fact

CITY = book("ruyi-city")
MARCH, APRIL, MAY = Month(2026, 3), Month(2026, 4), Month(2026, 5)
BORN = date(1942, 5, 1)  # 83 in March 2026: the age80 tier, ¥5.00 under version 2026.1
RECORDED = datetime(2026, 3, 26, 9, 30, tzinfo=UTC)
CARD, OTHER_CARD = "a" * 64, "b" * 64
ENROLLED = StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2020, 1, 1))


def elder(*changes: StatusChange, cats: tuple[CategorySpan, ...] = ()) -> ElderProfile:
    return ElderProfile(elder_id="e1", birth_date=BORN, statuses=(ENROLLED, *changes), categories=cats)


def meals(month: Month = MARCH, subsidy: int = 500, tiers: tuple[str, ...] = ("age80",)) -> list[MealFact]:
    """Lunch on the 10th, 19th, 20th and 25th of ``month``, tapped with CARD."""
    return [
        dataclasses.replace(
            fact(date(month.year, month.month, d), subsidy=subsidy, tiers=tiers, meal_id=f"{month}-{d:02d}"),
            card_key=CARD,
        )
        for d in (10, 19, 20, 25)
    ]


def status_registry(status: EnrolmentStatus, since: date = date(2026, 3, 20)) -> Registry:
    change = StatusChange(status=status, effective_from=since)
    recorded = RegistryFact("e1", "status", status.value, since, RECORDED, "王芳")
    return Registry({"e1": elder(change)}, facts=(recorded,))


def decide(facts: list[MealFact], decisions: dict[str, Decision]) -> list[MealFact]:
    return [dataclasses.replace(f, decision=decisions.get(f.meal_id, f.decision)) for f in facts]


def paid_ids(facts: list[MealFact], registry: Registry, month: Month = MARCH) -> set[str]:
    statement = settle(canteen_id="c1", month=month, facts=facts, rules=CITY, registry=registry).statement
    return {m for line in statement.lines for m in line.meal_ids}


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (EnrolmentStatus.DECEASED, "elder deceased since 2026-03-20"),
        (EnrolmentStatus.CANCELLED, "elder cancelled since 2026-03-20"),
        (EnrolmentStatus.SUSPENDED, "elder suspended since 2026-03-20"),
    ],
)
def test_a_status_recorded_after_the_meals_holds_them_with_the_fact(status: EnrolmentStatus, words: str) -> None:
    facts = meals()
    result = settle(canteen_id="c1", month=MARCH, facts=facts, rules=CITY, registry=status_registry(status))
    held = {h.meal_id: h for h in result.statement.held}
    assert set(held) == {"2026-03-20", "2026-03-25"}
    assert all(h.status == "held" and ELIGIBILITY_CHANGED in h.flags for h in held.values())
    assert {m for line in result.statement.lines for m in line.meal_ids} == {"2026-03-10", "2026-03-19"}
    assert result.statement.totals.elder_subsidy == 1000
    assert result.statement.totals.held_subsidy == 1000
    (check,) = [c for c in result.checks if c.code == ELIGIBILITY_CHANGED]
    assert check.severity == "error"
    assert words in check.en and "recorded 2026-03-26 by 王芳" in check.en
    assert "2026-03-20" in check.zh and "王芳" in check.zh
    assert check.evidence.meal_ids == ("2026-03-20", "2026-03-25")
    assert not can_close(result.checks, {}).allowed


def test_a_decision_resolves_the_meal_accepted_paid_rejected_not() -> None:
    registry = status_registry(EnrolmentStatus.DECEASED)
    facts = decide(meals(), {"2026-03-20": "accepted", "2026-03-25": "rejected"})
    result = settle(canteen_id="c1", month=MARCH, facts=facts, rules=CITY, registry=registry)
    assert {m for line in result.statement.lines for m in line.meal_ids} == {"2026-03-10", "2026-03-19", "2026-03-20"}
    assert [(h.meal_id, h.status) for h in result.statement.held] == [("2026-03-25", "rejected")]
    assert not [c for c in result.checks if c.code == ELIGIBILITY_CHANGED]


def test_a_category_that_ended_lowers_the_supported_subsidy() -> None:
    """A 特困 elder (¥10.00 capped at price - ¥2 co-payment) whose category ended on the 19th: from the 20th
    only the age tier (¥5.00) is supported, so those meals are held."""
    tekun = CategorySpan(code="tekun", valid_from=date(2020, 1, 1), valid_to=date(2026, 3, 19))
    ended = RegistryFact("e1", "category_end", "tekun", date(2026, 3, 19), RECORDED, "李明")
    registry = Registry({"e1": elder(cats=(tekun,))}, facts=(ended,))
    facts = meals(subsidy=1000, tiers=("tekun",))
    found = recheck(facts, registry, CITY)
    assert sorted(found) == ["2026-03-20", "2026-03-25"]
    assert {(f.paid, f.now) for f in found.values()} == {(1000, 500)}
    assert "category tekun ended on 2026-03-19" in found["2026-03-20"].texts()[1]
    assert paid_ids(facts, registry) == {"2026-03-10", "2026-03-19"}


def test_a_card_reported_lost_since_a_day_holds_the_meals_tapped_with_it_from_then() -> None:
    since = datetime(2026, 3, 19, 0, 0, tzinfo=SHANGHAI)
    lost = RegistryFact("e1", "card_revoked", CARD, date(2026, 3, 19), RECORDED, "王芳")
    registry = Registry({"e1": elder()}, revocations={CARD: Revocation(CARD, since, lost)})
    facts = meals()
    facts[-1] = dataclasses.replace(facts[-1], card_key=OTHER_CARD)  # the new card, on the 25th
    found = recheck(facts, registry, CITY)
    assert sorted(found) == ["2026-03-19", "2026-03-20"]
    assert "card revoked since 2026-03-19" in found["2026-03-19"].texts()[1]
    assert paid_ids(facts, registry) == {"2026-03-10", "2026-03-25"}


def test_the_registry_as_it_was_changes_nothing_not_even_the_bytes() -> None:
    facts = meals()
    alone = settle(canteen_id="c1", month=MARCH, facts=facts, rules=CITY).statement
    registry = Registry({"e1": elder()})
    again = settle(canteen_id="c1", month=MARCH, facts=facts, rules=CITY, registry=registry).statement
    assert statement_hash(again) == statement_hash(alone)
    assert recheck(facts, registry, CITY) == {}


def test_only_the_version_that_priced_the_meal_is_used() -> None:
    """A meal quoted under 2026.1 (¥5.00 for 80-89) is not held in July because 2026.7 would pay ¥6.00, nor
    re-priced under a version that was not in force that day."""
    july = [dataclasses.replace(f, rule_version="2026.7", subsidy=600) for f in meals(Month(2026, 7), subsidy=600)]
    assert recheck(july, Registry({"e1": elder()}), CITY) == {}
    pretend = [dataclasses.replace(f, rule_version="2026.1") for f in july]  # 2026.1 still pays only ¥5.00
    assert sorted(recheck(pretend, Registry({"e1": elder()}), CITY)) == [f.meal_id for f in pretend]


def test_a_closed_month_gets_a_downward_adjustment_and_keeps_its_hash() -> None:
    facts = meals()
    march = settle(canteen_id="c1", month=MARCH, facts=facts, rules=CITY, registry=Registry({"e1": elder()}))
    stored = statement_hash(march.statement)
    assert march.statement.totals.elder_subsidy == 2000
    registry = status_registry(EnrolmentStatus.DECEASED)  # the death is recorded after March closed
    prior = PriorMonth(tuple(facts), settled_of(MARCH, [march.statement]))
    april = settle(canteen_id="c1", month=APRIL, facts=(), rules=CITY, prior=[prior], registry=registry)
    (line,) = [a for a in april.statement.adjustments if a.kind == ELIGIBILITY_CHANGED]
    assert line.origin == MARCH and line.amount == -1000
    assert line.meal_ids == ("2026-03-20", "2026-03-25")
    assert "elder deceased since 2026-03-20 (recorded 2026-03-26 by 王芳)" in line.note
    operating = [a for a in april.statement.adjustments if a.kind == "operating"]
    assert [a.amount for a in operating] == [-400]  # ¥2.00 per meal no longer paid
    assert april.statement.totals.payable == -1400
    assert {(h.meal_id, h.origin, h.status) for h in april.statement.held} == {
        ("2026-03-20", MARCH, "held"),
        ("2026-03-25", MARCH, "held"),
    }
    (check,) = [c for c in april.checks if c.code == ELIGIBILITY_CHANGED]  # each taken-back meal needs a decision
    assert check.key == "eligibility_changed:2026-03" and check.severity == "error"
    assert check.evidence.meal_ids == ("2026-03-20", "2026-03-25")
    assert verify_statement(march.statement, stored)  # the closed month never changes
    # March as settled after April closes: the reversed meals are no longer paid; one accepted later is paid back
    settled = settled_of(MARCH, [march.statement, april.statement])
    assert settled.paid_meal_ids == {"2026-03-10", "2026-03-19"} and settled.elder_subsidy == 1000
    accepted = decide(facts, {"2026-03-20": "accepted"})
    prior = PriorMonth(tuple(accepted), settled)
    may = settle(canteen_id="c1", month=MAY, facts=(), rules=CITY, prior=[prior], registry=registry).statement
    assert [(a.kind, a.amount, a.meal_ids) for a in may.adjustments] == [
        ("late_paid", 500, ("2026-03-20",)),
        ("operating", 200, ("2026-03-20",)),
    ]
