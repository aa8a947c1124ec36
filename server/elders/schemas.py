from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ruyi.eligibility import EnrolmentStatus
from ruyi.meal import CardKind

__all__ = ["CardKind"]  # the reader's names (ruyi.meal), so card keys agree on both sides


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoryIn(_In):
    code: str = Field(min_length=1, max_length=64)
    valid_from: date
    valid_to: date | None = None


class CategoryEnd(_In):
    valid_to: date


class ElderCreate(_In):
    name: str = Field(min_length=1, max_length=64)
    id_number: str = Field(min_length=1, max_length=32, description="18-character resident ID number")
    community: str = Field(default="", max_length=128)
    area: str | None = Field(default=None, max_length=64)
    canteen_id: uuid.UUID | None = None
    enrolled_on: date | None = None
    """Default: today."""
    categories: list[CategoryIn] = Field(default=[], max_length=32)


class ElderUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    community: str | None = Field(default=None, max_length=128)
    area: str | None = Field(default=None, max_length=64)
    canteen_id: uuid.UUID | None = None


class StatusChangeIn(_In):
    status: EnrolmentStatus
    effective_from: date
    reason: str = Field(default="", max_length=256)


class StatusOut(BaseModel):
    id: uuid.UUID
    status: EnrolmentStatus
    effective_from: date
    reason: str
    created_at: datetime


class CategorySpanOut(BaseModel):
    id: uuid.UUID
    code: str
    valid_from: date
    valid_to: date | None


class CardOut(BaseModel):
    id: uuid.UUID
    elder_id: uuid.UUID
    kind: CardKind
    serial: str
    bound_on: date
    bound_at: datetime
    revoked_on: date | None
    revoke_reason: str | None
    active: bool


class ElderOut(BaseModel):
    id: uuid.UUID
    name: str
    """Masked (张*明) for canteen-scoped callers."""
    id_number: str
    """Full only for roles with elders.read_full; otherwise masked (3201**********1234)."""
    id_number_masked: bool
    birth_date: date | None
    """Only with elders.read_full (it is part of the ID number)."""
    age: int
    sex: str
    community: str
    area: str | None
    canteen_id: uuid.UUID | None
    status: EnrolmentStatus | None
    """In force today."""
    statuses: list[StatusOut]
    categories: list[CategorySpanOut] | None
    """None for callers that may not see categories (canteen managers)."""
    created_at: datetime
    updated_at: datetime


class ElderPage(BaseModel):
    total: int
    items: list[ElderOut]


class ImportProblem(BaseModel):
    path: str
    code: str
    zh: str
    en: str


class ImportRow(BaseModel):
    line: int
    """Line in the file (the header is line 1)."""
    id_number: str
    """Masked."""
    outcome: Literal["new", "unchanged", "invalid"]
    problems: list[ImportProblem]


class ImportReport(BaseModel):
    dry_run: bool
    status: Literal["ok", "invalid", "imported", "already_imported"]
    filename: str
    sha256: str
    format: str
    encoding: str | None
    rows: int
    new: int
    unchanged: int
    invalid: int
    file_problems: list[ImportProblem]
    problem_rows: list[ImportRow]
    """Every row that has a problem, with all of its problems."""
    import_id: uuid.UUID | None = None


class ImportOut(BaseModel):
    id: uuid.UUID
    sha256: str
    filename: str
    rows: int
    created: int
    unchanged: int
    created_by: str
    created_at: datetime


def _dump(m: BaseModel) -> dict[str, Any]:
    return m.model_dump(mode="json")
