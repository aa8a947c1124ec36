from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.base import new_id, ts_column, utcnow


class Staff(SQLModel, table=True):
    __tablename__ = "staff"
    __table_args__ = (sa.Index("uq_staff_canteen_cashier_no", "canteen_id", "cashier_no", unique=True),)

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(default="", max_length=128)
    password_hash: str = Field(max_length=256)
    role: str = Field(max_length=32)
    canteen_id: uuid.UUID | None = Field(default=None, foreign_key="canteens.id")
    """Required for canteen managers and cashiers: the one canteen they belong to."""
    active: bool = True
    cashier_no: str | None = Field(default=None, max_length=8)
    """The personal number a cashier types at a terminal (unique within the canteen); set with the PIN."""
    pin_hash: str | None = Field(default=None, max_length=160)
    """scrypt of the cashier's PIN with its own salt (``ruyi.cashier.hash_pin``); the PIN is never stored."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class AuthToken(SQLModel, table=True):
    """A login session or an API token. Only the keyed SHA-256 of the secret is stored."""

    __tablename__ = "auth_tokens"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    staff_id: uuid.UUID = Field(foreign_key="staff.id", index=True)
    kind: str = Field(max_length=16)
    """``session`` (from a login) or ``api`` (minted for scripts)."""
    name: str = Field(default="", max_length=128)
    token_hash: str = Field(max_length=64, unique=True)
    roles: str = Field(max_length=256)
    """Comma-separated roles, a subset of what the staff member may grant (see TOKEN_ROLES)."""
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    expires_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=ts_column(nullable=True))
