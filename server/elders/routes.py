from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, UploadFile

from server.auth.dependencies import ElderReader, ElderWriter, SettingsDep
from server.db import SessionDep
from server.elders import imports, service
from server.elders.schemas import (
    CategoryEnd,
    CategoryIn,
    CategorySpanOut,
    ElderCreate,
    ElderOut,
    ElderPage,
    ElderUpdate,
    ImportOut,
    ImportReport,
    StatusChangeIn,
    StatusOut,
)
from server.elders.tables import Elder
from server.errors import responses

router = APIRouter(tags=["elders"])


def _one(session: SessionDep, actor: ElderReader, elder: Elder) -> ElderOut:
    return service.elder_outs(session, actor=actor, elders=[elder])[0]


@router.post("/elders", response_model=ElderOut, status_code=201, responses=responses(401, 403, 409, 422))
def register_elder(body: ElderCreate, actor: ElderWriter, session: SessionDep) -> ElderOut:
    """Register an elder. A number already registered answers 409 with ``existing_id``/``existing_href``."""
    elder = service.register(
        session,
        actor=actor,
        name=body.name,
        id_number=body.id_number,
        community=body.community,
        area=body.area,
        canteen_id=body.canteen_id,
        enrolled_on=body.enrolled_on,
        categories=[c.model_dump() for c in body.categories],
    )
    session.commit()
    return _one(session, actor, elder)


@router.get("/elders", response_model=ElderPage, responses=responses(401, 403, 422))
def search_elders(
    *,
    actor: ElderReader,
    session: SessionDep,
    name: Annotated[str | None, Query(max_length=64, description="part of the name")] = None,
    id_number: Annotated[str | None, Query(max_length=18, description="the full number")] = None,
    id_tail: Annotated[
        str | None, Query(min_length=4, max_length=18, description="last 4 characters, or a masked number")
    ] = None,
    card_serial: Annotated[str | None, Query(max_length=64)] = None,
    community: Annotated[str | None, Query(max_length=128)] = None,
    canteen_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ElderPage:
    total, rows = service.search(
        session,
        actor=actor,
        name=name,
        id_number=id_number,
        id_tail=id_tail,
        card_serial=card_serial,
        community=community,
        canteen_id=canteen_id,
        limit=limit,
        offset=offset,
    )
    return ElderPage(total=total, items=service.elder_outs(session, actor=actor, elders=rows))


@router.get("/elders/{elder_id}", response_model=ElderOut, responses=responses(401, 403, 404))
def get_elder(elder_id: uuid.UUID, actor: ElderReader, session: SessionDep) -> ElderOut:
    return _one(session, actor, service.get_elder(session, actor=actor, elder_id=elder_id))


@router.patch("/elders/{elder_id}", response_model=ElderOut, responses=responses(401, 403, 404, 422))
def update_elder(elder_id: uuid.UUID, body: ElderUpdate, actor: ElderWriter, session: SessionDep) -> ElderOut:
    changes = body.model_dump(exclude_unset=True)
    # null leaves a required field unchanged (as for canteens); only canteen_id and area may be set to null.
    changes = {k: v for k, v in changes.items() if v is not None or k in ("canteen_id", "area")}
    elder = service.update(session, actor=actor, elder_id=elder_id, changes=changes)
    session.commit()
    return _one(session, actor, elder)


@router.post(
    "/elders/{elder_id}/status", response_model=StatusOut, status_code=201, responses=responses(401, 403, 404, 409, 422)
)
def change_status(elder_id: uuid.UUID, body: StatusChangeIn, actor: ElderWriter, session: SessionDep) -> StatusOut:
    """Suspend (``suspended``), resume (``enrolled``), cancel (``cancelled``, 注销) or record a death
    (``deceased``) from a date, with a reason."""
    row = service.change_status(
        session,
        actor=actor,
        elder_id=elder_id,
        status=body.status,
        effective_from=body.effective_from,
        reason=body.reason,
    )
    session.commit()
    return StatusOut.model_validate(row, from_attributes=True)


@router.post(
    "/elders/{elder_id}/categories",
    response_model=CategorySpanOut,
    status_code=201,
    responses=responses(401, 403, 404, 422),
)
def add_category(elder_id: uuid.UUID, body: CategoryIn, actor: ElderWriter, session: SessionDep) -> CategorySpanOut:
    row = service.add_category(session, actor=actor, elder_id=elder_id, **body.model_dump())
    session.commit()
    return CategorySpanOut.model_validate(row, from_attributes=True)


@router.post(
    "/elders/{elder_id}/categories/{category_id}/end",
    response_model=CategorySpanOut,
    responses=responses(401, 403, 404, 422),
)
def end_category(
    elder_id: uuid.UUID, category_id: uuid.UUID, body: CategoryEnd, actor: ElderWriter, session: SessionDep
) -> CategorySpanOut:
    row = service.end_category(session, actor=actor, elder_id=elder_id, category_id=category_id, valid_to=body.valid_to)
    session.commit()
    return CategorySpanOut.model_validate(row, from_attributes=True)


@router.post("/elder-imports/dry-run", response_model=ImportReport, responses=responses(401, 403, 413, 422))
def import_dry_run(file: UploadFile, actor: ElderWriter, session: SessionDep, settings: SettingsDep) -> ImportReport:
    """Check a CSV (UTF-8, UTF-8 with BOM, GBK/GB18030) or XLSX file and report every row's problems.
    Nothing is written."""
    return imports.run(session, actor=actor, settings=settings, upload=file, dry_run=True)


@router.post("/elder-imports", response_model=ImportReport, responses=responses(401, 403, 413, 422))
def import_commit(file: UploadFile, actor: ElderWriter, session: SessionDep, settings: SettingsDep) -> ImportReport:
    """Import all rows or none (422 with the report when any row has a problem). Importing the same file again,
    or rows already registered with the same name, changes nothing."""
    report = imports.run(session, actor=actor, settings=settings, upload=file, dry_run=False)
    session.commit()
    return report


@router.get("/elder-imports", response_model=list[ImportOut], responses=responses(401, 403))
def list_imports(_actor: ElderWriter, session: SessionDep) -> list[ImportOut]:
    return [ImportOut.model_validate(r, from_attributes=True) for r in imports.list_imports(session)]
