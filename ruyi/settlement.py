"""Monthly settlement arithmetic: one canteen's month of meal facts in, a :class:`Statement` and its edit checks
out. Pure: no I/O, no clock, no database. The server loads the facts, stores statements and decisions, and calls
:func:`settle`; closing stores :func:`statement_hash`, and a closed statement is only ever compared with it again.

What is paid (the one rule, applied everywhere, also when an earlier month is recomputed):

- A **sale** counts unless a **void** refers to it (a void belongs to the month of the sale it cancels, whenever
  it was made). Reprints change nothing.
- A reviewer's **decision** is final: ``rejected`` is never paid, ``accepted`` is paid. Without a decision a meal
  is paid unless it carries a *holding* flag (every flag except :data:`INFO_FLAGS`, configurable): then it is
  **held** — not paid, listed with its reasons, and paid later through an adjustment once accepted.
- The elder subsidy reimbursed is each paid meal's stored quote subsidy (the server re-quoted it at intake and
  flagged any disagreement).
- The **operating subsidy** is computed here, day by day, under the rule version in force on that day: ``meal``
  basis pays per paid subsidised meal, ``elder_day`` per distinct elder with a paid subsidised meal that day at
  this canteen. The **monthly cap** of the day's version bounds the running month total: days are taken in date
  order and a day adds ``min(its amount, cap - paid so far)`` (never below 0). A cap that changes mid-month thus
  bounds everything paid up to each day; the reduction is shown per day.
- **Late facts** (a sale of a closed month synced after close, a void or decision made after close) never touch
  the closed statement. The caller passes the earlier month's facts as known now with what was already settled
  for it (:class:`PriorMonth`, :func:`settled_of`); the month is recomputed and the difference becomes adjustment
  lines of the next open month (:func:`target_month`) pointing back to it: ``late_paid`` (meals newly paid),
  ``reversed`` (meals paid before, now voided or rejected) and ``operating`` (the recomputed operating subsidy,
  cap included, minus what was paid). So each meal is paid exactly once, in its month or in one adjustment.

Money is integer fen; ratios are :class:`Ratio` (two integers); no float is accepted anywhere.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from ruyi.errors import Problem, RuyiError
from ruyi.flags import CHAIN_PREFIX
from ruyi.meal import FAULT_TEXT, IdentifiedBy, Kind, MealRecord
from ruyi.money import Fen, format_yuan
from ruyi.rules import SLOTS, OperatingSubsidy, RuleBook, RuleVersion, Slot

STATEMENT_FORMAT = "ruyi-statement/1"
"""The version of the statement's canonical encoding (part of the hashed bytes)."""

Decision = Literal["accepted", "rejected"]
Severity = Literal["error", "warning"]
HeldStatus = Literal["held", "rejected", "window_expired"]
AdjustmentKind = Literal["late_paid", "reversed", "operating", "correction"]


class InvalidSettlementInput(RuyiError):
    """Facts that cannot be settled as given (another canteen's meal, the same id with other content …)."""


# ---------------------------------------------------------------------------------------------------------------
# Flags: the codes intake (server/sync) keeps with a meal. Unknown codes are allowed and shown by their code.

STATUS_FLAGS = frozenset({"elder_not_eligible"})
CARD_FLAGS = frozenset({"card_revoked"})
CHAIN_FLAGS = frozenset(f"{CHAIN_PREFIX}{kind}" for kind in FAULT_TEXT)
INFO_FLAGS = frozenset({"manual_identification"})
"""Flags that are listed but do not hold a meal by default: intake marks every manual identification, and the
manual-share check watches those per cashier instead."""


