"""Daily rollups of the live sales (``meal_elder_days``) and the activity per canteen-month (``meal_activity``):
kept at intake, rebuilt and verified from the meals.

**At intake** (:func:`apply_intake`, called by :func:`server.sync.service.push` right after the meals are
inserted, in the same transaction). Only the rows intake actually inserted count, so a duplicate, a conflict
or a retried batch changes nothing. For every sale inserted and every stored sale a record inserted refers to,
whether it is live (a stored sale that no void refers to) is compared before and after this batch, and the
difference is added to its elder-day row (``INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x``: one
statement per batch, rows in key order so that two batches cannot deadlock on them). So a sale adds its
amounts; the first void of a stored sale subtracts them; a second void, or a void of a void or a reprint,
changes nothing; a void stored before its sale makes the sale count for nothing when it comes. That is how
:func:`ruyi.settlement.settle` reads sales and voids. The sale's canteen-month is noted as touched by the
sending terminal at the receipt time (also by a reprint, and by a void or reprint that came before its sale):
settlement asks that whether a closed month saw anything late.

**Concurrency** (PostgreSQL; SQLite has one writer at a time). A terminal's pushes are serialised by its lock
and a terminal voids only what it sold, so a sale and its voids are normally taken in one after the other.
Intake does not check that a void's sale is the same terminal's, though: a void of another terminal's sale
could be taken in while that sale, or another void of it, is being taken in by a concurrent push, and neither
would see the other. So every push that changes a rollup holds a transaction-level advisory lock shared, and a
push with a void of anything but a stored sale of its own terminal holds it exclusively (it waits for the pushes
in flight, later ones wait for it) and reads what its voids refer to under it. Honest terminals never take the
exclusive path. (A reprint of another terminal's sale taken in at the same moment as that sale may go unnoted:
the sale notes its month itself, milliseconds apart, which settlement's ten-minute margin cannot tell.)

**Rebuild and verify**: :func:`rebuild` computes both tables from the meals in SQL (as migration 0007 filled
them), for a bulk load such as the benchmark's ``COPY``; :func:`differences` lists the rollup rows that disagree
with the meals (``ruyi admin rollups``).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col

from ruyi.settlement import Month
from server import sql
from server.meals.queries import referring, stored_sales
from server.meals.tables import Meal, MealActivity, MealElderDay

WALK_IN = ""
"""The elder key of walk-ins (an elder id is never empty)."""
NIL = uuid.UUID(int=0)
"""The terminal of a named elder's row (only walk-ins are kept per terminal)."""
AMOUNTS = ("sales", "subsidised", "price", "subsidy", "elder_pays")
KEYS = ("canteen_id", "service_date", "elder_key", "terminal_id")
ACTIVITY_KEYS = ("canteen_id", "month", "terminal_id")
LOCK_KEY = 0x7275_7969_726F_6C6C
"""The advisory lock of rollup writers (``ruyi`` ``roll``)."""

_ELDER_FIELD = '"elder_id":"'

Key = tuple[uuid.UUID, date, str, uuid.UUID]
"""(canteen, service date, elder key, terminal): a row of ``meal_elder_days``."""


def _table() -> sa.Table:
    return sql.table_of(MealElderDay)


def _activity() -> sa.Table:
    return sql.table_of(MealActivity)


def elder_key(identified_by: str, elder_id: uuid.UUID | None, canonical: str) -> str:
    """The elder id as the record names it (settlement's elder), :data:`WALK_IN` for a walk-in.

    The record's canonical text has sorted keys, and the ones before ``elder_id`` hold strings (in which a quote
    is escaped) or null, so its first ``"elder_id":"`` is the record's own: when the stored UUID's text follows it,
    that is the id, without parsing the JSON. Anything else (an id that is not a UUID, upper-case hex) is read
    from the JSON."""
    if identified_by == "walk_in":
        return WALK_IN
    if elder_id is not None and canonical.startswith(f'{_ELDER_FIELD}{elder_id}"', canonical.find(_ELDER_FIELD)):
        return str(elder_id)
    return str(json.loads(canonical).get("elder_id") or WALK_IN)


def key_of(meal: Mapping[Any, Any]) -> Key:
    """The row a sale counts in (``meal``: its columns by name)."""
    walk_in = meal["identified_by"] == "walk_in"
    return (
        meal["canteen_id"],
        meal["service_date"],
        elder_key(meal["identified_by"], meal["elder_id"], meal["canonical"]),
        meal["terminal_id"] if walk_in else NIL,
    )


# ---------------------------------------------------------------------------------------------------------------
# At intake


