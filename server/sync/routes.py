from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from server.auth.dependencies import CurrentTerminal, SettingsDep
from server.db import SessionDep
from server.errors import responses
from server.sync import pull as pulling
from server.sync import service
from server.sync.schemas import PullResponse, PushRequest, PushResponse, ZReportAck, ZReportIn

router = APIRouter(prefix="/sync", tags=["sync"])


async def _protocol_first(request: Request) -> None:
    """Answer 426 for a protocol this server does not speak before the body is validated (a newer protocol's
    body need not validate against this one's schema)."""
    try:
        data: Any = await request.json()  # parsed once: Starlette keeps it for the body's own validation
    except ValueError:
        return
    if isinstance(data, dict) and isinstance(data.get("protocol"), int):
        service.check_protocol(data["protocol"])


@router.post(
    "/push",
    response_model=PushResponse,
    dependencies=[Depends(_protocol_first)],
    responses={
        **responses(401, 403, 413, 422, 426),
        409: {"model": PushResponse, "description": "some record conflicts with a stored meal"},
    },
)
def push(body: PushRequest, actor: CurrentTerminal, session: SessionDep, settings: SettingsDep) -> Any:
    """Store a batch of the calling terminal's meals exactly once; answer how far its sequence is held."""
    result = service.push(session, actor=actor, request=body, settings=settings)
    session.commit()
    if result.conflict:
        return JSONResponse(result.response.model_dump(mode="json"), status_code=409)
    return result.response


@router.get("/pull", response_model=PullResponse, responses=responses(401, 403, 422, 426))
def pull(
    actor: CurrentTerminal,
    session: SessionDep,
    settings: SettingsDep,
    protocol: Annotated[int, Query()] = 1,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> PullResponse:
    """What the calling terminal's canteen needs since ``cursor`` (absent or unknown: everything)."""
    return pulling.pull(session, actor=actor, protocol=protocol, cursor=cursor, settings=settings)


@router.post(
    "/z-reports",
    response_model=ZReportAck,
    dependencies=[Depends(_protocol_first)],
    responses={
        **responses(401, 403, 422, 426),
        409: {"model": ZReportAck, "description": "another report is held for this terminal, day and made_at"},
    },
)
def z_report(body: ZReportIn, actor: CurrentTerminal, session: SessionDep) -> Any:
    """Keep the calling terminal's Z-report of a day (every one is kept; the latest of a day reconciles)."""
    ack = service.store_z_report(session, actor=actor, report=body)
    session.commit()
    if ack.outcome == "conflict":
        return JSONResponse(ack.model_dump(mode="json"), status_code=409)
    return ack
