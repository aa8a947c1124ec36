"""How the ledger sits on disk: WAL + FULL, its own terminal only, append-only tables, rows that follow the chain."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ruyi.meal import canonical_bytes, genesis_hash
from terminal.ledger import Ledger
from terminal.ledger_file import LedgerError
from tests.terminal.ledger.builders import CANTEEN, NOON, TERMINAL, ZONE, open_ledger, sell

TERMINAL_DIR = Path(__file__).resolve().parents[3] / "terminal"


def raw(path: Path) -> sqlite3.Connection:
    """A plain connection as a tamperer (or a careless maintenance script) would open it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA recursive_triggers = ON")
    return conn


def test_the_file_is_wal_with_full_sync_and_foreign_keys(ledger: Ledger, ledger_path: Path) -> None:
    db = ledger._db
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA recursive_triggers").fetchone()[0] == 1
    # WAL is a property of the file: a fresh connection finds it.
    assert raw(ledger_path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_everything(ledger_path: Path) -> None:
    with open_ledger(ledger_path) as ledger:
        first = sell(ledger)
    with open_ledger(ledger_path) as ledger:
        assert ledger.get(first.meal_id) == first
        assert ledger.head().seq == 1
        assert sell(ledger).seq == 2


@pytest.mark.parametrize(
    ("terminal_id", "canteen_id", "zone"),
    [("T-002", CANTEEN, ZONE), (TERMINAL, "c02", ZONE), (TERMINAL, CANTEEN, ZoneInfo("Asia/Urumqi"))],
)
def test_a_ledger_of_another_terminal_canteen_or_zone_is_refused(
    ledger_path: Path, terminal_id: str, canteen_id: str, zone: ZoneInfo
) -> None:
    open_ledger(ledger_path).close()
    with pytest.raises(LedgerError) as caught:
        Ledger.open(ledger_path, terminal_id=terminal_id, canteen_id=canteen_id, zone=zone)
    assert caught.value.code == "ledger.mismatch"


def test_meals_cannot_be_updated_or_deleted(ledger: Ledger, ledger_path: Path) -> None:
    r = sell(ledger)
    db = raw(ledger_path)
    for sql in (
        "UPDATE meals SET record = '{}' WHERE seq = 1",
        "UPDATE meals SET elder_id = NULL",
        "DELETE FROM meals WHERE seq = 1",
        "DELETE FROM meals",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)
    # INSERT OR REPLACE deletes the row it replaces: the delete trigger stops it.
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT OR REPLACE INTO meals (seq, terminal_id, meal_id, kind, prev_hash, hash, record)"
            " VALUES (2, ?, ?, 'sale', ?, 'x', '{}')",
            (TERMINAL, str(r.meal_id), r.hash),
        )
    assert ledger.get(r.meal_id) == r
    assert ledger.integrity_check()


def test_the_side_tables_are_append_only_too(ledger: Ledger, ledger_path: Path) -> None:
    r = sell(ledger)
    ledger.record_print(r.meal_id, printed=True, at=NOON)
    ledger.mark_synced(1, at=NOON)
    ledger.z_report(NOON.date(), now=NOON)
    db = raw(ledger_path)
    for sql in (
        "UPDATE print_jobs SET state = 'failed'",
        "DELETE FROM print_jobs",
        "UPDATE sync_acks SET up_to_seq = 0",
        "DELETE FROM sync_acks",
        "UPDATE z_reports SET report = '{}'",
        "DELETE FROM z_reports",
        "UPDATE ledger_meta SET value = 'T-002' WHERE key = 'terminal_id'",
        "DELETE FROM ledger_meta",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute(sql)


def test_a_row_that_does_not_follow_the_chain_head_is_refused(ledger: Ledger, ledger_path: Path) -> None:
    a = sell(ledger)
    db = raw(ledger_path)
    insert = (
        "INSERT INTO meals (seq, terminal_id, meal_id, kind, prev_hash, hash, record) VALUES (?, ?, ?, 'sale', ?, ?, ?)"
    )
    for seq, terminal, prev in ((3, TERMINAL, a.hash), (2, TERMINAL, genesis_hash(TERMINAL)), (2, "T-002", a.hash)):
        with pytest.raises(sqlite3.IntegrityError, match="chain head"):
            db.execute(insert, (seq, terminal, f"id-{seq}-{terminal}", prev, "h", "{}"))
    with pytest.raises(sqlite3.IntegrityError, match="chain head"):  # a duplicate seq is no better
        db.execute(insert, (1, TERMINAL, "id-dup", genesis_hash(TERMINAL), "h", "{}"))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):  # nor a duplicate meal id
        db.execute(insert, (2, TERMINAL, str(a.meal_id), a.hash, "h", "{}"))
    assert [r.seq for r in ledger.records()] == [1]


