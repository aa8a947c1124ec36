"""Settlement endpoints (thin): statements, their lifecycle, decisions, lines, notes and exports."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ruyi.export import programme_csv, programme_total, statement_csv
from ruyi.settlement import SettlementConfig, canonical_json, statement_bytes
from server.auth.dependencies import CurrentStaff, SettingsDep
from server.auth.principal import Principal, Role
from server.canteens.service import get_canteen
from server.db import SessionDep
from server.errors import responses
from server.settlements import service, views
from server.settlements.exports import XLSX_TYPE, programme_xlsx, statement_xlsx, summary_xlsx
from server.settlements.facts import Context
from server.settlements.programme import programme_month
from server.settlements.schemas import (
    BulkDecisionIn,
    BulkDecisionOut,
    BureauLineOut,
    ConstructionIn,
    CorrectionIn,
    DecisionIn,
    DecisionOut,
    NoteIn,
    NotesOut,
    StatementCreate,
    StatementOut,
    StatementSummaryOut,
    SummaryOut,
    SummaryRow,
    body_of,
)
from server.settlements.tables import SettlementLine, SettlementStatement

router = APIRouter(tags=["settlements"])

MonthQuery = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-10"])]
CSV_TYPE = "text/csv; charset=utf-8"
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
            XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The export (JSON, CSV with BOM, or XLSX).",
    }
}


def settlement_config(request: Request) -> SettlementConfig:
    """The app's edit-check thresholds (made from the settings by :func:`server.app.create_app`)."""
    config: SettlementConfig = request.app.state.settlement_config
    return config


ConfigDep = Annotated[SettlementConfig, Depends(settlement_config)]


def _summary(row: SettlementStatement) -> StatementSummaryOut:
    return StatementSummaryOut.model_validate(row, from_attributes=True)


def _line(line: SettlementLine) -> BureauLineOut:
    return BureauLineOut(
        id=line.id,
        line_id=line.line_id,
        kind="construction" if line.kind == "construction" else "correction",
        origin_month=line.origin_month,
        amount=line.amount,
        note=line.note,
        created_by=line.created_by,
        created_at=line.created_at,
    )


def _out(v: views.View) -> StatementOut:
    base = _summary(v.row).model_dump()
    return StatementOut(
        **base,
        canteen_code=v.canteen.code,
        canteen_name=v.canteen.name,
        hash=v.hash,
        statement=body_of(json.loads(statement_bytes(v.statement))),
        checks=v.checks,
        flagged=v.flagged,
        bureau_lines=[_line(x) for x in v.lines],
        decisions=[DecisionOut.model_validate(d, from_attributes=True) for d in v.decisions],
        can_close=v.can_close,
        problems=v.problems,
    )


def _load(
    session: SessionDep,
    actor: Principal,
    settings: SettingsDep,
    config: SettlementConfig,
    *,
    statement_id: uuid.UUID,
    roles: frozenset[Role],
    write: bool = False,
) -> tuple[SettlementStatement, Context]:
    """The statement and its context for ``roles`` (write: locked for the change that follows)."""
    return service.load_for(
        session,
        actor=actor,
        statement_id=statement_id,
        roles=roles,
        category_key=settings.category_key,
        config=config,
        write=write,
    )


def _view(
    session: SessionDep, actor: Principal, statement_id: uuid.UUID, settings: SettingsDep, config: SettlementConfig
) -> StatementOut:
    row, ctx = _load(session, actor, settings, config, statement_id=statement_id, roles=service.READERS)
    return _out(views.view(session, actor=actor, row=row, ctx=ctx, computed=service.current(session, row=row, ctx=ctx)))


@router.get("/settlements", response_model=list[StatementSummaryOut], responses=responses(401, 403, 404, 422))
def list_statements(
    *,
    actor: CurrentStaff,
    session: SessionDep,
    month: MonthQuery | None = None,
    canteen_id: uuid.UUID | None = None,
    state: Literal["draft", "reviewed", "closed"] | None = None,
) -> list[StatementSummaryOut]:
    """Statements by month, canteen and state (a canteen manager sees their canteen's only)."""
    rows = service.list_statements(session, actor=actor, month=month, canteen_id=canteen_id, state=state)
    return [_summary(r) for r in rows]


