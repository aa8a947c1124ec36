"""Settlement: one statement per canteen and month, what reviewers decide and note, the bureau's lines, and the
closed months.

A statement row is mutable only while it is open (``draft`` or ``reviewed``); closing writes the canonical
statement bytes and their sha256 once, and every later read decodes those bytes and checks the hash again.
Decisions (one per meal, final) and closed months are insert-only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.base import new_id, ts_column, utcnow
from server.meals.tables import Meal

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The one-month access path of the whole programme: meals of a month for every canteen (one canteen's month
# uses ix_meals_canteen_day, voids are found through ix_meals_refers_to). Declared here, next to its only
# reader; it belongs to the meals table.
sa.Index("ix_meals_service_date_canteen", Meal.__table__.c.service_date, Meal.__table__.c.canteen_id)  # type: ignore[attr-defined]


class SettlementStatement(SQLModel, table=True):
    __tablename__ = "settlement_statements"
    __table_args__ = (
        sa.UniqueConstraint("canteen_id", "month"),
        sa.Index("ix_settlement_statements_month_state", "month", "state"),
        sa.CheckConstraint("state IN ('draft', 'reviewed', 'closed')", name="state_known"),
        sa.CheckConstraint(
            "(state = 'closed') = (content_hash IS NOT NULL AND body IS NOT NULL)", name="closed_has_content"
        ),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    canteen_id: uuid.UUID = Field(foreign_key="canteens.id")
    month: str = Field(max_length=7)
    """``YYYY-MM``."""
    state: str = Field(default="draft", max_length=8)
    computed_hash: str | None = Field(default=None, max_length=64)
    """The hash of the statement as last computed by "run checks" (open statements)."""
    checked_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    content_hash: str | None = Field(default=None, max_length=64)
    """sha256 of ``body``, written once at close."""
    body: str | None = Field(default=None, sa_column=sa.Column(sa.Text(), nullable=True))
    """``ruyi.settlement.statement_bytes`` of the closed statement, as UTF-8 text."""
    checks: list[Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON(), nullable=True))
    """The edit checks as they stood at close, with their notes."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    created_by: str = Field(max_length=128)
    reviewed_by: str | None = Field(default=None, max_length=128)
    reviewed_by_id: uuid.UUID | None = None
    """The reviewer's staff id (four eyes: they may not close it); None on statements reviewed before 0008, whose
    reviewer is known by ``reviewed_by`` (usernames are unique and never change)."""
    reviewed_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    closed_by: str | None = Field(default=None, max_length=128)
    closed_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class ClosedMonth(SQLModel, table=True):
    """The settled record of a closed month (insert-only): later facts of this month become adjustments in the
    first open month after it (``ruyi.settlement.target_month``)."""

    __tablename__ = "settlement_closed_months"

    canteen_id: uuid.UUID = Field(foreign_key="canteens.id", primary_key=True)
    month: str = Field(max_length=7, primary_key=True)
    statement_id: uuid.UUID = Field(foreign_key="settlement_statements.id", unique=True)
    content_hash: str = Field(max_length=64)
    closed_at: datetime = Field(sa_column=ts_column())


class SettlementDecision(SQLModel, table=True):
    """A reviewer's decision on one flagged meal: final (one row per meal, never changed)."""

    __tablename__ = "settlement_decisions"
    __table_args__ = (
        sa.CheckConstraint("decision IN ('accepted', 'rejected')", name="decision_known"),
        sa.Index("ix_settlement_decisions_canteen_origin", "canteen_id", "origin_month"),
    )

    meal_id: uuid.UUID = Field(foreign_key="meals.meal_id", primary_key=True)
    canteen_id: uuid.UUID = Field(foreign_key="canteens.id")
    origin_month: str = Field(max_length=7)
    """The month the meal was served in."""
    statement_id: uuid.UUID = Field(foreign_key="settlement_statements.id", index=True)
    """The open statement it was decided in."""
    decision: str = Field(max_length=8)
    note: str = Field(default="", max_length=500)
    bulk_code: str | None = Field(default=None, max_length=32)
    """Set when decided in bulk for every undecided meal with this flag."""
    decided_by: str = Field(max_length=128)
    decided_by_id: uuid.UUID | None = None
    decided_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class SettlementNote(SQLModel, table=True):
    """A reviewer's note on a warning (by check key); a warning needs one before the month closes."""

    __tablename__ = "settlement_notes"
    __table_args__ = (sa.UniqueConstraint("statement_id", "check_key"),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    statement_id: uuid.UUID = Field(foreign_key="settlement_statements.id")
    check_key: str = Field(max_length=160)
    note: str = Field(max_length=1000)
    noted_by: str = Field(max_length=128)
    noted_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class SettlementLine(SQLModel, table=True):
    """A construction subsidy or a correction the bureau entered on an open statement."""

    __tablename__ = "settlement_lines"
    __table_args__ = (
        sa.UniqueConstraint("statement_id", "line_no"),
        sa.CheckConstraint("kind IN ('construction', 'correction')", name="kind_known"),
        sa.CheckConstraint("(kind = 'correction') = (origin_month IS NOT NULL)", name="origin_for_corrections"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    statement_id: uuid.UUID = Field(foreign_key="settlement_statements.id")
    line_no: int
    kind: str = Field(max_length=16)
    origin_month: str | None = Field(default=None, max_length=7)
    amount: int = Field(sa_column=sa.Column(_BIGINT, nullable=False))
    """Integer fen (negative: downward)."""
    note: str = Field(max_length=500)
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())

    @property
    def line_id(self) -> str:
        return f"{'K' if self.kind == 'construction' else 'C'}{self.line_no:03d}"
