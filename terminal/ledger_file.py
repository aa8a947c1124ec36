"""The ledger file's layout: its tables, the triggers that keep them append-only and the meals on one chain, and
the migration that makes or checks them (a file made for another terminal, canteen or zone is refused), and the
reading of its rows against the records they store."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ruyi.errors import RuyiError
from ruyi.meal import MealRecord, canonical_bytes, from_canonical, genesis_hash, uuid7_unix_ms

SCHEMA_VERSION = 1


class LedgerError(RuyiError):
    """A ledger operation refused (an unknown meal, a second void, another terminal's file ...)."""


_SCHEMA: tuple[str, ...] = (
    """
    CREATE TABLE ledger_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE meals (
        seq          INTEGER PRIMARY KEY CHECK (seq >= 1),
        terminal_id  TEXT NOT NULL,
        meal_id      TEXT NOT NULL UNIQUE,
        kind         TEXT NOT NULL CHECK (kind IN ('sale', 'void', 'reprint')),
        refers_to    TEXT REFERENCES meals (meal_id),
        elder_id     TEXT,
        prev_hash    TEXT NOT NULL,
        hash         TEXT NOT NULL,
        record       TEXT NOT NULL
    )
    """,
    "CREATE UNIQUE INDEX meals_one_void ON meals (refers_to) WHERE kind = 'void'",
    "CREATE INDEX meals_reprints ON meals (refers_to) WHERE kind = 'reprint'",
    """
    CREATE TABLE print_jobs (
        id         INTEGER PRIMARY KEY,
        meal_id    TEXT NOT NULL REFERENCES meals (meal_id),
        receipt_of TEXT NOT NULL REFERENCES meals (meal_id),
        state      TEXT NOT NULL CHECK (state IN ('printed', 'failed')),
        at         TEXT NOT NULL
    )
    """,
    "CREATE INDEX print_jobs_receipt ON print_jobs (receipt_of, id)",
    """
    CREATE TABLE sync_acks (
        id        INTEGER PRIMARY KEY,
        up_to_seq INTEGER NOT NULL CHECK (up_to_seq >= 1),
        at        TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE z_reports (
        id      INTEGER PRIMARY KEY,
        day     TEXT NOT NULL,
        made_at TEXT NOT NULL,
        report  TEXT NOT NULL
    )
    """,
    "CREATE INDEX z_reports_day ON z_reports (day, id)",
    """
    CREATE TRIGGER meals_follow_head BEFORE INSERT ON meals
    WHEN NEW.seq IS NOT COALESCE((SELECT MAX(seq) FROM meals), 0) + 1
      OR NEW.prev_hash IS NOT COALESCE(
           (SELECT hash FROM meals ORDER BY seq DESC LIMIT 1),
           (SELECT value FROM ledger_meta WHERE key = 'genesis'))
      OR NEW.terminal_id IS NOT (SELECT value FROM ledger_meta WHERE key = 'terminal_id')
    BEGIN
        SELECT RAISE(ABORT, 'a meal record must follow the chain head of this terminal');
    END
    """,
)
_APPEND_ONLY = ("ledger_meta", "meals", "print_jobs", "sync_acks", "z_reports")
_APPEND_ONLY_TRIGGERS = tuple(
    f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} "
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: no {op}'); END"
    for t in _APPEND_ONLY
    for op in ("UPDATE", "DELETE")
)


def migrate(conn: sqlite3.Connection, *, terminal_id: str, canteen_id: str, zone: ZoneInfo) -> None:
    want = {"terminal_id": terminal_id, "canteen_id": canteen_id, "zone": zone.key}
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            for statement in (*_SCHEMA, *_APPEND_ONLY_TRIGGERS):
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO ledger_meta (key, value) VALUES (?, ?)",
                [*want.items(), ("genesis", genesis_hash(terminal_id))],
            )
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif version != SCHEMA_VERSION:
            raise LedgerError.one(
                "ledger.schema",
                f"账本格式版本 {version} 不受支持",
                f"ledger schema version {version} is not supported",
            )
        have = dict(conn.execute("SELECT key, value FROM ledger_meta").fetchall())
        for key, value in want.items():
            if have.get(key) != value:
                raise LedgerError.one(
                    "ledger.mismatch",
                    f"此账本属于 {key}={have.get(key)}，不是 {value}",
                    f"this ledger belongs to {key}={have.get(key)}, not {value}",
                )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def read_rows(rows: list[Any]) -> tuple[list[MealRecord], list[str]]:
    """The records of ``meals`` rows (all columns, by seq), and what is wrong with rows that are unreadable, not
    stored in canonical form, or whose columns disagree with their record."""
    records: list[MealRecord] = []
    bad: list[str] = []
    for seq, terminal_id, meal_id, kind, refers_to, elder_id, prev_hash, hash_, raw in rows:
        try:
            r = from_canonical(raw, hash_)
        except ValueError as exc:  # pydantic's ValidationError and json's JSONDecodeError are ValueErrors
            bad.append(f"row seq {seq}: unreadable record ({type(exc).__name__})")
            continue
        records.append(r)
        columns = (seq, terminal_id, meal_id, kind, refers_to, elder_id, prev_hash)
        stored = (
            r.seq,
            r.terminal_id,
            str(r.meal_id),
            r.kind,
            None if r.refers_to is None else str(r.refers_to),
            r.elder_id,
            r.prev_hash,
        )
        if columns != stored:
            bad.append(f"row seq {seq}: columns {columns} do not match its record")
        if raw.encode() != canonical_bytes(r):
            bad.append(f"row seq {seq}: the stored text is not the canonical form of its record")
        if uuid7_unix_ms(r.meal_id) != unix_ms(r.service_time):
            bad.append(f"row seq {seq}: meal id and service time are of different instants")
    return records, bad


def unix_ms(value: datetime) -> int:
    """Milliseconds since the Unix epoch (a UUIDv7's time field)."""
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
