"""What every table module shares: the metadata with its constraint naming convention, UTC timestamps, ids."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
# Set before any table class is defined (every tables.py imports this module first).
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware in, timezone-aware (UTC) out, on both databases. SQLite has no time zones, so the value
    is stored there as naive UTC; PostgreSQL stores ``timestamptz``."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
"""Where the bureau's days begin and end (default dates such as "enrolled today")."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today() -> date:
    return utcnow().astimezone(LOCAL_ZONE).date()


def new_id() -> uuid.UUID:
    return uuid.uuid4()


@lru_cache(maxsize=65_536)
def as_uuid(text: str | None) -> uuid.UUID | None:
    """The UUID ``text`` spells, or None (cached: the same elder and menu ids come in every batch)."""
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def ts_column(*, nullable: bool = False, index: bool = False) -> Any:
    """A ``sa_column`` for a UTC timestamp (a fresh Column each call, as SQLModel needs)."""
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)
