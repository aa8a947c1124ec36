"""Golden statements for small months under the shipped rule books, every figure computed by hand (see the
arithmetic in the comments). The subsidies of the facts are what ``ruyi.pricing.quote`` gives for them; the test
checks that too, so the facts are real quotes and not invented numbers."""

from __future__ import annotations

import dataclasses
from datetime import date

from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange
from ruyi.pricing import MealRequest, PriorMeal, quote
from ruyi.rules import RuleBook, Slot
from ruyi.settlement import ConstructionLine, MealFact, Month, settle
from tests.ruyi.factories import at, book
from tests.ruyi.test_settlement import fact, void


def with_cap(rules: RuleBook, index: int, cap: int | None, amount: int | None = None) -> RuleBook:
    v = rules.versions[index]
    assert v.operating is not None
    op = v.operating.model_copy(update={"monthly_cap": cap, **({"amount": amount} if amount is not None else {})})
    versions = list(rules.versions)
    versions[index] = v.model_copy(update={"operating": op})
    return rules.model_copy(update={"versions": tuple(versions)})


def profile(elder_id: str, born: date, *cats: str) -> ElderProfile:
    return ElderProfile(
        elder_id=elder_id,
        birth_date=born,
        statuses=(StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2020, 1, 1)),),
        categories=tuple(CategorySpan(code=c, valid_from=date(2020, 1, 1)) for c in cats),
    )


def test_ruyi_city_june_2026_by_hand() -> None:
    rules = book("ruyi-city")  # 2026.1: age60 ¥2, age80 ¥5, tekun ¥10, copay ≥ ¥2, max ¥10; operating ¥2/meal
    e1 = profile("e1", date(1960, 3, 1))  # 66 → age60 ¥2
    e2 = profile("e2", date(1944, 3, 1))  # 82 → age80 ¥5
    e3 = profile("e3", date(1958, 3, 1), "tekun")  # tekun ¥10, but price ¥12 − copay ¥2 = ¥10 → ¥10
    d1, d2 = date(2026, 6, 1), date(2026, 6, 2)
    m1 = fact(d1, elder="e1", subsidy=200, meal_id="m01")
    m2 = fact(d1, elder="e2", subsidy=500, tiers=("age80",), meal_id="m02")
    v2 = dataclasses.replace(void(m2), meal_id="v02")  # wrong item: voided …
    m2b = fact(d1, elder="e2", price=1000, subsidy=500, tiers=("age80",), minute=10, meal_id="m02b")  # … sold again
    m3 = fact(d1, elder="e1", slot="dinner", subsidy=200, meal_id="m03")
    m4 = fact(d1, elder=None, price=1500, subsidy=0, meal_id="m04")  # walk-in, full price
    m5 = fact(d1, elder="e3", subsidy=1000, tiers=("tekun",), meal_id="m05")
    m6 = fact(d2, elder="e1", subsidy=200, meal_id="m06")
    r6 = dataclasses.replace(m6, meal_id="r06", kind="reprint", refers_to="m06")  # changes nothing
    m7 = fact(d2, elder="e2", subsidy=500, tiers=("age80",), flags=("elder_not_eligible",), meal_id="m07")  # held
    m8 = fact(d2, elder="e3", subsidy=1000, tiers=("tekun",), flags=("quote_mismatch",), decision="accepted")
    m8 = dataclasses.replace(m8, meal_id="m08")  # flagged and accepted: paid
    m9 = fact(d2, elder="e4", subsidy=300, tiers=("age70",), flags=("card_revoked",), decision="rejected")
    m9 = dataclasses.replace(m9, meal_id="m09")  # rejected: not paid
    # The facts' subsidies are what the pricing function gives.
    for who, f in ((e1, m1), (e2, m2), (e2, m2b), (e1, m3), (e3, m5)):
        req = MealRequest(canteen_id="c1", slot=f.slot, price=f.price, service_time=f.service_time)
        q = quote(who, req, [], rules)
        assert (q.subsidy, q.tiers) == (f.subsidy, f.tiers), f.meal_id

    facts = [m1, m2, v2, m2b, m3, m4, m5, m6, r6, m7, m8, m9]
    s = settle(
        canteen_id="c1",
        month=Month(2026, 6),
        facts=facts,
        rules=rules,
        construction=[ConstructionLine("k1", 500000, "助餐点改造一期")],
    ).statement
    rows = [
        (x.day.day, x.slot, x.tier, x.meals, x.elders, x.price, x.elder_subsidy, x.elder_pays, x.meal_ids)
        for x in s.lines
    ]
    assert rows == [
        (1, "lunch", "", 1, 0, 1500, 0, 1500, ("m04",)),
        (1, "lunch", "age60", 1, 1, 1200, 200, 1000, ("m01",)),
        (1, "lunch", "age80", 1, 1, 1000, 500, 500, ("m02b",)),
        (1, "lunch", "tekun", 1, 1, 1200, 1000, 200, ("m05",)),
        (1, "dinner", "age60", 1, 1, 1200, 200, 1000, ("m03",)),
        (2, "lunch", "age60", 1, 1, 1200, 200, 1000, ("m06",)),
        (2, "lunch", "tekun", 1, 1, 1200, 1000, 200, ("m08",)),
    ]  # fmt: skip
    # Operating ¥2 per paid subsidised meal: 1 June m01 m02b m05 m03 = 4 × 200 = 800; 2 June m06 m08 = 2 × 200 = 400.
    assert [(d.day.day, d.rule_version, d.units, d.gross, d.paid) for d in s.operating] == [
        (1, "2026.1", 4, 800, 800),
        (2, "2026.1", 2, 400, 400),
    ]
    assert [(h.meal_id, h.status, h.flags) for h in s.held] == [
        ("m07", "held", ("elder_not_eligible",)),
        ("m09", "rejected", ("card_revoked",)),
    ]
    assert s.voided == (("m02", "v02"),)
    t = s.totals
    # elder subsidy 200+500+1000+200 (1 June) + 200+1000 (2 June) = 3100; operating 1200; construction 500000
    # payable 3100 + 1200 + 500000 = 504300. Price 1500+1200+1000+1200+1200+1200+1200 = 8500; pays 8500−3100 = 5400.
    assert (t.meals, t.subsidised_meals, t.elders, t.elder_days) == (7, 6, 3, 5)
    assert (t.price, t.elder_subsidy, t.elder_pays) == (8500, 3100, 5400)
    assert (t.operating_gross, t.operating_cap_reduction, t.operating) == (1200, 0, 1200)
    assert (t.construction, t.adjustments, t.payable) == (500000, 0, 504300)
    assert (t.held_meals, t.held_subsidy) == (1, 500)