@router.post("/settlements", status_code=201, response_model=StatementOut, responses=responses(401, 403, 404, 409, 422))
def create_statement(
    *, actor: CurrentStaff, session: SessionDep, settings: SettingsDep, config: ConfigDep, body: StatementCreate
) -> StatementOut:
    """Open a draft statement for one canteen and month (bureau staff)."""
    row = service.create(session, actor=actor, canteen_id=body.canteen_id, month=body.month)
    out = _view(session, actor, row.id, settings, config)
    session.commit()
    return out


@router.get("/settlements/{statement_id}", response_model=StatementOut, responses=responses(401, 403, 404, 409, 500))
def get_statement(
    *, actor: CurrentStaff, session: SessionDep, settings: SettingsDep, config: ConfigDep, statement_id: uuid.UUID
) -> StatementOut:
    """One statement with its lines, flagged meals, checks (with notes), bureau lines and decisions. A closed
    statement is read from its stored bytes and checked against its hash on every read (a mismatch is a 500
    alert, never served); an open one is computed now."""
    return _view(session, actor, statement_id, settings, config)


@router.post("/settlements/{statement_id}/checks", response_model=StatementOut, responses=responses(401, 403, 404, 409))
def run_checks(
    *, actor: CurrentStaff, session: SessionDep, settings: SettingsDep, config: ConfigDep, statement_id: uuid.UUID
) -> StatementOut:
    """Recompute an open statement and its edit checks (recorded: hash and time)."""
    row, ctx = _load(session, actor, settings, config, statement_id=statement_id, roles=service.BUREAU, write=True)
    service.run_checks(session, actor=actor, row=row, ctx=ctx)
    session.commit()
    return _out(views.view(session, actor=actor, row=row, ctx=ctx, computed=service.current(session, row=row, ctx=ctx)))


@router.post(
    "/settlements/{statement_id}/decisions",
    status_code=201,
    response_model=DecisionOut,
    responses=responses(401, 403, 404, 409, 422),
)
def decide(
    *,
    actor: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    config: ConfigDep,
    statement_id: uuid.UUID,
    body: DecisionIn,
) -> DecisionOut:
    """Accept or reject one flagged meal (final; only accepted meals are paid)."""
    row, ctx = _load(session, actor, settings, config, statement_id=statement_id, roles=service.PREPARERS, write=True)
    d = service.decide(
        session, actor=actor, row=row, ctx=ctx, meal_id=body.meal_id, decision=body.decision, note=body.note
    )
    session.commit()
    return DecisionOut.model_validate(d, from_attributes=True)


@router.post(
    "/settlements/{statement_id}/decisions/bulk",
    response_model=BulkDecisionOut,
    responses=responses(401, 403, 404, 409, 422),
)
def decide_bulk(
    *,
    actor: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    config: ConfigDep,
    statement_id: uuid.UUID,
    body: BulkDecisionIn,
) -> BulkDecisionOut:
    """Accept or reject every undecided meal of the statement that carries one flag (audited as one entry
    listing the meals)."""
    row, ctx = _load(session, actor, settings, config, statement_id=statement_id, roles=service.PREPARERS, write=True)
    ids = service.decide_bulk(
        session, actor=actor, row=row, ctx=ctx, code=body.code, decision=body.decision, note=body.note
    )
    session.commit()
    return BulkDecisionOut(decided=len(ids), meal_ids=ids)


@router.post(
    "/settlements/{statement_id}/construction-lines",
    status_code=201,
    response_model=BureauLineOut,
    responses=responses(401, 403, 404, 409, 422),
)
def add_construction(
    *,
    actor: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    config: ConfigDep,
    statement_id: uuid.UUID,
    body: ConstructionIn,
) -> BureauLineOut:
    """A construction subsidy line (就餐点建设补贴), integer fen."""
    row, ctx = _load(session, actor, settings, config, statement_id=statement_id, roles=service.PREPARERS, write=True)
    line = service.add_line(
        session, actor=actor, row=row, ctx=ctx, kind="construction", amount=body.amount, note=body.note
    )
    session.commit()
    return _line(line)


