from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RuleBookUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=500_000, description="The rule book as YAML or JSON text")


class RuleVersionOut(BaseModel):
    id: str
    effective_from: date
    ends_on: date | None
    """Last day in force: its own ``effective_to`` or the day before the next version starts."""
    note: str
    state: Literal["past", "in_force", "future"]
    body: dict[str, Any]
    """The version as ruyi's rule file format (amounts as yuan text)."""


class RuleBookOut(BaseModel):
    programme: str
    name: str
    timezone: str
    categories: dict[str, str]
    versions: list[RuleVersionOut]
    updated_at: datetime


class RuleBookUploadResult(BaseModel):
    book: RuleBookOut
    changed: bool
    added: list[str]
    replaced: list[str]
    removed: list[str]


class CategoryOut(BaseModel):
    code: str
    name: str
    programmes: list[str]
