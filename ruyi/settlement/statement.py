"""The statement of one canteen's month: its own facts classified (:mod:`.month`), the adjustments for earlier
closed months (:mod:`.late`) and the bureau's lines, summed; then the edit checks (:mod:`.checks`). Its own module
because it joins the others (``late`` builds on ``month``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from ruyi.rules import RuleBook
from ruyi.settlement.checks import CHECK_CODES, MonthView, run_checks
from ruyi.settlement.late import late_adjustments
from ruyi.settlement.model import (
    STATEMENT_FORMAT,
    AdjustmentLine,
    CheckResult,
    ConstructionLine,
    CorrectionLine,
    Evidence,
    HeldMeal,
    InvalidSettlementInput,
    MealFact,
    Month,
    PriorMonth,
    Settlement,
    SettlementConfig,
    Statement,
    Totals,
    ZTotals,
)
from ruyi.settlement.month import MonthLedger, classify_month, month_totals, paid_days
from ruyi.settlement.recheck import ELIGIBILITY_CHANGED, Registry, describe

_KIND_ORDER = {"late_paid": 0, "reversed": 1, "eligibility_changed": 2, "operating": 3, "correction": 4}


def settle(
    *,
    canteen_id: str,
    month: Month,
    facts: Iterable[MealFact],
    rules: RuleBook,
    config: SettlementConfig | None = None,
    construction: Iterable[ConstructionLine] = (),
    corrections: Iterable[CorrectionLine] = (),
    prior: Iterable[PriorMonth] = (),
    enrolled: Mapping[date, int] | None = None,
    z_reports: Iterable[ZTotals] = (),
    other_canteens: Iterable[MealFact] = (),
    baseline: Mapping[date, int] | None = None,
    registry: Registry | None = None,
    checks: bool = True,
) -> Settlement:
    """The statement of ``canteen_id`` for ``month`` and its edit checks.

    ``facts``: the canteen's sales served in ``month`` with the voids and reprints referring to them.
    ``prior``: earlier closed months to re-examine (only in their :func:`target_month`).
    ``enrolled``: enrolled eligible elders of the canteen's catchment per day (attendance check).
    ``z_reports``: the terminals' Z-report totals of the month's days. ``other_canteens``: the same elders' meals
    (sales and voids) at other canteens around this month (two-canteen and daily-limit checks).
    ``baseline``: this canteen's daily meal counts before the month (spike check).
    ``registry``: the registry as it stands now for the elders of these meals (and of ``prior``'s): every
    undecided subsidised meal it no longer supports is held ``eligibility_changed`` (an error check names the fact
    until a reviewer decides), or, in a closed ``prior`` month, taken back in an ``eligibility_changed`` line.
    ``checks`` False: the statement alone, no edit checks (they never change the statement; a caller that only
    needs the figures, such as the whole programme's month, skips their cost).
    The result depends on the data only, never on the order it is given in.
    """
    cfg = config or SettlementConfig()
    ledger = classify_month(canteen_id, month, facts, rules, cfg, registry=registry)
    corrections = sorted(corrections, key=lambda c: c.line_id)
    adjustments, held = _adjustments(canteen_id, month, prior, corrections, rules, cfg, registry)
    held = sorted([*ledger.held, *held], key=lambda h: (h.origin, h.meal_id))
    constr = tuple(sorted(construction, key=lambda c: c.line_id))
    statement = Statement(
        format=STATEMENT_FORMAT,
        programme=rules.programme,
        canteen_id=canteen_id,
        month=month,
        lines=tuple(ledger.lines),
        operating=tuple(ledger.operating),
        construction=constr,
        adjustments=tuple(adjustments),
        held=tuple(held),
        voided=tuple(ledger.voided),
        totals=_totals(ledger, rules, constr, adjustments, held),
    )
    explained = {mid: f.texts() for mid, f in ledger.ineligible.items()}
    if not checks:
        return Settlement(statement, (), explained)
    view = MonthView(
        ledger=ledger,
        month=month,
        rules=rules,
        corrections=tuple(corrections),
        enrolled=enrolled or {},
        z_reports=tuple(z_reports),
        other_canteens=tuple(other_canteens),
        baseline=baseline or {},
        held=tuple(held),
    )
    results = sorted([*run_checks(view, cfg), *eligibility_checks(ledger, month, held, cfg)], key=lambda c: c.key)
    return Settlement(statement, tuple(results), explained)


def eligibility_checks(
    ledger: MonthLedger, month: Month, held: Sequence[HeldMeal], config: SettlementConfig
) -> list[CheckResult]:
    """One result per elder and fact for the month's meals held ``eligibility_changed`` (all undecided: a
    decision resolves them), naming the fact, its effective date and when and by whom it was recorded; and one per
    earlier closed month whose meals were taken back for it (the adjustment line names the facts), until each is
    decided, so none is left undecided once this month closes."""
    code = ELIGIBILITY_CHANGED
    severity = config.severities.get(code, CHECK_CODES[code])
    out: list[CheckResult] = []
    earlier: dict[Month, list[HeldMeal]] = {}
    for h in held:
        if h.status == "held" and h.origin != month and ELIGIBILITY_CHANGED in h.flags:
            earlier.setdefault(h.origin, []).append(h)
    for origin, meals in sorted(earlier.items()):
        ids = tuple(h.meal_id for h in meals)
        out.append(
            CheckResult(
                code,
                f"{code}:{origin}",
                severity,
                f"{origin}（已关账）有 {len(ids)} 份补贴餐因登记信息变更已冲回（见调整项说明），待逐一审核",
                f"{len(ids)} subsidised meals of the closed {origin} were taken back because the registry changed "
                "(the adjustment line names the facts): each awaits a decision",
                Evidence(ids, tuple(sorted({h.service_date for h in meals})), str(origin), (("meals", len(ids)),)),
            )
        )
    for (elder, zh, en), found in sorted(describe(ledger.ineligible.values()).items()):
        ids = tuple(f.meal_id for f in found)
        days = tuple(sorted({ledger.sales[m].service_date for m in ids}))
        fact = found[0].fact
        subject = f"{elder}:{fact.kind}:{fact.code}:{fact.effective}" if fact is not None else f"{elder}:registry"
        paid = sum(f.paid - f.now for f in found)
        out.append(
            CheckResult(
                code,
                f"{code}:{subject}",
                severity,
                f"老人 {elder} 的 {len(ids)} 份补贴餐不再符合登记信息：{zh}，待审核",
                f"{len(ids)} subsidised meals of elder {elder} are no longer supported by the registry: {en}; "
                "awaiting a decision",
                Evidence(ids, days, elder, (("meals", len(ids)), ("subsidy_unsupported", paid))),
            )
        )
    return out


def _adjustments(  # noqa: PLR0917
    canteen_id: str,
    month: Month,
    prior: Iterable[PriorMonth],
    corrections: Sequence[CorrectionLine],
    rules: RuleBook,
    config: SettlementConfig,
    registry: Registry | None = None,
) -> tuple[list[AdjustmentLine], list[HeldMeal]]:
    """The month's adjustment lines (late facts of each prior month, then the corrections) in statement order, and
    the prior months' meals still held."""
    adjustments: list[AdjustmentLine] = []
    held: list[HeldMeal] = []
    origins: set[Month] = set()
    for p in sorted(prior, key=lambda p: p.settled.month):
        if p.settled.month in origins:
            raise InvalidSettlementInput.one(
                "settlement.prior_twice", f"{p.settled.month} 重复给出", f"{p.settled.month} given twice"
            )
        origins.add(p.settled.month)
        lines, prior_held = late_adjustments(canteen_id, month, p, rules, config, registry)
        adjustments.extend(lines)
        held.extend(prior_held)
    for c in corrections:
        adjustments.append(AdjustmentLine(c.origin, "correction", c.amount, (), c.note, c.line_id))
    adjustments.sort(key=lambda a: (a.origin, _KIND_ORDER[a.kind], a.line_id))
    return adjustments, held


def _totals(
    ledger: MonthLedger,
    rules: RuleBook,
    construction: Sequence[ConstructionLine],
    adjustments: Sequence[AdjustmentLine],
    held: Sequence[HeldMeal],
) -> Totals:
    still_held = [h for h in held if h.status == "held"]
    return month_totals(
        paid_days(ledger.paid.values()),
        elders=len({f.elder_id for f in ledger.paid.values() if f.subsidised and f.elder_id is not None}),
        rules=rules,
        construction=sum(c.amount for c in construction),
        adjustments=sum(a.amount for a in adjustments),
        held_meals=len(still_held),
        held_subsidy=sum(h.subsidy for h in still_held),
    )