def test_ruyi_city_monthly_cap_by_hand() -> None:
    rules = with_cap(book("ruyi-city"), 0, 1000)  # ¥2 a meal, capped at ¥10 a month
    facts = [fact(date(2026, 6, d), elder=f"e{i}", minute=i) for d in (1, 2) for i in range(3)]
    facts += [fact(date(2026, 6, 3), elder="e9")]
    s = settle(canteen_id="c1", month=Month(2026, 6), facts=facts, rules=rules).statement
    # 1 June 3 × 200 = 600 (paid 600, 400 left); 2 June 600 → 400 (cap reached); 3 June 200 → 0.
    assert [(d.gross, d.paid, d.cap) for d in s.operating] == [(600, 600, 1000), (600, 400, 1000), (200, 0, 1000)]
    assert (s.totals.operating_gross, s.totals.operating_cap_reduction, s.totals.operating) == (1400, 400, 1000)
    assert s.totals.payable == 7 * 200 + 1000  # 1400 + 1000 = 2400


def test_beijing_elder_day_with_monthly_cap_by_hand() -> None:
    rules = with_cap(book("beijing-2022"), 0, 1000)  # ¥5 a day if the meal costs > ¥5; operating ¥3/elder/day
    d1, d2, d3 = date(2022, 3, 1), date(2022, 3, 2), date(2022, 3, 3)

    def bj(day: date, elder: str, slot: Slot, price: int, subsidy: int, *, minute: int = 0) -> MealFact:
        tiers = ("daily5",) if subsidy else ()
        return fact(day, elder=elder, slot=slot, price=price, subsidy=subsidy, tiers=tiers, minute=minute)

    facts = [
        bj(d1, "e1", "lunch", 1500, 500),
        bj(d1, "e1", "dinner", 1500, 0),  # second meal of the day: full price (per_day 1), not subsidised
        bj(d1, "e2", "lunch", 1200, 500, minute=1),
        bj(d1, "e3", "breakfast", 600, 500),
        bj(d2, "e1", "lunch", 1500, 500),
        bj(d2, "e2", "lunch", 1200, 500, minute=1),
        bj(d3, "e3", "lunch", 800, 500),
    ]
    e = profile("e1", date(1950, 1, 1))
    lunch = quote(
        e, MealRequest(canteen_id="c1", slot="lunch", price=1500, service_time=at("2022-03-01 11:00")), [], rules
    )
    dinner = MealRequest(canteen_id="c1", slot="dinner", price=1500, service_time=at("2022-03-01 17:00"))
    history = [PriorMeal(service_time=at("2022-03-01 11:00"), slot="lunch", canteen_id="c1", subsidised=True)]
    cheap = MealRequest(canteen_id="c1", slot="lunch", price=500, service_time=at("2022-03-01 11:00"))
    assert (lunch.subsidy, quote(e, dinner, history, rules).subsidy, quote(e, cheap, [], rules).subsidy) == (500, 0, 0)
    s = settle(canteen_id="c1", month=Month(2022, 3), facts=facts, rules=rules).statement
    # Distinct subsidised elders: 1 March e1 e2 e3 = 3 × 300 = 900 (paid 900); 2 March e1 e2 = 600 → 100 (cap 1000);
    # 3 March e3 = 300 → 0.
    assert [(d.basis, d.units, d.gross, d.paid) for d in s.operating] == [
        ("elder_day", 3, 900, 900),
        ("elder_day", 2, 600, 100),
        ("elder_day", 1, 300, 0),
    ]
    t = s.totals
    # Elder subsidy 6 × 500 = 3000; payable 3000 + 1000 = 4000; meals 7 (6 subsidised); elder-days 3 + 2 + 1 = 6.
    assert (t.meals, t.subsidised_meals, t.elders, t.elder_days) == (7, 6, 3, 6)
    assert (t.elder_subsidy, t.operating_gross, t.operating_cap_reduction, t.operating, t.payable) == (
        3000,
        1800,
        800,
        1000,
        4000,
    )


