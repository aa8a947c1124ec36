"""Four eyes on a statement (DESIGN §4.9): whoever reviews a statement does not close it, and whoever decided its
flagged meals is not its only reviewer — at least two people see every month before it is paid.

A person is their staff id (usernames as the fallback for rows written before migration 0008: they are unique and
never renamed). A refusal is audited as ``settlement.four_eyes_refused`` with who tried what; the route commits
that entry before it answers 403. A single-person site lifts the rule only with ``RUYI_SETTLEMENT_FOUR_EYES=false``,
and then every step the rule would have refused is allowed and audited as ``settlement.four_eyes_waived``.
"""

from __future__ import annotations

import uuid
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session, col

from server.audit import service as audit
from server.auth.principal import Principal
from server.errors import Forbidden
from server.settlements.tables import SettlementDecision, SettlementStatement

Step = Literal["review", "close"]


class FourEyesRefused(Forbidden):
    """403: the step needs a second person. Audited (the route commits the entry before answering)."""

    def __init__(self, step: Step, zh: str, en: str) -> None:
        super().__init__(zh, en, code=f"settlement.four_eyes_{step}")
        self.step = step


def _same(actor: Principal, person_id: uuid.UUID | None, name: str | None) -> bool:
    """Whether ``actor`` is the person recorded as (``person_id``, ``name``)."""
    if person_id is not None:
        return actor.id == person_id
    return name is not None and name == actor.name


def deciders(session: Session, row: SettlementStatement) -> list[tuple[uuid.UUID | None, str]]:
    """Who decided flagged meals in this statement (distinct staff id and name)."""
    stmt = (
        sa.select(col(SettlementDecision.decided_by_id), col(SettlementDecision.decided_by))
        .where(col(SettlementDecision.statement_id) == row.id)
        .distinct()
    )
    return [(person_id, name) for person_id, name in session.execute(stmt)]


def _refuse_or_waive(
    session: Session,
    *,
    actor: Principal,
    row: SettlementStatement,
    error: FourEyesRefused,
    enforce: bool,
    facts: dict[str, object],
) -> None:
    audit.record(
        session,
        actor=actor,
        action="settlement.four_eyes_refused" if enforce else "settlement.four_eyes_waived",
        object_type="settlement",
        object_id=row.id,
        after={"step": error.step, "rule": error.code, "state": row.state, **facts},
        canteen_id=row.canteen_id,
    )
    if enforce:
        raise error


def check_review(session: Session, *, actor: Principal, row: SettlementStatement, enforce: bool) -> None:
    """Refuse (or, not ``enforce``-d, waive and audit) a review by the person who made every decision on the
    statement's flagged meals. A statement without decisions, or with decisions by someone else too, passes."""
    found = deciders(session, row)
    if not found or not all(_same(actor, person_id, name) for person_id, name in found):
        return
    error = FourEyesRefused(
        "review",
        "本结算单的标记餐次都由您审核决定，须由另一位审核人复核（四眼原则）",
        "you decided every flagged meal of this statement: another person must review it (four eyes)",
    )
    facts: dict[str, object] = {"decided_by": sorted({name for _, name in found})}
    _refuse_or_waive(session, actor=actor, row=row, error=error, enforce=enforce, facts=facts)


def check_close(session: Session, *, actor: Principal, row: SettlementStatement, enforce: bool) -> None:
    """Refuse (or, not ``enforce``-d, waive and audit) closing by the statement's reviewer."""
    if not _same(actor, row.reviewed_by_id, row.reviewed_by):
        return
    error = FourEyesRefused(
        "close",
        "复核人不能关账本结算单，须由另一位审核人关账（四眼原则）",
        "the reviewer of a statement cannot close it: another person must close it (four eyes)",
    )
    facts: dict[str, object] = {"reviewed_by": row.reviewed_by}
    _refuse_or_waive(session, actor=actor, row=row, error=error, enforce=enforce, facts=facts)