def apply_intake(session: Session, *, rows: Sequence[Mapping[str, Any]], inserted: Collection[uuid.UUID]) -> None:
    """Add what the meals just inserted change to the rollups, and note the canteen-months they touch in
    ``meal_activity`` (``rows``: the meal rows intake tried to insert, by column name; ``inserted``: the ids the
    database inserted)."""
    new = [r for r in rows if r["meal_id"] in inserted]
    sales = {r["meal_id"]: r for r in new if r["kind"] == "sale"}
    refs = [r for r in new if r["kind"] != "sale"]
    if not sales and not refs:
        return
    targets = {r["refers_to"] for r in refs} - sales.keys()
    voided = {r["refers_to"] for r in refs if r["kind"] == "void"} - sales.keys()
    stored = stored_sales(session, targets)
    terminal = new[0]["terminal_id"]
    exclusive = any(t not in stored or stored[t]["terminal_id"] != terminal for t in voided)
    if sql.advisory_lock(session, LOCK_KEY, exclusive=exclusive) and exclusive:
        stored = stored_sales(session, targets)  # what the voids refer to, now that no other push is in flight
    refs_now = referring(session, sales.keys() | stored.keys())
    voided_now = {r.refers_to for r in refs_now if r.kind == "void"}
    voided_before = {r.refers_to for r in refs_now if r.kind == "void" and r.meal_id not in inserted}
    deltas: dict[Key, list[int]] = defaultdict(lambda: [0] * len(AMOUNTS))
    for meal_id, sale in (*sales.items(), *stored.items()):
        live_before = meal_id in stored and meal_id not in voided_before
        live_after = meal_id not in voided_now
        sign = int(live_after) - int(live_before)
        if sign:
            row = deltas[key_of(sale)]
            amounts = (1, int(sale["subsidised"]), sale["price"], sale["subsidy"], sale["elder_pays"])
            for i, amount in enumerate(amounts):
                row[i] += sign * amount
    upsert(session, {k: v for k, v in deltas.items() if any(v)})
    # The canteen-months touched: by the sales inserted, by the records inserted that refer to a sale, and by
    # records stored before the sale they refer to (so that the activity is the meals', whatever came first).
    touched: dict[tuple[uuid.UUID, date, uuid.UUID], datetime] = {}
    touching = [(s, s["terminal_id"], s["received_at"]) for s in sales.values()]
    touching += [
        (sales.get(r.refers_to) or stored[r.refers_to], r.terminal_id, r.received_at)
        for r in refs_now
        if r.meal_id in inserted or r.refers_to in sales
    ]
    for sale, terminal_id, received_at in touching:
        key = (sale["canteen_id"], sale["service_date"].replace(day=1), terminal_id)
        touched[key] = max(received_at, touched.get(key, received_at))
    _note_activity(session, touched)


def upsert(session: Session, deltas: Mapping[Key, Sequence[int]]) -> None:
    """Add ``deltas`` (per row, the :data:`AMOUNTS`) to the rollups, creating rows as needed, in key order."""
    keys = sorted(deltas, key=lambda k: (str(k[0]), k[1], k[2], str(k[3])))
    rows = [dict(zip(KEYS, k, strict=True)) | dict(zip(AMOUNTS, deltas[k], strict=True)) for k in keys]
    sql.upsert_add(session, MealElderDay, rows, keys=KEYS, add=AMOUNTS)


def _note_activity(session: Session, touched: Mapping[tuple[uuid.UUID, date, uuid.UUID], datetime]) -> None:
    rows = [dict(zip(ACTIVITY_KEYS, k, strict=True)) | {"received_at": touched[k]} for k in sorted(touched, key=str)]
    sql.upsert_add(session, MealActivity, rows, keys=ACTIVITY_KEYS, greatest=("received_at",))


# ---------------------------------------------------------------------------------------------------------------
# From the meals


def _elder_key_sql(session: Session) -> sa.ColumnElement[str]:
    """:func:`elder_key` in SQL (reading the JSON: slower, for bulk work only)."""
    named = sql.json_text(session, col(Meal.canonical), "elder_id")
    return sa.case((col(Meal.identified_by) == "walk_in", sa.literal(WALK_IN)), else_=sa.func.coalesce(named, WALK_IN))


def _in(column: Any, month: Month | None) -> list[sa.ColumnElement[bool]]:
    if month is None:
        return []
    return [column >= month.first_day, column < month.next().first_day]


def expected(session: Session, month: Month | None = None) -> sa.Subquery:
    """The rollup rows as the meals give them (live sales summed per elder-day), of ``month`` or of all time."""
    void = sa.orm.aliased(Meal, name="void")
    voided = sa.exists().where(col(void.kind) == "void", col(void.refers_to) == col(Meal.meal_id))
    walk_in = col(Meal.identified_by) == "walk_in"
    per_meal = (
        sa.select(
            col(Meal.canteen_id).label("canteen_id"),
            col(Meal.service_date).label("service_date"),
            _elder_key_sql(session).label("elder_key"),
            sa.case((walk_in, col(Meal.terminal_id)), else_=sa.literal(NIL, sa.Uuid())).label("terminal_id"),
            sa.case((col(Meal.subsidised), 1), else_=0).label("subsidised"),
            col(Meal.price).label("price"),
            col(Meal.subsidy).label("subsidy"),
            col(Meal.elder_pays).label("elder_pays"),
        )
        .where(col(Meal.kind) == "sale", ~voided, *_in(col(Meal.service_date), month))
        .subquery("live")
    )
    keys = [per_meal.c[k] for k in KEYS]
    return (
        sa.select(
            *keys,
            sa.func.count().label("sales"),
            *(sa.func.sum(per_meal.c[a]).label(a) for a in AMOUNTS[1:]),
        )
        .group_by(*keys)
        .subquery("expected")
    )


