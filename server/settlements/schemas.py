"""What the settlement API takes and returns. Money is integer fen everywhere."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ruyi.money import FenOut, FenRange
from server.errors import ProblemOut
from server.months import MONTH_PATTERN

MonthText = Field(pattern=MONTH_PATTERN, examples=["2026-10"])
BUREAU_LINE_MAX = 1_000_000_000
"""The largest bureau line either way: ¥10,000,000.00 (integer fen)."""
BureauAmount = Annotated[int, FenRange(ge=-BUREAU_LINE_MAX, le=BUREAU_LINE_MAX)]
"""A construction or correction amount: signed integer fen (¥11.00 is 1100), at most ¥10,000,000.00 either way."""


class StatementCreate(BaseModel):
    canteen_id: uuid.UUID
    month: str = MonthText


class DecisionIn(BaseModel):
    meal_id: uuid.UUID
    decision: Literal["accepted", "rejected"]
    note: str = Field(default="", max_length=500)


class BulkDecisionIn(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    """Every undecided meal of the statement carrying this flag."""
    decision: Literal["accepted", "rejected"]
    note: str = Field(min_length=1, max_length=500)


class ConstructionIn(BaseModel):
    amount: BureauAmount = Field(
        description="signed integer fen (分): ¥11.00 is 1100; a negative amount takes an earlier line back"
    )
    note: str = Field(min_length=1, max_length=500)


class CorrectionIn(BaseModel):
    origin_month: str = MonthText
    amount: BureauAmount = Field(
        description="signed integer fen (分): ¥11.00 is 1100; negative (downward) always, positive only within the "
        "configured window"
    )
    note: str = Field(min_length=1, max_length=500)


class NoteIn(BaseModel):
    key: str | None = Field(default=None, min_length=1, max_length=160)
    """One warning (its ``key``) …"""
    code: str | None = Field(default=None, min_length=1, max_length=64)
    """… or every current warning of one check ``code``."""
    note: str = Field(min_length=1, max_length=1000)


class NotesOut(BaseModel):
    keys: list[str]


class BulkDecisionOut(BaseModel):
    decided: int
    meal_ids: list[str]


class StatementSummaryOut(BaseModel):
    id: uuid.UUID
    canteen_id: uuid.UUID
    month: str
    state: Literal["draft", "reviewed", "closed"]
    content_hash: str | None
    computed_hash: str | None
    checked_at: datetime | None
    created_at: datetime
    updated_at: datetime
    created_by: str
    reviewed_by: str | None
    reviewed_at: datetime | None
    closed_by: str | None
    closed_at: datetime | None


class LineOut(BaseModel):
    day: date
    slot: str
    tier: str
    """The quote's tiers joined by ``+`` (empty: full price); ``category`` for callers who may not see
    categories."""
    meals: int
    elders: int
    price: FenOut
    elder_subsidy: FenOut
    elder_pays: FenOut
    meal_ids: list[str]


class OperatingDayOut(BaseModel):
    day: date
    rule_version: str
    basis: Literal["meal", "elder_day"]
    units: int
    amount_each: FenOut
    gross: FenOut
    paid: FenOut
    cap: FenOut | None
    meal_ids: list[str]


class ConstructionLineOut(BaseModel):
    line_id: str
    amount: FenOut
    note: str


class AdjustmentOut(BaseModel):
    origin: str
    kind: Literal["late_paid", "reversed", "eligibility_changed", "operating", "correction"]
    amount: FenOut
    meal_ids: list[str]
    note: str
    line_id: str


class HeldOut(BaseModel):
    meal_id: str
    origin: str
    service_date: date
    slot: str
    elder_id: str | None
    subsidy: FenOut
    status: Literal["held", "rejected", "window_expired"]
    flags: list[str]


class TotalsOut(BaseModel):
    meals: int
    subsidised_meals: int
    elders: int
    elder_days: int
    price: FenOut
    elder_subsidy: FenOut
    elder_pays: FenOut
    operating_gross: FenOut
    operating_cap_reduction: FenOut
    operating: FenOut
    construction: FenOut
    adjustments: FenOut
    payable: FenOut
    held_meals: int
    held_subsidy: FenOut


class StatementBody(BaseModel):
    """``ruyi.settlement.Statement``: its canonical JSON, which the content hash is taken over."""

    format: str
    programme: str
    canteen_id: str
    month: str
    lines: list[LineOut]
    operating: list[OperatingDayOut]
    construction: list[ConstructionLineOut]
    adjustments: list[AdjustmentOut]
    held: list[HeldOut]
    voided: list[list[str]]
    totals: TotalsOut


class CheckOut(BaseModel):
    code: str
    key: str
    severity: Literal["error", "warning"]
    zh: str
    en: str
    note: str | None
    meal_ids: list[str]
    days: list[str]
    subject: str
    figures: dict[str, int]


class FlagText(BaseModel):
    code: str
    zh: str
    en: str


class FlaggedMealOut(BaseModel):
    meal_id: str
    origin_month: str
    service_date: str
    slot: str
    elder_id: str | None
    subsidy: FenOut
    status: str
    """held / rejected / window_expired / paid / voided."""
    decision: Literal["accepted", "rejected"] | None
    flags: list[FlagText]


class BureauLineOut(BaseModel):
    id: uuid.UUID
    line_id: str
    kind: Literal["construction", "correction"]
    origin_month: str | None
    amount: FenOut
    note: str
    created_by: str
    created_at: datetime


class DecisionOut(BaseModel):
    meal_id: uuid.UUID
    origin_month: str
    decision: Literal["accepted", "rejected"]
    note: str
    bulk_code: str | None
    decided_by: str
    decided_at: datetime


class StatementOut(StatementSummaryOut):
    canteen_code: str
    canteen_name: str
    hash: str
    """The stored content hash (closed) or the hash of the statement as computed now (open)."""
    statement: StatementBody
    checks: list[CheckOut]
    flagged: list[FlaggedMealOut]
    bureau_lines: list[BureauLineOut]
    decisions: list[DecisionOut]
    can_close: bool
    problems: list[ProblemOut]
    """Why it cannot close now (errors, warnings without a note)."""


class SummaryRow(BaseModel):
    canteen_id: uuid.UUID
    canteen_code: str
    canteen_name: str
    month: str
    state: Literal["none", "draft", "reviewed", "closed"]
    """``none``: no statement row yet (figures computed now)."""
    meals: int
    subsidised_meals: int
    elders: int
    """Distinct elders served a subsidised meal at this canteen in the month."""
    elder_days: int
    elder_subsidy: FenOut
    operating: FenOut
    construction: FenOut
    adjustments: FenOut
    payable: FenOut
    held_meals: int
    statement_hash: str | None
    """The closed statement's content hash; None while open (the figures are as computed now)."""


class SummaryOut(BaseModel):
    from_month: str
    to_month: str
    rows: list[SummaryRow]
    totals: dict[str, int]
    """Sums over the rows (distinct elders do not add up across canteens and are left out)."""


def body_of(data: dict[str, Any]) -> StatementBody:
    return StatementBody.model_validate(data)
