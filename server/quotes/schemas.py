from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict

from ruyi.money import FenOut


class QuotePreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    elder_id: uuid.UUID | None = None
    """None: a walk-in (not registered)."""
    canteen_id: uuid.UUID
    menu_item_id: uuid.UUID
    on: date
    """Service date; the meal is priced at noon (lunch), 07:30 (breakfast) or 18:00 (dinner) local time."""
    service_time: AwareDatetime | None = None
    """Overrides ``on`` with an exact time."""


class ReasonOut(BaseModel):
    code: str
    zh: str
    en: str


class QuoteOut(BaseModel):
    price: FenOut
    subsidy: FenOut
    elder_pays: FenOut
    operating_subsidy: FenOut
    subsidised: bool
    service_date: date
    service_time: datetime
    age: int | None
    programme: str
    rule_version: str | None
    tiers: list[str]
    reasons: list[ReasonOut]
    subsidised_today: int
    per_day_limit: int | None
    menu_item_name: str
    slot: str
