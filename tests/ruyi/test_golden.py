"""Hand-computed quotes for each shipped rule book (deploy/rules/). Each case says why in its id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from ruyi.eligibility import ElderProfile
from ruyi.eligibility import EnrolmentStatus as S
from ruyi.pricing import MealRequest, PriorMeal, quote
from ruyi.reasons import Reason as R
from ruyi.rules import RuleBook
from tests.ruyi.factories import ENROLLED_LONG_AGO, book, cat, elder, meal, prior


@dataclass
class Case:
    id: str
    who: ElderProfile | None
    meal: MealRequest
    subsidy: int
    reasons: tuple[R, ...]
    history: list[PriorMeal] = field(default_factory=list)
    version: str | None = "any"
    operating: int | None = None
    tiers: tuple[str, ...] | None = None


def run(rules: RuleBook, case: Case) -> None:
    q = quote(case.who, case.meal, case.history, rules)
    assert (q.subsidy, q.elder_pays, q.reasons) == (case.subsidy, case.meal.price - case.subsidy, case.reasons)
    assert q.subsidy + q.elder_pays == q.price == case.meal.price
    if case.version != "any":
        assert q.rule_version == case.version
    if case.operating is not None:
        assert q.operating_subsidy == case.operating
    if case.tiers is not None:
        assert q.tiers == case.tiers


SUB = (R.SUBSIDISED,)
JS_DAY = "2023-06-15 12:00"
JIANGSU = [
    Case("59: 60th birthday is tomorrow", elder(date(1963, 6, 16)), meal(JS_DAY, 1100), 0, (R.UNDER_AGE,)),
    Case("60th birthday today", elder(date(1963, 6, 15)), meal(JS_DAY, 1100), 100, SUB, tiers=("age60",)),
    Case("74: day before 75th birthday", elder(date(1948, 6, 16)), meal(JS_DAY, 1100), 100, SUB),
    Case("75th birthday today", elder(date(1948, 6, 15)), meal(JS_DAY, 1300), 500, SUB, tiers=("age75",)),
    Case("84", elder(date(1938, 6, 16)), meal(JS_DAY, 1300), 500, SUB),
    Case("85th birthday today", elder(date(1938, 6, 15)), meal(JS_DAY, 900), 800, SUB, tiers=("age85",)),
    Case("94", elder(date(1928, 6, 16)), meal(JS_DAY, 1100), 800, SUB),
    Case("95: whole ¥9 set meal covered", elder(date(1928, 6, 15)), meal(JS_DAY, 900), 900, SUB, tiers=("age95",)),
    Case("65 低保", elder(date(1958, 1, 1), cat("dibao")), meal(JS_DAY, 1100), 800, SUB, tiers=("special8",)),
    Case("65 分散特困", elder(date(1958, 1, 1), cat("tekun_fensan")), meal(JS_DAY, 1100), 900, SUB, tiers=("tekun",)),
    Case("96 and 失独: highest wins, once", elder(date(1927, 1, 1), cat("shidu")), meal(JS_DAY, 1300), 900, SUB),
    Case(
        "低保 starts tomorrow: age band only",
        elder(date(1958, 1, 1), cat("dibao", date(2023, 6, 16))),
        meal(JS_DAY, 1100),
        100,
        SUB,
    ),
    Case(
        "优抚 ended yesterday",
        elder(date(1958, 1, 1), cat("youfu", until=date(2023, 6, 14))),
        meal(JS_DAY, 1100),
        100,
        SUB,
    ),
    Case(
        "优抚 ends today (inclusive)",
        elder(date(1958, 1, 1), cat("youfu", until=date(2023, 6, 15))),
        meal(JS_DAY, 1100),
        800,
        SUB,
    ),
    Case(
        "daily limit: subsidised lunch at another canteen this morning",
        elder(date(1950, 1, 1)),
        meal(JS_DAY, 1100),
        0,
        (R.DAILY_LIMIT_REACHED,),
        history=[prior("2023-06-15 11:05")],
    ),
    Case(
        "yesterday's lunch does not count",
        elder(date(1950, 1, 1)),
        meal(JS_DAY, 1100),
        100,
        SUB,
        history=[prior("2023-06-14 11:05")],
    ),
    Case(
        "an unsubsidised meal today does not count",
        elder(date(1950, 1, 1)),
        meal(JS_DAY, 1100),
        100,
        SUB,
        history=[prior("2023-06-15 08:00", subsidised=False)],
    ),
    Case(
        "dinner is not subsidised",
        elder(date(1950, 1, 1)),
        meal("2023-06-15 17:30", 1100, "dinner"),
        0,
        (R.SLOT_NOT_SUBSIDISED,),
    ),
    Case(
        "cancelled effective today",
        elder(date(1940, 1, 1), status=((S.ENROLLED, ENROLLED_LONG_AGO), (S.CANCELLED, date(2023, 6, 15)))),
        meal(JS_DAY, 1100),
        0,
        (R.CANCELLED,),
    ),
    Case(
        "cancelled effective tomorrow",
        elder(date(1940, 1, 1), status=((S.ENROLLED, ENROLLED_LONG_AGO), (S.CANCELLED, date(2023, 6, 16)))),
        meal(JS_DAY, 1100),
        500,
        SUB,
    ),
    Case("walk-in", None, meal(JS_DAY, 1100), 0, (R.WALK_IN,), version="2023.1"),
    Case(
        "a minute before the rules start",
        elder(date(1940, 1, 1)),
        meal("2022-12-31 23:59", 1100),
        0,
        (R.NO_RULES_IN_FORCE,),
        version=None,
    ),
    Case(
        "midnight of the effective date",
        elder(date(1940, 1, 1)),
        meal("2023-01-01 00:00", 1100),
        500,
        SUB,
        version="2023.1",
    ),
    Case("same instant written in UTC", elder(date(1940, 1, 1)), meal("2022-12-31T16:00:00+00:00", 1100), 500, SUB),
    Case(
        "29 Feb birthday, 28 Feb of a common year: still 74",
        elder(date(1952, 2, 29)),
        meal("2027-02-28 12:00", 1100),
        100,
        SUB,
    ),
    Case(
        "29 Feb birthday, 1 Mar of a common year: 75",
        elder(date(1952, 2, 29)),
        meal("2027-03-01 12:00", 1100),
        500,
        SUB,
    ),
    Case(
        "29 Feb birthday in a leap year: 60 on the day",
        elder(date(1964, 2, 29)),
        meal("2024-02-29 12:00", 1100),
        100,
        SUB,
    ),
    Case(
        "29 Feb birthday, day before in a leap year: 59",
        elder(date(1964, 2, 29)),
        meal("2024-02-28 12:00", 1100),
        0,
        (R.UNDER_AGE,),
    ),
]

BJ_DAY = "2022-03-01 12:00"
BEIJING = [
    Case("60, ¥12 meal", elder(date(1962, 3, 1)), meal(BJ_DAY, 1200), 500, SUB, operating=300),
    Case(
        "¥5.00 is not more than the subsidy",
        elder(date(1950, 1, 1)),
        meal(BJ_DAY, 500),
        0,
        (R.BELOW_MIN_SPEND,),
        operating=0,
    ),
    Case("¥5.01 is: pays one fen", elder(date(1950, 1, 1)), meal(BJ_DAY, 501), 500, SUB, operating=300),
    Case("59", elder(date(1962, 3, 2)), meal(BJ_DAY, 1200), 0, (R.UNDER_AGE,), operating=0),
    Case("breakfast counts", elder(date(1950, 1, 1)), meal("2022-03-01 07:30", 600, "breakfast"), 500, SUB),
    Case(
        "second meal of the day",
        elder(date(1950, 1, 1)),
        meal(BJ_DAY, 1200),
        0,
        (R.DAILY_LIMIT_REACHED,),
        history=[prior("2022-03-01 07:30", "breakfast", "c1")],
        operating=0,
    ),
    Case(
        "earlier cheap breakfast was not subsidised",
        elder(date(1950, 1, 1)),
        meal(BJ_DAY, 1200),
        500,
        SUB,
        history=[prior("2022-03-01 07:30", "breakfast", "c1", subsidised=False)],
        operating=300,
    ),
    Case(
        "subsidised at canteen A, now at B",
        elder(date(1950, 1, 1)),
        meal("2022-03-01 17:30", 1200, "dinner"),
        0,
        (R.DAILY_LIMIT_REACHED,),
        history=[prior(BJ_DAY, canteen="cA")],
    ),
    Case(
        "yesterday 23:30, today 00:30: a new day",
        elder(date(1950, 1, 1)),
        meal("2022-03-02 00:30", 800, "dinner"),
        500,
        SUB,
        history=[prior("2022-03-01 23:30", "dinner")],
    ),
    Case(
        "the same instants written in UTC",
        elder(date(1950, 1, 1)),
        meal("2022-03-01T16:30:00+00:00", 800, "dinner"),
        500,
        SUB,
        history=[prior("2022-03-01T15:30:00+00:00", "dinner")],
    ),
    Case("80, ¥20 meal", elder(date(1942, 1, 1)), meal(BJ_DAY, 2000), 500, SUB),
    Case(
        "suspended",
        elder(date(1950, 1, 1), status=((S.ENROLLED, ENROLLED_LONG_AGO), (S.SUSPENDED, date(2022, 2, 1)))),
        meal(BJ_DAY, 1200),
        0,
        (R.SUSPENDED,),
    ),
    Case(
        "suspension lifted",
        elder(
            date(1950, 1, 1),
            status=((S.ENROLLED, ENROLLED_LONG_AGO), (S.SUSPENDED, date(2022, 2, 1)), (S.ENROLLED, date(2022, 3, 1))),
        ),
        meal(BJ_DAY, 1200),
        500,
        SUB,
    ),
    Case(
        "deceased",
        elder(date(1930, 1, 1), status=((S.ENROLLED, ENROLLED_LONG_AGO), (S.DECEASED, date(2022, 2, 20)))),
        meal(BJ_DAY, 1200),
        0,
        (R.DECEASED,),
    ),
    Case("registered but never enrolled", elder(date(1950, 1, 1), status=()), meal(BJ_DAY, 1200), 0, (R.NOT_ENROLLED,)),
    Case(
        "under 60 and suspended: both reasons, status first",
        elder(date(1970, 1, 1), status=((S.SUSPENDED, ENROLLED_LONG_AGO),)),
        meal(BJ_DAY, 1200),
        0,
        (R.SUSPENDED, R.UNDER_AGE),
    ),
]

SH_DAY = "2025-05-20 12:00"
SHANGHAI = [
    Case(
        "60-79: 10% + ¥2 on ¥13", elder(date(1960, 1, 1)), meal(SH_DAY, 1300), 130 + 200, SUB, tiers=("off10", "fixed2")
    ),
    Case(
        "80+: 15% (¥13 -> ¥11.05) + ¥2",
        elder(date(1940, 1, 1)),
        meal(SH_DAY, 1300),
        195 + 200,
        SUB,
        tiers=("off15", "fixed2"),
    ),
    Case("79: day before 80th birthday", elder(date(1945, 5, 21)), meal(SH_DAY, 1300), 330, SUB),
    Case("80th birthday today", elder(date(1945, 5, 20)), meal(SH_DAY, 1300), 395, SUB),
    Case(
        "¥9.99: under the minimum spend, 10% rounds 99.9 up",
        elder(date(1955, 1, 1)),
        meal(SH_DAY, 999),
        100,
        (R.SUBSIDISED, R.BELOW_MIN_SPEND),
        tiers=("off10",),
    ),
    Case("¥10.00 exactly reaches it", elder(date(1955, 1, 1)), meal(SH_DAY, 1000), 300, SUB),
    Case("¥10.05: 100.5 rounds half up", elder(date(1955, 1, 1)), meal(SH_DAY, 1005), 301, SUB),
    Case("¥10.01 at 15%: 150.15 rounds down", elder(date(1940, 1, 1)), meal(SH_DAY, 1001), 350, SUB),
    Case(
        "dinner after a subsidised lunch",
        elder(date(1955, 1, 1)),
        meal("2025-05-20 17:30", 1300, "dinner"),
        330,
        SUB,
        history=[prior(SH_DAY)],
    ),
    Case(
        "second lunch",
        elder(date(1955, 1, 1)),
        meal("2025-05-20 12:40", 1300),
        0,
        (R.SLOT_LIMIT_REACHED,),
        history=[prior(SH_DAY)],
    ),
    Case(
        "third meal: daily limit 2",
        elder(date(1955, 1, 1)),
        meal("2025-05-20 19:00", 1300, "dinner"),
        0,
        (R.DAILY_LIMIT_REACHED,),
        history=[prior(SH_DAY), prior("2025-05-20 17:30", "dinner")],
    ),
    Case("breakfast", elder(date(1955, 1, 1)), meal("2025-05-20 07:30", 600, "breakfast"), 0, (R.SLOT_NOT_SUBSIDISED,)),
    Case("59", elder(date(1966, 1, 1)), meal(SH_DAY, 1300), 0, (R.UNDER_AGE,)),
    Case("a free item: nothing to subsidise", elder(date(1955, 1, 1)), meal(SH_DAY, 0), 0, (R.BELOW_MIN_SPEND,)),
    Case(
        "cancelled yesterday",
        elder(date(1940, 1, 1), status=((S.ENROLLED, ENROLLED_LONG_AGO), (S.CANCELLED, date(2025, 5, 19)))),
        meal(SH_DAY, 1300),
        0,
        (R.CANCELLED,),
    ),
    Case("100 years old, ¥20", elder(date(1925, 1, 1)), meal(SH_DAY, 2000), 300 + 200, SUB),
]

CITY = [
    Case(
        "last second of June: 2026.1",
        elder(date(1961, 1, 1)),
        meal("2026-06-30 23:59:59", 1000, "dinner"),
        200,
        SUB,
        version="2026.1",
        operating=200,
    ),
    Case(
        "midnight 1 July: 2026.7 raises it",
        elder(date(1961, 1, 1)),
        meal("2026-07-01 00:00", 1000, "dinner"),
        300,
        SUB,
        version="2026.7",
    ),
    Case(
        "1 July midnight written in UTC",
        elder(date(1961, 1, 1)),
        meal("2026-06-30T16:00:00+00:00", 1000, "dinner"),
        300,
        SUB,
        version="2026.7",
    ),
    Case(
        "特困 on ¥10: co-payment ¥2 keeps it at ¥8",
        elder(date(1950, 1, 1), cat("tekun")),
        meal("2026-07-10 12:00", 1000),
        800,
        (R.SUBSIDISED, R.COPAY_FLOOR),
        tiers=("tekun",),
    ),
    Case("特困 on ¥15: ¥10 tier", elder(date(1950, 1, 1), cat("tekun")), meal("2026-07-10 12:00", 1500), 1000, SUB),
    Case(
        "特困 on ¥12: exactly at the floor",
        elder(date(1950, 1, 1), cat("tekun")),
        meal("2026-07-10 12:00", 1200),
        1000,
        SUB,
    ),
    Case(
        "¥2 meal: the co-payment takes it all",
        elder(date(1950, 1, 1)),
        meal("2026-07-10 12:00", 200),
        0,
        (R.COPAY_FLOOR,),
        operating=0,
    ),
    Case(
        "¥2.50 meal in March: ¥3 tier cut to 50 fen",
        elder(date(1950, 1, 1)),
        meal("2026-03-10 12:00", 250),
        50,
        (R.SUBSIDISED, R.COPAY_FLOOR),
    ),
    Case("90 in July", elder(date(1936, 1, 1)), meal("2026-07-10 12:00", 1300), 800, SUB),
    Case(
        "低保 at 65 beats the age band",
        elder(date(1961, 1, 1), cat("dibao")),
        meal("2026-07-10 12:00", 1300),
        600,
        SUB,
        tiers=("special",),
    ),
    Case(
        "95 and 低保边缘: age band is higher",
        elder(date(1931, 1, 1), cat("dibao_edge")),
        meal("2026-07-10 12:00", 1300),
        800,
        SUB,
        tiers=("age90",),
    ),
    Case(
        "独居 from 15 July: 14 July",
        elder(date(1961, 1, 1), cat("living_alone", date(2026, 7, 15))),
        meal("2026-07-14 12:00", 1300),
        300,
        SUB,
    ),
    Case(
        "独居 from 15 July: 15 July",
        elder(date(1961, 1, 1), cat("living_alone", date(2026, 7, 15))),
        meal("2026-07-15 12:00", 1300),
        500,
        SUB,
    ),
    Case(
        "second lunch",
        elder(date(1961, 1, 1)),
        meal("2026-07-10 12:30", 1300),
        0,
        (R.SLOT_LIMIT_REACHED,),
        history=[prior("2026-07-10 11:30")],
    ),
    Case(
        "dinner after lunch",
        elder(date(1961, 1, 1)),
        meal("2026-07-10 17:30", 1300, "dinner"),
        300,
        SUB,
        history=[prior("2026-07-10 11:30")],
    ),
    Case("breakfast", elder(date(1961, 1, 1)), meal("2026-07-10 07:30", 500, "breakfast"), 0, (R.SLOT_NOT_SUBSIDISED,)),
    Case(
        "低保 at 58: under the programme's age",
        elder(date(1968, 1, 1), cat("dibao")),
        meal("2026-07-10 12:00", 1300),
        0,
        (R.UNDER_AGE,),
    ),
]


@pytest.mark.parametrize("case", JIANGSU, ids=lambda c: c.id)
def test_jiangsu_county(case: Case) -> None:
    run(book("jiangsu-county-2023"), case)


@pytest.mark.parametrize("case", BEIJING, ids=lambda c: c.id)
def test_beijing(case: Case) -> None:
    run(book("beijing-2022"), case)


@pytest.mark.parametrize("case", SHANGHAI, ids=lambda c: c.id)
def test_shanghai_district(case: Case) -> None:
    run(book("shanghai-district-2025"), case)


@pytest.mark.parametrize("case", CITY, ids=lambda c: c.id)
def test_ruyi_city(case: Case) -> None:
    run(book("ruyi-city"), case)


def test_withheld_subsidy_is_full_price_with_the_reason() -> None:
    rules = book("ruyi-city")
    who = elder(date(1950, 1, 1))
    for reason in (R.OFFLINE_TOO_LONG, R.CARD_REVOKED):
        m = meal("2026-07-10 12:00", 1300).model_copy(update={"withhold": reason})
        q = quote(who, m, [], rules)
        assert (q.subsidy, q.elder_pays, q.reasons, q.rule_version) == (0, 1300, (reason,), "2026.7")


def test_there_are_at_least_fifteen_cases_per_rule_book() -> None:
    assert min(len(JIANGSU), len(BEIJING), len(SHANGHAI), len(CITY)) >= 15
