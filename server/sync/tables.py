"""What sync keeps besides the meals: each terminal's verified head, alerts, and the registry change log.

The change log is how pull deltas stay correct under concurrent writes. Every transaction that writes the
registry (elders, their statuses and categories, cards, canteens, menus, rule books, imports) takes the next
value of the one-row ``sync_clock`` (``UPDATE … SET value = value + 1``) and logs what it touched under that
number, in the same transaction. The row lock is held until commit, so numbers become visible in the order they
were taken: a reader that sees change N has seen every change below N, and "everything after the cursor's N"
never skips a write that committed late. Registry writes are rare and short; meal intake never takes this lock.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.base import ts_column, utcnow

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class SyncTerminal(SQLModel, table=True):
    """A terminal's contiguous head: the highest seq held from 1 without a hole, and that record's hash. Pushes
    of one terminal lock this row (PostgreSQL ``FOR UPDATE``; SQLite writers are serialised anyway)."""

    __tablename__ = "sync_terminals"

    terminal_id: uuid.UUID = Field(foreign_key="terminals.id", primary_key=True)
    held_through: int = 0
    head_hash: str = Field(max_length=64)
    last_push_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class SyncAlert(SQLModel, table=True):
    """A record intake could not take as sent (a conflict with a stored meal, or one not the terminal's to
    send). Holds ids, seqs and hashes only: no personal data."""

    __tablename__ = "sync_alerts"

    id: int | None = Field(default=None, sa_column=sa.Column(_BIGINT, primary_key=True))
    code: str = Field(max_length=32, index=True)
    terminal_id: uuid.UUID = Field(foreign_key="terminals.id", index=True)
    canteen_id: uuid.UUID = Field(foreign_key="canteens.id")
    meal_id: uuid.UUID
    seq: int
    evidence: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class SyncClock(SQLModel, table=True):
    """One row (id 1): the last registry change number handed out."""

    __tablename__ = "sync_clock"

    id: int = Field(primary_key=True)
    value: int = Field(default=0, sa_column=sa.Column(_BIGINT, nullable=False))


class SyncChange(SQLModel, table=True):
    """What a registry transaction touched: ``elder`` (an elder id), ``card`` (a card id), ``import`` (an elder
    import's id), ``menu`` (a canteen id), ``canteen`` (a canteen id), ``rules`` (a programme code)."""

    __tablename__ = "sync_changes"
    __table_args__ = (sa.Index("ix_sync_changes_change_no", "change_no"),)

    id: int | None = Field(default=None, sa_column=sa.Column(_BIGINT, primary_key=True))
    change_no: int = Field(sa_column=sa.Column(_BIGINT, nullable=False))
    kind: str = Field(max_length=16)
    ref: str = Field(max_length=64)


class SyncZReport(SQLModel, table=True):
    """A terminal's Z-report of one service day, as sent (:class:`ruyi.sync.ZReportIn`). Every report is kept,
    once per (terminal, day, ``made_at``); the latest ``made_at`` of a terminal-day is the one the settlement
    reconciles against. Figures and chain positions only: no personal data."""

    __tablename__ = "z_reports"
    __table_args__ = (
        sa.UniqueConstraint("terminal_id", "day", "made_at"),
        sa.Index("ix_z_reports_canteen_day", "canteen_id", "day"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(_BIGINT, primary_key=True))
    terminal_id: uuid.UUID = Field(foreign_key="terminals.id")
    canteen_id: uuid.UUID = Field(foreign_key="canteens.id")
    day: date
    made_at: datetime = Field(sa_column=ts_column())
    meals: int
    voids: int
    price_total: int
    subsidy_total: int
    elder_pays_total: int
    first_seq: int | None = None
    last_seq: int | None = None
    chain_head: str | None = Field(default=None, max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