@router.post(
    "/settlements/{statement_id}/corrections",
    status_code=201,
    response_model=BureauLineOut,
    responses=responses(401, 403, 404, 409, 422),
)
def add_correction(
    *,
    actor: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    config: ConfigDep,
    statement_id: uuid.UUID,
    body: CorrectionIn,
) -> BureauLineOut:
    """A correction for an earlier month: downward always, upward only within the configured window."""
    row, ctx = _load(session, actor, settings, config, statement_id=statement_id, roles=service.PREPARERS, write=True)
    line = service.add_line(
        session, actor=actor, row=row, ctx=ctx, kind="correction", amount=body.amount, note=body.note,
        origin_month=body.origin_month,
    )  # fmt: skip
    session.commit()
    return _line(line)


@router.post("/settlements/{statement_id}/notes", response_model=NotesOut, responses=responses(401, 403, 404, 409, 422))
def add_notes(
    *,
    actor: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    config: ConfigDep,
    statement_id: uuid.UUID,
    body: NoteIn,
) -> NotesOut:
    """A note on one warning (``key``) or on every current warning of a check (``code``). Errors cannot be
    noted away."""
    row, ctx = _load(session, actor, settings, config, statement_id=statement_id, roles=service.NOTERS, write=True)
    keys = service.add_notes(session, actor=actor, row=row, ctx=ctx, key=body.key, code=body.code, note=body.note)
    session.commit()
    return NotesOut(keys=keys)


@router.post("/settlements/{statement_id}/review", response_model=StatementOut, responses=responses(401, 403, 404, 409))
def review(
    *, actor: CurrentStaff, session: SessionDep, settings: SettingsDep, config: ConfigDep, statement_id: uuid.UUID
) -> StatementOut:
    """draft -> reviewed (auditors): no error, a note on every warning. Any later change returns it to draft."""
    row, ctx = _load(session, actor, settings, config, statement_id=statement_id, roles=service.REVIEWERS, write=True)
    service.review(session, actor=actor, row=row, ctx=ctx)
    session.commit()
    return _out(views.view(session, actor=actor, row=row, ctx=ctx, computed=service.current(session, row=row, ctx=ctx)))


@router.post("/settlements/{statement_id}/close", response_model=StatementOut, responses=responses(401, 403, 404, 409))
def close(
    *, actor: CurrentStaff, session: SessionDep, settings: SettingsDep, config: ConfigDep, statement_id: uuid.UUID
) -> StatementOut:
    """reviewed -> closed (auditors), once the month has ended and earlier months are closed: checks run again,
    the canonical bytes and their sha256 are stored, and the month never changes again. If the statement is no
    longer what was reviewed (or last checked), it goes back to draft instead (409)."""
    row, ctx = _load(session, actor, settings, config, statement_id=statement_id, roles=service.REVIEWERS, write=True)
    try:
        service.close(session, actor=actor, row=row, ctx=ctx)
    except service.ChangedSinceReview:
        session.commit()  # back to draft, audited
        raise
    session.commit()
    return _out(views.view(session, actor=actor, row=row, ctx=ctx, computed=service.current(session, row=row, ctx=ctx)))


