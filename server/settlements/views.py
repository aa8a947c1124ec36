"""What a caller sees of a statement: masked for callers without ``categories.read``, with its checks, flagged
meals, bureau lines and decisions. Nothing here computes a month: an open statement's view is built from the
request's one :class:`~server.settlements.service.Computed`."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from ruyi.flags import flag_text
from ruyi.settlement import CheckResult, Line, MealFact, Month, Statement, can_close, statement_bytes, statement_hash
from server.auth.principal import Perm, Principal
from server.canteens.tables import Canteen
from server.errors import problem_dict
from server.settlements.closed import verify_stored
from server.settlements.facts import Context
from server.settlements.schemas import (
    BureauLineOut,
    DecisionOut,
    FlaggedMealOut,
    FlagText,
    StatementOut,
    StatementSummaryOut,
    body_of,
)
from server.settlements.tables import SettlementDecision, SettlementLine, SettlementStatement

if TYPE_CHECKING:
    from server.settlements.service import Computed

CATEGORY_TIER = "category"


def mask(statement: Statement, category_tiers: frozenset[str]) -> Statement:
    """The statement for a caller who may not see categories: every tier combination naming a category tier
    becomes ``category`` and lines that then coincide (same day, slot) are merged. Distinct elders of merged
    lines are added (one elder has one tier per meal)."""

    def tier(text: str) -> str:
        return CATEGORY_TIER if category_tiers.intersection(text.split("+")) else text

    merged: dict[tuple[date, str, str], list[Line]] = defaultdict(list)
    order: list[tuple[date, str, str]] = []
    for line in statement.lines:
        key: tuple[date, str, str] = (line.day, line.slot, tier(line.tier))
        if key not in merged:
            order.append(key)
        merged[key].append(line)
    lines = []
    for merged_key in order:
        group = merged[merged_key]
        lines.append(
            Line(
                day=merged_key[0],
                slot=group[0].slot,
                tier=merged_key[2],
                meals=sum(x.meals for x in group),
                elders=sum(x.elders for x in group),
                price=sum(x.price for x in group),
                elder_subsidy=sum(x.elder_subsidy for x in group),
                elder_pays=sum(x.elder_pays for x in group),
                meal_ids=tuple(sorted(m for x in group for m in x.meal_ids)),
            )
        )
    return dataclasses.replace(statement, lines=tuple(lines))


def sees_categories(actor: Principal) -> bool:
    return actor.can(Perm.CATEGORIES_READ)


def check_dicts(checks: Sequence[CheckResult], notes: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "key": c.key,
            "severity": c.severity,
            "zh": c.zh,
            "en": c.en,
            "note": notes.get(c.key),
            "meal_ids": list(c.evidence.meal_ids),
            "days": [d.isoformat() for d in c.evidence.days],
            "subject": c.evidence.subject,
            "figures": {k: v for k, v in c.evidence.figures},
        }
        for c in checks
    ]


def _flag_texts(codes: Sequence[str]) -> list[FlagText]:
    return [FlagText(code=c, zh=flag_text(c, "zh"), en=flag_text(c, "en")) for c in codes]


def _standing(statement: Statement) -> Callable[[str], str]:
    """A flagged sale's status in the statement: held/rejected/window_expired, paid, voided or other."""
    held = {h.meal_id: h.status for h in statement.held}
    paid = {m for line in statement.lines for m in line.meal_ids}
    voided = {sale for sale, _ in statement.voided}
    return lambda m: held.get(m) or ("paid" if m in paid else "voided" if m in voided else "other")


def _flagged(statement: Statement, facts: Sequence[MealFact]) -> list[FlaggedMealOut]:
    """The statement's flagged sales (with their standing in it) and its held meals, by origin month. A held
    meal's flags are the statement's (intake's and ``eligibility_changed``, which intake could not know)."""
    status = _standing(statement)
    held_flags = {h.meal_id: h.flags for h in statement.held}
    out: dict[str, FlaggedMealOut] = {}
    for f in facts:
        if f.flags and f.kind == "sale":
            out[f.meal_id] = FlaggedMealOut(
                meal_id=f.meal_id,
                origin_month=str(Month.of(f.service_date)),
                service_date=f.service_date.isoformat(),
                slot=f.slot,
                elder_id=f.elder_id,
                subsidy=f.subsidy,
                status=status(f.meal_id),
                decision=f.decision,
                flags=_flag_texts(held_flags.get(f.meal_id, f.flags)),
            )
    for h in statement.held:
        if h.meal_id not in out:
            out[h.meal_id] = FlaggedMealOut(
                meal_id=h.meal_id,
                origin_month=str(h.origin),
                service_date=h.service_date.isoformat(),
                slot=h.slot,
                elder_id=h.elder_id,
                subsidy=h.subsidy,
                status=h.status,
                decision="rejected" if h.status == "rejected" else None,
                flags=_flag_texts(h.flags),
            )
    return sorted(out.values(), key=lambda d: (d.origin_month, d.meal_id))


def _decisions(session: Session, statement_id: uuid.UUID) -> list[SettlementDecision]:
    return list(
        session.exec(
            select(SettlementDecision)
            .where(col(SettlementDecision.statement_id) == statement_id)
            .order_by(col(SettlementDecision.decided_at), col(SettlementDecision.meal_id))
        )
    )


def statement_out(
    session: Session, *, actor: Principal, row: SettlementStatement, ctx: Context, computed: Computed | None
) -> StatementOut:
    """What the caller sees of ``row``: a closed one as stored, an open one as ``computed`` (the request's one
    computation), masked for callers without ``categories.read``."""
    canteen = session.get(Canteen, row.canteen_id)
    assert canteen is not None
    if computed is None:
        statement = verify_stored(row)
        checks = [c for c in (row.checks or []) if isinstance(c, dict)]
        digest = row.content_hash or ""
        flagged = _flagged(statement, ())
        allowed, problems = True, []
    else:
        statement = computed.settlement.statement
        checks = check_dicts(computed.settlement.checks, computed.notes)
        digest = statement_hash(statement)
        flagged = _flagged(statement, computed.facts)
        verdict = can_close(computed.settlement.checks, computed.notes)
        allowed, problems = verdict.allowed, [problem_dict(p) for p in verdict.problems]
    if not sees_categories(actor):
        statement = mask(statement, ctx.category_tiers)
    return StatementOut(
        **summary_out(row).model_dump(),
        canteen_code=canteen.code,
        canteen_name=canteen.name,
        hash=digest,
        statement=body_of(json.loads(statement_bytes(statement))),
        checks=checks,
        flagged=flagged,
        bureau_lines=[line_out(x) for x in bureau_lines(session, row.id)],
        decisions=[DecisionOut.model_validate(d, from_attributes=True) for d in _decisions(session, row.id)],
        can_close=allowed,
        problems=problems,
    )


def summary_out(row: SettlementStatement) -> StatementSummaryOut:
    return StatementSummaryOut.model_validate(row, from_attributes=True)


def line_out(line: SettlementLine) -> BureauLineOut:
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


def bureau_lines(session: Session, statement_id: uuid.UUID) -> list[SettlementLine]:
    return list(
        session.exec(
            select(SettlementLine)
            .where(col(SettlementLine.statement_id) == statement_id)
            .order_by(col(SettlementLine.line_no))
        )
    )
