"""Reviewers' decisions on flagged meals of a statement: final (one per meal, ever), and the only thing that
resolves a held meal or an error check naming a meal."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session

from ruyi.settlement import Month
from server.audit import service as audit
from server.auth.principal import Principal
from server.errors import Conflict, Invalid
from server.settlements import service
from server.settlements.facts import Context
from server.settlements.tables import SettlementDecision, SettlementStatement


def _decidable(computed: service.Computed) -> dict[str, tuple[Month, tuple[str, ...]]]:
    """Meals a reviewer may decide in this statement -> (origin month, flags): held meals (this month's or an
    earlier month's), undecided flagged sales of the month, and undecided sales of the month that an error check
    names (two canteens, daily limit …: only a decision resolves those)."""
    statement = computed.settlement.statement
    out = {h.meal_id: (h.origin, h.flags) for h in statement.held if h.status == "held"}
    named = {m for c in computed.settlement.checks if c.severity == "error" for m in c.evidence.meal_ids}
    for f in computed.facts:
        if f.kind != "sale" or f.decision is not None or f.meal_id in out:
            continue
        if f.flags or f.meal_id in named:
            out[f.meal_id] = (Month.of(f.service_date), f.flags)
    return out


def _already_decided() -> Conflict:
    return Conflict(
        "该餐次已有审核决定（决定是最终的）",
        "the meal already has a decision (decisions are final)",
        code="decision.exists",
    )


def _insert_decisions(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    meal_ids: Sequence[str],
    origins: dict[str, tuple[Month, tuple[str, ...]]],
    decision: str,
    note: str,
    bulk_code: str | None,
) -> None:
    for mid in meal_ids:
        session.add(
            SettlementDecision(
                meal_id=uuid.UUID(mid),
                canteen_id=row.canteen_id,
                origin_month=str(origins[mid][0]),
                statement_id=row.id,
                decision=decision,
                note=note,
                bulk_code=bulk_code,
                decided_by=actor.name,
                decided_by_id=actor.id,
            )
        )
    try:
        session.flush()
    except sa.exc.IntegrityError:
        raise _already_decided() from None


def decide(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    ctx: Context,
    meal_id: uuid.UUID,
    decision: Literal["accepted", "rejected"],
    note: str,
) -> SettlementDecision:
    service.require_open(row)
    computed = service.compute(session, row=row, ctx=ctx)
    decidable = _decidable(computed)
    mid = str(meal_id)
    if mid not in decidable:
        if session.get(SettlementDecision, meal_id) is not None:
            raise _already_decided()
        raise Invalid.field(
            "meal_id",
            "decision.not_flagged",
            "此餐次不是本结算单中待审核的标记餐次",
            "the meal is not a flagged meal awaiting a decision in this statement",
        )
    _insert_decisions(
        session, actor=actor, row=row, meal_ids=[mid], origins=decidable, decision=decision, note=note, bulk_code=None
    )
    service.back_to_draft(row, session)
    audit.record(
        session,
        actor=actor,
        action="settlement.decide",
        object_type="meal",
        object_id=mid,
        after={
            "statement_id": str(row.id),
            "decision": decision,
            "note": note,
            "origin_month": str(decidable[mid][0]),
            "flags": list(decidable[mid][1]),
        },
        canteen_id=row.canteen_id,
    )
    found = session.get(SettlementDecision, meal_id)
    assert found is not None
    return found


def decide_bulk(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    ctx: Context,
    code: str,
    decision: Literal["accepted", "rejected"],
    note: str,
) -> list[str]:
    """Decide every undecided meal of this statement that carries flag ``code``; one audit entry lists them."""
    service.require_open(row)
    computed = service.compute(session, row=row, ctx=ctx)
    decidable = _decidable(computed)
    ids = sorted(mid for mid, (_, flags) in decidable.items() if code in flags)
    if ids:
        _insert_decisions(
            session, actor=actor, row=row, meal_ids=ids, origins=decidable, decision=decision, note=note, bulk_code=code
        )
        service.back_to_draft(row, session)
    audit.record(
        session,
        actor=actor,
        action="settlement.decide_bulk",
        object_type="settlement",
        object_id=row.id,
        after={"code": code, "decision": decision, "note": note, "meals": len(ids), "meal_ids": ids},
        canteen_id=row.canteen_id,
    )
    return ids