def _file(data: bytes, media_type: str, filename: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


Format = Literal["json", "csv", "xlsx"]


@router.get(
    "/settlements/{statement_id}/export",
    response_class=Response,
    responses={**FILE_RESPONSES, **responses(401, 403, 404, 422, 500)},
)
def export_statement(
    *,
    actor: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    config: ConfigDep,
    statement_id: uuid.UUID,
    fmt: Annotated[Format, Query(alias="format")] = "json",
) -> Response:
    """One canteen's month as JSON (the canonical bytes the hash is taken over), CSV (UTF-8 with BOM) or XLSX;
    the same data always gives the same bytes."""
    row, ctx = _load(session, actor, settings, config, statement_id=statement_id, roles=service.READERS)
    s = service.export_statement(session, actor=actor, row=row, ctx=ctx)
    canteen = get_canteen(session, actor=actor, canteen_id=row.canteen_id)
    name = f"statement-{canteen.code}-{row.month}"
    if fmt == "csv":
        return _file(statement_csv(s), CSV_TYPE, f"{name}.csv")
    if fmt == "xlsx":
        data = statement_xlsx(s, canteen_code=canteen.code, canteen_name=canteen.name, state=row.state)
        return _file(data, XLSX_TYPE, f"{name}.xlsx")
    return _file(statement_bytes(s), "application/json", f"{name}.json")


@router.get(
    "/settlement-programme",
    response_class=Response,
    responses={**FILE_RESPONSES, **responses(401, 403, 409, 422, 500)},
)
def export_programme(
    *,
    actor: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    config: ConfigDep,
    month: MonthQuery,
    fmt: Annotated[Format, Query(alias="format")] = "json",
) -> Response:
    """The whole programme for one month: one row of totals per canteen (closed statements as stored, with
    their hash; open ones computed now, without one) and a total row (bureau staff)."""
    service.require_bureau(actor)
    m = service.parse_month(month)
    entries = programme_month(session, month=m, category_key=settings.category_key, config=config)
    name = f"programme-{m}"
    if fmt == "csv":
        return _file(programme_csv([e.figures for e in entries]), CSV_TYPE, f"{name}.csv")
    if fmt == "xlsx":
        data = programme_xlsx([(e.canteen.code, e.canteen.name, e.figures) for e in entries])
        return _file(data, XLSX_TYPE, f"{name}.xlsx")
    body = {
        "month": str(m),
        "canteens": [
            {
                "canteen_id": e.figures.canteen_id,
                "canteen_code": e.canteen.code,
                "canteen_name": e.canteen.name,
                "state": e.figures.state,
                "statement_hash": e.figures.statement_hash,
                "totals": e.figures.totals,
            }
            for e in entries
        ],
        "total": programme_total(e.figures for e in entries),
    }
    return _file(canonical_json(body), "application/json", f"{name}.json")


def _summary_rows(
    session: SessionDep, *, from_month: str, to_month: str, settings: SettingsDep, config: SettlementConfig
) -> list[SummaryRow]:
    months = service.months_between(
        service.parse_month(from_month, "from_month"), service.parse_month(to_month, "to_month")
    )
    rows: list[SummaryRow] = []
    for m in months:
        for e in programme_month(session, month=m, category_key=settings.category_key, config=config):
            t = e.figures.totals
            rows.append(
                SummaryRow(
                    canteen_id=e.canteen.id,
                    canteen_code=e.canteen.code,
                    canteen_name=e.canteen.name,
                    month=str(m),
                    state=e.figures.state,
                    meals=t.meals,
                    subsidised_meals=t.subsidised_meals,
                    elders=t.elders,
                    elder_days=t.elder_days,
                    elder_subsidy=t.elder_subsidy,
                    operating=t.operating,
                    construction=t.construction,
                    adjustments=t.adjustments,
                    payable=t.payable,
                    held_meals=t.held_meals,
                    statement_hash=e.figures.statement_hash,
                )
            )
    return rows


@router.get(
    "/settlement-summary",
    response_model=SummaryOut,
    responses={
        200: {"content": {XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        **responses(401, 403, 409, 422, 500),
    },
)
def summary(
    *,
    actor: CurrentStaff,
    session: SessionDep,
    settings: SettingsDep,
    config: ConfigDep,
    from_month: MonthQuery,
    to_month: MonthQuery,
    fmt: Annotated[Literal["json", "xlsx"], Query(alias="format")] = "json",
) -> Any:
    """City-wide: meals, elders served, elder subsidies and operating subsidies per canteen per month (at most
    24 months), as JSON or XLSX (bureau staff)."""
    service.require_bureau(actor)
    rows = _summary_rows(session, from_month=from_month, to_month=to_month, settings=settings, config=config)
    if fmt == "xlsx":
        return _file(summary_xlsx([r.model_dump() for r in rows]), XLSX_TYPE, f"summary-{from_month}-{to_month}.xlsx")
    keys = ("meals", "subsidised_meals", "elder_days", "elder_subsidy", "operating", "construction", "adjustments",
            "payable", "held_meals")  # fmt: skip
    totals = {k: sum(getattr(r, k) for r in rows) for k in keys}
    return SummaryOut(from_month=from_month, to_month=to_month, rows=rows, totals=totals)
