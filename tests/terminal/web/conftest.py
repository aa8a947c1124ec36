"""Fixtures for the screens: a whole terminal (``TerminalApp`` with the real card reader on the private pcscd, a
real ledger, the real ESC/POS printer against the loopback printer) serving its pages on a free loopback port, and
Debian's Chromium driven by Playwright (headless; ``playwright install`` is never needed)."""

from __future__ import annotations

import io
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from terminal.app import TerminalApp
from terminal.config import load_config
from terminal.devices.cards import ReaderState
from terminal.devices.pcsc_reader import PcscCardReader
from terminal.ledger import Ledger
from terminal.snapshot import write_snapshot
from terminal.virtual.escpos_decode import Receipt
from terminal.virtual.pcscd import READER_NAME, PrivatePcscd
from terminal.virtual.printer import LoopbackPrinter
from terminal.web.settings import ScreenSettings
from terminal.web.station import Station
from tests.terminal.counter.conftest import printed, tcp_printer
from tests.terminal.counter.world import CARD_SECRET, CASHIER_PINS, Clock, snapshot_data

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[3]
# Screenshots go to build/ (ignored); RUYI_SCREENSHOTS_DIR=docs/screenshots refreshes the README's copies.
SCREENSHOTS = Path(os.environ.get("RUYI_SCREENSHOTS_DIR", REPO / "build" / "screenshots"))


@dataclass
class Terminal:
    """A running terminal process's insides, for a test to look at."""

    app: TerminalApp
    url: str
    loopback: LoopbackPrinter
    clock: Clock
    speech_dir: Path
    stop: threading.Event
    thread: threading.Thread

    @property
    def station(self) -> Station:
        assert self.app.station is not None
        return self.app.station

    @property
    def ledger(self) -> Ledger:
        return self.app.ledger

    def receipts(self) -> list[Receipt]:
        return printed(self.loopback)

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)


@pytest.fixture
def loopback() -> Iterator[LoopbackPrinter]:
    with LoopbackPrinter() as printer:
        yield printer


def write_config(directory: Path, printer_port: int) -> Path:
    write_snapshot(directory / "snapshot.json", snapshot_data())
    (directory / "secret").write_bytes(CARD_SECRET)
    config = directory / "terminal.toml"
    config.write_text(
        f"""
terminal_id = "T01"
canteen_id = "canteen-01"
canteen_name = "如意食堂鼓楼店"
data_dir = "data"
snapshot_path = "snapshot.json"
card_key_secret_file = "secret"
reader_name = "{READER_NAME}"
timezone = "Asia/Shanghai"
[printer]
connection = {{ kind = "tcp", host = "127.0.0.1", port = {printer_port} }}
timeout_s = 1.0
""",
        encoding="utf-8",
    )
    return config


@pytest.fixture
def terminal(tmp_path: Path, pcscd: PrivatePcscd, loopback: LoopbackPrinter) -> Iterator[Terminal]:
    """A running terminal with cashier 1001 signed in."""
    yield from _terminal(tmp_path, pcscd, loopback, sign_in=True)


@pytest.fixture
def signed_out_terminal(tmp_path: Path, pcscd: PrivatePcscd, loopback: LoopbackPrinter) -> Iterator[Terminal]:
    """A running terminal as it starts: nobody signed in."""
    yield from _terminal(tmp_path, pcscd, loopback, sign_in=False)


def _terminal(tmp_path: Path, pcscd: PrivatePcscd, loopback: LoopbackPrinter, *, sign_in: bool) -> Iterator[Terminal]:
    config = load_config(write_config(tmp_path, loopback.port))
    clock = Clock()
    speech = tmp_path / "speech"
    app = TerminalApp(
        config,
        card_source=PcscCardReader(
            secret=CARD_SECRET, reader_name=READER_NAME, kinds=config.card_kinds, poll_seconds=0.1, retry_seconds=0.2
        ),
        printer=tcp_printer(loopback),
        clock=clock,
        out=io.StringIO(),
        screen=ScreenSettings(port=0, speak=True, wav_dir=speech, printer_poll_s=3600, show_done_s=2),
    )
    stop = threading.Event()
    thread = threading.Thread(target=app.run, args=(stop,), name="terminal", daemon=True)
    thread.start()
    term = Terminal(app, "", loopback, clock, speech, stop, thread)
    term.wait("the screens to be served", lambda: app.web_url is not None)
    assert app.web_url is not None
    term.url = app.web_url
    term.wait(
        "the card reader",
        lambda: app.counter.reader_status is not None and app.counter.reader_status.state is ReaderState.CONNECTED,
    )
    if sign_in:
        term.station.sign_in("1001", CASHIER_PINS["1001"])  # as the cashier does with K at the start of a shift
    try:
        yield term
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the terminal did not stop"


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Open a page of the terminal: ``open_page(url, width=1280, height=800)``; closed after the test."""
    contexts = []

    def open_(url: str, *, width: int = 1280, height: int = 800) -> Page:
        ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto(url)
        return page

    yield open_
    for ctx in contexts:
        ctx.close()
