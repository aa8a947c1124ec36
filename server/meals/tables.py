"""Meals as the server holds them: each terminal record exactly once, with the flags intake raised on it.

A meal row is never updated or deleted (a void is another meal that ``refers_to`` it). Its canonical text and
hash are kept as received, so the terminal's chain can be verified again at any time; the other columns are
what settlement and review read without parsing that text.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.base import ts_column, utcnow


class Meal(SQLModel, table=True):
    __tablename__ = "meals"
    __table_args__ = (
        sa.UniqueConstraint("terminal_id", "seq"),
        sa.Index("ix_meals_canteen_day", "canteen_id", "service_date"),
        sa.Index("ix_meals_elder_day", "elder_id", "service_date"),
        sa.CheckConstraint("seq >= 1", name="seq_positive"),
        sa.CheckConstraint("kind IN ('sale', 'void', 'reprint')", name="kind_known"),
        sa.CheckConstraint("price >= 0 AND subsidy >= 0 AND elder_pays >= 0", name="amounts_not_negative"),
    )

    meal_id: uuid.UUID = Field(primary_key=True)
    terminal_id: uuid.UUID = Field(foreign_key="terminals.id")
    canteen_id: uuid.UUID = Field(foreign_key="canteens.id")
    seq: int
    kind: str = Field(max_length=8)
    refers_to: uuid.UUID | None = Field(default=None, index=True)
    elder_id: uuid.UUID | None = None
    """The registered elder (None for a walk-in, or when the terminal named no elder the server knows)."""
    card_kind: str | None = Field(default=None, max_length=16)
    card_key: str | None = Field(default=None, max_length=64)
    identified_by: str = Field(max_length=8)
    slot: str = Field(max_length=16)
    menu_item_id: str = Field(max_length=64)
    payment_method: str = Field(max_length=8)
    price: int
    """Integer fen, as the terminal quoted (as are the three amounts below)."""
    subsidy: int
    elder_pays: int
    operating_subsidy: int
    subsidised: bool
    rule_version: str | None = Field(default=None, max_length=64)
    service_time: datetime = Field(sa_column=ts_column())
    """On the terminal's clock (UTC)."""
    service_date: date
    """The service time's date in the programme's time zone (what settlement months are made of)."""
    terminal_clock: datetime = Field(sa_column=ts_column())
    """The terminal's clock when it sent the batch holding this meal."""
    received_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    canonical: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    """``ruyi.meal.canonical_bytes`` of the record, as UTF-8 text."""
    hash: str = Field(max_length=64)
    prev_hash: str = Field(max_length=64)


class MealFlag(SQLModel, table=True):
    """Something intake found on a meal, for a reviewer. Never deleted; a chain gap that later records fill
    is marked ``resolved_at`` (the flag stays, with what filled it)."""

    __tablename__ = "meal_flags"
    __table_args__ = (
        sa.UniqueConstraint("meal_id", "code"),
        sa.Index("ix_meal_flags_canteen_day", "canteen_id", "service_date"),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)
    )
    meal_id: uuid.UUID = Field(foreign_key="meals.meal_id")
    code: str = Field(max_length=32, index=True)
    canteen_id: uuid.UUID = Field(foreign_key="canteens.id")
    service_date: date
    """Copied from the meal, so the list of one canteen-month needs no join."""
    evidence: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    resolved_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))


class MealElderDay(SQLModel, table=True):
    """The live sales (not voided) of one elder on one day at one canteen, summed: kept by intake in the same
    transaction as the meals (:mod:`server.meals.rollups`), so a month of the whole programme is summed without
    reading a meal. ``service_date`` and ``canteen_id`` are the sale's, whenever its void came.

    ``elder_key`` is the elder id exactly as the terminal named it (what settlement counts as one elder, also
    when the server does not know it), ``""`` for walk-ins. Walk-ins have one row per terminal
    (``terminal_id``) so that the terminals of one canteen do not queue on one row; a named elder's row has the
    nil UUID there. Rows whose sales were all voided stay, with zeros."""

    __tablename__ = "meal_elder_days"
    __table_args__ = (sa.Index("ix_meal_elder_days_day_canteen", "service_date", "canteen_id"),)

    canteen_id: uuid.UUID = Field(foreign_key="canteens.id", primary_key=True)
    service_date: date = Field(primary_key=True)
    elder_key: str = Field(primary_key=True, max_length=64)
    terminal_id: uuid.UUID = Field(primary_key=True)
    sales: int
    subsidised: int
    """Sales with ``subsidised`` set."""
    price: int
    """Integer fen (as are the two sums below)."""
    subsidy: int
    elder_pays: int


class MealActivity(SQLModel, table=True):
    """When each terminal last brought something to a canteen-month's sales: a sale of that month, or a void or
    reprint of one (kept by intake with the rollups, :mod:`server.meals.rollups`). Settlement asks it whether a
    closed month saw anything after it closed, for every canteen at once, without reading the month's meals.
    One row per terminal, so that a canteen's terminals do not queue on one row."""

    __tablename__ = "meal_activity"

    canteen_id: uuid.UUID = Field(foreign_key="canteens.id", primary_key=True)
    month: date = Field(primary_key=True)
    """The first day of the sales' month."""
    terminal_id: uuid.UUID = Field(primary_key=True)
    """The terminal that sent the record (a void may come from another terminal than its sale)."""
    received_at: datetime = Field(sa_column=ts_column())
    """The latest such record's receipt time."""
