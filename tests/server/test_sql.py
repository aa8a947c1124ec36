"""The database seam (server/sql.py) on both databases: each statement does the same on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from server import sql
from server.base import UTCDateTime
from server.db import make_engine
from tests.server.conftest import Databases

_META = sa.MetaData()
SCRATCH = sa.Table(
    "seam_scratch",
    _META,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("code", sa.String(8), nullable=False, unique=True),
    sa.Column("day", sa.Date(), nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Column("n", sa.Integer(), nullable=False),
    sa.Column("ok", sa.Boolean(), nullable=False),
    sa.Column("body", sa.Text(), nullable=True),
    sa.Column("evidence", sa.JSON(), nullable=True),
)
T0 = datetime(2026, 3, 1, 4, 30, tzinfo=UTC)


@pytest.fixture
def session(databases: Databases) -> Iterator[Session]:
    engine = make_engine(databases.new())
    _META.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def row(code: str, n: int = 1, **kw: Any) -> dict[str, Any]:
    return {
        "id": kw.pop("id", uuid.uuid4()),
        "code": code,
        "day": date(2026, 3, 15),
        "at": T0,
        "n": n,
        "ok": True,
        "body": '{"elder_id":"e1","x":"引号\\""}',
        "evidence": {"k": [1, "二"]},
    } | kw


def stored(session: Session) -> dict[str, Any]:
    return {r.code: r for r in session.execute(sa.select(SCRATCH).order_by(SCRATCH.c.code))}


def test_insert_ignore_skips_what_a_constraint_holds_and_keeps_the_first_of_a_batch(session: Session) -> None:
    a, b = row("a"), row("b")
    assert set(sql.insert_ignore(session, SCRATCH, [a, b], returning="id")) == {a["id"], b["id"]}
    again, c, c2 = row("a"), row("c", n=1), row("c", n=2)  # "a" is held; the first "c" wins over the second
    assert sql.insert_ignore(session, SCRATCH, [again, c, c2, b], returning="id") == [c["id"]]
    assert sql.insert_ignore(session, SCRATCH, [row("d")]) == []
    assert sql.insert_ignore(session, SCRATCH, []) == []
    held = stored(session)
    assert sorted(held) == ["a", "b", "c", "d"]
    assert held["c"].n == 1 and held["a"].id == a["id"]
    assert held["a"].at == T0 and held["a"].day == date(2026, 3, 15) and held["a"].ok is True
    assert held["a"].body == a["body"] and held["a"].evidence == {"k": [1, "二"]}


def test_insert_ignore_refuses_a_naive_time_on_both(session: Session) -> None:
    with pytest.raises((ValueError, sa.exc.StatementError)):
        sql.insert_ignore(session, SCRATCH, [row("a", at=T0.replace(tzinfo=None))])


def test_insert_ignore_is_one_statement_text_whatever_the_batch(session: Session) -> None:
    seen: list[str] = []
    sa.event.listen(session.get_bind(), "before_cursor_execute", lambda *a: seen.append(a[2]))
    sql.insert_ignore(session, SCRATCH, [row("a")], returning="id")
    sql.insert_ignore(session, SCRATCH, [row(f"b{i}") for i in range(7)], returning="id")
    if session.get_bind().dialect.name == "postgresql":
        assert len(seen) == 2 and seen[0] == seen[1] and "unnest" in seen[0]


def test_upsert_add_adds_and_keeps_the_greater(session: Session) -> None:
    later = datetime(2026, 3, 2, tzinfo=UTC)
    sql.upsert_add(session, SCRATCH, [row("a", n=2), row("b", n=5)], keys=["code"], add=["n"], greatest=["at"])
    sql.upsert_add(
        session, SCRATCH, [row("a", n=3, at=later), row("b", n=-5), row("c", n=7)], keys=["code"], add=["n"],
        greatest=["at"],
    )  # fmt: skip
    sql.upsert_add(session, SCRATCH, [row("a", n=0, at=T0)], keys=["code"], add=["n"], greatest=["at"])
    sql.upsert_add(session, SCRATCH, [], keys=["code"], add=["n"])
    held = stored(session)
    assert {c: r.n for c, r in held.items()} == {"a": 5, "b": 0, "c": 7}
    assert held["a"].at == later and held["b"].at == T0


def test_in_values_and_read_id(session: Session) -> None:
    rows = [row("a"), row("b"), row("c")]
    sql.insert_ignore(session, SCRATCH, rows)
    wanted = [rows[0]["id"], rows[2]["id"], uuid.uuid4()]
    found = session.execute(sa.select(SCRATCH.c.code).where(sql.in_values(session, SCRATCH.c.id, wanted)))
    assert sorted(found.scalars()) == ["a", "c"]
    assert session.execute(sa.select(SCRATCH.c.code).where(sql.in_values(session, SCRATCH.c.n, []))).all() == []
    ids = session.execute(sa.select(sql.read_id(session, SCRATCH.c.id)).order_by(SCRATCH.c.code)).scalars().all()
    text = [i if isinstance(i, str) else str(i) for i in ids]
    assert text == [str(r["id"]) for r in rows]
    assert all(isinstance(i, str if session.get_bind().dialect.name == "postgresql" else uuid.UUID) for i in ids)


def test_month_start_json_text_and_locks(session: Session) -> None:
    sql.insert_ignore(session, SCRATCH, [row("a", body='{"elder_id":"e-1","z":null}'), row("b", body='{"z":1}')])
    month, elder = sql.month_start(session, SCRATCH.c.day), sql.json_text(session, SCRATCH.c.body, "elder_id")
    got = session.execute(sa.select(SCRATCH.c.code, month, elder).order_by(SCRATCH.c.code)).all()
    assert [(c, str(m), e) for c, m, e in got] == [("a", "2026-03-01", "e-1"), ("b", "2026-03-01", None)]
    postgres = session.get_bind().dialect.name == "postgresql"
    assert sql.advisory_lock(session, 42, exclusive=False) is postgres
    assert sql.advisory_lock(session, 42, exclusive=True) is postgres
    locked = str(sql.for_update(sa.select(SCRATCH), session).compile(session.get_bind()))
    assert ("FOR UPDATE" in locked) is postgres
