from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ruyi.money import FenOut, MealPrice
from ruyi.rules import Slot

CODE_PATTERN = r"^[a-z0-9][a-z0-9_.-]*$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


OfflineHours = Annotated[int, Field(ge=1, le=24 * 30, description="hours without a successful sync (1–720)")]
WarnMinutes = Annotated[int, Field(ge=0, le=24 * 60, description="countdown before the limit, minutes (0–1440)")]


class CanteenCreate(_In):
    code: str = Field(min_length=1, max_length=32, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=128)
    programme: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    address: str = Field(default="", max_length=256)
    offline_hours: OfflineHours | None = None
    """The canteen's offline policy; absent: the server's defaults."""
    offline_warn_minutes: WarnMinutes | None = None


_RESETTABLE = frozenset({"offline_hours", "offline_warn_minutes"})
"""Fields a ``null`` in an update resets to the server's default."""


class CanteenUpdate(_In):
    name: str | None = Field(default=None, min_length=1, max_length=128)
    address: str | None = Field(default=None, max_length=256)
    active: bool | None = None
    offline_hours: OfflineHours | None = None
    """``null`` puts the canteen back on the server's default."""
    offline_warn_minutes: WarnMinutes | None = None

    def changes(self) -> dict[str, Any]:
        """The fields given; ``null`` means "not changed" except for the offline policy (back to the default)."""
        given = self.model_dump(exclude_unset=True)
        return {k: v for k, v in given.items() if v is not None or k in _RESETTABLE}


class CanteenOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    programme: str
    address: str
    active: bool
    offline_hours: int | None
    offline_warn_minutes: int | None
    created_at: datetime


class MenuItemCreate(_In):
    name: str = Field(min_length=1, max_length=128)
    price: MealPrice = Field(
        description="integer fen (分): ¥11.00 is 1100; at most the server's RUYI_MAX_MEAL_PRICE_FEN (default 10000)"
    )
    slot: Slot
    effective_from: date
    effective_to: date | None = None


class MenuItemEnd(_In):
    effective_to: date


class MenuItemOut(BaseModel):
    id: uuid.UUID
    canteen_id: uuid.UUID
    name: str
    price: FenOut
    slot: Slot
    effective_from: date
    effective_to: date | None
    created_at: datetime


class TerminalCreate(_In):
    name: str = Field(min_length=1, max_length=128)


class TerminalRevoke(_In):
    reason: str = Field(min_length=1, max_length=256)


class TerminalOut(BaseModel):
    id: uuid.UUID
    canteen_id: uuid.UUID
    name: str
    number: int | None
    code: str | None
    """The short code receipts carry (``RY01-2``): give it to the terminal's configuration (``terminal_code``)."""
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None


class TerminalCreated(BaseModel):
    terminal: TerminalOut
    credential: str
    """The terminal's bearer credential; shown once, only its hash is stored."""
