from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from server.audit import service
from server.audit.schemas import AuditEntryOut
from server.auth.dependencies import AuditReader
from server.db import SessionDep
from server.errors import responses

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditEntryOut], responses=responses(401, 403, 422))
def list_audit(
    *,
    _actor: AuditReader,
    session: SessionDep,
    object_type: Annotated[str | None, Query(max_length=32)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: uuid.UUID | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryOut]:
    """The append-only log of every write, newest first. Page with ``before_id``."""
    rows = service.query(
        session,
        object_type=object_type,
        object_id=object_id,
        actor_id=actor_id,
        action=action,
        since=since,
        until=until,
        before_id=before_id,
        limit=limit,
    )
    return [AuditEntryOut.model_validate(r, from_attributes=True) for r in rows]
