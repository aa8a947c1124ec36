"""A canteen's monthly statement on the server: its lifecycle draft -> reviewed -> closed, and computing an open
one (:func:`compute`: facts from :mod:`~server.settlements.facts`, late closed months from
:mod:`~server.settlements.closed`, all arithmetic in :func:`ruyi.settlement.settle`).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.errors import Problem
from ruyi.settlement import (
    ConstructionLine,
    CorrectionLine,
    MealFact,
    Month,
    Settlement,
    SettlementConfig,
    Statement,
    can_close,
    settle,
    statement_bytes,
    statement_hash,
)
from server import sql
from server.audit import service as audit
from server.auth.principal import Principal
from server.base import local_today, utcnow
from server.canteens.service import get_canteen
from server.errors import Conflict, Invalid, NotFound, problem_dict
from server.months import parse_month
from server.settlements import duties
from server.settlements.closed import prior_months, verify_stored
from server.settlements.facts import CheckInputs, Context, check_inputs
from server.settlements.facts import context as context  # noqa: PLC0414 integrator: remove after merge (bench)
from server.settlements.facts import month_facts as month_facts  # noqa: PLC0414 integrator: remove after merge (bench)
from server.settlements.registry import registry_of
from server.settlements.tables import (
    ClosedMonth,
    SettlementLine,
    SettlementNote,
    SettlementStatement,
)
from server.settlements.views import bureau_lines, check_dicts, mask, sees_categories

DEFAULT_CONFIG = SettlementConfig(upward_window_months=3)

State = Literal["draft", "reviewed", "closed"]


class ChangedSinceReview(Conflict):
    """Closing found content other than what was reviewed (or last checked): the statement went back to draft,
    and that step is kept (:func:`close` answered False, the route committed before raising this)."""

    def __init__(self) -> None:
        super().__init__(
            "结算单在复核后有变化（新到餐次或标记），已退回草稿：请查看后重新复核",
            "the statement changed after it was reviewed (new meals or flags): back to draft, review it again",
            code="settlement.changed_since_review",
        )


def get_row(
    session: Session, *, actor: Principal, statement_id: uuid.UUID, for_update: bool = False
) -> SettlementStatement:
    stmt = select(SettlementStatement).where(col(SettlementStatement.id) == statement_id)
    if for_update:
        stmt = sql.for_update(stmt, session)
    row = session.exec(stmt).first()
    if row is None or not actor.reaches(row.canteen_id):
        raise NotFound("结算单", "statement")
    return row


def require_open(row: SettlementStatement) -> None:
    if row.state == "closed":
        raise Conflict(
            f"{row.month} 结算单已关账，不能再更改（迟到的记录以调整项进入下一个未关账月份）",
            f"the {row.month} statement is closed and never changes (late records become adjustments of the next "
            "open month)",
            code="settlement.closed",
        )


def back_to_draft(row: SettlementStatement, session: Session) -> None:
    """Something a reviewer signed off changed: a reviewed statement goes back to draft."""
    row.updated_at = utcnow()
    if row.state == "reviewed":
        row.state = "draft"
        row.reviewed_by = row.reviewed_by_id = None
        row.reviewed_at = None
    session.add(row)


# ---------------------------------------------------------------------------------------------------------------
# Computing an open statement


@dataclass(frozen=True)
class Computed:
    """An open statement as computed now: the settlement, the facts it was made of, the notes on its checks."""

    settlement: Settlement
    facts: tuple[MealFact, ...]
    notes: dict[str, str]


def notes_of(session: Session, statement_id: uuid.UUID) -> dict[str, str]:
    rows = session.exec(select(SettlementNote).where(col(SettlementNote.statement_id) == statement_id))
    return {r.check_key: r.note for r in rows}


def compute(
    session: Session,
    *,
    row: SettlementStatement,
    ctx: Context,
    with_checks: bool = True,
    lines: Sequence[SettlementLine] | None = None,
    late: Sequence[Month] | None = None,
) -> Computed:
    """The statement of ``row`` from its month's facts, bureau lines and late closed months; the edit checks (and
    what only they read, and the notes on them) only ``with_checks``. ``lines`` and ``late``: when the caller
    already has them (the programme, for many canteens at once)."""
    month = Month.parse(row.month)
    facts = month_facts(session, month=month, tiers_map=ctx.tier_of_token, canteen_id=row.canteen_id)
    own = facts.get(str(row.canteen_id), [])
    if lines is None:
        lines = bureau_lines(session, row.id)
    inputs = CheckInputs()
    if with_checks:
        inputs = check_inputs(session, canteen_id=row.canteen_id, month=month, ctx=ctx, facts=own)
    prior = prior_months(session, ctx=ctx, canteen_id=row.canteen_id, month=month, late=late)
    every = [*own, *(f for p in prior for f in p.facts)]
    registry = registry_of(
        session, facts=every, card_secret=ctx.card_secret, zone=ctx.book.zone, labels=ctx.book.categories
    )
    settlement = settle(
        canteen_id=str(row.canteen_id),
        month=month,
        facts=own,
        rules=ctx.book,
        config=ctx.config,
        construction=[ConstructionLine(x.line_id, x.amount, x.note) for x in lines if x.kind == "construction"],
        corrections=[
            CorrectionLine(x.line_id, Month.parse(x.origin_month or ""), x.amount, x.note)
            for x in lines
            if x.kind == "correction"
        ],
        prior=prior,
        registry=registry,
        enrolled=inputs.enrolled,
        z_reports=inputs.z_reports,
        other_canteens=inputs.other_canteens,
        baseline=inputs.baseline,
        checks=with_checks,
    )
    return Computed(settlement, tuple(own), notes_of(session, row.id) if with_checks else {})


def current(session: Session, *, row: SettlementStatement, ctx: Context) -> Computed | None:
    """An open statement computed now; None for a closed one (read from its stored bytes)."""
    return None if row.state == "closed" else compute(session, row=row, ctx=ctx)


def export_statement(
    session: Session, *, actor: Principal, row: SettlementStatement, ctx: Context
) -> tuple[Statement, Mapping[str, tuple[str, str]]]:
    """The statement an export is made from: stored (closed) or computed now, masked for callers without
    categories.read; and, open, the registry fact behind each meal it holds ``eligibility_changed`` (none for
    those callers)."""
    facts: Mapping[str, tuple[str, str]] = {}
    if row.state == "closed":
        statement = verify_stored(row)
    else:
        settlement = compute(session, row=row, ctx=ctx, with_checks=False).settlement
        statement, facts = settlement.statement, settlement.facts
    if not sees_categories(actor):  # a fact may name a category (an ended 特困 span): none without the right
        return mask(statement, ctx.category_tiers), {}
    return statement, facts


# ---------------------------------------------------------------------------------------------------------------
# Lifecycle


def _snapshot(row: SettlementStatement) -> dict[str, Any]:
    return {"canteen_id": str(row.canteen_id), "month": row.month, "state": row.state, "hash": row.content_hash}


def list_statements(
    session: Session,
    *,
    actor: Principal,
    month: str | None,
    canteen_id: uuid.UUID | None,
    state: State | None,
) -> list[SettlementStatement]:
    stmt = select(SettlementStatement)
    if canteen_id is not None:
        get_canteen(session, actor=actor, canteen_id=canteen_id)  # 404 for another canteen
        stmt = stmt.where(col(SettlementStatement.canteen_id) == canteen_id)
    if actor.canteen_id is not None:
        stmt = stmt.where(col(SettlementStatement.canteen_id) == actor.canteen_id)
    if month is not None:
        stmt = stmt.where(col(SettlementStatement.month) == str(parse_month(month)))
    if state is not None:
        stmt = stmt.where(col(SettlementStatement.state) == state)
    return list(session.exec(stmt.order_by(col(SettlementStatement.month), col(SettlementStatement.canteen_id))))


def create(session: Session, *, actor: Principal, canteen_id: uuid.UUID, month: str) -> SettlementStatement:
    canteen = get_canteen(session, actor=actor, canteen_id=canteen_id)
    m = parse_month(month)
    exists = session.exec(
        select(SettlementStatement).where(
            col(SettlementStatement.canteen_id) == canteen.id, col(SettlementStatement.month) == str(m)
        )
    ).first()
    if exists is not None:
        raise Conflict(
            f"食堂 {canteen.code} 的 {m} 结算单已存在",
            f"canteen {canteen.code} already has a {m} statement",
            code="settlement.exists",
            statement_id=str(exists.id),
        )
    row = SettlementStatement(canteen_id=canteen.id, month=str(m), created_by=actor.name)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="settlement.create",
        object_type="settlement",
        object_id=row.id,
        after=_snapshot(row),
        canteen_id=canteen.id,
    )
    return row


def run_checks(session: Session, *, actor: Principal, row: SettlementStatement, ctx: Context) -> Computed:
    """Recompute an open statement and its checks, recording the hash and time; the statement as computed."""
    require_open(row)
    computed = compute(session, row=row, ctx=ctx)
    before = row.computed_hash
    row.computed_hash = statement_hash(computed.settlement.statement)
    row.checked_at = utcnow()
    session.add(row)
    counts: dict[str, int] = defaultdict(int)
    for c in computed.settlement.checks:
        counts[c.severity] += 1
    audit.record(
        session,
        actor=actor,
        action="settlement.check",
        object_type="settlement",
        object_id=row.id,
        before={"hash": before},
        after={"hash": row.computed_hash, "errors": counts["error"], "warnings": counts["warning"]},
        canteen_id=row.canteen_id,
    )
    return computed


def _correction_origin(row: SettlementStatement, *, ctx: Context, amount: int, text: str | None) -> Month:
    """The earlier month a correction is for: upward corrections only within the configured window."""
    origin = parse_month(text or "", "origin_month")
    back = Month.parse(row.month).index() - origin.index()
    if back <= 0:
        raise Invalid.field(
            "origin_month",
            "correction.not_earlier",
            "调整只能针对更早的月份",
            "a correction is for an earlier month",
        )
    window = ctx.config.upward_window_months
    if amount > 0 and window is not None and back > window:
        raise Invalid.field(
            "amount",
            "correction.upward_window",
            f"向上调整只能针对 {window} 个月内的月份（向下调整不限）",
            f"upward corrections only for months up to {window} back (downward ones always)",
        )
    return origin


def add_line(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    ctx: Context,
    kind: Literal["construction", "correction"],
    amount: int,
    note: str,
    origin_month: str | None = None,
) -> SettlementLine:
    require_open(row)
    origin = None if kind != "correction" else _correction_origin(row, ctx=ctx, amount=amount, text=origin_month)
    number = session.execute(
        sa.select(sa.func.coalesce(sa.func.max(col(SettlementLine.line_no)), 0)).where(
            col(SettlementLine.statement_id) == row.id
        )
    ).scalar_one()
    line = SettlementLine(
        statement_id=row.id,
        line_no=int(number) + 1,
        kind=kind,
        origin_month=None if origin is None else str(origin),
        amount=amount,
        note=note,
        created_by=actor.name,
    )
    session.add(line)
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise Conflict(
            "同时录入了另一项，请重试", "another line was entered at the same time: retry", code="line.race"
        ) from None
    back_to_draft(row, session)
    audit.record(
        session,
        actor=actor,
        action=f"settlement.{kind}",
        object_type="settlement",
        object_id=row.id,
        after={"line_id": line.line_id, "amount": amount, "note": note, "origin_month": line.origin_month},
        canteen_id=row.canteen_id,
    )
    return line


def _warning_keys(computed: Computed, *, key: str | None, code: str | None) -> list[str]:
    """The warnings a note on ``key`` (one check result) or ``code`` (every result of a check) goes on."""
    checks = computed.settlement.checks
    targets = [c for c in checks if (c.key == key if key is not None else c.code == code)]
    if not targets:
        raise Invalid.field(
            "key" if key is not None else "code",
            "note.no_check",
            "本结算单当前没有这项核查结果",
            "no such check result on this statement now",
        )
    errors = [c for c in targets if c.severity == "error"]
    if errors and key is not None:
        raise Invalid.field(
            "key",
            "note.error",
            "错误不能靠说明放行，须先处理（审核相关餐次或更正）",
            "an error is not passed by a note: resolve it (decide its meals or correct)",
        )
    return sorted(c.key for c in targets if c.severity == "warning")


def add_notes(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    ctx: Context,
    key: str | None,
    code: str | None,
    note: str,
) -> list[str]:
    """A note on one warning (``key``) or on every current warning of a check (``code``)."""
    require_open(row)
    if (key is None) == (code is None):
        raise Invalid.field("key", "note.target", "请给出 key 或 code 之一", "give exactly one of key and code")
    keys = _warning_keys(compute(session, row=row, ctx=ctx), key=key, code=code)
    existing = {
        n.check_key: n
        for n in session.exec(
            select(SettlementNote).where(
                col(SettlementNote.statement_id) == row.id, col(SettlementNote.check_key).in_(keys)
            )
        )
    }
    for k in keys:
        old = existing.get(k)
        if old is None:
            session.add(SettlementNote(statement_id=row.id, check_key=k, note=note, noted_by=actor.name))
        else:
            old.note, old.noted_by, old.noted_at = note, actor.name, utcnow()
            session.add(old)
    back_to_draft(row, session)
    audit.record(
        session,
        actor=actor,
        action="settlement.note",
        object_type="settlement",
        object_id=row.id,
        before={k: existing[k].note for k in keys if k in existing} or None,
        after={"keys": keys, "note": note},
        canteen_id=row.canteen_id,
    )
    return keys


def _verdict_or_conflict(computed: Computed, what_zh: str, what_en: str) -> None:
    verdict = can_close(computed.settlement.checks, computed.notes)
    if not verdict.allowed:
        problems: list[Problem] = list(verdict.problems)
        raise Conflict(
            f"不能{what_zh}：{len(verdict.errors)} 项错误，{len(verdict.unnoted)} 项警告没有说明",
            f"cannot {what_en}: {len(verdict.errors)} errors, {len(verdict.unnoted)} warnings without a note",
            code="settlement.checks_block",
            problems=[problem_dict(p) for p in problems],
        )


def review(
    session: Session, *, actor: Principal, row: SettlementStatement, ctx: Context, four_eyes: bool = True
) -> Computed:
    """draft -> reviewed: no error, a note on every warning, and (``four_eyes``) not by the person who decided
    every flagged meal (:func:`~server.settlements.duties.check_review`); the statement as reviewed."""
    require_open(row)
    if row.state != "draft":
        raise Conflict("结算单已复核", "the statement is already reviewed", code="settlement.state")
    duties.check_review(session, actor=actor, row=row, enforce=four_eyes)
    computed = compute(session, row=row, ctx=ctx)
    _verdict_or_conflict(computed, "复核", "review")
    row.state = "reviewed"
    row.reviewed_by, row.reviewed_by_id, row.reviewed_at = actor.name, actor.id, utcnow()
    row.computed_hash = statement_hash(computed.settlement.statement)
    row.updated_at = row.reviewed_at
    session.add(row)
    audit.record(
        session,
        actor=actor,
        action="settlement.review",
        object_type="settlement",
        object_id=row.id,
        before={"state": "draft"},
        after={"state": "reviewed", "hash": row.computed_hash},
        canteen_id=row.canteen_id,
    )
    return computed


def _refuse_close(session: Session, row: SettlementStatement) -> None:
    """Only a reviewed statement of an ended month closes, and only after every earlier month of its canteen."""
    require_open(row)
    if row.state != "reviewed":
        raise Conflict("结算单须先复核才能关账", "a statement is reviewed before it closes", code="settlement.state")
    month = Month.parse(row.month)
    if local_today() <= month.last_day:
        raise Conflict(
            f"{month} 尚未结束，不能关账", f"{month} has not ended: it cannot close yet", code="settlement.month_open"
        )
    earlier = session.exec(
        select(SettlementStatement).where(
            col(SettlementStatement.canteen_id) == row.canteen_id,
            col(SettlementStatement.month) < row.month,
            col(SettlementStatement.state) != "closed",
        )
    ).first()
    if earlier is not None:
        raise Conflict(
            f"须先关账更早的 {earlier.month} 结算单",
            f"close the earlier {earlier.month} statement first",
            code="settlement.earlier_open",
        )


def close(
    session: Session, *, actor: Principal, row: SettlementStatement, ctx: Context, four_eyes: bool = True
) -> bool:
    """reviewed -> closed, by someone other than the reviewer (``four_eyes``,
    :func:`~server.settlements.duties.check_close`): the canonical bytes and their hash are stored. What closes is
    what a reviewer saw: a statement that changed since (late meals, new flags) goes back to draft instead,
    audited, and this answers False; the caller commits that step and answers :class:`ChangedSinceReview`."""
    _refuse_close(session, row)
    duties.check_close(session, actor=actor, row=row, enforce=four_eyes)
    now = utcnow()
    computed = compute(session, row=row, ctx=ctx)
    statement = computed.settlement.statement
    digest = statement_hash(statement)
    if digest != row.computed_hash:
        row.state, row.updated_at = "draft", now
        row.reviewed_by = row.reviewed_by_id = row.reviewed_at = None
        session.add(row)
        audit.record(
            session,
            actor=actor,
            action="settlement.changed_since_review",
            object_type="settlement",
            object_id=row.id,
            before={"state": "reviewed", "hash": row.computed_hash},
            after={"state": "draft", "hash": digest},
            canteen_id=row.canteen_id,
        )
        return False
    _verdict_or_conflict(computed, "关账", "close")
    row.state = "closed"
    row.body = statement_bytes(statement).decode()
    row.content_hash = row.computed_hash = digest
    row.checks = check_dicts(computed.settlement.checks, computed.notes)
    row.closed_by, row.closed_at, row.updated_at = actor.name, now, now
    session.add(row)
    session.add(
        ClosedMonth(canteen_id=row.canteen_id, month=row.month, statement_id=row.id, content_hash=digest, closed_at=now)
    )
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise Conflict("该月已关账", "the month is already closed", code="settlement.closed") from None
    audit.record(
        session,
        actor=actor,
        action="settlement.close",
        object_type="settlement",
        object_id=row.id,
        before={"state": "reviewed"},
        after={"state": "closed", "hash": digest, "payable": statement.totals.payable},
        canteen_id=row.canteen_id,
    )
    return True
