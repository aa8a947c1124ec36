"""The one module that tells the two databases apart: every statement whose SQL differs between SQLite and
PostgreSQL is made here, so business code says what it wants (insert unless held, add to a row, one of these
values) and never asks which database it runs on. Tested on both (tests/server/test_sql.py).

Batches go to PostgreSQL as one array per column through ``unnest``: one statement whose text never changes for
a table and its columns, which psycopg prepares after a few executions, where a multi-row ``VALUES`` of 500 rows
is a new 13,000-placeholder statement the driver splits and converts on every push. The arrays travel in binary
(their text form would quote and escape every character of every canonical JSON text: 10x slower). The rows
keep the order given (of two rows at one unique key the first wins, as with a multi-row ``VALUES``). SQLite
takes SQLAlchemy's ``INSERT … ON CONFLICT`` (the same constraints decide).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, TypeVar, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

_S = TypeVar("_S", bound=sa.sql.Select[Any])
_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def flush_unique(session: Session, taken: Exception) -> None:
    """Flush; when a unique constraint refuses it (a name or number taken meanwhile), roll back and raise ``taken``."""
    try:
        session.flush()
    except sa.exc.IntegrityError:
        session.rollback()
        raise taken from None


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def table_of(model: Any) -> sa.Table:
    """The table of a SQLModel table class (or the table itself)."""
    return model if isinstance(model, sa.Table) else cast(sa.Table, model.__table__)


def in_values(session: Session, column: Any, values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """``column`` is one of ``values``. On PostgreSQL ``= ANY(array)``: one parameter, so the statement text is
    the same for every batch (psycopg parses it once and prepares it) where ``IN (…)`` would spell out a
    placeholder per value and make a new statement for every length. SQLite gets ``IN``."""
    values = list(values)
    if _postgresql(session):
        return cast(
            sa.ColumnElement[bool], column == sa.any_(sa.bindparam(None, values, postgresql.ARRAY(column.type)))
        )
    return cast(sa.ColumnElement[bool], column.in_(values))


def insert_ignore(
    session: Session, model: Any, rows: Sequence[Mapping[str, Any]], *, returning: str | None = None
) -> list[Any]:
    """Insert ``rows`` (all naming the same columns) except those a unique constraint or key already holds
    (``ON CONFLICT DO NOTHING``); the ``returning`` column of the rows inserted."""
    if not rows:
        return []
    table = table_of(model)
    if _postgresql(session):
        tail = "ON CONFLICT DO NOTHING" + (f" RETURNING {returning}" if returning else "")
        result = _unnest(session, table, rows, tail)
        return [row[0] for row in result] if returning else []
    stmt = sqlite.insert(table).on_conflict_do_nothing()
    if returning is None:
        session.execute(stmt, list(rows))
        return []
    return list(session.execute(stmt.returning(table.c[returning]), list(rows)).scalars())


def upsert_add(
    session: Session,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    add: Collection[str] = (),
    greatest: Collection[str] = (),
) -> None:
    """Insert ``rows`` (all naming the same columns), or where a row of the same ``keys`` is held, add the
    ``add`` columns to it and keep the greater of the held and the given ``greatest`` columns. Rows are written
    in the order given (callers sort them, so that two writers cannot deadlock on them)."""
    if not rows:
        return
    table = table_of(model)
    if _postgresql(session):
        sets = [f"{c} = {table.name}.{c} + excluded.{c}" for c in add]
        sets += [f"{c} = greatest({table.name}.{c}, excluded.{c})" for c in greatest]
        _unnest(session, table, rows, f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {', '.join(sets)}")
        return
    stmt = sqlite.insert(table)
    set_ = {c: table.c[c] + stmt.excluded[c] for c in add}
    set_ |= {c: sa.func.max(table.c[c], stmt.excluded[c]) for c in greatest}
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=set_), list(rows))


def _unnest(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]], tail: str) -> sa.CursorResult[Any]:
    names = tuple(c.name for c in table.columns if c.name in rows[0])
    dialect = session.get_bind().dialect
    params: dict[str, list[Any]] = {}
    for name, process in zip(names, _processors(table, names, dialect), strict=True):
        values = [row[name] for row in rows]
        params[name] = values if process is None else [process(v) for v in values]
    return session.connection().exec_driver_sql(_unnest_sql(table, names, tail), params)


@lru_cache(maxsize=64)
def _unnest_sql(table: sa.Table, names: tuple[str, ...], tail: str) -> str:
    arrays = ", ".join(f"%({n})b::{_array_type(table.c[n])}[]" for n in names)
    return f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays}) {tail}"


def _array_type(column: sa.Column[Any]) -> str:
    """The element type of ``column``'s array: text for strings (the column's length is checked on insert; a
    cast to ``varchar(n)`` would cut the text instead), else the column's own PostgreSQL type."""
    kind = column.type
    if isinstance(kind, sa.TypeDecorator):
        kind = kind.impl_instance
    return "text" if isinstance(kind, sa.String) else kind.compile(dialect=_PG)


@lru_cache(maxsize=64)
def _processors(
    table: sa.Table, names: tuple[str, ...], dialect: sa.Dialect
) -> tuple[Callable[[Any], Any] | None, ...]:
    """What SQLAlchemy would make of each value before the driver sees it (None: nothing)."""
    return tuple(table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)


def for_update(stmt: _S, session: Session) -> _S:
    """``stmt … FOR UPDATE`` on PostgreSQL; SQLite writers already hold the database's write lock."""
    return stmt.with_for_update() if _postgresql(session) else stmt


def advisory_lock(session: Session, key: int, *, exclusive: bool) -> bool:
    """Take the transaction-level advisory lock ``key`` (shared, or exclusive) on PostgreSQL and say True; SQLite
    has one writer at a time and needs none (False)."""
    if not _postgresql(session):
        return False
    lock = sa.func.pg_advisory_xact_lock if exclusive else sa.func.pg_advisory_xact_lock_shared
    session.execute(sa.select(lock(key)))
    return True


def month_start(session: Session, column: Any) -> sa.ColumnElement[Any]:
    """The first day of the month of the date ``column``."""
    if _postgresql(session):
        return sa.cast(sa.func.date_trunc("month", column), sa.Date)
    return cast(sa.ColumnElement[Any], sa.func.date(column, "start of month"))


def json_text(session: Session, column: Any, key: str) -> sa.ColumnElement[Any]:
    """The string at ``key`` of the JSON text in ``column`` (NULL when absent or null)."""
    if _postgresql(session):
        return cast(sa.ColumnElement[Any], sa.cast(column, postgresql.JSON)[key].astext)
    return cast(sa.ColumnElement[Any], sa.func.json_extract(column, f"$.{key}"))


def read_id(session: Session, column: Any) -> sa.ColumnElement[Any]:
    """A UUID column as it is cheapest to read: text on PostgreSQL (the driver's UUID objects, and ``str`` of
    them, cost more than the rest of a row), the stored UUID on SQLite (which keeps 32 hex digits)."""
    return sa.cast(column, sa.Text) if _postgresql(session) else cast(sa.ColumnElement[Any], column)
