"""Closed months: their stored statements (read back and checked on every read) and the late facts that reopen
them as adjustment lines of a later month.

A closed statement is served from its stored bytes only; a mismatch with the hash stored at close raises
:class:`IntegrityAlert` (500, logged), it is never served. A closed month whose
:func:`~ruyi.settlement.target_month` is the month being settled, and that saw something after the last close,
is passed to :func:`~ruyi.settlement.settle` as a :class:`~ruyi.settlement.PriorMonth`.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.settlement import Month, PriorMonth, Statement, decode_statement, settled_of, statement_bytes, target_month
from server.errors import ServerError
from server.meals.tables import MealActivity, MealFlag
from server.settlements.facts import Context, month_facts
from server.settlements.registry import touched_since
from server.settlements.tables import ClosedMonth, SettlementDecision, SettlementStatement
from server.sql import in_values as among

log = logging.getLogger("ruyi.settlement")

LATE_MARGIN = timedelta(minutes=10)
"""A closed month is re-examined for records received up to this long before the last close (a transaction
that committed while the close was running), besides everything after it: looking again changes nothing when
nothing is new."""


class IntegrityAlert(ServerError):
    """A closed statement whose stored bytes no longer match its hash: never served."""

    status, code = 500, "settlement.integrity"


def verify_stored(row: SettlementStatement) -> Statement:
    """The closed statement from its stored bytes, checked: decoding and encoding again gives the same bytes,
    which hash to the hash stored at close (so the statement's own hash is that too). Anything else is an
    alert, never a statement."""
    assert row.state == "closed"
    body = (row.body or "").encode()
    try:
        statement = decode_statement(body)
        ok = statement_bytes(statement) == body and hashlib.sha256(body).hexdigest() == row.content_hash
    except (ValueError, TypeError, KeyError):
        ok = False
    if not ok:
        log.error(
            "settlement integrity alert: closed statement %s (canteen %s, %s) does not match its hash %s",
            row.id,
            row.canteen_id,
            row.month,
            row.content_hash,
        )
        raise IntegrityAlert(
            f"已关账结算单 {row.month} 的内容与关账时的哈希不符，已报警，拒绝提供",
            f"the closed {row.month} statement no longer matches the hash stored at close: alerted, not served",
            statement_id=str(row.id),
        )
    return statement


def closed_months(session: Session, canteen_id: uuid.UUID) -> dict[Month, ClosedMonth]:
    rows = session.exec(select(ClosedMonth).where(col(ClosedMonth.canteen_id) == canteen_id))
    return {Month.parse(r.month): r for r in rows}


def late_months(
    session: Session,
    *,
    month: Month,
    closed: Mapping[uuid.UUID, Mapping[Month, datetime]],
    info_flags: frozenset[str],
) -> dict[uuid.UUID, list[Month]]:
    """Per canteen (``closed``: its closed months with their close times), its closed months whose late facts
    are settled in ``month`` (:func:`~ruyi.settlement.target_month`) and that saw something after the canteen's
    last close (less :data:`LATE_MARGIN`): a sale of theirs, or a void or reprint of one, received (as
    ``meal_activity`` notes at intake), a decision taken, flagged meals still undecided, or a subsidised meal of
    an elder whose status, category or card changed in the registry since (:func:`~.registry.touched_since`).
    Canteens with none are left out. For any number of canteens, a few small queries."""
    candidates: dict[uuid.UUID, list[Month]] = {}
    since: dict[uuid.UUID, datetime] = {}
    for canteen_id, months in closed.items():
        found = sorted(p for p in months if p < month and target_month(p, set(months)) == month)
        if found:
            candidates[canteen_id] = found
            since[canteen_id] = max(months.values()) - LATE_MARGIN
    if not candidates:
        return {}
    active = (
        _active_since(session, candidates=candidates, since=since)
        | _undecided(session, candidates=candidates, info_flags=info_flags)
        | touched_since(session, candidates=candidates, since=since)
    )
    out = {c: [p for p in found if (c, p) in active] for c, found in candidates.items()}
    return {c: found for c, found in out.items() if found}


def _origins(candidates: Mapping[uuid.UUID, Sequence[Month]]) -> list[Month]:
    return sorted({p for found in candidates.values() for p in found})


def _active_since(
    session: Session, *, candidates: Mapping[uuid.UUID, Sequence[Month]], since: Mapping[uuid.UUID, datetime]
) -> set[tuple[uuid.UUID, Month]]:
    """Candidate (canteen, month) pairs with a record received or a decision taken after ``since``."""
    origins = _origins(candidates)
    received = (
        sa.select(col(MealActivity.canteen_id), col(MealActivity.month), sa.func.max(col(MealActivity.received_at)))
        .where(
            among(session, col(MealActivity.canteen_id), candidates),
            col(MealActivity.month).in_([p.first_day for p in origins]),
        )
        .group_by(col(MealActivity.canteen_id), col(MealActivity.month))
    )
    decided = (
        sa.select(
            col(SettlementDecision.canteen_id),
            col(SettlementDecision.origin_month),
            sa.func.max(col(SettlementDecision.decided_at)),
        )
        .where(
            among(session, col(SettlementDecision.canteen_id), candidates),
            col(SettlementDecision.origin_month).in_([str(p) for p in origins]),
        )
        .group_by(col(SettlementDecision.canteen_id), col(SettlementDecision.origin_month))
    )
    active: set[tuple[uuid.UUID, Month]] = set()
    for canteen_id, first_day, at in session.execute(received):
        if at > since[canteen_id]:
            active.add((canteen_id, Month.of(first_day)))
    for canteen_id, origin, at in session.execute(decided):
        if at > since[canteen_id]:
            active.add((canteen_id, Month.parse(origin)))
    return active


def _undecided(
    session: Session, *, candidates: Mapping[uuid.UUID, Sequence[Month]], info_flags: frozenset[str]
) -> set[tuple[uuid.UUID, Month]]:
    """Candidate (canteen, month) pairs that still hold unresolved, undecided flags (information flags aside)."""
    origins = _origins(candidates)
    has_decision = sa.exists().where(col(SettlementDecision.meal_id) == col(MealFlag.meal_id))
    pending = (
        sa.select(col(MealFlag.canteen_id), col(MealFlag.service_date))
        .where(
            among(session, col(MealFlag.canteen_id), candidates),
            col(MealFlag.service_date) >= origins[0].first_day,
            col(MealFlag.service_date) < origins[-1].next().first_day,
            col(MealFlag.resolved_at).is_(None),
            col(MealFlag.code).not_in(sorted(info_flags)),
            ~has_decision,
        )
        .distinct()
    )
    return {(canteen_id, Month.of(day)) for canteen_id, day in session.execute(pending)}


def closed_statements(session: Session, canteen_id: uuid.UUID) -> list[Statement]:
    rows = session.exec(
        select(SettlementStatement).where(
            col(SettlementStatement.canteen_id) == canteen_id, col(SettlementStatement.state) == "closed"
        )
    )
    return [verify_stored(r) for r in rows]


def prior_months(
    session: Session, *, ctx: Context, canteen_id: uuid.UUID, month: Month, late: Sequence[Month] | None = None
) -> list[PriorMonth]:
    """The earlier closed months to re-examine in ``month``, with their facts as known now and what was settled
    for them. ``late``: those months when the caller already found them (:func:`late_months` for many canteens
    at once); otherwise found here."""
    if late is None:
        closed = {m: r.closed_at for m, r in closed_months(session, canteen_id).items()}
        found = late_months(session, month=month, closed={canteen_id: closed}, info_flags=ctx.config.info_flags)
        late = found.get(canteen_id, [])
    if not late:
        return []
    statements = closed_statements(session, canteen_id)
    out = []
    for p in late:
        facts = month_facts(session, month=p, tiers_map=ctx.tier_of_token, canteen_id=canteen_id)
        out.append(PriorMonth(tuple(facts.get(str(canteen_id), [])), settled_of(p, statements)))
    return out
