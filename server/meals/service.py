"""Meal flags for reviewers (``meal_flags.read``): bureau staff see every canteen, a canteen manager only their
own."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlmodel import Session, col

from ruyi.flags import FLAG_CODES, flag_text
from server.auth.principal import Principal
from server.canteens.service import get_canteen
from server.errors import Invalid
from server.meals.schemas import MealFlagOut
from server.meals.tables import Meal, MealFlag
from server.months import parse_month

MAX_LIMIT = 1000


def list_flags(
    session: Session,
    *,
    actor: Principal,
    canteen_id: uuid.UUID | None,
    month: str | None,
    code: str | None,
    include_resolved: bool,
    limit: int,
    after_id: int | None,
) -> list[MealFlagOut]:
    if code is not None and code not in FLAG_CODES:
        raise Invalid.field("code", "flag.unknown", f"未知标记 {code}", f"unknown flag code {code}")
    if canteen_id is not None:
        get_canteen(session, actor=actor, canteen_id=canteen_id)  # 404 for another canteen
    scope = actor.canteen_id if actor.canteen_id is not None else canteen_id
    stmt = sa.select(MealFlag, col(Meal.terminal_id), col(Meal.seq), col(Meal.service_time)).join(
        Meal, col(Meal.meal_id) == col(MealFlag.meal_id)
    )
    if scope is not None:
        stmt = stmt.where(col(MealFlag.canteen_id) == scope)
    if month is not None:
        m = parse_month(month)
        first, nxt = m.first_day, m.next().first_day
        stmt = stmt.where(col(MealFlag.service_date) >= first, col(MealFlag.service_date) < nxt)
    if code is not None:
        stmt = stmt.where(col(MealFlag.code) == code)
    if not include_resolved:
        stmt = stmt.where(col(MealFlag.resolved_at).is_(None))
    if after_id is not None:
        stmt = stmt.where(col(MealFlag.id) > after_id)
    stmt = stmt.order_by(col(MealFlag.id)).limit(min(limit, MAX_LIMIT))
    out: list[MealFlagOut] = []
    for flag, terminal_id, seq, service_time in session.execute(stmt):
        assert flag.id is not None
        out.append(
            MealFlagOut(
                id=flag.id,
                meal_id=flag.meal_id,
                canteen_id=flag.canteen_id,
                terminal_id=terminal_id,
                seq=seq,
                service_date=flag.service_date,
                service_time=service_time,
                code=flag.code,
                zh=flag_text(flag.code, "zh"),
                en=flag_text(flag.code, "en"),
                evidence=flag.evidence,
                created_at=flag.created_at,
                resolved_at=flag.resolved_at,
            )
        )
    return out
