from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.base import new_id, ts_column, utcnow


class Card(SQLModel, table=True):
    """A binding of a physical card (kind + serial) to an elder. Revoking keeps the row; a card may be bound
    again later, but only one binding per card is active (a partial unique index, on both databases)."""

    __tablename__ = "cards"
    __table_args__ = (
        sa.Index(
            "uq_cards_active_binding",
            "kind",
            "serial",
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        ),
        sa.Index("ix_cards_kind_serial", "kind", "serial"),
        sa.CheckConstraint("kind IN ('uid', 'resident_id', 'social_security')", name="kind_known"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    elder_id: uuid.UUID = Field(foreign_key="elders.id", index=True)
    kind: str = Field(max_length=16)
    serial: str = Field(max_length=64)
    bound_on: date
    bound_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    revoked_on: date | None = None
    revoke_reason: str | None = Field(default=None, max_length=256)
    revoked_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