def test_no_code_updates_or_deletes_ledger_rows() -> None:
    """Append-only by construction: no UPDATE or DELETE of a ledger table anywhere in the terminal package."""
    tables = r"(meals|print_jobs|sync_acks|z_reports|ledger_meta)\b"
    for path in TERMINAL_DIR.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\bUPDATE\s+(OR\s+\w+\s+)?" + tables, text, re.IGNORECASE), path
        assert not re.search(r"\bDELETE\s+FROM\s+" + tables, text, re.IGNORECASE), path
        assert not re.search(r"\b(REPLACE|INSERT\s+OR\s+REPLACE)\s+INTO\s+" + tables, text, re.IGNORECASE), path


def test_the_stored_record_is_the_canonical_text_the_hash_covers(ledger: Ledger) -> None:
    r = sell(ledger, elder_id=None)
    row = ledger._db.execute("SELECT record, hash, elder_id FROM meals WHERE seq = 1").fetchone()
    assert row[0].encode() == canonical_bytes(r)
    assert row[1] == r.hash
    assert row[2] is None


def test_integrity_check_finds_a_tampered_file(ledger: Ledger, ledger_path: Path) -> None:
    for i in range(5):
        sell(ledger, NOON.replace(minute=i), subsidy=100 * i)
    assert ledger.integrity_check()
    # A tamperer who knows the schema drops the trigger and edits an amount in place.
    db = raw(ledger_path)
    db.execute("DROP TRIGGER meals_no_update")
    row = db.execute("SELECT record FROM meals WHERE seq = 3").fetchone()[0]
    edited = row.replace('"subsidy":200', '"subsidy":150').replace('"elder_pays":1000', '"elder_pays":1050')
    assert edited != row
    db.execute("UPDATE meals SET record = ? WHERE seq = 3", (edited,))
    report = ledger.integrity_report()
    assert not report.ok
    assert [f.kind for f in report.chain] == ["altered"]
    assert report.chain[0].seq == 3


def test_integrity_check_finds_a_deleted_row(ledger: Ledger, ledger_path: Path) -> None:
    for i in range(4):
        sell(ledger, NOON.replace(minute=i))
    db = raw(ledger_path)
    db.execute("DROP TRIGGER meals_no_delete")
    db.execute("DELETE FROM meals WHERE seq = 2")
    report = ledger.integrity_report()
    assert [f.kind for f in report.chain] == ["gap"]
    assert not ledger.integrity_check()


def test_integrity_check_finds_columns_that_disagree_with_the_record(ledger: Ledger, ledger_path: Path) -> None:
    sell(ledger, elder_id="E1")
    sell(ledger, elder_id="E2")
    db = raw(ledger_path)
    db.execute("DROP TRIGGER meals_no_update")
    db.execute("UPDATE meals SET elder_id = 'E9' WHERE seq = 2")  # would hide the meal from E2's daily limit
    report = ledger.integrity_report()
    assert report.chain == ()
    assert len(report.rows) == 1
    assert "seq 2" in report.rows[0]
    assert not report.ok


def test_integrity_check_finds_an_unreadable_row(ledger: Ledger, ledger_path: Path) -> None:
    for i in range(3):
        sell(ledger, NOON.replace(minute=i))
    db = raw(ledger_path)
    db.execute("DROP TRIGGER meals_no_update")
    db.execute("UPDATE meals SET record = substr(record, 1, 40) WHERE seq = 2")
    report = ledger.integrity_report()
    assert [f.kind for f in report.chain] == ["gap"]
    assert "unreadable" in report.rows[0]


@pytest.mark.parametrize(("terminal_id", "canteen_id"), [("T 001", CANTEEN), (TERMINAL, "食堂"), ("", CANTEEN)])
def test_ids_that_cannot_go_into_a_record_are_refused_at_open(
    ledger_path: Path, terminal_id: str, canteen_id: str
) -> None:
    with pytest.raises(ValueError):
        Ledger.open(ledger_path, terminal_id=terminal_id, canteen_id=canteen_id)
    assert not ledger_path.exists()
