from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from server.elders.schemas import CardKind, CardOut

__all__ = ["CardBind", "CardOut", "CardRevoke"]


class CardBind(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: CardKind
    """``uid`` (PC/SC card UID), ``resident_id`` (resident ID card physical number), ``social_security`` (social
    security card number)."""
    serial: str = Field(min_length=4, max_length=64, pattern=r"^[A-Za-z0-9 :-]+$")
    bound_on: date | None = None


class CardRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revoked_on: date
    reason: str = Field(min_length=1, max_length=256)
