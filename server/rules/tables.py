from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from server.base import ts_column, utcnow


class RuleProgramme(SQLModel, table=True):
    """A rule book's header: programme code, name, time zone and its declared categories."""

    __tablename__ = "rule_programmes"

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=256)
    timezone: str = Field(max_length=64)
    categories: dict[str, str] = Field(sa_column=sa.Column(sa.JSON(), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())


class RuleVersionRow(SQLModel, table=True):
    """One version of a rule book, as ruyi's ``RuleVersion`` JSON. Never updated once in force."""

    __tablename__ = "rule_versions"
    __table_args__ = (
        sa.UniqueConstraint("programme", "version_id"),
        sa.UniqueConstraint("programme", "effective_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    programme: str = Field(foreign_key="rule_programmes.code", max_length=64)
    version_id: str = Field(max_length=64)
    effective_from: date
    effective_to: date | None = None
    body: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON(), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=ts_column())
    created_by: str = Field(max_length=128)
