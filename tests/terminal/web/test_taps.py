"""One tap is one event, and a tap while a sale is open asks before it replaces it: the station and the cashier
screen (Debian's Chromium) fed card events as the reader loop feeds them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from ruyi.sync import card_key_digest
from terminal.counter import Counter, Sale
from terminal.devices.cards import CardKey, CardKind, CardTapped
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot
from terminal.virtual.printer import LoopbackPrinter
from terminal.web.server import WebServer
from terminal.web.station import Station, StationError
from tests.terminal.counter.conftest import clock, ledger, snapshot, tcp_printer
from tests.terminal.counter.world import CARD_SECRET, DIBAO, OLD, Clock, Person

OpenPage = Callable[..., Page]
__all__ = ["clock", "ledger", "snapshot"]  # the counter tests' fixtures, used here


def tapped(person: Person) -> CardTapped:
    assert person.uid is not None
    return CardTapped(CardKey(CardKind.UID, card_key_digest(CARD_SECRET, "uid", person.uid)))


@pytest.fixture
def station(snapshot: Snapshot, ledger: Ledger, loopback: LoopbackPrinter, clock: Clock) -> Station:
    counter = Counter(
        snapshot=snapshot, ledger=ledger, printer=tcp_printer(loopback), clock=clock, canteen_name="如意食堂"
    )
    return Station(counter, terminal_id="T01")


def test_a_bounced_tap_is_one_event(station: Station, clock: Clock) -> None:
    first = station.on_reader_event(tapped(OLD))
    assert isinstance(first, Sale)
    clock.advance(milliseconds=299)
    assert station.on_reader_event(tapped(OLD)) is None  # the same card within 300 ms: the same tap
    assert station.sale_no == 1
    clock.advance(milliseconds=301)
    assert isinstance(station.on_reader_event(tapped(OLD)), Sale)  # a new tap, of the card of the open sale
    assert station.sale_no == 1 and station.waiting is None and station.notice is None  # which changes nothing


def test_another_card_at_once_is_not_a_bounce(station: Station) -> None:
    station.on_reader_event(tapped(OLD))
    assert isinstance(station.on_reader_event(tapped(DIBAO)), Sale)
    assert station.waiting is not None and station.waiting.masked_name == "李*"


def test_a_new_tap_while_a_sale_is_open_asks_first(station: Station, clock: Clock) -> None:
    station.on_reader_event(tapped(OLD))
    clock.advance(seconds=5)
    station.on_reader_event(tapped(DIBAO))
    assert station.sale is not None and station.sale.masked_name == "张*丰"  # not replaced
    assert station.notice is not None and station.notice.code == "sale.replace_ask" and "李*" in station.notice.zh
    assert station.cashier_view()["waiting"] == "李*"
    station.replace()
    assert station.sale is not None and station.sale.masked_name == "李*" and station.waiting is None
    with pytest.raises(StationError):
        station.replace()


def test_finishing_the_open_sale_drops_the_waiting_tap(station: Station, clock: Clock) -> None:
    station.on_reader_event(tapped(OLD))
    station.on_reader_event(tapped(DIBAO))
    result = station.confirm("cash")
    assert result.committed and station.waiting is None and station.sale is None
    assert [r.elder_id for r in station.counter.ledger.records()] == [OLD.elder_id]


@pytest.fixture
def web(station: Station) -> Iterator[str]:
    server = WebServer(station, port=0)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def test_the_screen_asks_and_n_switches(station: Station, web: str, open_page: OpenPage, clock: Clock) -> None:
    cashier = open_page(web + "/")
    station.on_reader_event(tapped(OLD))
    expect(cashier.locator("#who")).to_have_text("张*丰")
    clock.advance(seconds=2)
    station.on_reader_event(tapped(DIBAO))
    expect(cashier.locator("#notice")).to_contain_text("李* 刷了卡，当前收款尚未确认")
    expect(cashier.locator("#who")).to_have_text("张*丰")
    cashier.keyboard.press("n")
    expect(cashier.locator("#who")).to_have_text("李*")
    cashier.keyboard.press("Enter")
    expect(cashier.locator("#notice")).to_have_text("已记账，小票已打印")
    assert [r.elder_id for r in station.counter.ledger.records()] == [DIBAO.elder_id]
