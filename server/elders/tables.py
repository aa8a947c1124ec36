from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.base import new_id, ts_column, utcnow


class Elder(SQLModel, table=True):
    """A registered resident. The full ID number lives here and nowhere else in the database."""

    __tablename__ = "elders"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    id_number: str = Field(max_length=18, unique=True)
    id_tail: str = Field(max_length=4, index=True)
    """The last four characters, for searching by a masked number (3201**********1234)."""
    name: str = Field(max_length=64, index=True)
    birth_date: date
    sex: str = Field(max_length=8)
    community: str = Field(default="", max_length=128, index=True)
    area: str | None = Field(default=None, max_length=64)
    """Programme area code (rule versions may limit subsidies to some areas)."""
    canteen_id: uuid.UUID | None = Field(default=None, foreign_key="canteens.id", index=True)
    """The canteen the elder registered at: its manager sees this elder (masked)."""
    import_id: uuid.UUID | None = Field(default=None, foreign_key="elder_imports.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class ElderStatusChange(SQLModel, table=True):
    """Maps to ``ruyi.eligibility.StatusChange``. Rows are only added, never changed."""

    __tablename__ = "elder_status_changes"
    __table_args__ = (
        sa.CheckConstraint("status IN ('enrolled', 'suspended', 'cancelled', 'deceased')", name="status_known"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    elder_id: uuid.UUID = Field(foreign_key="elders.id", index=True)
    status: str = Field(max_length=16)
    effective_from: date
    reason: str = Field(default="", max_length=256)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class ElderCategory(SQLModel, table=True):
    """Maps to ``ruyi.eligibility.CategorySpan``."""

    __tablename__ = "elder_categories"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    elder_id: uuid.UUID = Field(foreign_key="elders.id", index=True)
    code: str = Field(max_length=64)
    valid_from: date
    valid_to: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class ElderImport(SQLModel, table=True):
    """A committed bulk import. The file's SHA-256 is unique: the same file imported twice is one import."""

    __tablename__ = "elder_imports"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    filename: str = Field(max_length=256)
    rows: int
    created: int
    unchanged: int
    created_by: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
