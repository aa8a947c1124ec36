"""The station: the counter as the screens see it, safe for several callers at once.

The reader loop feeds card events, HTTP handlers (in a thread pool) press the cashier's buttons, a ticker thread
refreshes the status bar; every call that touches the :class:`~terminal.counter.Counter` holds one lock (the
counter is single-caller). The station keeps what the counter leaves to its caller: the open sale, the chosen
payment method, the last outcome and message, the printer's last known state. After every change it builds the
two views (cashier, elder display) as JSON-ready dicts and pushes them to the pages subscribed over SSE.

The views carry the masked name, the age, the quote's amounts and the plain reason words. Never a tier label (a
category tier's neutral label would still hint at a category), never the elder id or a card key; the elder
display carries no reason at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal
from uuid import UUID

from ruyi.meal import PAYMENT_METHODS, MealRecord, PaymentMethod
from ruyi.money import format_yuan
from ruyi.reasons import Reason, reason_text
from terminal.counter import ConfirmResult, Counter, CounterMessage, RecordResult, Sale
from terminal.devices.cards import CardError, CardPresent, CardTapped, ReaderEvent, ReaderState, ReaderStatus
from terminal.devices.printing import PrinterErrorCode, PrinterStatus
from terminal.sync import NotConnected, ServerLink, ServerLinkSource
from terminal.web import views
from terminal.web.messages import Lang, text
from terminal.web.notices import Done, Level, Notice, StationError
from terminal.web.signin import SignInPart
from terminal.web.speech import Announcer, Silent, spoken_text

__all__ = ["SCREEN_METHODS", "Done", "Notice", "Station", "StationError", "View"]

log = logging.getLogger(__name__)

View = Literal["cashier", "display"]
_METHOD_KEYS: dict[PaymentMethod, str] = {"cash": "X", "wechat": "W", "alipay": "Z", "other": ""}
_METHODS: dict[str, PaymentMethod] = {m: m for m in PAYMENT_METHODS}
SCREEN_METHODS: tuple[PaymentMethod, ...] = ("cash", "wechat", "alipay")


@dataclass(slots=True)
class _Subscriber:
    view: View
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)


class Station(SignInPart):
    def __init__(
        self,
        counter: Counter,
        *,
        terminal_id: str,
        server_link: ServerLinkSource | None = None,
        announcer: Announcer | None = None,
        lang: Lang = "zh",
        speak: bool = False,
        show_done_s: float = 6.0,
        wall_ms: Callable[[], float] = lambda: time.time() * 1000,
    ) -> None:
        self.counter = counter
        self.terminal_id = terminal_id
        self.server_link_source = server_link or NotConnected(counter.clock())
        self.announcer: Announcer = announcer or Silent()
        self.speak = speak
        self.show_done_ms = show_done_s * 1000
        self.lang: Lang = lang
        self._wall_ms = wall_ms
        self._lock = threading.RLock()
        self._subs: list[_Subscriber] = []
        self._subs_lock = threading.Lock()
        self.version = 0
        self.sale: Sale | None = None
        self.waiting: Sale | None = None
        self.reading = False
        """A card is on the reader and being read (:class:`CardPresent` came, its tap or error not yet)."""
        """A sale tapped while another was open, until the cashier switches to it or finishes the open one."""
        self.sale_no = 0
        self.method: PaymentMethod = "cash"
        self.done: Done | None = None
        self.done_at_ms: float | None = None
        self.notice: Notice | None = None
        self.printer: PrinterStatus | None = None
        self.printer_checked_at: datetime | None = None
        self.link: ServerLink = self.server_link_source.server_link()
        self.unsynced = 0
        self._today: views.TodayView | None = None
        self._today_day: date | None = None
        self._reprint_pending: int | None = None
        self.last_z: views.ZView | None = None
        self._refresh_counts()

    # ---- subscriptions (called from the event loop's thread)

    def subscribe(self, view: View, loop: asyncio.AbstractEventLoop) -> _Subscriber:
        sub = _Subscriber(view, loop)
        with self._subs_lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: _Subscriber) -> None:
        with self._subs_lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def close(self) -> None:
        """End every live stream (the pages reconnect to the next process)."""
        with self._subs_lock:
            subs, self._subs = self._subs, []
        for sub in subs:
            with contextlib.suppress(RuntimeError):  # its loop has already closed
                sub.loop.call_soon_threadsafe(sub.queue.put_nowait, None)

    def _publish(self) -> None:
        """Bump the version and push both views to every subscriber. Called with the lock held."""
        self.version += 1
        payloads: dict[View, str] = {}
        with self._subs_lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.view not in payloads:
                payloads[sub.view] = json.dumps(self.view(sub.view), ensure_ascii=False, separators=(",", ":"))
            try:
                sub.loop.call_soon_threadsafe(sub.queue.put_nowait, payloads[sub.view])
            except RuntimeError:
                self.unsubscribe(sub)

    # ---- the counter's flow

    def on_reader_event(self, event: ReaderEvent) -> Sale | CounterMessage | None:
        """A card event from the reader loop: a tap opens a sale (while another is open it waits, and the cashier
        is asked: :meth:`replace` switches to it), an error or a reader state change becomes the message and the
        status bar."""
        with self._lock:
            outcome = self.counter.on_reader_event(event)
            if isinstance(event, CardPresent | CardTapped | CardError):
                self.reading = isinstance(event, CardPresent)
            if isinstance(outcome, Sale) and self.sale is not None:
                self._ask_to_replace(outcome)
            elif isinstance(outcome, Sale):
                self._open(outcome)
            elif isinstance(outcome, CounterMessage):
                self.notice = Notice.from_counter(outcome, "error" if isinstance(event, CardError) else "warn")
            elif isinstance(event, ReaderStatus):
                if event.state is ReaderState.CONNECTED:
                    if self.notice is not None and self.notice.code == "reader.down":
                        self.notice = None
                else:
                    self.notice = Notice(
                        "reader.down",
                        text("msg.reader_down", "zh", what=event.zh),
                        text("msg.reader_down", "en", what=event.en),
                        "error",
                    )
            self._publish()
            return outcome

    def _ask_to_replace(self, tapped: Sale) -> None:
        """A tap while a sale is open never replaces it silently: the same card again changes nothing, another
        waits until the cashier switches to it (N) or finishes the open sale (which drops the waiting one)."""
        open_sale = self.sale
        assert open_sale is not None
        if tapped.card_key is not None and tapped.card_key == open_sale.card_key:
            return
        self.waiting = tapped
        who_zh = tapped.masked_name or text("msg.new_tap", "zh")
        who_en = tapped.masked_name or text("msg.new_tap", "en")
        self.notice = Notice(
            "sale.replace_ask",
            text("msg.replace_ask", "zh", who=who_zh),
            text("msg.replace_ask", "en", who=who_en),
            "warn",
        )

    def replace(self) -> None:
        """Switch the open sale for the one tapped while it was open (re-quoted now)."""
        with self._lock:
            waiting = self.waiting
            if waiting is None:
                raise StationError(Notice.of("msg.no_sale", "warn"))
            self.waiting = None
            fresh = self.counter.choose_item(waiting, waiting.item.id)
            self._open(fresh if isinstance(fresh, Sale) else waiting)
            self._publish()

    def _open(self, sale: Sale) -> None:
        self.waiting = None
        self.sale = sale
        self.sale_no += 1
        self.method = "cash"
        self.done = None
        self.notice = None
        self._announce(sale)

    def _announce(self, sale: Sale) -> None:
        if self.speak:
            self.announcer.announce(spoken_text(sale.quote, self.lang))

    def walk_in(self) -> None:
        with self._lock:
            self._opened(self.counter.walk_in())

    def _opened(self, outcome: Sale | CounterMessage) -> None:
        if isinstance(outcome, Sale):
            self._open(outcome)
            self._publish()
            return
        self.notice = Notice.from_counter(outcome, "error")
        self._publish()
        raise StationError(self.notice)

    def find(self, id_tail: str, name: str) -> list[views.FoundElder]:
        """Candidates for a manual lookup: masked name, birth year, the tail typed (never more of the ID)."""
        tail = id_tail.strip().upper()
        if len(tail) != 4 or not all(c.isdigit() or c == "X" for c in tail):
            raise StationError(Notice.of("msg.tail_required", "warn"))
        with self._lock:
            found = self.counter.find_elders(tail, name)
        return [{"ref": e.elder_id, "name": e.masked_name, "born": e.birth_year, "tail": tail} for e in found[:9]]

    def manual(self, elder_ref: str, reason: str) -> None:
        if not reason.strip():
            raise StationError(Notice.of("msg.reason_required", "warn"))
        with self._lock:
            self._opened(self.counter.manual_lookup(elder_ref, reason))

    def _need_sale(self) -> Sale:
        if self.sale is None:
            raise StationError(Notice.of("msg.no_sale", "warn"))
        return self.sale

    def choose_item(self, item_id: str) -> None:
        with self._lock:
            outcome = self.counter.choose_item(self._need_sale(), item_id)
            if isinstance(outcome, CounterMessage):
                self.notice = Notice.from_counter(outcome, "warn")
                self._publish()
                raise StationError(self.notice)
            self.sale = outcome
            self.notice = None
            self._announce(outcome)
            self._publish()

    def choose_method(self, method: str) -> None:
        with self._lock:
            self._need_sale()
            if method not in PAYMENT_METHODS:
                raise StationError(
                    Notice.from_counter(
                        CounterMessage("sale.payment", "请选择支付方式", "Choose a payment method"), "warn"
                    )
                )
            self.method = _METHODS[method]
            self._publish()

    def cancel(self) -> None:
        with self._lock:
            if self.sale is not None:
                self.sale = None
                self.waiting = None
                self.notice = Notice.of("msg.cancelled")
            self._publish()

    def confirm(self, method: str | None = None, cashier: str | None = None) -> ConfirmResult:
        with self._lock:
            sale = self._need_sale()
            chosen = _METHODS.get(method or "", self.method)
            result = self.counter.confirm(sale, chosen, cashier)
            if result.committed and result.record is not None:
                self._committed(sale, result)
            elif result.sale is not None:
                self.sale = result.sale  # the price changed: show the new one, the cashier confirms again
                self.notice = Notice.from_counter(result.message, "warn")
                self._announce(result.sale)
            else:
                self.notice = Notice.from_counter(result.message, "error")
            self._publish()
            return result

    def _committed(self, sale: Sale, result: ConfirmResult) -> None:
        """The screen after a commit. The sale is closed first (so neither Esc nor a second Enter can touch a
        recorded meal) and the counter's words, true by construction, are shown; if building the rest of the
        screen fails, the cashier still reads that the meal is recorded (and whether its receipt printed)."""
        assert result.record is not None
        self.sale = None
        self.waiting = None
        self.done = None
        level: Level = "ok" if result.printed else "warn"
        self.notice = Notice.from_counter(result.message, level)
        try:
            r = result.record
            self.done = Done(
                receipt=self.counter.receipt_number(r),
                who=sale.masked_name,
                price=r.quote.price,
                subsidy=r.quote.subsidy,
                pays=r.quote.elder_pays,
                method=r.payment_method,
                printed=result.printed,
            )
            self.done_at_ms = self._wall_ms()
            self._after_print(result.printed, result.print_error)
            self._refresh_counts()
        except Exception:  # after the commit nothing may hide it: log, keep the true notice, move on
            log.exception("the screen after committing %s", result.record.meal_id)
            self.done = None
            self._reprint_pending = None

    def void(self, meal_id: UUID | None, reason: str, cashier: str | None = None) -> RecordResult:
        if not reason.strip():
            raise StationError(Notice.of("msg.reason_required", "warn"))
        with self._lock:
            if meal_id is None:
                live = self.counter.live_sales()
                if not live:
                    raise StationError(Notice.of("void.none", "warn"))
                meal_id = live[-1].meal_id
            result = self.counter.void(meal_id, reason, cashier)
            if result.record is None:
                self.notice = Notice.from_counter(result.message, "error")
            else:
                self._after_print(result.printed, result.print_error)
                self.notice = Notice.of(
                    "msg.voided" if result.printed else "msg.voided_not_printed", "ok" if result.printed else "warn"
                )
                self.done = None
                self._refresh_counts()
            self._publish()
            return result

    def reprint(self, meal_id: UUID | None, cashier: str | None = None) -> RecordResult | None:
        with self._lock:
            if meal_id is None:
                last = self.counter.last_receipt()
                if last is None:
                    self.notice = Notice.of("msg.nothing_to_reprint", "warn")
                    self._publish()
                    return None
                meal_id = last.meal_id
            result = self.counter.reprint(meal_id, cashier)
            self._after_reprints([result])
            return result

    def reprint_all(self, cashier: str | None = None) -> list[RecordResult]:
        with self._lock:
            results = self.counter.reprint_all(cashier)
            if not results:
                self.notice = Notice.of("msg.nothing_to_reprint", "warn")
                self._publish()
                return results
            self._after_reprints(results)
            return results

    def _after_reprints(self, results: list[RecordResult]) -> None:
        last = results[-1]
        if last.record is not None or last.printed:
            self._after_print(last.printed, last.print_error)
        elif last.print_error is not None:
            self._after_print(False, last.print_error)
        ok = all(r.printed for r in results)
        self.notice = (
            Notice(
                "ok", f"{text('msg.reprinted')} {len(results)}", f"{text('msg.reprinted', 'en')} {len(results)}", "ok"
            )
            if ok
            else Notice.from_counter(last.message, "warn")
        )
        self._reprint_pending = None
        self._refresh_counts()
        self._publish()

    def end_of_day(self) -> views.ZView:
        with self._lock:
            result = self.counter.end_of_day()
            self._after_print(result.printed, result.print_error)
            rep = result.report
            self.last_z = {
                "day": rep.day.isoformat(),
                "meals": rep.meals,
                "subsidised": rep.subsidised_meals,
                "voids": rep.voids,
                "price": format_yuan(rep.price_total),
                "subsidy": format_yuan(rep.subsidy_total),
                "paid": format_yuan(rep.elder_pays_total),
                "printed": result.printed,
            }
            self.notice = Notice.of("z.done", "ok") if result.printed else Notice.from_counter(result.message, "warn")
            self._publish()
            return self.last_z

    def set_lang(self, lang: Lang) -> None:
        with self._lock:
            self.lang = lang
            self._publish()

    # ---- status

    def _after_print(self, printed: bool, error: PrinterErrorCode | None) -> None:
        if not printed and error is None:
            return  # not the printer's fault (the receipt could not be laid out): its state is unknown
        near_end = self.printer is not None and self.printer.paper_near_end  # known until the next status answer
        self.printer = (
            PrinterStatus(None, paper_near_end=near_end)
            if printed
            else PrinterStatus(error or PrinterErrorCode.OFFLINE)
        )
        self.printer_checked_at = self.counter.clock()
        self._reprint_pending = None

    def check_printer(self) -> PrinterStatus:
        """Ask the printer (outside the lock: it may take its timeout), then show the answer."""
        status = self.counter.printer_status()
        with self._lock:
            self.printer = status
            self.printer_checked_at = self.counter.clock()
            if status.ready and self.notice is not None and self.notice.code.startswith("printer."):
                self.notice = Notice.of("msg.printer_ok", "ok")
            self._publish()
        return status

    def tick(self) -> None:
        """Refresh what changes without the cashier (server link, unsynced count, the day); publish if changed."""
        link = self.server_link_source.server_link()
        with self._lock:
            unsynced = self.counter.unsynced_count()
            day_changed = self._today_day != self.counter.today()
            if link != self.link or unsynced != self.unsynced or day_changed:
                self.link = link
                self.unsynced = unsynced
                if day_changed:
                    self._refresh_counts()
                self._publish()

    def _refresh_counts(self) -> None:
        self._today_day = self.counter.today()
        day = self.counter.today_summary(self._today_day)
        self._today = {
            "meals": day.meals,
            "subsidised": day.subsidised_meals,
            "walk_ins": day.walk_ins,
            "manual": day.manual_entries,
            "voids": day.voids,
            "paid": format_yuan(day.elder_pays_total),
        }
        self.unsynced = self.counter.unsynced_count()
        self._reprint_pending = len(self.counter.reprint_queue())

    # ---- lists for the dialogs

    def today_records(self) -> views.RecordsView:
        """Today's sales not voided (newest first, for a void or a reprint) and the reprint queue."""
        with self._lock:
            live = self.counter.live_sales()
            queue = self.counter.reprint_queue()
            return {
                "sales": [self._record_row(r) for r in reversed(live)],
                "queue": [self._record_row(r) for r in queue],
            }

    def _record_row(self, r: MealRecord) -> views.RecordRow:
        words = self.counter.describe(r)
        return {
            "id": str(r.meal_id),
            "kind": r.kind,
            "receipt": self.counter.receipt_number(r),
            "time": r.service_time.astimezone(words.zone).strftime("%H:%M"),
            "who": words.masked_name,
            "item": words.item_name or r.menu_item_id,
            "pays": format_yuan(r.quote.elder_pays),
            "method": r.payment_method,
        }

    # ---- views

    def view(self, which: View) -> views.CashierView | views.DisplayView:
        with self._lock:
            return self.cashier_view() if which == "cashier" else self.display_view()

    def cashier_view(self) -> views.CashierView:
        lang = self.lang
        sale = self.sale
        return {
            "v": self.version,
            "lang": lang,
            "canteen": self.counter.canteen_name,
            "terminal": self.terminal_id,
            "mode": "sale" if sale else ("done" if self.done else "idle"),
            "sale": None if sale is None else self._sale_view(sale, lang),
            "sale_no": self.sale_no,
            "waiting": None if self.waiting is None else (self.waiting.masked_name or text("msg.new_tap", lang)),
            "done": None if self.done is None else self._done_view(self.done),
            "notice": None if self.notice is None else self.notice.view(lang),
            "reading": text("msg.reading", lang) if self.reading else None,
            "status": self._status_view(lang),
            "today": self._today,
            "z": self.last_z,
            "cashier": self._cashier_view(lang),
            "sent_ms": self._wall_ms(),
        }

    def _sale_view(self, sale: Sale, lang: Lang) -> views.SaleView:
        q = sale.quote
        items = self.counter.menu_now(self.counter.clock())
        if sale.item not in items:
            items = [*items, sale.item]
        headline = q.reasons[0] if q.reasons else None
        more = [reason_text(r, lang) for r in q.reasons[1:] if r not in (Reason.SUBSIDISED,)]
        return {
            "no": self.sale_no,
            "who": sale.masked_name,
            "walk_in": sale.elder is None,
            "identified_by": sale.identified_by,
            "age": q.age,
            "item": sale.item.id,
            "item_name": sale.item.name,
            "price": format_yuan(q.price),
            "subsidy": format_yuan(q.subsidy),
            "pays": format_yuan(q.elder_pays),
            "subsidised": q.subsidised,
            "why": "" if headline is None else reason_text(headline, lang),
            "more": more,
            "full_price": not q.subsidised,
            "menu": [
                {"id": m.id, "name": m.name, "price": format_yuan(m.price), "key": str(i + 1)}
                for i, m in enumerate(items[:9])
            ],
            "methods": [{"id": m, "label": text(f"method.{m}", lang), "key": _METHOD_KEYS[m]} for m in SCREEN_METHODS],
            "method": self.method,
        }

    def _done_view(self, done: Done) -> views.DoneView:
        return {
            "receipt": done.receipt,
            "who": done.who,
            "price": format_yuan(done.price),
            "subsidy": format_yuan(done.subsidy),
            "pays": format_yuan(done.pays),
            "method": text(f"method.{done.method}", self.lang),
            "printed": done.printed,
        }

    def _status_view(self, lang: Lang) -> views.StatusView:
        link = self.link
        zone = self.counter.zone
        if not link.configured:
            server_text, server_ok = text("status.server.none", lang), False
        else:
            server_text = text("status.server.online" if link.reachable else "status.server.offline", lang)
            server_ok = link.reachable
        since = None if link.since is None else link.since.astimezone(zone).strftime("%m-%d %H:%M")
        printer = self.printer
        if printer is None:
            p_text, p_ok = text("status.printer.unknown", lang), None
        elif printer.problem is None and not printer.queried:  # status = "none" (or a device file): nothing to ask
            p_text, p_ok = text("status.printer.no_status", lang), None
        elif printer.problem is None:
            p_text, p_ok = (
                text("status.printer.near_end" if printer.paper_near_end else "status.printer.ok", lang),
                True,
            )
        else:
            p_text = printer.problem.text.status(lang)
            p_ok = False
        reader = self.counter.reader_status
        if reader is None:
            r_text, r_ok = text("status.reader.unknown", lang), None
        else:
            r_text, r_ok = reader.message(lang), reader.state is ReaderState.CONNECTED
        if self._reprint_pending is None:
            self._reprint_pending = len(self.counter.reprint_queue())
        stops = link.subsidy_stops_at
        return {
            "server": {"ok": server_ok, "text": server_text, "since": since},
            "countdown_ms": None if stops is None else stops.timestamp() * 1000,
            "unsynced": self.unsynced,
            "printer": {
                "ok": p_ok,
                "text": p_text,
                "code": None if printer is None or printer.problem is None else printer.problem.value,
                "warn": printer is not None and printer.problem is None and printer.paper_near_end,
            },
            "reader": {"ok": r_ok, "text": r_text, "state": None if reader is None else reader.state.value},
            "reprint_pending": self._reprint_pending,
        }

    def display_view(self) -> views.DisplayView:
        """The elder display: greeting, amounts, nothing else (no reason, no age, no category)."""
        sale, v, lang, canteen = self.sale, self.version, self.lang, self.counter.canteen_name
        if sale is not None:
            q = sale.quote
            return {
                "v": v,
                "lang": lang,
                "canteen": canteen,
                "mode": "sale",
                "no": self.sale_no,
                "name": sale.masked_name,
                "price": format_yuan(q.price),
                "subsidy": format_yuan(q.subsidy) if q.subsidy else None,
                "pays": format_yuan(q.elder_pays),
            }
        if self.done is not None and self.done_at_ms is not None:
            return {
                "v": v,
                "lang": lang,
                "canteen": canteen,
                "mode": "done",
                "name": self.done.who,
                "pays": format_yuan(self.done.pays),
                "until_ms": self.done_at_ms + self.show_done_ms,
            }
        return {"v": v, "lang": lang, "canteen": canteen, "mode": "idle"}
