"""One canteen's month of meal facts classified into paid, held and voided, and the paid meals summed: the lines,
the operating subsidy day by day (the monthly cap bounding the running total) and the totals.

A **sale** counts unless a **void** refers to it (a void belongs to the month of the sale it cancels, whenever it was
made); reprints change nothing. A reviewer's decision is final (``rejected`` never paid, ``accepted`` paid); without
one a meal carrying a holding flag (every flag except :attr:`SettlementConfig.info_flags`) is held.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from ruyi.money import Fen
from ruyi.rules import SLOTS, OperatingSubsidy, RuleBook, RuleVersion
from ruyi.settlement.model import (
    HeldMeal,
    HeldStatus,
    InvalidSettlementInput,
    Line,
    MealFact,
    Month,
    OperatingDay,
    SettlementConfig,
    Totals,
)
from ruyi.settlement.recheck import ELIGIBILITY_CHANGED, Finding, Registry, recheck


@dataclass(frozen=True, slots=True)
class MonthLedger:
    """A month's facts classified: what is paid (in lines and operating days), held, voided, and the sales and
    voids they came from."""

    canteen_id: str
    lines: list[Line]
    operating: list[OperatingDay]
    held: list[HeldMeal]
    voided: list[tuple[str, str]]
    paid: dict[str, MealFact]
    sales: dict[str, MealFact]
    voids: dict[str, MealFact]
    """void id -> void fact (of sales in this month)."""
    orphan_voids: list[MealFact]
    void_of: dict[str, str]
    """sale id -> void id."""
    ineligible: dict[str, Finding]
    """Undecided sales (not voided) the present registry no longer supports (:mod:`.recheck`): held."""


def dedupe(facts: Iterable[MealFact]) -> dict[str, MealFact]:
    by_id: dict[str, MealFact] = {}
    for f in facts:
        seen = by_id.get(f.meal_id)
        if seen is None:
            by_id[f.meal_id] = f
        elif seen != f:
            raise InvalidSettlementInput.one(
                "settlement.conflict",
                f"同一餐次编号 {f.meal_id} 出现两种不同内容",
                f"meal id {f.meal_id} given twice with different content",
            )
    return by_id


def classify_month(
    canteen_id: str,
    month: Month,
    facts: Iterable[MealFact],
    rules: RuleBook,
    config: SettlementConfig,
    *,
    unpayable: Collection[str] = (),
    registry: Registry | None = None,
) -> MonthLedger:
    """The month's facts classified into paid, held and voided (``unpayable``: sales past the upward window).
    With the ``registry`` as it stands now, every undecided subsidised sale is priced again
    (:func:`~ruyi.settlement.recheck.recheck`) and held ``eligibility_changed`` where its subsidy is no longer
    supported."""
    sales, void_list = _sales_and_voids(canteen_id, month, dedupe(facts).values())
    void_of: dict[str, str] = {}
    voids: dict[str, MealFact] = {}
    orphans: list[MealFact] = []
    for v in sorted(void_list, key=lambda v: v.meal_id):
        target = v.refers_to or ""
        if target in sales:
            void_of.setdefault(target, v.meal_id)
            voids[v.meal_id] = v
        else:
            orphans.append(v)
    ineligible: dict[str, Finding] = {}
    if registry is not None:
        undecided = (f for mid, f in sales.items() if mid not in void_of and f.decision is None)
        ineligible = recheck(undecided, registry, rules)
    paid: dict[str, MealFact] = {}
    held: list[HeldMeal] = []
    for mid, f in sales.items():
        if mid in void_of:
            continue
        flags = tuple(sorted({*f.flags, ELIGIBILITY_CHANGED})) if mid in ineligible else f.flags
        status = _held_status(f, flags, config, unpayable)
        if status is None:
            paid[mid] = f
        else:
            held.append(
                HeldMeal(mid, month, f.service_date, f.slot, f.elder_id, f.subsidy, status, tuple(sorted(flags)))
            )
    return MonthLedger(
        canteen_id=canteen_id,
        lines=_lines(paid.values()),
        operating=_operating(paid.values(), rules),
        held=sorted(held, key=lambda h: h.meal_id),
        voided=sorted(void_of.items()),
        paid=paid,
        sales=sales,
        voids=voids,
        orphan_voids=orphans,
        void_of=void_of,
        ineligible=ineligible,
    )


def _sales_and_voids(
    canteen_id: str, month: Month, facts: Iterable[MealFact]
) -> tuple[dict[str, MealFact], list[MealFact]]:
    sales: dict[str, MealFact] = {}
    voids: list[MealFact] = []
    for f in facts:
        # Another canteen's void of a sale here still cancels it (as intake and the rollups count it; intake flags
        # it ``void_irregular``): only a sale must be this canteen's.
        if f.canteen_id != canteen_id and f.kind == "sale":
            raise InvalidSettlementInput.one(
                "settlement.foreign_canteen",
                f"餐次 {f.meal_id} 属于食堂 {f.canteen_id}，不属于 {canteen_id}",
                f"meal {f.meal_id} belongs to canteen {f.canteen_id}, not {canteen_id}",
            )
        if f.kind == "sale":
            if not month.contains(f.service_date):
                raise InvalidSettlementInput.one(
                    "settlement.wrong_month",
                    f"餐次 {f.meal_id} 的就餐日期 {f.service_date} 不在 {month}",
                    f"meal {f.meal_id} was served on {f.service_date}, not in {month}",
                )
            sales[f.meal_id] = f
        elif f.kind == "void":
            voids.append(f)
    return sales, voids


def _held_status(
    f: MealFact, flags: Iterable[str], config: SettlementConfig, unpayable: Collection[str]
) -> HeldStatus | None:
    if f.decision == "rejected":
        return "rejected"
    if f.decision is None and any(flag not in config.info_flags for flag in flags):
        return "held"
    if f.meal_id in unpayable:
        return "window_expired"
    return None


def _lines(paid: Iterable[MealFact]) -> list[Line]:
    groups: dict[tuple[date, str, str], list[MealFact]] = defaultdict(list)
    for f in paid:
        groups[(f.service_date, f.slot, "+".join(f.tiers))].append(f)
    slot_order: dict[str, int] = {s: i for i, s in enumerate(SLOTS)}
    return [
        Line(
            day=day,
            slot=group[0].slot,
            tier=tier,
            meals=len(group),
            elders=len({g.elder_id for g in group if g.elder_id is not None}),
            price=sum(g.price for g in group),
            elder_subsidy=sum(g.subsidy for g in group),
            elder_pays=sum(g.elder_pays for g in group),
            meal_ids=tuple(sorted(g.meal_id for g in group)),
        )
        for (day, _slot, tier), group in sorted(
            groups.items(), key=lambda kv: (kv[0][0], slot_order[kv[0][1]], kv[0][2])
        )
    ]


def _operating(paid: Iterable[MealFact], rules: RuleBook) -> list[OperatingDay]:
    by_day: dict[date, list[MealFact]] = defaultdict(list)
    for f in paid:
        if f.subsidised:
            by_day[f.service_date].append(f)
    days = paid_days(f for meals in by_day.values() for f in meals)
    return [
        OperatingDay(
            day=d.day,
            rule_version=d.version.id,
            basis=d.rule.basis,
            units=d.units,
            amount_each=d.rule.amount,
            gross=d.gross,
            paid=d.paid,
            cap=d.rule.monthly_cap,
            meal_ids=tuple(sorted(f.meal_id for f in by_day[d.day])),
        )
        for d in operating_days(days, rules)
    ]


@dataclass(frozen=True, slots=True)
class PaidDay:
    """One canteen's paid meals of one day, summed: all the totals need (a daily rollup of the meals holds exactly
    this)."""

    meals: int
    subsidised_meals: int
    elders: int
    """Distinct elders with a paid subsidised meal that day (walk-ins are nobody)."""
    price: Fen
    elder_subsidy: Fen
    elder_pays: Fen


def paid_days(paid: Iterable[MealFact]) -> dict[date, PaidDay]:
    """The paid meals summed per service date."""
    by_day: dict[date, list[MealFact]] = defaultdict(list)
    for f in paid:
        by_day[f.service_date].append(f)
    return {
        day: PaidDay(
            meals=len(meals),
            subsidised_meals=sum(f.subsidised for f in meals),
            elders=len({f.elder_id for f in meals if f.subsidised and f.elder_id is not None}),
            price=sum(f.price for f in meals),
            elder_subsidy=sum(f.subsidy for f in meals),
            elder_pays=sum(f.elder_pays for f in meals),
        )
        for day, meals in by_day.items()
    }


@dataclass(frozen=True, slots=True)
class OperatingFigures:
    day: date
    version: RuleVersion
    rule: OperatingSubsidy
    units: int
    gross: Fen
    paid: Fen


def operating_days(days: Mapping[date, PaidDay], rules: RuleBook) -> list[OperatingFigures]:
    """The operating subsidy of each day with a paid subsidised meal, under the version in force that day, the
    monthly cap bounding the running total (days in date order)."""
    out: list[OperatingFigures] = []
    so_far = 0
    for day in sorted(days):
        today = days[day]
        version: RuleVersion | None = rules.version_on(day)
        if today.subsidised_meals == 0 or version is None or version.operating is None:
            continue
        op = version.operating
        units = today.subsidised_meals if op.basis == "meal" else today.elders
        gross = units * op.amount
        paid = gross if op.monthly_cap is None else max(0, min(gross, op.monthly_cap - so_far))
        so_far += paid
        out.append(OperatingFigures(day, version, op, units, gross, paid))
    return out


def month_totals(
    days: Mapping[date, PaidDay],
    *,
    elders: int,
    rules: RuleBook,
    construction: Fen,
    adjustments: Fen,
    held_meals: int,
    held_subsidy: Fen,
) -> Totals:
    """A statement's :class:`Totals` from its paid meals summed by day, the month's distinct subsidised elders,
    the bureau's lines, the adjustments and the meals held: the one place the totals are worked out."""
    operating = operating_days(days, rules)
    gross = sum(d.gross for d in operating)
    paid = sum(d.paid for d in operating)
    elder_subsidy = sum(d.elder_subsidy for d in days.values())
    return Totals(
        meals=sum(d.meals for d in days.values()),
        subsidised_meals=sum(d.subsidised_meals for d in days.values()),
        elders=elders,
        elder_days=sum(d.elders for d in days.values()),
        price=sum(d.price for d in days.values()),
        elder_subsidy=elder_subsidy,
        elder_pays=sum(d.elder_pays for d in days.values()),
        operating_gross=gross,
        operating_cap_reduction=gross - paid,
        operating=paid,
        construction=construction,
        adjustments=adjustments,
        payable=elder_subsidy + paid + construction + adjustments,
        held_meals=held_meals,
        held_subsidy=held_subsidy,
    )