# ---------------------------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True, order=True, slots=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9999:
            raise ValueError(f"not a month: {self.year}-{self.month}")

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def parse(cls, text: str) -> Month:
        """'2026-03' -> Month(2026, 3)."""
        year, _, month = text.partition("-")
        if len(year) != 4 or len(month) != 2 or not (year.isdigit() and month.isdigit()):
            raise ValueError(f"not a month (YYYY-MM): {text!r}")
        return cls(int(year), int(month))

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last_day(self) -> date:
        return self.next().first_day - timedelta(days=1)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def index(self) -> int:
        """Months since year 0 (differences give months between)."""
        return self.year * 12 + self.month - 1

    def contains(self, day: date) -> bool:
        return day.year == self.year and day.month == self.month

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, slots=True)
class MealFact:
    """One stored meal record as settlement sees it: the record, its quote, its intake flags and the reviewer's
    decision. ``service_date`` is the quote's (local, in the programme's zone)."""

    meal_id: str
    canteen_id: str
    terminal_id: str
    seq: int
    kind: Kind
    refers_to: str | None
    service_date: date
    service_time: datetime
    slot: Slot
    elder_id: str | None
    identified_by: IdentifiedBy
    cashier: str
    price: Fen
    subsidy: Fen
    elder_pays: Fen
    subsidised: bool
    operating_subsidy: Fen
    """As quoted at the counter; informational (settlement computes the operating subsidy from the rules)."""
    rule_version: str | None
    tiers: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    decision: Decision | None = None

    def __post_init__(self) -> None:
        if self.service_time.tzinfo is None or self.service_time.utcoffset() is None:
            raise ValueError(f"{self.meal_id}: service_time must be timezone-aware")
        for name in ("price", "subsidy", "elder_pays", "operating_subsidy", "seq"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise ValueError(f"{self.meal_id}: {name} must be a non-negative int")
        if self.subsidy + self.elder_pays != self.price:
            raise ValueError(f"{self.meal_id}: subsidy + elder_pays must equal price")
        if (self.kind == "sale") != (self.refers_to is None):
            raise ValueError(f"{self.meal_id}: a sale refers to nothing; a void or reprint refers to a record")
        if self.subsidy > 0 and not self.subsidised:
            raise ValueError(f"{self.meal_id}: a meal with a subsidy is subsidised")


def fact_from_record(record: MealRecord, *, flags: Iterable[str] = (), decision: Decision | None = None) -> MealFact:
    """The settlement view of a stored :class:`MealRecord` with its intake flags and decision."""
    q = record.quote
    return MealFact(
        meal_id=str(record.meal_id),
        canteen_id=record.canteen_id,
        terminal_id=record.terminal_id,
        seq=record.seq,
        kind=record.kind,
        refers_to=None if record.refers_to is None else str(record.refers_to),
        service_date=q.service_date,
        service_time=record.service_time,
        slot=record.slot,
        elder_id=record.elder_id,
        identified_by=record.identified_by,
        cashier=record.cashier,
        price=q.price,
        subsidy=q.subsidy,
        elder_pays=q.elder_pays,
        subsidised=q.subsidised,
        operating_subsidy=q.operating_subsidy,
        rule_version=q.rule_version,
        tiers=q.tiers,
        flags=tuple(sorted(set(flags))),
        decision=decision,
    )


@dataclass(frozen=True, slots=True)
class ConstructionLine:
    """A one-off construction subsidy (就餐点建设补贴) entered by the bureau for this statement."""

    line_id: str
    amount: Fen
    note: str


@dataclass(frozen=True, slots=True)
class CorrectionLine:
    """A correction entered by the bureau for an earlier month (negative: downward). Upward corrections are
    only allowed within :attr:`SettlementConfig.upward_window_months` (an error check otherwise)."""

    line_id: str
    origin: Month
    amount: Fen
    note: str


@dataclass(frozen=True, slots=True)
class Settled:
    """What has been paid for an (earlier, closed) month so far: its closed statement plus every adjustment
    pointing back to it in later closed statements. Made by :func:`settled_of`."""

    month: Month
    paid_meal_ids: frozenset[str]
    elder_subsidy: Fen
    operating: Fen


@dataclass(frozen=True, slots=True)
class PriorMonth:
    """An earlier closed month to re-examine for adjustments: all its facts as known now (sales, their voids,
    decisions), and what was already settled for it."""

    facts: tuple[MealFact, ...]
    settled: Settled


@dataclass(frozen=True, slots=True)
class ZTotals:
    """A terminal's Z-report for one day (the terminal ledger's figures, net of voids)."""

    terminal_id: str
    day: date
    meals: int
    """Sales not voided."""
    voids: int
    price_total: Fen
    subsidy_total: Fen
    elder_pays_total: Fen


@dataclass(frozen=True, order=True, slots=True)
class Ratio:
    """A non-negative ratio of two integers (``Ratio(9, 10)`` = 0.9), compared exactly, never through float."""

    num: int
    den: int = 1

    def __post_init__(self) -> None:
        if type(self.num) is not int or type(self.den) is not int or self.num < 0 or self.den <= 0:
            raise ValueError("a Ratio is two ints, num >= 0 and den > 0")

    @classmethod
    def parse(cls, text: str) -> Ratio:
        """'9/10', '2' or '0.9' (decimal text, exact) -> Ratio."""
        text = text.strip()
        if "/" in text:
            num, _, den = text.partition("/")
            return cls(int(num), int(den))
        whole, _, frac = text.partition(".")
        if not whole.isdigit() or (frac and not frac.isdigit()):
            raise ValueError(f"not a ratio: {text!r}")
        return cls(int(whole + frac), 10 ** len(frac))

    def below(self, part: int, whole: int) -> bool:
        """Whether ``part > whole x self`` (exactly)."""
        return part * self.den > whole * self.num

    def percent(self) -> str:
        return _pct(self.num, self.den)

    def __str__(self) -> str:
        return str(self.num) if self.den == 1 else f"{self.num}/{self.den}"


@dataclass(frozen=True, slots=True)
class SettlementConfig:
    """Thresholds of the edit checks. Ratios are :class:`Ratio`, never floats."""

    attendance_factor: Ratio = Ratio(1)
    """Subsidised meals on a day may be at most enrolled eligible elders x this."""
    manual_share_max: Ratio = Ratio(1, 5)
    manual_min_meals: int = 20
    """A cashier with fewer identified meals in the month is not judged on share."""
    void_share_max: Ratio = Ratio(1, 20)
    void_min_sales: int = 20
    spike_factor: Ratio = Ratio(2)
    """A day with more meals than this x the rolling daily mean is a spike."""
    baseline_days: int = 28
    """The rolling baseline: days with meals among this many calendar days before."""
    baseline_min_days: int = 5
    implausible_interval_minutes: int = 60
    upward_window_months: int | None = None
    """Upward adjustments (late meals, upward corrections) only for months at most this many months back; None:
    no limit."""
    info_flags: frozenset[str] = INFO_FLAGS
    """Flags that are listed but do not hold a meal; every other flag holds it until a reviewer decides."""
    severities: Mapping[str, Severity] = field(default_factory=dict)
    """Per check code, a severity other than the default."""

    def __post_init__(self) -> None:
        for name in ("attendance_factor", "manual_share_max", "void_share_max", "spike_factor"):
            value = getattr(self, name)
            if not isinstance(value, Ratio):
                raise ValueError(f"{name} must be a Ratio (no floats)")
        if self.implausible_interval_minutes < 0 or self.baseline_days < 1:
            raise ValueError("implausible_interval_minutes >= 0 and baseline_days >= 1")


# ---------------------------------------------------------------------------------------------------------------
# Outputs


@dataclass(frozen=True, slots=True)
class Line:
    """Paid meals of one day, slot and tier combination (``tier`` is the quote's tiers joined by ``+``; empty for
    full-price meals)."""

    day: date
    slot: Slot
    tier: str
    meals: int
    elders: int
    price: Fen
    elder_subsidy: Fen
    elder_pays: Fen
    meal_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OperatingDay:
    """The operating subsidy earned on one day under the version then in force, and what the cap let through."""

    day: date
    rule_version: str
    basis: Literal["meal", "elder_day"]
    units: int
    """Paid subsidised meals (``meal``) or distinct elders served (``elder_day``)."""
    amount_each: Fen
    gross: Fen
    paid: Fen
    cap: Fen | None
    meal_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AdjustmentLine:
    origin: Month
    kind: AdjustmentKind
    amount: Fen
    """Signed: elder subsidy for ``late_paid``/``reversed``, operating subsidy for ``operating``."""
    meal_ids: tuple[str, ...]
    note: str = ""
    line_id: str = ""


@dataclass(frozen=True, slots=True)
class HeldMeal:
    """A meal listed but not paid in this statement, with its reasons."""

    meal_id: str
    origin: Month
    service_date: date
    slot: Slot
    elder_id: str | None
    subsidy: Fen
    status: HeldStatus
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Totals:
    meals: int
    subsidised_meals: int
    elders: int
    elder_days: int
    price: Fen
    elder_subsidy: Fen
    elder_pays: Fen
    operating_gross: Fen
    operating_cap_reduction: Fen
    operating: Fen
    construction: Fen
    adjustments: Fen
    payable: Fen
    """elder_subsidy + operating + construction + adjustments (may be negative after large corrections)."""
    held_meals: int
    held_subsidy: Fen


@dataclass(frozen=True, slots=True)
class Statement:
    format: str
    programme: str
    canteen_id: str
    month: Month
    lines: tuple[Line, ...]
    operating: tuple[OperatingDay, ...]
    construction: tuple[ConstructionLine, ...]
    adjustments: tuple[AdjustmentLine, ...]
    held: tuple[HeldMeal, ...]
    voided: tuple[tuple[str, str], ...]
    """(sale id, void id) of every sale of the month cancelled by a void."""
    totals: Totals


@dataclass(frozen=True, slots=True)
class Evidence:
    meal_ids: tuple[str, ...] = ()
    days: tuple[date, ...] = ()
    subject: str = ""
    """Who or what the check is about (cashier, terminal, elder), if anyone."""
    figures: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class CheckResult:
    code: str
    key: str
    """Unique within one run (code plus subject and day): notes are given per key."""
    severity: Severity
    zh: str
    en: str
    evidence: Evidence

    def message(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


@dataclass(frozen=True, slots=True)
class Settlement:
    statement: Statement
    checks: tuple[CheckResult, ...]


@dataclass(frozen=True, slots=True)
class CloseVerdict:
    allowed: bool
    errors: tuple[CheckResult, ...]
    """Error checks: they block closing whatever the notes say."""
    unnoted: tuple[CheckResult, ...]
    """Warnings without a (non-blank) note."""
    problems: tuple[Problem, ...]


# ---------------------------------------------------------------------------------------------------------------
# The month core


@dataclass
class _Core:
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


def _dedupe(facts: Iterable[MealFact]) -> dict[str, MealFact]:
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


def _core(  # noqa: PLR0917
    canteen_id: str,
    month: Month,
    facts: Iterable[MealFact],
    rules: RuleBook,
    config: SettlementConfig,
    unpayable: Collection[str] = (),
) -> _Core:
    by_id = _dedupe(facts)
    sales: dict[str, MealFact] = {}
    voids: dict[str, MealFact] = {}
    void_list: list[MealFact] = []
    for f in by_id.values():
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
            void_list.append(f)
    void_of: dict[str, str] = {}
    orphans: list[MealFact] = []
    for v in sorted(void_list, key=lambda v: v.meal_id):
        target = v.refers_to or ""
        if target in sales:
            void_of.setdefault(target, v.meal_id)
            voids[v.meal_id] = v
        else:
            orphans.append(v)

    paid: dict[str, MealFact] = {}
    held: list[HeldMeal] = []
    holding = config.info_flags
    for mid, f in sales.items():
        if mid in void_of:
            continue
        status: HeldStatus | None = None
        if f.decision == "rejected":
            status = "rejected"
        elif f.decision is None and any(flag not in holding for flag in f.flags):
            status = "held"
        elif mid in unpayable:
            status = "window_expired"
        if status is None:
            paid[mid] = f
        else:
            held.append(
                HeldMeal(mid, month, f.service_date, f.slot, f.elder_id, f.subsidy, status, tuple(sorted(f.flags)))
            )

    groups: dict[tuple[date, str, str], list[MealFact]] = defaultdict(list)
    for f in paid.values():
        groups[(f.service_date, f.slot, "+".join(f.tiers))].append(f)
    slot_order: dict[str, int] = {s: i for i, s in enumerate(SLOTS)}
    lines = []
    for (day, _slot, tier), group in sorted(groups.items(), key=lambda kv: (kv[0][0], slot_order[kv[0][1]], kv[0][2])):
        lines.append(
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
        )
    return _Core(
        canteen_id=canteen_id,
        lines=lines,
        operating=_operating(paid.values(), rules),
        held=sorted(held, key=lambda h: h.meal_id),
        voided=sorted(void_of.items()),
        paid=paid,
        sales=sales,
        voids=voids,
        orphan_voids=orphans,
        void_of=void_of,
    )


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


# ---------------------------------------------------------------------------------------------------------------
# Paid meals summed by day: all the totals need (a daily rollup of the meals holds exactly this)


@dataclass(frozen=True, slots=True)
class PaidDay:
    """One canteen's paid meals of one day, summed."""

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


# ---------------------------------------------------------------------------------------------------------------
# Late arrivals


def target_month(origin: Month, closed: Collection[Month]) -> Month:
    """Where a fact of ``origin`` is settled: ``origin`` itself while it is open, else the first later month
    that is not closed (its adjustments point back to ``origin``)."""
    month = origin
    while month in closed:
        month = month.next()
    return month


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
            elif a.kind == "reversed":
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


def _adjust(
    canteen_id: str, month: Month, prior: PriorMonth, rules: RuleBook, config: SettlementConfig
) -> tuple[list[AdjustmentLine], list[HeldMeal]]:
    origin = prior.settled.month
    if origin >= month:
        raise InvalidSettlementInput.one(
            "settlement.prior_not_earlier",
            f"调整来源月份 {origin} 须早于 {month}",
            f"an adjusted month ({origin}) must be before {month}",
        )
    before = prior.settled.paid_meal_ids
    core = _core(canteen_id, origin, prior.facts, rules, config)
    window = config.upward_window_months
    if window is not None and month.index() - origin.index() > window:
        expired = set(core.paid) - before
        if expired:
            core = _core(canteen_id, origin, prior.facts, rules, config, unpayable=expired)
    missing = before - core.sales.keys()
    if missing:
        raise InvalidSettlementInput.one(
            "settlement.prior_incomplete",
            f"{origin} 的已结算餐次缺少记录：{', '.join(sorted(missing)[:5])}",
            f"meals settled for {origin} are missing from its facts: {', '.join(sorted(missing)[:5])}",
        )
    was = sum(core.sales[m].subsidy for m in before)
    if was != prior.settled.elder_subsidy:
        raise InvalidSettlementInput.one(
            "settlement.prior_mismatch",
            f"{origin} 已结算补贴 {format_yuan(prior.settled.elder_subsidy)} 与餐次记录合计 {format_yuan(was)} 不符",
            f"{origin}: settled subsidy {format_yuan(prior.settled.elder_subsidy)} != its meals' {format_yuan(was)}",
        )
    newly = sorted(set(core.paid) - before)
    gone = sorted(before - core.paid.keys())
    out: list[AdjustmentLine] = []
    if newly:
        out.append(AdjustmentLine(origin, "late_paid", sum(core.paid[m].subsidy for m in newly), tuple(newly)))
    if gone:
        out.append(AdjustmentLine(origin, "reversed", -sum(core.sales[m].subsidy for m in gone), tuple(gone)))
    op_delta = sum(d.paid for d in core.operating) - prior.settled.operating
    if op_delta:
        out.append(AdjustmentLine(origin, "operating", op_delta, tuple(sorted({*newly, *gone}))))
    return out, core.held


# ---------------------------------------------------------------------------------------------------------------
# The statement


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
    checks: bool = True,
) -> Settlement:
    """The statement of ``canteen_id`` for ``month`` and its edit checks.

    ``facts``: the canteen's sales served in ``month`` with the voids and reprints referring to them.
    ``prior``: earlier closed months to re-examine (only in their :func:`target_month`).
    ``enrolled``: enrolled eligible elders of the canteen's catchment per day (attendance check).
    ``z_reports``: the terminals' Z-report totals of the month's days. ``other_canteens``: the same elders' meals
    (sales and voids) at other canteens around this month (two-canteen and daily-limit checks).
    ``baseline``: this canteen's daily meal counts before the month (spike check).
    ``checks`` False: the statement alone, no edit checks (they never change the statement; a caller that only
    needs the figures, such as the whole programme's month, skips their cost).
    The result depends on the data only, never on the order it is given in.
    """
    cfg = config or SettlementConfig()
    facts = list(facts)
    core = _core(canteen_id, month, facts, rules, cfg)

    adjustments: list[AdjustmentLine] = []
    held = list(core.held)
    origins: set[Month] = set()
    for p in sorted(prior, key=lambda p: p.settled.month):
        if p.settled.month in origins:
            raise InvalidSettlementInput.one(
                "settlement.prior_twice", f"{p.settled.month} 重复给出", f"{p.settled.month} given twice"
            )
        origins.add(p.settled.month)
        lines, prior_held = _adjust(canteen_id, month, p, rules, cfg)
        adjustments.extend(lines)
        held.extend(prior_held)
    corrections = sorted(corrections, key=lambda c: c.line_id)
    for c in corrections:
        adjustments.append(AdjustmentLine(c.origin, "correction", c.amount, (), c.note, c.line_id))
    kind_order = {"late_paid": 0, "reversed": 1, "operating": 2, "correction": 3}
    adjustments.sort(key=lambda a: (a.origin, kind_order[a.kind], a.line_id))
    held.sort(key=lambda h: (h.origin, h.meal_id))
    constr = tuple(sorted(construction, key=lambda c: c.line_id))

    still_held = [h for h in held if h.status == "held"]
    totals = month_totals(
        paid_days(core.paid.values()),
        elders=len({f.elder_id for f in core.paid.values() if f.subsidised and f.elder_id is not None}),
        rules=rules,
        construction=sum(c.amount for c in constr),
        adjustments=sum(a.amount for a in adjustments),
        held_meals=len(still_held),
        held_subsidy=sum(h.subsidy for h in still_held),
    )
    statement = Statement(
        format=STATEMENT_FORMAT,
        programme=rules.programme,
        canteen_id=canteen_id,
        month=month,
        lines=tuple(core.lines),
        operating=tuple(core.operating),
        construction=constr,
        adjustments=tuple(adjustments),
        held=tuple(held),
        voided=tuple(core.voided),
        totals=totals,
    )
    if not checks:
        return Settlement(statement, ())
    results = _run_checks(
        core=core,
        month=month,
        rules=rules,
        config=cfg,
        corrections=corrections,
        enrolled=enrolled or {},
        z_reports=list(z_reports),
        other_canteens=list(other_canteens),
        baseline=baseline or {},
        held=held,
    )
    return Settlement(statement, tuple(results))


# ---------------------------------------------------------------------------------------------------------------
# Closing


def can_close(checks: Iterable[CheckResult], notes: Mapping[str, str]) -> CloseVerdict:
    """Whether a month may close: no error check, and a non-blank note (by check key) for every warning."""
    checks = list(checks)
    errors = tuple(c for c in checks if c.severity == "error")
    unnoted = tuple(c for c in checks if c.severity == "warning" and not notes.get(c.key, "").strip())
    problems = [
        Problem(c.key, c.code, f"错误未解决，不能关账：{c.zh}", f"unresolved error blocks closing: {c.en}")
        for c in errors
    ] + [Problem(c.key, c.code, f"警告须填写说明：{c.zh}", f"a warning needs a note: {c.en}") for c in unnoted]
    return CloseVerdict(not errors and not unnoted, errors, unnoted, tuple(problems))


# ---------------------------------------------------------------------------------------------------------------
# Canonical encoding and hash


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, Month):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Ratio):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    raise TypeError(f"cannot encode {type(value).__name__} canonically (floats are refused)")


