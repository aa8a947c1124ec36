"""Settlement endpoints (thin): statements, their lifecycle, decisions, lines, notes and exports."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ruyi.export import programme_csv, statement_csv
from ruyi.settlement import statement_bytes
from server.auth.dependencies import ProgrammeReader, SettingsDep, SettlementChecker, SettlementReader
from server.db import SessionDep
from server.errors import responses
from server.months import MonthQuery, parse_month
from server.settlements import decisions, duties, service
from server.settlements.dependencies import (
    CheckTarget,
    ConfigDep,
    PrepareTarget,
    ReadTarget,
    ReviewTarget,
    Target,
    target,
)
from server.settlements.exports import XLSX_TYPE, programme_xlsx, statement_doc, statement_xlsx, summary_xlsx
from server.settlements.pdf import PDF_TYPE, statement_pdf
from server.settlements.programme import programme_doc, programme_json, programme_month
from server.settlements.programme import summary as city_summary
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
)
from server.settlements.views import line_out, statement_out, summary_out

router = APIRouter(tags=["settlements"])

CSV_TYPE = "text/csv; charset=utf-8"
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "text/csv": {"schema": {"type": "string"}},
            XLSX_TYPE: {"schema": {"type": "string", "format": "binary"}},
            PDF_TYPE: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "The export (JSON, CSV with BOM, XLSX, or for one statement PDF).",
    }
}
Format = Literal["json", "csv", "xlsx"]
StatementFormat = Literal["json", "csv", "xlsx", "pdf"]


def _out(session: SessionDep, it: Target, computed: service.Computed | None) -> StatementOut:
    return statement_out(session, actor=it.actor, row=it.row, ctx=it.ctx, computed=computed)


def _file(data: bytes, media_type: str, filename: str) -> Response:
    return Response(data, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/settlements", response_model=list[StatementSummaryOut], responses=responses(401, 403, 404, 422))
def list_statements(
    *,
    actor: SettlementReader,
    session: SessionDep,
    month: MonthQuery | None = None,
    canteen_id: uuid.UUID | None = None,
    state: Literal["draft", "reviewed", "closed"] | None = None,
) -> list[StatementSummaryOut]:
    """Statements by month, canteen and state (a canteen manager sees their canteen's only)."""
    rows = service.list_statements(session, actor=actor, month=month, canteen_id=canteen_id, state=state)
    return [summary_out(r) for r in rows]


@router.post("/settlements", status_code=201, response_model=StatementOut, responses=responses(401, 403, 404, 409, 422))
def create_statement(
    *, actor: SettlementChecker, session: SessionDep, settings: SettingsDep, config: ConfigDep, body: StatementCreate
) -> StatementOut:
    """Open a draft statement for one canteen and month (bureau staff)."""
    row = service.create(session, actor=actor, canteen_id=body.canteen_id, month=body.month)
    it = target(session, actor=actor, row=row, settings=settings, config=config)
    out = _out(session, it, service.compute(session, row=row, ctx=it.ctx))
    session.commit()
    return out


@router.get("/settlements/{statement_id}", response_model=StatementOut, responses=responses(401, 403, 404, 409, 500))
def get_statement(*, it: ReadTarget, session: SessionDep) -> StatementOut:
    """One statement with its lines, flagged meals, checks (with notes), bureau lines and decisions. A closed
    statement is read from its stored bytes and checked against its hash on every read (a mismatch is a 500
    alert, never served); an open one is computed now."""
    return _out(session, it, service.current(session, row=it.row, ctx=it.ctx))


@router.post("/settlements/{statement_id}/checks", response_model=StatementOut, responses=responses(401, 403, 404, 409))
def run_checks(*, it: CheckTarget, session: SessionDep) -> StatementOut:
    """Recompute an open statement and its edit checks (recorded: hash and time)."""
    computed = service.run_checks(session, actor=it.actor, row=it.row, ctx=it.ctx)
    session.commit()
    return _out(session, it, computed)


@router.post(
    "/settlements/{statement_id}/decisions",
    status_code=201,
    response_model=DecisionOut,
    responses=responses(401, 403, 404, 409, 422),
)
def decide(*, it: PrepareTarget, session: SessionDep, body: DecisionIn) -> DecisionOut:
    """Accept or reject one flagged meal (final; only accepted meals are paid)."""
    d = decisions.decide(
        session, actor=it.actor, row=it.row, ctx=it.ctx, meal_id=body.meal_id, decision=body.decision, note=body.note
    )
    session.commit()
    return DecisionOut.model_validate(d, from_attributes=True)


@router.post(
    "/settlements/{statement_id}/decisions/bulk",
    response_model=BulkDecisionOut,
    responses=responses(401, 403, 404, 409, 422),
)
def decide_bulk(*, it: PrepareTarget, session: SessionDep, body: BulkDecisionIn) -> BulkDecisionOut:
    """Accept or reject every undecided meal of the statement that carries one flag (audited as one entry
    listing the meals)."""
    ids = decisions.decide_bulk(
        session, actor=it.actor, row=it.row, ctx=it.ctx, code=body.code, decision=body.decision, note=body.note
    )
    session.commit()
    return BulkDecisionOut(decided=len(ids), meal_ids=ids)


@router.post(
    "/settlements/{statement_id}/construction-lines",
    status_code=201,
    response_model=BureauLineOut,
    responses=responses(401, 403, 404, 409, 422),
)
def add_construction(*, it: PrepareTarget, session: SessionDep, body: ConstructionIn) -> BureauLineOut:
    """A construction subsidy line (就餐点建设补贴), integer fen."""
    line = service.add_line(
        session, actor=it.actor, row=it.row, ctx=it.ctx, kind="construction", amount=body.amount, note=body.note
    )
    session.commit()
    return line_out(line)


@router.post(
    "/settlements/{statement_id}/corrections",
    status_code=201,
    response_model=BureauLineOut,
    responses=responses(401, 403, 404, 409, 422),
)
def add_correction(*, it: PrepareTarget, session: SessionDep, body: CorrectionIn) -> BureauLineOut:
    """A correction for an earlier month: downward always, upward only within the configured window."""
    line = service.add_line(
        session, actor=it.actor, row=it.row, ctx=it.ctx, kind="correction", amount=body.amount, note=body.note,
        origin_month=body.origin_month,
    )  # fmt: skip
    session.commit()
    return line_out(line)


@router.post("/settlements/{statement_id}/notes", response_model=NotesOut, responses=responses(401, 403, 404, 409, 422))
def add_notes(*, it: CheckTarget, session: SessionDep, body: NoteIn) -> NotesOut:
    """A note on one warning (``key``) or on every current warning of a check (``code``). Errors cannot be
    noted away."""
    keys = service.add_notes(
        session, actor=it.actor, row=it.row, ctx=it.ctx, key=body.key, code=body.code, note=body.note
    )
    session.commit()
    return NotesOut(keys=keys)


@router.post("/settlements/{statement_id}/review", response_model=StatementOut, responses=responses(401, 403, 404, 409))
def review(*, it: ReviewTarget, session: SessionDep) -> StatementOut:
    """draft -> reviewed (auditors): no error, a note on every warning, not by the person who decided every
    flagged meal (403 ``settlement.four_eyes_review``, audited). Any later change returns it to draft."""
    try:
        computed = service.review(session, actor=it.actor, row=it.row, ctx=it.ctx, four_eyes=it.four_eyes)
    except duties.FourEyesRefused:
        session.commit()  # the refusal's audit entry
        raise
    session.commit()
    return _out(session, it, computed)


@router.post("/settlements/{statement_id}/close", response_model=StatementOut, responses=responses(401, 403, 404, 409))
def close(*, it: ReviewTarget, session: SessionDep) -> StatementOut:
    """reviewed -> closed (auditors other than its reviewer: 403 ``settlement.four_eyes_close``, audited), once
    the month has ended and earlier months are closed: checks run again, the canonical bytes and their sha256 are
    stored, and the month never changes again. If the statement is no longer what was reviewed (or last checked),
    it goes back to draft instead (409)."""
    try:
        closed = service.close(session, actor=it.actor, row=it.row, ctx=it.ctx, four_eyes=it.four_eyes)
    except duties.FourEyesRefused:
        session.commit()  # the refusal's audit entry
        raise
    session.commit()  # closed, or back to draft (audited)
    if not closed:
        raise service.ChangedSinceReview
    return _out(session, it, None)


@router.get(
    "/settlements/{statement_id}/export",
    response_class=Response,
    responses={**FILE_RESPONSES, **responses(401, 403, 404, 422, 500)},
)
def export_statement(
    *, it: ReadTarget, session: SessionDep, fmt: Annotated[StatementFormat, Query(alias="format")] = "json"
) -> Response:
    """One canteen's month as JSON (the canonical bytes the hash is taken over), CSV (UTF-8 with BOM), XLSX or a
    printable PDF (title block, signature lines, page numbers and the hash on every page); the same data always
    gives the same bytes."""
    doc = statement_doc(session, it)
    name = f"statement-{it.canteen.code}-{it.row.month}"
    if fmt == "csv":
        return _file(statement_csv(doc), CSV_TYPE, f"{name}.csv")
    if fmt == "xlsx":
        return _file(statement_xlsx(doc), XLSX_TYPE, f"{name}.xlsx")
    if fmt == "pdf":
        return _file(statement_pdf(doc), PDF_TYPE, f"{name}.pdf")
    return _file(statement_bytes(doc.statement), "application/json", f"{name}.json")


@router.get(
    "/settlement-programme",
    response_class=Response,
    responses={**FILE_RESPONSES, **responses(401, 403, 409, 422, 500)},
)
def export_programme(
    *,
    actor: ProgrammeReader,
    session: SessionDep,
    settings: SettingsDep,
    config: ConfigDep,
    month: MonthQuery,
    fmt: Annotated[Format, Query(alias="format")] = "json",
) -> Response:
    """The whole programme for one month: one row of totals per canteen (closed statements as stored, with
    their hash; open ones computed now, without one) and a total row (bureau staff)."""
    m = parse_month(month)
    entries = programme_month(
        session, month=m, category_key=settings.category_key, config=config, card_secret=settings.card_key_secret
    )
    name = f"programme-{m}"
    if fmt == "csv":
        return _file(programme_csv(programme_doc(session, m, entries)), CSV_TYPE, f"{name}.csv")
    if fmt == "xlsx":
        return _file(programme_xlsx(programme_doc(session, m, entries)), XLSX_TYPE, f"{name}.xlsx")
    return _file(programme_json(m, entries), "application/json", f"{name}.json")


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
    actor: ProgrammeReader,
    session: SessionDep,
    settings: SettingsDep,
    config: ConfigDep,
    from_month: MonthQuery,
    to_month: MonthQuery,
    fmt: Annotated[Literal["json", "xlsx"], Query(alias="format")] = "json",
) -> Any:
    """City-wide: meals, elders served, elder subsidies and operating subsidies per canteen per month (at most
    24 months), as JSON or XLSX (bureau staff)."""
    out = city_summary(
        session,
        from_month=from_month,
        to_month=to_month,
        category_key=settings.category_key,
        config=config,
        card_secret=settings.card_key_secret,
    )
    if fmt == "xlsx":
        rows = [r.model_dump() for r in out.rows]
        return _file(summary_xlsx(rows), XLSX_TYPE, f"summary-{from_month}-{to_month}.xlsx")
    return out
