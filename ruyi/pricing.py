"""The one pricing function. The terminal calls it at the counter, the server calls it again at intake;
nothing else in the project ever computes a subsidy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from pydantic import AwareDatetime, Field

from ruyi._model import Frozen
from ruyi.eligibility import ElderProfile, Eligibility, assess
from ruyi.money import Fen, MealPrice, StrictFen, percent_of
from ruyi.reasons import Reason
from ruyi.rules import RuleBook, RuleVersion, Slot, Tier

WITHHOLD_REASONS = frozenset({Reason.CARD_REVOKED, Reason.OFFLINE_TOO_LONG})


class MealRequest(Frozen):
    """The meal being priced."""

    canteen_id: str = Field(min_length=1)
    slot: Slot
    price: MealPrice
    service_time: AwareDatetime
    menu_item_id: str | None = None
    withhold: Reason | None = None
    """Set by the caller when it cannot vouch for a subsidy (card revoked, terminal offline too long):
    the meal is then sold at full price with this reason."""


class PriorMeal(Frozen):
    """An earlier, not voided meal of the same elder (at any canteen), used for limits."""

    service_time: AwareDatetime
    slot: Slot
    canteen_id: str
    subsidised: bool


class Quote(Frozen):
    """What the elder pays and why. Stored with every meal; every figure is integer fen."""

    price: MealPrice
    subsidy: MealPrice
    elder_pays: MealPrice
    operating_subsidy: StrictFen
    subsidised: bool
    service_date: date
    age: int | None
    programme: str
    rule_version: str | None
    tiers: tuple[str, ...]
    """The tiers whose amounts make up the subsidy."""
    reasons: tuple[Reason, ...]
    """Headline first: why subsidised or why full price, then how the amount was shaped."""
    subsidised_today: int
    """Subsidised meals of this elder earlier on the service date, across all canteens."""
    per_day_limit: int | None


# Long on purpose: one flat chain of early returns, each a reason for full price, reads as the subsidy policy.
def quote(
    elder: ElderProfile | None,
    meal: MealRequest,
    history: Sequence[PriorMeal],
    rules: RuleBook,
) -> Quote:
    """Price ``meal`` for ``elder`` (None for a walk-in) under the rule version in force on its service date.

    ``history`` holds the elder's earlier meals that are not voided; meals on other dates are ignored.
    """
    zone = rules.zone
    day = meal.service_time.astimezone(zone).date()
    version = rules.version_on(day)
    today = [m for m in history if m.service_time.astimezone(zone).date() == day and m.subsidised]
    base = {
        "price": meal.price,
        "service_date": day,
        "programme": rules.programme,
        "rule_version": version.id if version else None,
        "subsidised_today": len(today),
        "per_day_limit": version.limits.per_day if version else None,
    }

    def full_price(age: int | None, *reasons: Reason) -> Quote:
        return Quote(
            **base,
            subsidy=0,
            elder_pays=meal.price,
            operating_subsidy=0,
            subsidised=False,
            age=age,
            tiers=(),
            reasons=reasons,
        )

    if elder is None:
        return full_price(None, Reason.WALK_IN)
    if version is None:
        return full_price(None, Reason.NO_RULES_IN_FORCE)
    who = assess(elder, day, version)
    if not who.eligible:
        return full_price(who.age, *who.reasons)
    if meal.withhold is not None:
        if meal.withhold not in WITHHOLD_REASONS:
            raise ValueError(f"{meal.withhold} is not a reason to withhold a subsidy")
        return full_price(who.age, meal.withhold)
    if meal.slot not in version.subsidised_slots:
        return full_price(who.age, Reason.SLOT_NOT_SUBSIDISED)
    limits = version.limits
    if limits.per_day is not None and len(today) >= limits.per_day:
        return full_price(who.age, Reason.DAILY_LIMIT_REACHED)
    if limits.per_slot is not None and sum(m.slot == meal.slot for m in today) >= limits.per_slot:
        return full_price(who.age, Reason.SLOT_LIMIT_REACHED)

    matching = [t for t in version.tiers if _matches(t, who)]
    applicable = [t for t in matching if meal.price >= t.min_spend]
    notes: list[Reason] = []
    if len(applicable) < len(matching):
        notes.append(Reason.BELOW_MIN_SPEND)
    if not applicable:
        return full_price(who.age, *(notes or [Reason.NO_TIER_APPLIES]))

    chosen = _combine(version, applicable, meal.price)
    free = any(t.subsidy.free for t in chosen)
    if free:
        subsidy = meal.price
        notes.insert(0, Reason.FREE_MEAL)
    else:
        subsidy = sum(_amount(t, meal.price) for t in chosen)
        if version.max_subsidy is not None and subsidy > version.max_subsidy:
            subsidy = version.max_subsidy
            notes.append(Reason.CAPPED)
        ceiling = max(0, meal.price - version.min_copay)
        if subsidy > ceiling:
            subsidy = ceiling
            notes.append(Reason.COPAY_FLOOR)
    subsidised = subsidy > 0 or free
    if not subsidised:
        return full_price(who.age, *(notes or [Reason.ZERO_SUBSIDY]))
    return Quote(
        **base,
        subsidy=subsidy,
        elder_pays=meal.price - subsidy,
        operating_subsidy=_operating(version, meal, today),
        subsidised=True,
        age=who.age,
        tiers=tuple(t.id for t in chosen),
        reasons=(Reason.SUBSIDISED, *notes),
    )


def _matches(tier: Tier, who: Eligibility) -> bool:
    w = tier.when
    if w.age_min is not None and who.age < w.age_min:
        return False
    if w.age_max is not None and who.age > w.age_max:
        return False
    if w.categories_any and not who.categories.intersection(w.categories_any):
        return False
    return who.categories.issuperset(w.categories_all)


def _amount(tier: Tier, price: Fen) -> Fen:
    s = tier.subsidy
    if s.free:
        return price
    if s.percent is not None:
        return percent_of(price, s.percent)
    return min(s.fixed or 0, price)


def _combine(version: RuleVersion, tiers: Sequence[Tier], price: Fen) -> list[Tier]:
    """The tiers that pay: the largest one under ``highest``; the largest of each group under ``sum``. A free
    meal beats any amount (it is the whole price, and no cap or co-payment floor applies to it; a fixed amount
    as large as the price would still leave the floor to pay). Ties go to the tier listed first, so the same
    inputs always give the same quote."""
    best: dict[str, tuple[tuple[bool, Fen], Tier]] = {}
    for t in tiers:
        arena = "" if version.combine == "highest" else (t.group or f"tier:{t.id}")
        rank = (t.subsidy.free, _amount(t, price))
        if arena not in best or rank > best[arena][0]:
            best[arena] = (rank, t)
    return [t for _, t in best.values()]


def _operating(version: RuleVersion, meal: MealRequest, today: Sequence[PriorMeal]) -> Fen:
    op = version.operating
    if op is None:
        return 0
    if op.basis == "elder_day" and any(m.canteen_id == meal.canteen_id for m in today):
        return 0
    return op.amount
