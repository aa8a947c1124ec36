"""The reads of ``meals`` that intake, the rollups and the quote preview share: one owner for the meal queries,
so the columns a caller gets are named here and not listed again by hand. All take ids through
:func:`server.sql.in_values` (one statement text per query on PostgreSQL, whatever the batch size)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from server.meals.tables import Meal
from server.sql import in_values, table_of


@dataclass(frozen=True, slots=True)
class DayMeal:
    """A live sale of an elder's day, as pricing's history needs it."""

    meal_id: uuid.UUID
    service_time: datetime
    slot: str
    canteen_id: uuid.UUID
    subsidised: bool


def elder_day_meals(
    session: Session, elder_ids: list[uuid.UUID], days: set[date]
) -> dict[tuple[uuid.UUID, date], list[DayMeal]]:
    """Sales of these elders on these service dates, at every canteen, not voided, in service-time order."""
    out: dict[tuple[uuid.UUID, date], list[DayMeal]] = defaultdict(list)
    if not elder_ids or not days:
        return out
    voids = sa.table("meals", sa.column("kind"), sa.column("refers_to")).alias("voids")
    voided = sa.exists().where(voids.c.kind == "void", voids.c.refers_to == col(Meal.meal_id))
    stmt = (
        sa.select(
            col(Meal.meal_id),
            col(Meal.elder_id),
            col(Meal.service_date),
            col(Meal.service_time),
            col(Meal.slot),
            col(Meal.canteen_id),
            col(Meal.subsidised),
        )
        .where(
            in_values(session, col(Meal.elder_id), elder_ids),
            in_values(session, col(Meal.service_date), sorted(days)),
            col(Meal.kind) == "sale",
        )
        .where(~voided)
    )
    for row in session.execute(stmt):
        out[(row.elder_id, row.service_date)].append(
            DayMeal(row.meal_id, row.service_time, row.slot, row.canteen_id, row.subsidised)
        )
    for day_meals in out.values():
        day_meals.sort(key=lambda m: (m.service_time, m.meal_id))
    return out


def stored_sales(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Mapping[Any, Any]]:
    """The stored sales among ``ids``, each as its row by column name (the shape intake inserts)."""
    if not ids:
        return {}
    stmt = sa.select(table_of(Meal)).where(col(Meal.kind) == "sale", in_values(session, col(Meal.meal_id), ids))
    return {r.meal_id: r._mapping for r in session.execute(stmt)}


def referring(session: Session, ids: Iterable[uuid.UUID]) -> list[sa.Row[Any]]:
    """The records referring to ``ids`` (voids, reprints): ``refers_to, meal_id, kind, terminal_id, received_at``."""
    cols = (col(Meal.refers_to), col(Meal.meal_id), col(Meal.kind), col(Meal.terminal_id), col(Meal.received_at))
    return list(session.execute(sa.select(*cols).where(in_values(session, col(Meal.refers_to), ids))))


_HELD = (col(Meal.meal_id), col(Meal.terminal_id), col(Meal.seq), col(Meal.canonical), col(Meal.hash))


def held_by_id(session: Session, ids: Iterable[uuid.UUID]) -> list[sa.Row[Any]]:
    """What is stored under these meal ids: ``meal_id, terminal_id, seq, canonical, hash``."""
    return list(session.execute(sa.select(*_HELD).where(in_values(session, col(Meal.meal_id), ids))))


def held_by_seq(session: Session, terminal_id: uuid.UUID, seqs: Iterable[int]) -> list[sa.Row[Any]]:
    """What is stored under these seqs of the terminal, as :func:`held_by_id`."""
    where = (col(Meal.terminal_id) == terminal_id, in_values(session, col(Meal.seq), seqs))
    return list(session.execute(sa.select(*_HELD).where(*where)))


def last_below(session: Session, terminal_id: uuid.UUID, seq: int) -> sa.Row[Any] | None:
    """The terminal's stored record with the highest seq below ``seq``: ``seq, hash``."""
    return session.execute(
        sa.select(col(Meal.seq), col(Meal.hash))
        .where(col(Meal.terminal_id) == terminal_id, col(Meal.seq) < seq)
        .order_by(col(Meal.seq).desc())
        .limit(1)
    ).first()


def chain_between(
    session: Session, terminal_id: uuid.UUID, *, above: int, through: int, skip: Iterable[int]
) -> list[sa.Row[Any]]:
    """The terminal's stored records with ``above < seq <= through``, except the seqs in ``skip``: ``seq,
    canonical, hash``."""
    return list(
        session.execute(
            sa.select(col(Meal.seq), col(Meal.canonical), col(Meal.hash)).where(
                col(Meal.terminal_id) == terminal_id,
                col(Meal.seq) > above,
                col(Meal.seq) <= through,
                ~in_values(session, col(Meal.seq), skip),
            )
        )
    )


def seqs_above(session: Session, terminal_id: uuid.UUID, seq: int) -> Iterable[sa.Row[Any]]:
    """The terminal's stored records above ``seq``, in seq order: ``seq, hash``."""
    return session.execute(
        sa.select(col(Meal.seq), col(Meal.hash))
        .where(col(Meal.terminal_id) == terminal_id, col(Meal.seq) > seq)
        .order_by(col(Meal.seq))
    )


def canteen_days(session: Session, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, tuple[uuid.UUID, date]]:
    """The canteen and service date of each stored meal among ``ids``."""
    stmt = sa.select(col(Meal.meal_id), col(Meal.canteen_id), col(Meal.service_date)).where(
        in_values(session, col(Meal.meal_id), ids)
    )
    return {row.meal_id: (row.canteen_id, row.service_date) for row in session.execute(stmt)}
