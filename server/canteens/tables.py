from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.base import new_id, ts_column, utcnow


class Canteen(SQLModel, table=True):
    __tablename__ = "canteens"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=128)
    programme: str = Field(max_length=64)
    """The rule book (programme code) whose rules price meals here."""
    address: str = Field(default="", max_length=256)
    active: bool = True
    offline_hours: int | None = None
    """How long this canteen's terminals may grant subsidies without a successful sync (None: the server's
    ``RUYI_SYNC_OFFLINE_HOURS``). Also how old a roster may be before intake flags it stale."""
    offline_warn_minutes: int | None = None
    """How long before that limit the cashier screen counts down (None: ``RUYI_SYNC_WARN_MINUTES``)."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class MenuItem(SQLModel, table=True):
    """A dish or set meal at one price for one slot, over a date range. A price change is a new item."""

    __tablename__ = "menu_items"
    __table_args__ = (
        sa.CheckConstraint("price >= 0", name="price_not_negative"),
        sa.CheckConstraint("slot IN ('breakfast', 'lunch', 'dinner')", name="slot_known"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    canteen_id: uuid.UUID = Field(foreign_key="canteens.id", index=True)
    name: str = Field(max_length=128)
    price: int
    """Integer fen."""
    slot: str = Field(max_length=16)
    effective_from: date
    effective_to: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class Terminal(SQLModel, table=True):
    __tablename__ = "terminals"
    __table_args__ = (sa.Index("uq_terminals_canteen_number", "canteen_id", "number", unique=True),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    canteen_id: uuid.UUID = Field(foreign_key="canteens.id", index=True)
    name: str = Field(max_length=128)
    number: int | None = None
    """The terminal's number at its canteen (1, 2, ...), given at registration (migration 0008 numbered the
    terminals registered before, in order of registration)."""
    code: str | None = Field(default=None, max_length=48)
    """The short code receipts carry (``RY01-2``: the canteen code in capitals and the number), fixed at
    registration so that the numbers on printed receipts never change."""
    credential_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    revoked_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    revoke_reason: str | None = Field(default=None, max_length=256)
