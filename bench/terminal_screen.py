"""Card event to quote visible on the cashier page, measured in the browser (issue 5 target: p99 < 150 ms).

A whole screen stack in one process: the test world's snapshot (``tests/terminal/counter/world.py``), a real ledger,
the :class:`terminal.web.station.Station`, the uvicorn/FastAPI server on a free loopback port, and Debian's Chromium
(headless, Playwright) showing the cashier screen and the elder display. Card events are put on a queue that a loop
thread hands to the station, exactly as ``TerminalApp`` does with the reader thread's events. ``t0`` is taken just
before the event is queued; the page stamps ``performance.timeOrigin + performance.now()`` in the animation frame
after it has put the new quote into the DOM (``window.__ruyiShown``). Both clocks are the machine's wall clock.

    .venv/bin/python -m bench.terminal_screen [--taps 300]
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", tempfile.mkdtemp(prefix="ruyi-escpos-"))

from playwright.sync_api import Page, sync_playwright

from terminal.counter import Counter
from terminal.devices.cards import CardKey, CardKind, CardTapped, ReaderEvent, card_key_digest
from terminal.devices.printing import PrinterStatus, ReceiptDocument
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot
from terminal.web.server import WebServer
from terminal.web.station import Station
from tests.terminal.counter.world import (
    CANTEEN_ID,
    CANTEEN_NAME,
    CARD_SECRET,
    OLD,
    TERMINAL_ID,
    YOUNG,
    ZONE,
    Clock,
    snapshot_data,
)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class NoPrinter:
    """The bench only opens sales (nothing prints)."""

    def print_document(self, doc: ReceiptDocument) -> None:
        return None

    def status(self) -> PrinterStatus:
        return PrinterStatus(None)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _shown(page: Page, count: int, timeout: float = 5.0) -> list[dict[str, float]]:
    page.wait_for_function(f"(window.__ruyiShown || []).length >= {count}", timeout=timeout * 1000)
    result: list[dict[str, float]] = page.evaluate("window.__ruyiShown")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--taps", type=int, default=300)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ruyi-bench-screen-"))
    ledger = Ledger.open(work / "ledger.sqlite3", terminal_id=TERMINAL_ID, canteen_id=CANTEEN_ID, zone=ZONE)
    counter = Counter(
        snapshot=Snapshot.of(snapshot_data()),
        ledger=ledger,
        printer=NoPrinter(),
        clock=Clock(),
        canteen_name=CANTEEN_NAME,
    )
    station = Station(counter, terminal_id=TERMINAL_ID)
    web = WebServer(station, port=0)
    web.start()
    events: queue.Queue[ReaderEvent] = queue.Queue()
    stop = threading.Event()

    def loop() -> None:  # what TerminalApp.run does with the reader thread's events
        while not stop.is_set():
            try:
                event = events.get(timeout=0.2)
            except queue.Empty:
                continue
            station.on_reader_event(event)

    threading.Thread(target=loop, daemon=True).start()
    cards = [CardTapped(CardKey(CardKind.UID, card_key_digest(CARD_SECRET, "uid", p.uid or ""))) for p in (OLD, YOUNG)]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS, headless=True)
        cashier = browser.new_page(viewport={"width": 1280, "height": 800})
        display = browser.new_page(viewport={"width": 1280, "height": 720})
        cashier.goto(web.url + "/")
        display.goto(web.url + "/display")
        cashier.wait_for_selector("#idle h1:has-text('请刷卡')")
        display.wait_for_selector("#idle:not([hidden])")
        sent: list[float] = []
        for i in range(args.taps + 10):  # the first 10 warm up
            time.sleep(0.03)  # taps come from people: a page that is idle between them
            sent.append(time.time() * 1000)
            events.put(cards[i % 2])
            _shown(cashier, i + 1)
        shown_cashier = _shown(cashier, args.taps + 10)
        shown_display = _shown(display, args.taps + 10)
        browser.close()
    stop.set()
    web.stop()
    ledger.close()

    def latencies(shown: list[dict[str, float]]) -> list[float]:
        at = {int(s["no"]): s["at"] for s in shown}
        return [at[n + 1] - sent[n] for n in range(10, args.taps + 10) if n + 1 in at]

    for name, values in (("cashier page", latencies(shown_cashier)), ("elder display", latencies(shown_display))):
        print(
            f"card event -> quote visible on the {name}: n={len(values)}"
            f"  median {statistics.median(values):.1f} ms  p99 {_percentile(values, 99):.1f} ms"
            f"  max {max(values):.1f} ms  (target p99 < 150 ms)"
        )


if __name__ == "__main__":
    main()