def test_mid_month_version_change_applies_each_days_version_and_cap() -> None:
    base = with_cap(book("beijing-2022"), 0, 1000)
    v2 = base.versions[0].model_copy(update={"id": "2022.3b", "effective_from": date(2022, 3, 2)})
    rules = base.model_copy(update={"versions": (base.versions[0], v2)})
    rules = with_cap(rules, 1, 2000, amount=400)  # from 2 March: ¥4 per elder-day, cap ¥20
    facts = [fact(date(2022, 3, 1), elder=e, price=1500, subsidy=500, tiers=("daily5",)) for e in ("e1", "e2", "e3")]
    facts += [fact(date(2022, 3, 2), elder=e, price=1500, subsidy=500, tiers=("daily5",)) for e in ("e1", "e2")]
    facts += [fact(date(2022, 3, 3), elder="e1", price=1500, subsidy=500, tiers=("daily5",))]
    s = settle(canteen_id="c1", month=Month(2022, 3), facts=facts, rules=rules).statement
    # 1 March (2022.1, ¥3, cap ¥10): 3 × 300 = 900 → 900. 2 March (2022.3b, ¥4, cap ¥20): 2 × 400 = 800, the month
    # so far 900 + 800 = 1700 ≤ 2000 → 800. 3 March: 400, only 2000 − 1700 = 300 left → 300. Total 2000.
    assert [(d.rule_version, d.amount_each, d.gross, d.paid, d.cap) for d in s.operating] == [
        ("2022.1", 300, 900, 900, 1000),
        ("2022.3b", 400, 800, 800, 2000),
        ("2022.3b", 400, 400, 300, 2000),
    ]
    assert s.totals.operating == 2000 and s.totals.payable == 6 * 500 + 2000
