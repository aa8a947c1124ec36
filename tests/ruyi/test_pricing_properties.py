"""Properties of the one pricing function over random rule books, elders, meals and histories."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange
from ruyi.errors import InvalidRuleSet
from ruyi.money import format_yuan
from ruyi.pricing import MealRequest, PriorMeal, Quote, quote
from ruyi.reasons import Reason
from ruyi.rules import SLOTS, RuleBook, load_rulebook
from tests.ruyi.factories import SHANGHAI

CATEGORIES = ("a", "b", "c")
DAY0 = date(2026, 3, 1)

money = st.one_of(st.integers(min_value=1, max_value=3000), st.just(0)).map(lambda f: format_yuan(f, symbol=False))


@st.composite
def tiers(draw: st.DrawFn, combine: str) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(min_value=1, max_value=5))):
        kind = draw(st.sampled_from(["fixed", "fixed", "percent", "free"]))
        subsidy: dict[str, Any] = (
            {"fixed": draw(money)}
            if kind == "fixed"
            else {"percent": draw(st.integers(min_value=1, max_value=100))}
            if kind == "percent"
            else {"free": True}
        )
        lo = draw(st.one_of(st.none(), st.integers(min_value=55, max_value=100)))
        hi = draw(st.one_of(st.none(), st.integers(min_value=lo or 55, max_value=110)))
        tier: dict[str, Any] = {
            "id": f"t{i}",
            "label": f"tier {i}",
            "when": {
                "age_min": lo,
                "age_max": hi,
                "categories_any": draw(st.lists(st.sampled_from(CATEGORIES), unique=True, max_size=2)),
                "categories_all": draw(st.lists(st.sampled_from(CATEGORIES), unique=True, max_size=1)),
            },
            "subsidy": subsidy,
            "min_spend": draw(st.sampled_from(["0", "5.00", "10.00"])),
        }
        if combine == "sum":
            tier["group"] = draw(st.sampled_from([None, "g1", "g2"]))
        out.append(tier)
    return out


@st.composite
def rulebooks(draw: st.DrawFn, combine: str | None = None) -> RuleBook:
    how = combine or draw(st.sampled_from(["highest", "sum"]))
    per = st.one_of(st.none(), st.integers(min_value=1, max_value=3))
    data = {
        "format": 1,
        "programme": "prop",
        "name": "property test",
        "categories": {c: c.upper() for c in CATEGORIES},
        "versions": [
            {
                "id": "v1",
                "effective_from": DAY0.isoformat(),
                "min_age": draw(st.integers(min_value=55, max_value=65)),
                "subsidised_slots": ["lunch", *draw(st.lists(st.sampled_from(["breakfast", "dinner"]), unique=True))],
                "combine": how,
                "max_subsidy": draw(st.one_of(st.none(), money)),
                "min_copay": draw(st.sampled_from(["0", "1.00", "2.00", "5.00"])),
                "limits": {"per_day": draw(per), "per_slot": draw(per)},
                "tiers": draw(tiers(how)),
                "operating": draw(
                    st.one_of(
                        st.none(),
                        st.builds(
                            lambda b, a: {"basis": b, "amount": a}, st.sampled_from(["meal", "elder_day"]), money
                        ),
                    )
                ),
            }
        ],
    }
    try:
        return load_rulebook(data)
    except InvalidRuleSet:
        assume(False)
        raise


# hypothesis takes naive bounds and attaches the zone itself
when = st.datetimes(datetime(2026, 3, 1), datetime(2026, 3, 3), timezones=st.just(SHANGHAI))  # noqa: DTZ001


@st.composite
def elders(draw: st.DrawFn) -> ElderProfile:
    # Mostly enrolled elders, so that most examples reach the tiers; sometimes a later change of status.
    status = [EnrolmentStatus.ENROLLED] if draw(st.sampled_from([True] * 9 + [False])) else []
    status += [draw(st.sampled_from(list(EnrolmentStatus)))] if draw(st.sampled_from([False] * 4 + [True])) else []
    spans = [
        CategorySpan(
            code=draw(st.sampled_from(CATEGORIES)),
            valid_from=DAY0 + timedelta(days=draw(st.integers(min_value=-3, max_value=2))),
            valid_to=draw(st.one_of(st.none(), st.just(DAY0 + timedelta(days=1)))),
        )
        for _ in range(draw(st.integers(min_value=0, max_value=3)))
    ]
    return ElderProfile(
        elder_id="e",
        birth_date=draw(st.dates(min_value=date(1915, 1, 1), max_value=date(1968, 12, 31))),
        statuses=tuple(
            StatusChange(status=s, effective_from=DAY0 - timedelta(days=10 - i)) for i, s in enumerate(status)
        ),
        categories=tuple(spans),
    )


meals = st.builds(
    lambda slot, price, t: MealRequest(canteen_id="c1", slot=slot, price=price, service_time=t),
    st.sampled_from(["lunch", "lunch", *SLOTS]),
    st.integers(min_value=0, max_value=3000),
    when,
)
histories = st.lists(
    st.builds(
        lambda t, slot, canteen, sub: PriorMeal(service_time=t, slot=slot, canteen_id=canteen, subsidised=sub),
        when,
        st.sampled_from(SLOTS),
        st.sampled_from(["c1", "c2"]),
        st.booleans(),
    ),
    max_size=3,
)


def min_copay(rules: RuleBook, q: Quote) -> int:
    v = rules.version_on(q.service_date)
    return 0 if v is None else v.min_copay


@settings(max_examples=400)
@given(rulebooks(), st.one_of(st.none(), elders()), meals, histories)
def test_amounts_are_sound(rules: RuleBook, who: ElderProfile | None, m: MealRequest, hist: list[PriorMeal]) -> None:
    q = quote(who, m, hist, rules)
    assert 0 <= q.subsidy <= q.price
    assert q.subsidy + q.elder_pays == q.price == m.price
    assert q.operating_subsidy >= 0
    assert q.reasons, "every quote explains itself"
    assert q.subsidised == (q.reasons[0] is Reason.SUBSIDISED)
    if Reason.FREE_MEAL not in q.reasons:
        assert q.elder_pays >= min(min_copay(rules, q), q.price)
    if not q.subsidised:
        assert (q.subsidy, q.operating_subsidy, q.tiers) == (0, 0, ())


@settings(max_examples=200)
@given(rulebooks(), elders(), meals, histories)
def test_same_inputs_same_quote(rules: RuleBook, who: ElderProfile, m: MealRequest, hist: list[PriorMeal]) -> None:
    q = quote(who, m, hist, rules)
    assert quote(who, m, list(reversed(hist)), rules) == q
    assert Quote.model_validate_json(q.model_dump_json()) == q


@settings(max_examples=400)
@given(rulebooks(combine="highest"), elders(), meals, histories, st.sampled_from(CATEGORIES))
def test_adding_a_category_never_raises_what_the_elder_pays(
    rules: RuleBook, who: ElderProfile, m: MealRequest, hist: list[PriorMeal], extra: str
) -> None:
    more = who.model_copy(
        update={"categories": (*who.categories, CategorySpan(code=extra, valid_from=date(2000, 1, 1)))}
    )
    assert quote(more, m, hist, rules).elder_pays <= quote(who, m, hist, rules).elder_pays


def test_a_free_meal_tier_wins_a_tie_with_a_fixed_amount_as_large_as_the_price() -> None:
    """Found by the property above: a fixed ¥1 tier for category ``a`` listed before a free tier for everyone
    won the tie on a ¥0.01 meal, and the ¥1 co-payment floor then took its whole subsidy, so gaining category
    ``a`` made the elder pay."""
    data = {
        "format": 1,
        "programme": "prop",
        "name": "regression",
        "categories": {"a": "A"},
        "versions": [
            {
                "id": "v1",
                "effective_from": DAY0.isoformat(),
                "min_age": 60,
                "subsidised_slots": ["lunch"],
                "combine": "highest",
                "min_copay": "1.00",
                "tiers": [
                    {"id": "fixed", "label": "A", "when": {"categories_any": ["a"]}, "subsidy": {"fixed": "1.00"}},
                    {"id": "free", "label": "all", "when": {}, "subsidy": {"free": True}},
                ],
            }
        ],
    }
    rules = load_rulebook(data)
    meal = MealRequest(canteen_id="c1", slot="lunch", price=1, service_time=datetime(2026, 3, 1, 12, tzinfo=SHANGHAI))
    born = ElderProfile(
        elder_id="e",
        birth_date=date(1950, 1, 1),
        statuses=(StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=DAY0),),
    )
    with_a = born.model_copy(update={"categories": (CategorySpan(code="a", valid_from=date(2000, 1, 1)),)})
    for who in (born, with_a):
        q = quote(who, meal, [], rules)
        assert (q.elder_pays, q.tiers) == (0, ("free",)), q
