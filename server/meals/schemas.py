from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel


class MealFlagOut(BaseModel):
    id: int
    meal_id: uuid.UUID
    canteen_id: uuid.UUID
    terminal_id: uuid.UUID
    seq: int
    service_date: date
    service_time: datetime
    code: str
    zh: str
    en: str
    evidence: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None