def expected_activity(session: Session, month: Month | None = None) -> sa.Subquery:
    """``meal_activity`` as the meals give it: per sale's canteen and month and per sending terminal, the latest
    receipt of a sale or of a record referring to one (sales read directly, the few others joined to theirs)."""
    sale = sa.orm.aliased(Meal, name="sale")
    ref = sa.orm.aliased(Meal, name="ref")
    own = sa.select(col(sale.canteen_id), col(sale.service_date), col(sale.terminal_id), col(sale.received_at)).where(
        col(sale.kind) == "sale", *_in(col(sale.service_date), month)
    )
    referring = (
        sa.select(col(sale.canteen_id), col(sale.service_date), col(ref.terminal_id), col(ref.received_at))
        .join_from(ref, sale, col(sale.meal_id) == col(ref.refers_to))
        .where(col(ref.refers_to).is_not(None), col(sale.kind) == "sale", *_in(col(sale.service_date), month))
    )
    both = sa.union_all(own, referring).subquery("touching")
    per_record = sa.select(
        both.c.canteen_id,
        sql.month_start(session, both.c.service_date).label("month"),
        both.c.terminal_id,
        both.c.received_at,
    ).subquery("per_record")
    keys = [per_record.c[k] for k in ACTIVITY_KEYS]
    return (
        sa.select(*keys, sa.func.max(per_record.c.received_at).label("received_at"))
        .group_by(*keys)
        .subquery("expected_activity")
    )


def rebuild(session: Session, *, month: Month | None = None) -> int:
    """Replace the rollups and the activity (of ``month``, or all) by what the meals give; the number of rollup
    rows written. For a bulk load, or to repair what :func:`differences` found (take intake offline meanwhile)."""
    for table, source, day in (
        (_table(), expected(session, month), "service_date"),
        (_activity(), expected_activity(session, month), "month"),
    ):
        session.execute(sa.delete(table).where(*_in(table.c[day], month)))
        names = [c.name for c in table.columns]
        session.execute(sa.insert(table).from_select(names, sa.select(*(source.c[n] for n in names))))
    table = _table()
    written = sa.select(sa.func.count()).select_from(table).where(*_in(table.c.service_date, month))
    return int(session.execute(written).scalar_one())


@dataclass(frozen=True, slots=True)
class Difference:
    key: Key
    stored: tuple[int, ...] | None
    """The row's :data:`AMOUNTS` (None: no row, or only zeros)."""
    expected: tuple[int, ...] | None
    """The same summed from the meals (None: no live sale)."""


def differences(session: Session, *, month: Month | None = None, limit: int = 100) -> list[Difference]:
    """Rollup rows that disagree with the meals (rows of zeros count as absent), at most ``limit``."""
    table = _table()
    stored = (
        sa.select(table)
        .where(*_in(table.c.service_date, month), sa.or_(*(table.c[a] != 0 for a in AMOUNTS)))
        .subquery("stored")
    )
    exp = expected(session, month)
    on = sa.and_(*(stored.c[k] == exp.c[k] for k in KEYS))
    stmt = (
        sa.select(
            *(sa.func.coalesce(stored.c[k], exp.c[k]).label(k) for k in KEYS),
            *(stored.c[a].label(f"s_{a}") for a in AMOUNTS),
            *(exp.c[a].label(f"e_{a}") for a in AMOUNTS),
            stored.c.sales.is_(None).label("no_stored"),
            exp.c.sales.is_(None).label("no_expected"),
        )
        .select_from(stored.join(exp, on, full=True))
        .where(sa.or_(*(stored.c[a].is_distinct_from(exp.c[a]) for a in AMOUNTS)))
        .limit(limit)
    )
    out = []
    for r in session.execute(stmt):
        m = r._mapping
        key = cast(Key, tuple(m[k] for k in KEYS))
        s = None if m["no_stored"] else tuple(int(m[f"s_{a}"]) for a in AMOUNTS)
        e = None if m["no_expected"] else tuple(int(m[f"e_{a}"]) for a in AMOUNTS)
        out.append(Difference(key, s, e))
    return sorted(out, key=lambda d: (str(d.key[0]), d.key[1], d.key[2], str(d.key[3])))
