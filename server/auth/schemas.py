from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from server.auth.principal import Role

Username = str


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class StaffOut(BaseModel):
    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    canteen_id: uuid.UUID | None
    active: bool
    created_at: datetime
    cashier_no: str | None = None
    """The personal number a cashier signs in with at the canteen's terminals."""
    pin_set: bool = False
    """Whether a cashier PIN is set (the PIN and its hash are never shown)."""


class SessionOut(BaseModel):
    token: str
    """Send as ``Authorization: Bearer <token>``. Shown once."""
    expires_at: datetime
    staff: StaffOut


class StaffCreate(_In):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(default="", max_length=128)
    role: Role
    canteen_id: uuid.UUID | None = None


class StaffCreated(BaseModel):
    staff: StaffOut
    password: str
    """Generated; shown once. The staff member should change it (not yet supported: ask an admin to re-create)."""


class CashierPinIn(_In):
    number: str = Field(pattern=r"^[0-9]{1,8}$")
    """The personal number typed at the terminal (unique within the canteen)."""
    pin: str = Field(pattern=r"^[0-9]{4,8}$")
    """4-8 digits; stored only as a salted scrypt hash."""


class TokenCreate(_In):
    name: str = Field(min_length=1, max_length=128)
    roles: list[Role] = Field(min_length=1, max_length=4)
    expires_at: AwareDatetime | None = None


class TokenOut(BaseModel):
    id: uuid.UUID
    kind: str
    name: str
    roles: list[Role]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(BaseModel):
    token: str
    """Shown once; only its hash is stored."""
    info: TokenOut


class MeOut(BaseModel):
    kind: str
    id: uuid.UUID | None
    name: str
    roles: list[Role]
    canteen_id: uuid.UUID | None
    permissions: list[str]
