"""Late facts: a sale of a closed month synced after close, or a void or decision made after it, never touch the
closed statement. The earlier month is recomputed from its facts as known now and compared with what was already
settled for it (:func:`settled_of`); the difference becomes adjustment lines of the next open month
(:func:`target_month`) pointing back to it: ``late_paid`` (meals newly paid), ``reversed`` (meals paid before, now
voided or rejected), ``eligibility_changed`` (meals paid before that the registry as it stands now no longer
supports: :mod:`.recheck`) and ``operating`` (the recomputed operating subsidy, cap included, minus what was paid).
So each meal is paid exactly once, in its month or in one adjustment.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ruyi.money import format_yuan
from ruyi.rules import RuleBook
from ruyi.settlement.model import (
    AdjustmentLine,
    HeldMeal,
    InvalidSettlementInput,
    Month,
    PriorMonth,
    Settled,
    SettlementConfig,
    Statement,
)
from ruyi.settlement.month import classify_month
from ruyi.settlement.recheck import Registry, finding_note


def target_month(origin: Month, closed: Collection[Month]) -> Month:
    """Where a fact of ``origin`` is settled: ``origin`` itself while it is open, else the first later month
    that is not closed (its adjustments point back to ``origin``)."""
    month = origin
    while month in closed:
        month = month.next()
    return month


_REVERSING = frozenset({"reversed", "eligibility_changed"})


def settled_of(origin: Month, closed: Iterable[Statement]) -> Settled:
    """What the closed statements have paid for ``origin``: its own statement plus every later adjustment
    pointing back to it (manual corrections are not meals and are left out)."""
    paid: set[str] = set()
    subsidy = 0
    operating = 0
    found = False
    for s in sorted(closed, key=lambda s: s.month):
        if s.month == origin:
            found = True
            for line in s.lines:
                paid.update(line.meal_ids)
            subsidy += s.totals.elder_subsidy
            operating += s.totals.operating
        for a in s.adjustments:
            if a.origin != origin:
                continue
            if a.kind == "late_paid":
                paid.update(a.meal_ids)
                subsidy += a.amount
            elif a.kind in _REVERSING:
                paid.difference_update(a.meal_ids)
                subsidy += a.amount
            elif a.kind == "operating":
                operating += a.amount
    if not found:
        raise InvalidSettlementInput.one(
            "settlement.not_closed",
            f"{origin} 没有已关账的结算单",
            f"{origin} has no closed statement",
        )
    return Settled(origin, frozenset(paid), subsidy, operating)


def late_adjustments(  # noqa: PLR0917
    canteen_id: str,
    month: Month,
    prior: PriorMonth,
    rules: RuleBook,
    config: SettlementConfig,
    registry: Registry | None = None,
) -> tuple[list[AdjustmentLine], list[HeldMeal]]:
    """The adjustment lines ``month`` carries for the earlier closed ``prior`` month, and that month's meals still
    held (upward adjustments past :attr:`SettlementConfig.upward_window_months` are held as ``window_expired``).
    With the ``registry`` as it stands now, a meal paid before that it no longer supports is taken back in an
    ``eligibility_changed`` line (its note names the facts) and held until a reviewer decides."""
    origin = prior.settled.month
    if origin >= month:
        raise InvalidSettlementInput.one(
            "settlement.prior_not_earlier",
            f"调整来源月份 {origin} 须早于 {month}",
            f"an adjusted month ({origin}) must be before {month}",
        )
    before = prior.settled.paid_meal_ids
    ledger = classify_month(canteen_id, origin, prior.facts, rules, config, registry=registry)
    window = config.upward_window_months
    if window is not None and month.index() - origin.index() > window:
        expired = set(ledger.paid) - before
        if expired:
            ledger = classify_month(
                canteen_id, origin, prior.facts, rules, config, unpayable=expired, registry=registry
            )
    missing = before - ledger.sales.keys()
    if missing:
        raise InvalidSettlementInput.one(
            "settlement.prior_incomplete",
            f"{origin} 的已结算餐次缺少记录：{', '.join(sorted(missing)[:5])}",
            f"meals settled for {origin} are missing from its facts: {', '.join(sorted(missing)[:5])}",
        )
    was = sum(ledger.sales[m].subsidy for m in before)
    if was != prior.settled.elder_subsidy:
        raise InvalidSettlementInput.one(
            "settlement.prior_mismatch",
            f"{origin} 已结算补贴 {format_yuan(prior.settled.elder_subsidy)} 与餐次记录合计 {format_yuan(was)} 不符",
            f"{origin}: settled subsidy {format_yuan(prior.settled.elder_subsidy)} != its meals' {format_yuan(was)}",
        )
    newly = sorted(set(ledger.paid) - before)
    gone = sorted(before - ledger.paid.keys())
    ineligible = [m for m in gone if m in ledger.ineligible]
    reversed_ = [m for m in gone if m not in ledger.ineligible]
    out: list[AdjustmentLine] = []
    if newly:
        out.append(AdjustmentLine(origin, "late_paid", sum(ledger.paid[m].subsidy for m in newly), tuple(newly)))
    if reversed_:
        out.append(
            AdjustmentLine(origin, "reversed", -sum(ledger.sales[m].subsidy for m in reversed_), tuple(reversed_))
        )
    if ineligible:
        amount = -sum(ledger.sales[m].subsidy for m in ineligible)
        note = finding_note(ledger.ineligible[m] for m in ineligible)
        out.append(AdjustmentLine(origin, "eligibility_changed", amount, tuple(ineligible), note))
    op_delta = sum(d.paid for d in ledger.operating) - prior.settled.operating
    if op_delta:
        out.append(AdjustmentLine(origin, "operating", op_delta, tuple(sorted({*newly, *gone}))))
    return out, ledger.held
