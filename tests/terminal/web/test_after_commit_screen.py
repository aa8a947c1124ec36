"""Never a lie after commit, on the cashier screen in Debian's Chromium: a walk-in confirmed with Enter while one
step after the commit fails (each step of tests.terminal.counter.faults, and the screen's own bookkeeping) shows
the truth — 已记账, and whether the receipt printed — moves on from the sale, and neither Esc nor a second Enter
touches the recorded meal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from terminal.counter import Counter
from terminal.ledger import Ledger, ZReport
from terminal.virtual.printer import LoopbackPrinter
from terminal.web.server import WebServer
from terminal.web.station import Station
from tests.terminal.counter.conftest import printed, tcp_printer
from tests.terminal.counter.faults import STEPS, BrokenDriver, Injected, Step, open_ledger
from tests.terminal.counter.world import Clock, snapshot_data

OpenPage = Callable[..., Page]


class LedgerWithoutDaySums(Ledger):
    """A ledger that cannot sum the day once it holds a record: the screen's counts fail after the commit."""

    def day_report(self, day: date, *, now: datetime) -> ZReport:
        if self.unsynced_count():
            raise Injected("the day's sums")
        return super().day_report(day, now=now)


SCREEN_STEPS = (*STEPS, Step("screen counts", printed=True, ledger=LedgerWithoutDaySums))


@dataclass
class Screen:
    url: str
    ledger: Ledger
    loopback: LoopbackPrinter


@pytest.fixture(params=SCREEN_STEPS, ids=[s.name for s in SCREEN_STEPS])
def step(request: pytest.FixtureRequest) -> Step:
    step: Step = request.param
    return step


@pytest.fixture
def screen(step: Step, tmp_path: Path, loopback: LoopbackPrinter) -> Iterator[Screen]:
    ledgers = open_ledger(step.ledger, tmp_path / "ledger.sqlite3")
    ledger = next(ledgers)
    printer = tcp_printer(loopback)
    counter = Counter(
        snapshot=step.snapshot.of(snapshot_data()),
        ledger=ledger,
        printer=BrokenDriver(printer) if step.broken_driver else printer,
        clock=Clock(),
        canteen_name=step.canteen_name,
        on_commit=step.on_commit,
    )
    station = Station(counter, terminal_id="T01")
    web = WebServer(station, port=0)
    web.start()
    try:
        yield Screen(web.url, ledger, loopback)
    finally:
        web.stop()
        next(ledgers, None)


def test_the_screen_tells_the_truth_after_any_failure_after_commit(
    step: Step, screen: Screen, open_page: OpenPage
) -> None:
    cashier = open_page(screen.url + "/")
    expect(cashier.locator("#idle h1")).to_have_text("请刷卡")
    cashier.keyboard.press("s")  # a walk-in
    expect(cashier.locator("#sale")).to_be_visible()
    cashier.keyboard.press("Enter")
    cashier.keyboard.press("Escape")  # at once: decided on the state after the confirm, so it finds no sale
    words = "已记账，小票已打印" if step.printed else "已记账，小票未打印，已加入补打"
    expect(cashier.locator("#notice")).to_have_text(words)
    expect(cashier.locator("#sale")).to_be_hidden()
    expect(cashier.locator("#idle")).to_be_visible()
    cashier.keyboard.press("Escape")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#notice")).to_have_text(words)  # never 「已取消，未记账」
    (meal,) = screen.ledger.records()
    assert meal.kind == "sale" and meal.identified_by == "walk_in"
    assert len(printed(screen.loopback)) == (1 if step.printed else 0)
