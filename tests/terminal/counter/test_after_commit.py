"""Never a lie after commit: once the meal is in the ledger, a failure at any later step (the sync wake-up, the
receipt's words or layout, the printer driver, the note of the print) is answered with the truth — recorded, and
whether the receipt printed — never with an exception, and the receipt waits in the reprint queue when it did not
print. The same for voids and reprints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.counter import NOT_PRINTED, Counter
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot
from terminal.virtual.printer import LoopbackPrinter
from tests.terminal.counter.conftest import printed, tcp_printer
from tests.terminal.counter.faults import STEPS, BrokenDriver, Step, open_ledger
from tests.terminal.counter.test_counter import open_sale
from tests.terminal.counter.world import OLD, Clock, snapshot_data


@pytest.fixture(params=STEPS, ids=[s.name for s in STEPS])
def step(request: pytest.FixtureRequest) -> Step:
    step: Step = request.param
    return step


@pytest.fixture
def faulty(step: Step, tmp_path: Path, loopback: LoopbackPrinter, clock: Clock) -> Iterator[Counter]:
    ledgers = open_ledger(step.ledger, tmp_path / "ledger.sqlite3")
    ledger = next(ledgers)
    printer = tcp_printer(loopback)
    yield Counter(
        snapshot=step.snapshot.of(snapshot_data()),
        ledger=ledger,
        printer=BrokenDriver(printer) if step.broken_driver else printer,
        clock=clock,
        canteen_name=step.canteen_name,
        on_commit=step.on_commit,
    )
    next(ledgers, None)


def _truthful(step: Step, message_zh: str) -> None:
    if step.printed:
        assert message_zh == "已记账，小票已打印"
    else:
        assert message_zh == NOT_PRINTED.zh == "已记账，小票未打印，已加入补打"


def test_a_sale_stays_recorded_and_the_answer_is_true(step: Step, faulty: Counter, loopback: LoopbackPrinter) -> None:
    sale = open_sale(faulty, OLD)
    result = faulty.confirm(sale, "cash", "c01")
    assert result.committed and result.record is not None
    assert faulty.ledger.get(result.record.meal_id) == result.record
    assert result.printed is step.printed
    _truthful(step, result.message.zh)
    assert result.message.en.startswith("Recorded")
    queue = [r.meal_id for r in faulty.reprint_queue()]
    if not step.printed or step.ledger is not Ledger:  # no note of a print: it is offered again
        assert queue == [result.record.meal_id]
    else:
        assert queue == []
    assert len(printed(loopback)) == (1 if step.printed else 0)


def test_a_void_stays_recorded_and_the_answer_is_true(step: Step, faulty: Counter) -> None:
    result = faulty.confirm(open_sale(faulty, OLD), "cash", "c01")
    assert result.record is not None
    void = faulty.void(result.record.meal_id, "点错了", "c01")
    assert void.record is not None and faulty.ledger.get(void.record.meal_id) == void.record
    assert void.printed is step.printed
    _truthful(step, void.message.zh)


def test_a_reprint_stays_recorded_and_the_answer_is_true(step: Step, faulty: Counter) -> None:
    result = faulty.confirm(open_sale(faulty, OLD), "cash", "c01")
    assert result.record is not None
    again = faulty.reprint(result.record.meal_id, "c01")
    assert again.printed is step.printed
    _truthful(step, again.message.zh)
    kinds = [r.kind for r in faulty.ledger.records()]
    # A receipt that printed (its print noted) is reprinted as 重打 with a reprint record; one that never
    # printed prints as its first copy, and nothing new is recorded.
    assert kinds == (["sale", "reprint"] if step.printed and step.ledger is Ledger else ["sale"])


def test_a_z_report_that_cannot_print_is_stored_and_says_so(
    ledger: Ledger, loopback: LoopbackPrinter, clock: Clock
) -> None:
    counter = Counter(
        snapshot=Snapshot.of(snapshot_data()),
        ledger=ledger,
        printer=BrokenDriver(tcp_printer(loopback)),
        clock=clock,
        canteen_name="如意食堂",
    )
    z = counter.end_of_day()
    assert not z.printed and z.message.zh == "日结报表已保存，未打印"
    assert ledger.z_reports(counter.today())
