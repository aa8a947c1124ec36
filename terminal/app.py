"""The terminal process: config + snapshot + ledger + card reader thread + printer + sync, wired to the counter,
and the cashier and elder screens (:mod:`terminal.web`) when they are served.

Each tap's quote is also written to stdout in Chinese (or English); the process offers (or, with
``reprint_pending``, prints) receipts of meals committed but never printed, and stops cleanly on SIGTERM or Ctrl-C.
Log lines never carry a name, an ID number, a category or a card key (the counter and the reader log codes and
amounts only). Logging is configured with ``force=True``: python-escpos calls ``logging.basicConfig()`` when the
printer driver imports it.
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from terminal.cashiers import CashierDesk
from terminal.config import TerminalConfig, load_config
from terminal.counter import Clock, Counter, CounterMessage, Sale
from terminal.devices.cards import CardSource, ReaderEvent, ReaderStatus
from terminal.devices.escpos_printer import EscposPrinter
from terminal.devices.pcsc_reader import PcscCardReader
from terminal.devices.printing import ReceiptPrinter
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot, load_snapshot
from terminal.sync import ServerLinkSource, SyncSettings, SyncWorker, read_credential

if TYPE_CHECKING:  # the screens need FastAPI/uvicorn, imported only when they are served
    from terminal.web.server import Ticker, WebServer
    from terminal.web.settings import ScreenSettings
    from terminal.web.speech import Announcer
    from terminal.web.station import Station

log = logging.getLogger("terminal.app")


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(
        level=level, force=True, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


class TerminalApp:
    """One terminal process. Devices and the clock may be passed in (tests); by default they come from the config."""

    def __init__(
        self,
        config: TerminalConfig,
        *,
        card_source: CardSource | None = None,
        printer: ReceiptPrinter | None = None,
        clock: Clock | None = None,
        out: TextIO = sys.stdout,
        screen: ScreenSettings | None = None,
        server_link: ServerLinkSource | None = None,
        announcer: Announcer | None = None,
    ) -> None:
        self.config = config
        self.lang = config.language
        self.out = out
        zone = config.zone
        self.snapshot = load_snapshot(config.snapshot_path)
        if self.snapshot.rules.timezone != config.timezone:
            log.warning("rule book zone %s differs from the terminal's %s", self.snapshot.rules.timezone, zone.key)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.ledger = Ledger.open(
            config.ledger_path, terminal_id=config.terminal_id, canteen_id=config.canteen_id, zone=zone
        )
        self.card_source = card_source or PcscCardReader(
            secret=config.card_secret(), reader_name=config.reader_name, kinds=config.card_kinds
        )
        self.counter = Counter(
            snapshot=self.snapshot,
            ledger=self.ledger,
            printer=printer or EscposPrinter(config.printer, cache_dir=config.data_dir / "escpos-cache"),
            clock=clock or (lambda: datetime.now(zone)),
            canteen_name=config.canteen_name,
            slot_starts=config.slot_starts,
            cashier_default=config.cashier_default,
            terminal_code=config.terminal_code,
            require_sign_in=config.sign_in,
            desk=CashierDesk(
                max_wrong=config.sign_in_max_wrong, lock_for=timedelta(minutes=config.sign_in_lock_minutes)
            ),
        )
        self.sync = self._sync_worker(config)
        if self.sync is not None:
            self.counter.offline = self.sync
            self.counter.on_commit = self.sync.wake
            server_link = server_link or self.sync
        self.events: queue.Queue[ReaderEvent] = queue.Queue()
        self.open_sale: Sale | None = None
        self.screen = screen
        self.web_url: str | None = None
        self.station: Station | None = None
        if screen is not None:
            self.station = self._station(screen, server_link, announcer)

    def _sync_worker(self, config: TerminalConfig) -> SyncWorker | None:
        """The sync worker when the config names a server (``[sync]``); it starts with :meth:`run`."""
        sync = config.sync
        if sync is None:
            return None
        credential_file = sync.credential_file
        return SyncWorker(
            ledger=self.ledger,
            settings=SyncSettings(
                server_url=sync.server_url,
                push_delay_s=sync.push_delay_s,
                push_interval_s=sync.push_interval_s,
                pull_interval_s=sync.pull_interval_s,
                timeout_s=sync.timeout_s,
                backoff_max_s=sync.backoff_max_s,
                max_batch_records=sync.max_batch_records,
                max_batch_bytes=sync.max_batch_bytes,
                gzip=sync.gzip,
            ),
            credential=lambda: read_credential(credential_file),
            state_path=config.sync_state_path,
            snapshot=self.snapshot,
            snapshot_path=config.snapshot_path,
            on_snapshot=self._swap_snapshot,
            clock=self.counter.clock,
        )

    def _swap_snapshot(self, snapshot: Snapshot) -> None:
        """A pulled snapshot (already on disk) replaces the one the counter prices with (one attribute store)."""
        self.snapshot = snapshot
        self.counter.snapshot = snapshot

    def _station(
        self, screen: ScreenSettings, server_link: ServerLinkSource | None, announcer: Announcer | None
    ) -> Station:
        from terminal.web.speech import EspeakAnnouncer  # noqa: PLC0415  (FastAPI only when screens are served)
        from terminal.web.station import Station  # noqa: PLC0415

        if announcer is None and screen.speak:
            try:
                announcer = EspeakAnnouncer(voice=screen.voice, wav_dir=screen.wav_dir)
            except FileNotFoundError as exc:
                log.warning("spoken amounts off: %s", exc)
        return Station(
            self.counter,
            terminal_id=self.config.terminal_id,
            server_link=server_link,
            announcer=announcer,
            lang=screen.language,
            speak=screen.speak,
            show_done_s=screen.show_done_s,
        )

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def offer_reprints(self, *, print_them: bool) -> None:
        pending = self.counter.reprint_queue()
        if not pending:
            return
        numbers = "、".join(self.counter.receipt_number(r) for r in pending)
        if self.lang == "en":
            self.say(f"{len(pending)} committed receipt(s) not printed: {numbers}")
        else:
            self.say(f"有 {len(pending)} 张已记账但未打印的小票：{numbers}")
        if print_them:
            for result in self.counter.reprint_all():
                self.say(result.message.message(self.lang))

    def handle(self, event: ReaderEvent) -> None:
        if self.station is not None:
            outcome = self.station.on_reader_event(event)  # the screens show it (and keep the open sale)
        else:
            outcome = self.counter.on_reader_event(event)
        if isinstance(event, ReaderStatus):
            self.say(event.message(self.lang))
        elif isinstance(outcome, Sale):
            self.open_sale = outcome
            self.say(("Tap: " if self.lang == "en" else "刷卡：") + outcome.text(self.lang))
        elif isinstance(outcome, CounterMessage):
            self.say(outcome.message(self.lang))

    def run(self, stop: threading.Event, *, reprint_pending: bool = False) -> int:
        status = self.counter.status(query_printer=False)
        self.say(
            f"{self.config.canteen_name} 终端 {self.config.terminal_id} 已启动；未同步 {status.unsynced} 笔"
            if self.lang == "zh"
            else f"Terminal {self.config.terminal_id} started; {status.unsynced} record(s) not synced"
        )
        self.offer_reprints(print_them=reprint_pending)
        reader = threading.Thread(
            target=self.card_source.run, args=(self.events.put, stop), name="card-reader", daemon=True
        )
        reader.start()
        if self.sync is not None:
            self.sync.start()
        web, ticker = self._serve_screens()
        try:
            while not stop.is_set():
                try:
                    event = self.events.get(timeout=0.2)
                except queue.Empty:
                    continue
                self.handle(event)
        finally:
            stop.set()
            if ticker is not None:
                ticker.stop()
            if web is not None:
                web.stop()
            reader.join(5)
            if self.sync is not None:
                self.sync.close()
            self.ledger.close()
            self.say("终端已停止" if self.lang == "zh" else "Terminal stopped")
        return 0

    def _serve_screens(self) -> tuple[WebServer | None, Ticker | None]:
        if self.station is None or self.screen is None:
            return None, None
        from terminal.web.server import Ticker, WebServer  # noqa: PLC0415

        try:
            web = WebServer(self.station, host=self.screen.host, port=self.screen.port)
        except OSError as exc:  # the counter keeps working (quotes on stdout); the cashier must fix the port
            self.say(
                f"收银屏幕无法启动：{self.screen.host}:{self.screen.port} {exc.strerror}，请检查端口设置"
                if self.lang == "zh"
                else f"The screens cannot start on {self.screen.host}:{self.screen.port}: {exc.strerror}"
            )
            return None, None
        web.start()
        self.web_url = web.url
        self.say(
            f"收银屏幕 {web.url}/ ，顾客显示屏 {web.url}/display"
            if self.lang == "zh"
            else f"Cashier screen {web.url}/ , elder display {web.url}/display"
        )
        ticker = Ticker(self.station, printer_poll_s=self.screen.printer_poll_s)
        ticker.start()
        return web, ticker


def run_from_file(
    config_path: Path,
    *,
    reprint_pending: bool = False,
    install_signals: bool = True,
    screen: ScreenSettings | None = None,
) -> int:
    configure_logging()
    config = load_config(config_path)
    app = TerminalApp(config, screen=screen)
    stop = threading.Event()
    if install_signals:
        handler: Callable[[int, object], None] = lambda _sig, _frame: stop.set()  # noqa: E731
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    return app.run(stop, reprint_pending=reprint_pending)
