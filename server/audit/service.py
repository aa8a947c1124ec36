"""The audit log: every write adds one entry in the same transaction as the write itself."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.audit.tables import AuditEntry
from server.auth.principal import Principal


def record(
    session: Session,
    *,
    actor: Principal,
    action: str,
    object_type: str,
    object_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    canteen_id: uuid.UUID | None = None,
) -> AuditEntry:
    """Add an entry. ``before``/``after`` must already be masked (callers build them with ``snapshot``
    functions that never include a full ID number)."""
    entry = AuditEntry(
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_name=actor.name,
        token_id=actor.token_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        canteen_id=canteen_id,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry


def query(
    session: Session,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """Newest first; page with ``before_id`` (the smallest id of the previous page)."""
    stmt = select(AuditEntry)
    conds: list[sa.ColumnElement[bool]] = []
    if object_type is not None:
        conds.append(col(AuditEntry.object_type) == object_type)
    if object_id is not None:
        conds.append(col(AuditEntry.object_id) == object_id)
    if actor_id is not None:
        conds.append(col(AuditEntry.actor_id) == actor_id)
    if action is not None:
        conds.append(col(AuditEntry.action) == action)
    if since is not None:
        conds.append(col(AuditEntry.at) >= since)
    if until is not None:
        conds.append(col(AuditEntry.at) < until)
    if before_id is not None:
        conds.append(col(AuditEntry.id) < before_id)
    if conds:
        stmt = stmt.where(*conds)
    return list(session.exec(stmt.order_by(col(AuditEntry.id).desc()).limit(limit)))
