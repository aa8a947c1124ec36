"""Print outcomes and the reprint queue; the sync cursor."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ruyi.meal import uuid7
from terminal.ledger import Ledger
from terminal.ledger_file import LedgerError
from tests.terminal.ledger.builders import NOON, sell

TODAY = NOON.date()


def queue(ledger: Ledger) -> list[object]:
    return [r.meal_id for r in ledger.reprint_queue(since=TODAY)]


def test_a_committed_sale_waits_for_its_receipt(ledger: Ledger) -> None:
    a = sell(ledger)
    assert queue(ledger) == [a.meal_id]  # committed, not (yet) printed: e.g. the terminal died in between
    ledger.record_print(a.meal_id, printed=True, at=NOON)
    assert queue(ledger) == []


def test_a_failed_print_stays_in_the_queue_until_a_reprint_prints(ledger: Ledger) -> None:
    a = sell(ledger)
    ledger.record_print(a.meal_id, printed=False, at=NOON)
    assert queue(ledger) == [a.meal_id]
    again = ledger.record_reprint(a.meal_id, cashier="c07", now=NOON + timedelta(minutes=1))
    assert queue(ledger) == [a.meal_id]  # the reprint record alone prints nothing
    ledger.record_print(again.meal_id, printed=False, at=NOON + timedelta(minutes=1))
    assert queue(ledger) == [a.meal_id]
    third = ledger.record_reprint(a.meal_id, cashier="c07", now=NOON + timedelta(minutes=2))
    ledger.record_print(third.meal_id, printed=True, at=NOON + timedelta(minutes=2))
    assert queue(ledger) == []
    assert ledger.reprint_queue(since=TODAY) == []


def test_the_latest_print_outcome_counts(ledger: Ledger) -> None:
    a = sell(ledger)
    ledger.record_print(a.meal_id, printed=True, at=NOON)
    again = ledger.record_reprint(a.meal_id, cashier="c07", now=NOON)
    ledger.record_print(again.meal_id, printed=False, at=NOON)  # the elder asked for a copy; it jammed
    assert queue(ledger) == [a.meal_id]


def test_a_voided_sale_leaves_the_queue_and_its_void_slip_joins_it(ledger: Ledger) -> None:
    a = sell(ledger)
    b = sell(ledger)
    void = ledger.record_void(a.meal_id, reason="错", cashier="c07", now=NOON)
    assert queue(ledger) == [b.meal_id, void.meal_id]
    ledger.record_print(void.meal_id, printed=True, at=NOON)
    ledger.record_print(b.meal_id, printed=True, at=NOON)
    assert queue(ledger) == []


def test_the_queue_starts_at_a_day(ledger: Ledger) -> None:
    old = sell(ledger, NOON - timedelta(days=2))
    new = sell(ledger, NOON)
    assert queue(ledger) == [new.meal_id]
    assert [r.meal_id for r in ledger.reprint_queue(since=TODAY - timedelta(days=2))] == [old.meal_id, new.meal_id]


def test_printing_an_unknown_record_is_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError) as caught:
        ledger.record_print(uuid7(1, bytes(10)), printed=True, at=NOON)
    assert caught.value.code == "print.unknown"


def test_print_jobs_keep_every_outcome(ledger: Ledger) -> None:
    a = sell(ledger)
    for ok in (False, False, True):
        ledger.record_print(a.meal_id, printed=ok, at=NOON)
    states = ledger._db.execute("SELECT state FROM print_jobs ORDER BY id").fetchall()
    assert [s[0] for s in states] == ["failed", "failed", "printed"]


# ---- sync cursor


def test_unsynced_follows_the_acknowledged_seq(ledger: Ledger) -> None:
    made = [sell(ledger, NOON + timedelta(seconds=i)) for i in range(7)]
    assert ledger.synced_up_to() == 0
    assert ledger.unsynced_count() == 7
    assert ledger.unsynced(3) == made[:3]
    assert ledger.unsynced(100, after_seq=3) == made[3:]
    ledger.mark_synced(4, at=NOON)
    assert ledger.synced_up_to() == 4
    assert ledger.unsynced_count() == 3
    assert ledger.unsynced(100) == made[4:]


def test_the_sync_cursor_never_moves_back_nor_past_the_head(ledger: Ledger) -> None:
    for i in range(5):
        sell(ledger, NOON + timedelta(seconds=i))
    ledger.mark_synced(4, at=NOON)
    ledger.mark_synced(2, at=NOON)  # a late answer to an older push
    assert ledger.synced_up_to() == 4
    with pytest.raises(LedgerError) as caught:
        ledger.mark_synced(6, at=NOON)
    assert caught.value.code == "sync.beyond_head"
    ledger.mark_synced(5, at=NOON)
    assert ledger.unsynced_count() == 0
    assert ledger.unsynced(10) == []