def canonical_json(value: Any) -> bytes:
    """Compact JSON, keys sorted, UTF-8 without escapes, integers for money, ISO dates, ``YYYY-MM`` months,
    ratios as ``"n/d"``; a float raises."""
    return json.dumps(
        _plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def statement_bytes(statement: Statement) -> bytes:
    return canonical_json(statement)


def statement_hash(statement: Statement) -> str:
    """sha256 (lower-case hex) of :func:`statement_bytes`: the content hash stored at close."""
    return hashlib.sha256(statement_bytes(statement)).hexdigest()


def verify_statement(statement: Statement, stored_hash: str) -> bool:
    """Whether a stored (closed) statement still has the hash recorded when it was closed."""
    return statement_hash(statement) == stored_hash


def checks_of(settlement: Settlement, code: str) -> list[CheckResult]:
    return [c for c in settlement.checks if c.code == code]


def days_of(month: Month) -> Sequence[date]:
    d = month.first_day
    out = []
    while d.month == month.month:
        out.append(d)
        d += timedelta(days=1)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Edit checks

CHECK_CODES: dict[str, Severity] = {
    "attendance_exceeded": "warning",
    "attendance_unknown": "warning",
    "two_canteens": "error",
    "daily_limit_exceeded": "error",
    "after_cancellation": "error",
    "card_revoked": "error",
    "chain_unresolved": "error",
    "manual_share": "warning",
    "void_share": "warning",
    "volume_spike": "warning",
    "terminal_mismatch": "error",
    "zreport_missing": "warning",
    "meals_held": "warning",
    "void_without_sale": "warning",
    "correction_window": "error",
}
"""Every check code with its default severity (:attr:`SettlementConfig.severities` may change it). Checks about
single meals (two canteens, daily limit, cancellation, revoked card, chain) look only at meals without a
decision: a reviewer's accept or reject resolves them."""


def _pct(part: int, whole: int) -> str:
    """part/whole as a percentage with one decimal, rounded half up (text only; comparisons are exact)."""
    tenths = (part * 1000 * 2 + whole) // (2 * whole)
    return f"{tenths // 10}.{tenths % 10}%"


def _first_at_or_after(times: Sequence[datetime], t: datetime) -> int:
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _ids(facts: Iterable[MealFact]) -> tuple[str, ...]:
    return tuple(sorted({f.meal_id for f in facts}))


class _Checker:
    """The edit checks of one month: each ``check_*`` method adds its findings."""

    def __init__(
        self,
        *,
        core: _Core,
        month: Month,
        rules: RuleBook,
        config: SettlementConfig,
        corrections: Sequence[CorrectionLine],
        enrolled: Mapping[date, int],
        z_reports: Sequence[ZTotals],
        other_canteens: Sequence[MealFact],
        baseline: Mapping[date, int],
        held: Sequence[HeldMeal],
    ) -> None:
        self.core, self.month, self.rules, self.config = core, month, rules, config
        self.corrections, self.enrolled, self.z_reports = corrections, enrolled, z_reports
        self.other_canteens, self.baseline, self.held = other_canteens, baseline, held
        self.out: list[CheckResult] = []
        self.live = [f for mid, f in self.core.sales.items() if mid not in core.void_of]
        self.claimed = [f for f in self.live if f.decision != "rejected"]
        self.claimed_ids = {f.meal_id for f in self.claimed}

    def add(self, code: str, subject: str, zh: str, en: str, evidence: Evidence) -> None:
        key = f"{code}:{subject}" if subject else code
        severity = self.config.severities.get(code, CHECK_CODES[code])
        self.out.append(CheckResult(code, key, severity, zh, en, evidence))

    def run(self) -> list[CheckResult]:
        self.check_attendance()
        self.check_elders_across_canteens()
        self.check_flags()
        self.check_cashiers()
        self.check_spikes()
        self.check_terminals()
        self.check_held_and_corrections()
        return sorted(self.out, key=lambda c: c.key)

    def check_attendance(self) -> None:
        # Subsidised meals per day against enrolled eligible elders x attendance factor.
        per_day: dict[date, list[MealFact]] = defaultdict(list)
        for f in self.claimed:
            if f.subsidised:
                per_day[f.service_date].append(f)
        unknown: list[date] = []
        factor = self.config.attendance_factor
        for day in sorted(per_day):
            meals = per_day[day]
            n = self.enrolled.get(day)
            if n is None:
                unknown.append(day)
                continue
            if factor.below(len(meals), n):
                self.add(
                    "attendance_exceeded",
                    day.isoformat(),
                    f"{day} 补贴餐 {len(meals)} 份，超过辖区在册老人 {n} 人 × 出勤系数 {factor}",
                    f"{day}: {len(meals)} subsidised meals > {n} enrolled eligible x attendance factor {factor}",
                    Evidence(
                        _ids(meals),
                        (day,),
                        "",
                        (("meals", len(meals)), ("enrolled", n), ("factor_num", factor.num),
                         ("factor_den", factor.den)),
                    ),
                )  # fmt: skip
        if unknown:
            self.add(
                "attendance_unknown",
                "",
                f"{len(unknown)} 天有补贴餐但缺少在册老人人数，无法核对出勤",
                f"{len(unknown)} days with subsidised meals have no enrolment figure: attendance not checked",
                Evidence((), tuple(unknown)),
            )

    def check_elders_across_canteens(self) -> None:
        # The same elder at two canteens: too close in time, or over the daily (slot) limit together.
        others_voided = {f.refers_to for f in self.other_canteens if f.kind == "void"}
        theirs_by_elder: dict[str, list[MealFact]] = defaultdict(list)
        for f in _dedupe(self.other_canteens).values():
            if (
                f.kind == "sale"
                and f.elder_id is not None
                and f.canteen_id != self.core.canteen_id
                and f.subsidised
                and f.meal_id not in others_voided
                and f.decision != "rejected"
            ):
                theirs_by_elder[f.elder_id].append(f)
        ours_by_elder: dict[str, list[MealFact]] = defaultdict(list)
        for f in self.claimed:
            if f.elder_id in theirs_by_elder and f.subsidised:
                ours_by_elder[f.elder_id].append(f)
        interval = timedelta(minutes=self.config.implausible_interval_minutes)
        for elder in sorted(ours_by_elder):
            theirs = sorted(theirs_by_elder[elder], key=lambda f: (f.service_time, f.meal_id))
            times = [f.service_time for f in theirs]
            ours = sorted(ours_by_elder[elder], key=lambda f: (f.service_time, f.meal_id))
            close: dict[str, tuple[MealFact, list[MealFact]]] = {}
            for f in ours:
                if f.decision is not None:
                    continue
                i = _first_at_or_after(times, f.service_time - interval)
                near = []
                while i < len(theirs) and times[i] - f.service_time < interval:
                    if abs(times[i] - f.service_time) < interval:
                        near.append(theirs[i])
                    i += 1
                if near:
                    close[f.meal_id] = (f, near)
            for mid in sorted(close):
                f, near = close[mid]
                gap = min(abs(n.service_time - f.service_time) for n in near)
                minutes = int(gap.total_seconds()) // 60
                self.add(
                    "two_canteens",
                    f"{elder}:{mid}",
                    f"老人 {elder} 在 {f.service_time.astimezone(self.rules.zone):%Y-%m-%d %H:%M} 于本食堂就餐，"
                    f"{minutes} 分钟内又在 {near[0].canteen_id} 享受补贴",
                    f"elder {elder} was subsidised here and at {near[0].canteen_id} within {minutes} minutes "
                    f"({f.service_time.astimezone(self.rules.zone):%Y-%m-%d %H:%M})",
                    Evidence((mid, *_ids(near)), (f.service_date,), elder, (("minutes_apart", minutes),)),
                )
            # Limits across canteens, per day and per slot, under the version in force that day.
            by_day: dict[date, list[MealFact]] = defaultdict(list)
            for f in ours_by_elder[elder] + theirs_by_elder[elder]:
                by_day[f.service_date].append(f)
            for day in sorted(by_day):
                version = self.rules.version_on(day)
                if version is None:
                    continue
                meals = by_day[day]
                groups: list[tuple[str, int | None, list[MealFact]]] = [("", version.limits.per_day, meals)]
                for slot in SLOTS:
                    groups.append((slot, version.limits.per_slot, [m for m in meals if m.slot == slot]))
                for slot_name, limit, group in groups:
                    undecided_ours = [m for m in group if m.meal_id in self.claimed_ids and m.decision is None]
                    if limit is None or len(group) <= limit or not undecided_ours:
                        continue
                    where = f"{day}" + (f" {slot_name}" if slot_name else "")
                    self.add(
                        "daily_limit_exceeded",
                        f"{elder}:{where.replace(' ', ':')}",
                        f"老人 {elder} 于 {where} 跨食堂享受补贴 {len(group)} 次，超过上限 {limit} 次",
                        f"elder {elder} was subsidised {len(group)} times on {where} across canteens (limit {limit})",
                        Evidence(_ids(group), (day,), elder, (("meals", len(group)), ("limit", limit))),
                    )

    def check_flags(self) -> None:
        # Flags from intake: cancelled / suspended elders, revoked cards, chain faults, while undecided.
        undecided = [f for f in self.claimed if f.decision is None]
        for code, flagset, zh, en in (
            (
                "after_cancellation",
                STATUS_FLAGS,
                "老人注销、身故或暂停后仍有就餐记录",
                "meals after cancellation or suspension",
            ),
            ("card_revoked", CARD_FLAGS, "挂失或停用的卡仍有就餐记录", "meals on a revoked card"),
        ):
            hit = [f for f in undecided if flagset.intersection(f.flags)]
            if hit:
                self.add(
                    code,
                    "",
                    f"{zh}：{len(hit)} 份待审核",
                    f"{en}: {len(hit)} awaiting a decision",
                    Evidence(_ids(hit), tuple(sorted({f.service_date for f in hit})), "", (("meals", len(hit)),)),
                )
        every = [*self.core.sales.values(), *self.core.voids.values(), *self.core.orphan_voids]
        chain = [f for f in every if f.decision is None and CHAIN_FLAGS.intersection(f.flags)]
        if chain:
            terminals = sorted({f.terminal_id for f in chain})
            self.add(
                "chain_unresolved",
                "",
                f"终端 {', '.join(terminals)} 的哈希链问题（缺号、断链等）未处理：{len(chain)} 条记录",
                f"unresolved chain faults (gaps, breaks …) on terminals {', '.join(terminals)}: {len(chain)} records",
                Evidence(_ids(chain), tuple(sorted({f.service_date for f in chain})), ",".join(terminals)),
            )

    def check_cashiers(self) -> None:
        # Cashiers: manual identification share, void share.
        identified: dict[str, list[MealFact]] = defaultdict(list)
        for f in self.live:
            if f.identified_by != "walk_in":
                identified[f.cashier].append(f)
        for cashier in sorted(identified):
            meals = identified[cashier]
            manual = [f for f in meals if f.identified_by == "manual"]
            share = _pct(len(manual), len(meals))
            limit = self.config.manual_share_max
            if len(meals) >= self.config.manual_min_meals and limit.below(len(manual), len(meals)):
                self.add(
                    "manual_share",
                    cashier,
                    f"收银员 {cashier} 人工识别占比 {share}（{len(manual)}/{len(meals)}），超过 {limit.percent()}",
                    f"cashier {cashier}: manual identifications {share} ({len(manual)}/{len(meals)}) above "
                    f"{limit.percent()}",
                    Evidence(_ids(manual), (), cashier, (("manual", len(manual)), ("identified", len(meals)))),
                )
        sales_by: dict[str, int] = defaultdict(int)
        for f in self.core.sales.values():
            sales_by[f.cashier] += 1
        voids_by: dict[str, list[MealFact]] = defaultdict(list)
        for v in self.core.voids.values():
            voids_by[v.cashier].append(v)
        for cashier in sorted(voids_by):
            voids = voids_by[cashier]
            sales = sales_by.get(cashier, 0)
            if sales < self.config.void_min_sales:
                continue
            share = _pct(len(voids), sales)
            vlimit = self.config.void_share_max
            if vlimit.below(len(voids), sales):
                self.add(
                    "void_share",
                    cashier,
                    f"收银员 {cashier} 作废 {len(voids)} 笔，占其销售 {sales} 笔的 {share}，超过 {vlimit.percent()}",
                    f"cashier {cashier}: {len(voids)} voids of {sales} sales ({share}) above {vlimit.percent()}",
                    Evidence(_ids(voids), (), cashier, (("voids", len(voids)), ("sales", sales))),
                )

    def check_spikes(self) -> None:
        # Daily volume against the rolling baseline.
        counts: dict[date, int] = {d: n for d, n in self.baseline.items() if d < self.month.first_day}
        month_counts: dict[date, int] = defaultdict(int)
        for f in self.live:
            month_counts[f.service_date] += 1
        counts.update(month_counts)
        spike = self.config.spike_factor
        for day in sorted(month_counts):
            window = [counts.get(day - timedelta(days=k), 0) for k in range(1, self.config.baseline_days + 1)]
            window = [n for n in window if n > 0]
            if len(window) < self.config.baseline_min_days:
                continue
            n = month_counts[day]
            if spike.below(n * len(window), sum(window)):
                mean_tenths = (sum(window) * 10 * 2 + len(window)) // (2 * len(window))
                mean = f"{mean_tenths // 10}.{mean_tenths % 10}"
                self.add(
                    "volume_spike",
                    day.isoformat(),
                    f"{day} 就餐 {n} 份，超过前 {len(window)} 个营业日日均 {mean} 份的 {spike} 倍",
                    f"{day}: {n} meals, more than {spike} x the daily mean {mean} of the {len(window)} days before",
                    Evidence(
                        (),
                        (day,),
                        "",
                        (("meals", n), ("baseline_days", len(window)), ("baseline_meals", sum(window))),
                    ),
                )

    def check_terminals(self) -> None:
        # Terminal reconciliation: Z-report totals per terminal and day == the server's.
        server: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        for f in self.core.sales.values():
            row = server[(f.terminal_id, f.service_date)]
            if f.meal_id in self.core.void_of:
                row[1] += 1
            else:
                row[0] += 1
                row[2] += f.price
                row[3] += f.subsidy
                row[4] += f.elder_pays
        zs: dict[tuple[str, date], ZTotals] = {}
        for z in self.z_reports:
            if not self.month.contains(z.day):
                continue
            prev = zs.get((z.terminal_id, z.day))
            if prev is not None and prev != z:
                raise InvalidSettlementInput.one(
                    "settlement.zreport_conflict",
                    f"终端 {z.terminal_id} 在 {z.day} 有两份不同的日结报表",
                    f"two different Z-reports for terminal {z.terminal_id} on {z.day}",
                )
            zs[(z.terminal_id, z.day)] = z
        names = ("meals", "voids", "price_total", "subsidy_total", "elder_pays_total")
        for terminal, day in sorted(set(server) | set(zs)):
            ours_row = server.get((terminal, day), [0, 0, 0, 0, 0])
            zr = zs.get((terminal, day))
            if zr is None:
                self.add(
                    "zreport_missing",
                    f"{terminal}:{day}",
                    f"终端 {terminal} 缺少 {day} 的日结报表",
                    f"no Z-report from terminal {terminal} for {day}",
                    Evidence((), (day,), terminal),
                )
                continue
            theirs_row = [zr.meals, zr.voids, zr.price_total, zr.subsidy_total, zr.elder_pays_total]
            if ours_row != theirs_row:
                diffs = [(n, a, b) for n, a, b in zip(names, ours_row, theirs_row, strict=True) if a != b]
                text = ", ".join(f"{n} {a} != {b}" for n, a, b in diffs)
                self.add(
                    "terminal_mismatch",
                    f"{terminal}:{day}",
                    f"终端 {terminal} {day} 日结与服务器不符（服务器 != 终端）：{text}",
                    f"terminal {terminal} on {day}: Z-report differs from the server (server != terminal): {text}",
                    Evidence(
                        tuple(sorted(f.meal_id for f in self.core.sales.values()
                                     if f.terminal_id == terminal and f.service_date == day)),
                        (day,),
                        terminal,
                        tuple((f"server_{n}", a) for n, a, _ in diffs)
                        + tuple((f"terminal_{n}", b) for n, _, b in diffs),
                    ),
                )  # fmt: skip

    def check_held_and_corrections(self) -> None:
        still_held = [h for h in self.held if h.status == "held"]
        if still_held:
            self.add(
                "meals_held",
                "",
                f"{len(still_held)} 份有标记的餐次待审核，本月不支付，审核通过后以调整项支付",
                f"{len(still_held)} flagged meals await a decision: not paid now, paid as adjustments once accepted",
                Evidence(
                    tuple(h.meal_id for h in still_held),
                    tuple(sorted({h.service_date for h in still_held})),
                    "",
                    (("meals", len(still_held)), ("subsidy", sum(h.subsidy for h in still_held))),
                ),
            )
        if self.core.orphan_voids:
            self.add(
                "void_without_sale",
                "",
                f"{len(self.core.orphan_voids)} 条作废记录找不到本月对应的销售",
                f"{len(self.core.orphan_voids)} voids refer to no sale of this month",
                Evidence(_ids(self.core.orphan_voids), tuple(sorted({f.service_date for f in self.core.orphan_voids}))),
            )
        window = self.config.upward_window_months
        for c in self.corrections:
            months_back = self.month.index() - c.origin.index()
            if months_back <= 0 or (c.amount > 0 and window is not None and months_back > window):
                self.add(
                    "correction_window",
                    c.line_id,
                    f"调整 {c.line_id}（{c.origin}，{format_yuan(c.amount)}）：只能调整更早月份，"
                    f"向上调整限 {window} 个月内",
                    f"correction {c.line_id} ({c.origin}, {format_yuan(c.amount)}): only earlier months, upward only "
                    f"within {window} months",
                    Evidence((), (), c.line_id, (("amount", c.amount), ("months_back", months_back))),
                )


def _run_checks(**kwargs: Any) -> list[CheckResult]:
    return _Checker(**kwargs).run()
