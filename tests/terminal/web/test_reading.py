"""「正在读卡…」 while a card is being read: the reader reports a card the moment pcscd sees it, before the first
command to it, so a slow card shows the cashier that something is happening. Through the real pcscd + vpcd stack
and a whole terminal; the card holds its first answer until the test lets it go (order of events, no timing)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from terminal.devices.cards import CardPresent, CardTapped
from terminal.virtual.printer import PrinterState
from terminal.virtual.vpcd import CardSlot, HeldCard, UidCard
from tests.terminal.conftest import StartWatcher
from tests.terminal.counter.world import OLD
from tests.terminal.web.conftest import Terminal


def test_the_reader_reports_a_card_before_it_has_answered(start_watcher: StartWatcher, vcard: CardSlot) -> None:
    watcher = start_watcher()
    release = threading.Event()
    assert OLD.uid is not None
    card = HeldCard(UidCard(bytes.fromhex(OLD.uid)), release)
    tap = vcard.tap(card)
    watcher.wait_for(lambda e: isinstance(e, CardPresent), "the card's arrival")
    assert not release.is_set() and not any(isinstance(e, CardTapped) for e in watcher.seen)
    release.set()
    assert isinstance(watcher.next_card_event(), CardTapped)
    tap.remove()
    cards = [e for e in watcher.seen if isinstance(e, CardPresent | CardTapped)]
    assert [type(e) for e in cards] == [CardPresent, CardTapped]


def test_the_cashier_screen_says_reading_until_the_slow_card_is_read(terminal: Terminal, vcard: CardSlot) -> None:
    release = threading.Event()
    assert OLD.uid is not None
    card = HeldCard(UidCard(bytes.fromhex(OLD.uid)), release)
    vcard.tap(card)
    terminal.wait("the screen to say a card is being read", lambda: terminal.station.reading)
    held = httpx.get(terminal.url + "/api/state", timeout=5).json()
    assert not release.is_set()  # so the card has answered nothing yet: the read is half done
    assert held["reading"] == "正在读卡…" and held["sale"] is None and held["mode"] == "idle"
    terminal.station.set_lang("en")
    assert httpx.get(terminal.url + "/api/state", timeout=5).json()["reading"] == "Reading card…"
    terminal.station.set_lang("zh")

    release.set()
    terminal.wait("the sale", lambda: terminal.station.sale is not None)
    done = httpx.get(terminal.url + "/api/state", timeout=5).json()
    assert done["reading"] is None and done["sale"]["who"] == "张*丰"


def test_the_cashier_page_shows_reading_then_the_sale(
    terminal: Terminal, vcard: CardSlot, open_page: Callable[..., Page]
) -> None:
    cashier = open_page(terminal.url + "/")
    expect(cashier.locator("#idle h1")).to_have_text("请刷卡")
    release = threading.Event()
    assert OLD.uid is not None
    vcard.tap(HeldCard(UidCard(bytes.fromhex(OLD.uid)), release))
    expect(cashier.locator("#notice")).to_have_text("正在读卡…")
    assert terminal.station.sale is None  # the card is still holding its answer
    release.set()
    expect(cashier.locator("#who")).to_have_text("张*丰")
    expect(cashier.locator("#notice")).to_be_hidden()


def test_the_cashier_page_shows_paper_low_in_amber(terminal: Terminal, open_page: Callable[..., Page]) -> None:
    cashier = open_page(terminal.url + "/")
    terminal.loopback.state = PrinterState.PAPER_NEAR_END
    terminal.station.check_printer()
    pill = cashier.locator("#st-printer")
    expect(pill.locator(".v")).to_have_text("纸将用完，请备好纸卷")
    expect(pill).to_have_class(re.compile(r"\bwarn\b"))
    terminal.loopback.state = PrinterState.ONLINE
    terminal.station.check_printer()
    expect(pill.locator(".v")).to_have_text("正常")
    expect(pill).not_to_have_class(re.compile(r"\bwarn\b"))
