"""The settlement's vocabulary: the month, the facts and lines going in, the statement and check results coming out,
and the check thresholds. Money is integer fen; ratios are :class:`Ratio` (two integers); no float is accepted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from ruyi.errors import Problem, RuyiError
from ruyi.flags import CHAIN_PREFIX
from ruyi.meal import FAULT_TEXT, IdentifiedBy, Kind, MealRecord
from ruyi.money import Fen
from ruyi.rules import Slot

STATEMENT_FORMAT = "ruyi-statement/1"
"""The version of the statement's canonical encoding (part of the hashed bytes)."""

Decision = Literal["accepted", "rejected"]
Severity = Literal["error", "warning"]
HeldStatus = Literal["held", "rejected", "window_expired"]
AdjustmentKind = Literal["late_paid", "reversed", "eligibility_changed", "operating", "correction"]
"""``eligibility_changed``: like ``reversed`` (meals paid before, paid no more), because the registry as it stands
now no longer supports their subsidy (a death, cancellation, suspension, ended category or revoked card recorded
after the month closed); the line's note names the facts."""


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
    card_key: str | None = None
    """The key digest of the card tapped (None without a card): a card revoked later is matched by it."""

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
        card_key=record.card_key,
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
    """A terminal's Z-report for one day: its :class:`ruyi.sync.ZFigures` (same names, same order, net of voids)
    with the terminal and the day. A dataclass, not the pydantic model: callers build it positionally."""

    terminal_id: str
    day: date
    meals: int
    """Sales not voided."""
    voids: int
    price_total: Fen
    subsidy_total: Fen
    elder_pays_total: Fen


def pct(part: int, whole: int) -> str:
    """part/whole as a percentage with one decimal, rounded half up (text only; comparisons are exact)."""
    tenths = (part * 1000 * 2 + whole) // (2 * whole)
    return f"{tenths // 10}.{tenths % 10}%"


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
        return pct(self.num, self.den)

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
    """Signed: elder subsidy for ``late_paid``/``reversed``/``eligibility_changed``, operating subsidy for
    ``operating``."""
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
    facts: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Meal id -> (zh, en) the registry fact that no longer supports it, for the month's meals held
    ``eligibility_changed`` (exports explain each held meal with it; not part of the statement or its hash)."""


@dataclass(frozen=True, slots=True)
class CloseVerdict:
    allowed: bool
    errors: tuple[CheckResult, ...]
    """Error checks: they block closing whatever the notes say."""
    unnoted: tuple[CheckResult, ...]
    """Warnings without a (non-blank) note."""
    problems: tuple[Problem, ...]
