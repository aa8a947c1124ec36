"""The registry change log (see :mod:`server.sync.tables`): a ``before_flush`` hook on every ORM session logs
what a transaction touched under one change number taken from ``sync_clock`` in that same transaction.

Registry writes need not know about sync: whatever they flush through the ORM is logged. The bulk elder import
inserts elders with Core statements, but it flushes its :class:`ElderImport` row through the ORM first, which
logs ``import:<id>`` (pull resolves it to the elders of that import).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction
from sqlmodel import col

from server.canteens.tables import Canteen, MenuItem
from server.cards.tables import Card
from server.elders.tables import Elder, ElderCategory, ElderImport, ElderStatusChange
from server.rules.tables import RuleProgramme, RuleVersionRow
from server.sync.tables import SyncChange, SyncClock

_INFO_KEY = "sync_change"

_TRACKED: dict[type, Callable[[Any], Iterable[tuple[str, str]]]] = {
    Elder: lambda o: [("elder", str(o.id))],
    ElderStatusChange: lambda o: [("elder", str(o.elder_id))],
    ElderCategory: lambda o: [("elder", str(o.elder_id))],
    Card: lambda o: [("elder", str(o.elder_id)), ("card", str(o.id))],
    ElderImport: lambda o: [("import", str(o.id))],
    MenuItem: lambda o: [("menu", str(o.canteen_id))],
    Canteen: lambda o: [("canteen", str(o.id))],
    RuleProgramme: lambda o: [("rules", o.code)],
    RuleVersionRow: lambda o: [("rules", o.programme)],
}


def next_change_no(conn: sa.Connection) -> int:
    """Take the next change number (the row lock is held until this transaction ends)."""
    stmt = sa.update(SyncClock).where(col(SyncClock.id) == 1).values(value=col(SyncClock.value) + 1)
    value: int = conn.execute(stmt.returning(col(SyncClock.value))).scalar_one()
    return value


def current_change_no(conn: sa.Connection) -> int:
    value: int = conn.execute(sa.select(col(SyncClock.value)).where(col(SyncClock.id) == 1)).scalar_one()
    return value


@sa.event.listens_for(Session, "before_flush")
def _log_changes(session: Session, _ctx: UOWTransaction, _instances: object) -> None:
    touched: set[tuple[str, str]] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        describe = _TRACKED.get(type(obj))
        if describe is not None:
            touched.update(describe(obj))
    if not touched:
        return
    state: tuple[int, set[tuple[str, str]]] | None = session.info.get(_INFO_KEY)
    if state is None:
        state = (next_change_no(session.connection()), set())
        session.info[_INFO_KEY] = state
    change_no, logged = state
    for kind, ref in sorted(touched - logged):
        session.add(SyncChange(change_no=change_no, kind=kind, ref=ref))
    logged.update(touched)


@sa.event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_INFO_KEY, None)
