"""The counter: what happens between a tap and a printed receipt, as an interface the cashier screen drives.

A tap (or a manual lookup, or a walk-in) opens a :class:`Sale` with its quote; the cashier may pick another menu
item; :meth:`Counter.confirm` re-quotes at the moment of confirming (so a second sale for the same elder cannot
slip past the daily limit), **commits the meal durably in the ledger, and only then prints**. A printer that is
offline, out of paper or silent costs at most its configured timeout: the meal stays committed, its receipt waits
in the reprint queue (the ledger keeps every print outcome) and the result carries the printer's message for the
cashier. Voids and reprints are new ledger records and print their own slips.

Devices come in as their Protocols (a :class:`terminal.devices.printing.ReceiptPrinter`; card events as
:data:`terminal.devices.cards.ReaderEvent` values fed to :meth:`Counter.on_reader_event`), the clock as a callable
returning an aware datetime. Log lines carry meal ids, sequence numbers, amounts and reason codes only: never a
name, an ID number, a category or a card key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError

from ruyi.errors import RuyiError
from ruyi.meal import PAYMENT_METHODS, CardKind, IdentifiedBy, MealRecord, PaymentMethod, Text
from ruyi.pricing import MealRequest, Quote, quote
from ruyi.reasons import Reason
from ruyi.rules import Slot
from ruyi.sync import MenuItem, RosterEntry
from terminal.cashiers import CashierDesk, SignInResult
from terminal.config import DEFAULT_SLOT_STARTS
from terminal.counter_results import (
    NOT_PRINTED,
    OK_PRINTED,
    ConfirmResult,
    CounterMessage,
    CounterStatus,
    OfflineGate,
    PrintOutcome,
    RecordResult,
    Sale,
    ZResult,
    msg,
)
from terminal.devices.cards import CardError, CardKey, CardPresent, CardTapped, ReaderEvent, ReaderStatus
from terminal.devices.printing import PrinterError, PrinterStatus, ReceiptDocument, ReceiptPrinter
from terminal.ledger import Ledger, ZReport
from terminal.receipt import (
    ReceiptContext,
    fallback_terminal_code,
    receipt_number,
    sale_receipt,
    void_slip,
    z_report_document,
)
from terminal.snapshot import Snapshot

log = logging.getLogger(__name__)

NOT_SIGNED_IN = msg("cashier.signed_out", "请先签到：输入工号和密码（按 K）", "Sign in first: number and PIN (press K)")


class NotSignedIn(RuyiError):
    """A record was asked for while sign-in is required and nobody is signed in."""


def _not_signed_in() -> NotSignedIn:
    return NotSignedIn.one(NOT_SIGNED_IN.code, NOT_SIGNED_IN.zh, NOT_SIGNED_IN.en)


Clock = Callable[[], datetime]
_TEXT: TypeAdapter[str] = TypeAdapter(Text)


class Counter:
    """The counter flow of one terminal (not thread-safe: one caller, e.g. the process's main loop)."""

    def __init__(
        self,
        *,
        snapshot: Snapshot,
        ledger: Ledger,
        printer: ReceiptPrinter,
        clock: Clock,
        canteen_name: str,
        slot_starts: Mapping[Slot, time] | None = None,
        cashier_default: str = "cashier",
        reprint_days: int = 1,
        offline: OfflineGate | None = None,
        on_commit: Callable[[], None] | None = None,
        terminal_code: str | None = None,
        debounce: timedelta = timedelta(milliseconds=300),
        require_sign_in: bool = False,
        desk: CashierDesk | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.ledger = ledger
        self.printer = printer
        self.clock = clock
        self.canteen_name = canteen_name
        self.cashier_default = cashier_default
        self.reprint_days = reprint_days
        starts = dict(slot_starts or DEFAULT_SLOT_STARTS)
        self._slot_starts: list[tuple[time, Slot]] = sorted((t, s) for s, t in starts.items())
        self.reader_status: ReaderStatus | None = None
        self.offline = offline
        """The offline policy (from sync); None: the counter never withholds for being offline."""
        self.on_commit = on_commit
        """Called after every committed record (sync's wake-up: it must return at once)."""
        self.debounce = debounce
        """The same card read again within this long of its last tap is the same tap (a bounce), not a new one."""
        self._last_tap: tuple[str, datetime] | None = None
        self.terminal_code = terminal_code or fallback_terminal_code(ledger.terminal_id)
        self.require_sign_in = require_sign_in
        """No sale opens while nobody is signed in (the terminal app sets it from the config's ``sign_in``)."""
        self.desk = desk or CashierDesk()
        """The terminal's short code from the server (``RY01-2``), the first part of its receipt numbers."""

    # ---- time

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the counter's clock must return an aware datetime")
        return now

    @property
    def zone(self) -> ZoneInfo:
        """The zone service days begin and end in (the ledger's)."""
        return self.ledger.zone

    def today(self) -> date:
        return self._now().astimezone(self.ledger.zone).date()

    def slot_at(self, moment: datetime) -> Slot:
        local = moment.astimezone(self.ledger.zone).time()
        current = self._slot_starts[0][1]
        for start, slot in self._slot_starts:
            if start <= local:
                current = slot
        return current

    # ---- who is at the counter

    def sign_in(self, number: str, pin: str) -> SignInResult:
        """Sign a cashier in (or switch to another) by personal number and PIN, offline against the snapshot."""
        result = self.desk.sign_in(self.snapshot.by_number, number, pin, self._now())
        log.info("cashier sign-in: %s", result.code if not result.ok else f"ok ({number.strip()})")
        return result

    def sign_out(self) -> None:
        gone = self.desk.sign_out()
        if gone is not None:
            log.info("cashier signed out (%s)", gone.number)

    @property
    def cashier_id(self) -> str | None:
        """Whom the next record is made by: the signed-in cashier's staff id; without sign-in required, the
        configured default; None while sign-in is required and nobody is signed in."""
        if self.desk.current is not None:
            return self.desk.current.id
        return None if self.require_sign_in else self.cashier_default

    def _who(self, cashier: str | None) -> str:
        who = cashier or self.cashier_id
        if who is None:
            raise _not_signed_in()
        return who

    # ---- opening a sale

    def on_reader_event(self, event: ReaderEvent) -> Sale | CounterMessage | None:
        """Feed one reader event: a tap opens a sale (or gives a message); a reader state change is noted.

        One tap is one event: the same card read again within :attr:`debounce` of its tap (a card bouncing on the
        reader's field) answers None and opens nothing."""
        if isinstance(event, CardTapped):
            now = self._now()
            last = self._last_tap
            if last is not None and last[0] == event.key.digest and timedelta(0) <= now - last[1] < self.debounce:
                log.info("tap ignored: the same card again within %s", self.debounce)
                return None
            self._last_tap = (event.key.digest, now)
            return self.on_card(event.key)
        if isinstance(event, CardError):
            log.info("card read failed: %s", event.code)
            return msg(f"card.{event.code.value}", event.zh, event.en)
        if isinstance(event, CardPresent):
            return None  # being read: the station shows it, the tap or the error follows
        self.reader_status = event
        log.info("card reader: %s", event.state)
        return None

    def on_card(self, key: CardKey) -> Sale | CounterMessage:
        entry = self.snapshot.card(key.digest)
        if entry is None:
            if self.snapshot.is_revoked(key.digest):
                return msg(
                    "card.revoked",
                    "此卡已挂失或停用，请人工查找或按散客结算",
                    "Card revoked: look up by hand or sell as walk-in",
                )
            log.info("tap: unknown card (%s)", key.kind)
            return msg(
                "card.unknown",
                "此卡未登记，请核对身份后人工查找，或按散客结算",
                "Card not registered: look the elder up by hand, or sell as walk-in",
            )
        withhold = Reason.CARD_REVOKED if entry.revoked else None
        return self._open(entry.elder, "card", key.kind.value, None, withhold, card_key=key.digest)

    def find_elders(self, id_tail: str, name_fragment: str = "") -> list[RosterEntry]:
        """Candidates for a manual lookup: ID number's last 4 characters and part of the name (e.g. surname)."""
        return self.snapshot.find_manual(id_tail, name_fragment)

    def manual_lookup(self, elder_id: str, reason: str) -> Sale | CounterMessage:
        """Open a sale for an elder found by hand (no card); ``reason`` is required and stored with the meal."""
        try:
            reason = _TEXT.validate_python(reason.strip())
        except ValidationError:
            return msg(
                "manual.reason",
                "请填写人工查找的原因（不要填写身份证号）",
                "Give a reason for the manual lookup (never an ID number)",
            )
        elder = self.snapshot.elder(elder_id)
        if elder is None:
            return msg("manual.unknown", "名册中没有此人", "Not in the roster")
        return self._open(elder, "manual", None, reason, None)

    def walk_in(self) -> Sale | CounterMessage:
        return self._open(None, "walk_in", None, None, None)

    def _open(
        self,
        elder: RosterEntry | None,
        identified_by: IdentifiedBy,
        card_kind: CardKind | None,
        manual_reason: str | None,
        withhold: Reason | None,
        *,
        card_key: str | None = None,
    ) -> Sale | CounterMessage:
        if self.cashier_id is None:
            return NOT_SIGNED_IN
        now = self._now()
        items = self.menu_now(now)
        if not items:
            return msg("menu.empty", "今日菜单为空，无法结算", "Nothing on today's menu")
        item = items[0]
        q = self._quote(elder, item, withhold, now)
        sale = Sale(elder, identified_by, card_kind, manual_reason, withhold, item, q, now, card_key)
        log.info(
            "quote: %s price %d subsidy %d pays %d", [r.value for r in q.reasons], q.price, q.subsidy, q.elder_pays
        )
        return sale

    def offline_too_long(self, now: datetime | None = None) -> bool:
        """True when the last successful sync is older than the offline policy allows."""
        stops = self.offline.subsidy_stops_at() if self.offline is not None else None
        return stops is not None and (now or self._now()) >= stops

    def _quote(self, elder: RosterEntry | None, item: MenuItem, withhold: Reason | None, now: datetime) -> Quote:
        if withhold is None and elder is not None and self.offline_too_long(now):
            withhold = Reason.OFFLINE_TOO_LONG
        day = now.astimezone(self.ledger.zone).date()
        history = self.ledger.elder_history(elder.elder_id, day) if elder is not None else []
        request = MealRequest(
            canteen_id=self.ledger.canteen_id,
            slot=item.slot,
            price=item.price,
            service_time=now,
            menu_item_id=item.id,
            withhold=withhold,
        )
        return quote(None if elder is None else elder.profile, request, history, self.snapshot.rules)

    def menu(self) -> list[MenuItem]:
        return self.snapshot.menu_on(self.today())

    def menu_now(self, now: datetime) -> list[MenuItem]:
        """What a new sale is offered at ``now``: the current slot's items, or the day's whole menu without them."""
        day = now.astimezone(self.ledger.zone).date()
        return self.snapshot.menu_on(day, self.slot_at(now)) or self.snapshot.menu_on(day)

    def choose_item(self, sale: Sale, menu_item_id: str) -> Sale | CounterMessage:
        now = self._now()
        item = self.snapshot.menu_item(menu_item_id)
        if item is None or not item.on_menu(now.astimezone(self.ledger.zone).date()):
            return msg("menu.unknown", "今日菜单中没有此菜品", "Not on today's menu")
        return replace(sale, item=item, quote=self._quote(sale.elder, item, sale.withhold, now), quoted_at=now)

    # ---- committing and printing

    def confirm(self, sale: Sale, payment_method: PaymentMethod, cashier: str | None = None) -> ConfirmResult:
        """Commit the meal durably, then print its receipt (never the other way round)."""
        if payment_method not in PAYMENT_METHODS:
            return ConfirmResult(
                False, None, False, None, msg("sale.payment", "请选择支付方式", "Choose a payment method")
            )
        now = self._now()
        fresh = self._quote(sale.elder, sale.item, sale.withhold, now)
        if (fresh.price, fresh.subsidy, fresh.elder_pays) != (
            sale.quote.price,
            sale.quote.subsidy,
            sale.quote.elder_pays,
        ):
            changed = replace(sale, quote=fresh, quoted_at=now)
            return ConfirmResult(
                False,
                None,
                False,
                None,
                msg("sale.requoted", "价格已变化，请核对后重新确认", "The price changed: check it and confirm again"),
                changed,
            )
        try:
            record = self.ledger.record_sale(
                now=now,
                quote=fresh,
                slot=sale.item.slot,
                menu_item_id=sale.item.id,
                payment_method=payment_method,
                cashier=self._who(cashier),
                identified_by=sale.identified_by,
                elder_id=None if sale.elder is None else sale.elder.elder_id,
                card_kind=sale.card_kind,
                card_key=sale.card_key,
                manual_reason=sale.manual_reason,
            )
        except (RuyiError, ValidationError) as exc:
            return ConfirmResult(False, None, False, None, _refused("sale", exc))
        log.info("sale committed: %s seq %d pays %d", record.meal_id, record.seq, record.quote.elder_pays)
        outcome = self._after_commit(record, lambda: sale_receipt(record, self.describe(record)))
        return ConfirmResult(True, record, outcome.printed, outcome.error, _print_message(outcome))

    def void(self, meal_id: UUID, reason: str, cashier: str | None = None) -> RecordResult:
        """Void a sale of today (a new record pointing at it) and print the void slip."""
        try:
            record = self.ledger.record_void(
                meal_id, reason=reason.strip(), cashier=self._who(cashier), now=self._now()
            )
        except (RuyiError, ValidationError) as exc:
            return RecordResult(None, False, None, _refused("void", exc))
        log.info("void committed: %s seq %d of %s", record.meal_id, record.seq, meal_id)

        def slip() -> ReceiptDocument:
            original = self.ledger.get(meal_id)
            assert original is not None  # the ledger just voided it
            return void_slip(record, original, self.describe(original))

        outcome = self._after_commit(record, slip)
        return RecordResult(record, outcome.printed, outcome.error, _print_message(outcome))

    def reprint(self, meal_id: UUID, cashier: str | None = None) -> RecordResult:
        """Print a sale's receipt (or a void's slip) again, marked 重打; recorded in the ledger only when the
        printer says it is ready, so an offline printer does not fill the chain with reprints that never printed.

        A receipt that never printed (the printer was out of paper at the sale) prints as itself, not as 重打,
        and adds no reprint record: it is the first print, and the elder holds no other copy.
        """
        original = self.ledger.get(meal_id)
        if original is None:
            return RecordResult(None, False, None, msg("reprint.unknown", "本终端没有这笔记录", "No such record here"))
        if original.kind == "reprint" and original.refers_to is not None:
            return self.reprint(original.refers_to, cashier)
        status = self.printer.status()
        if status.problem is not None:
            return RecordResult(
                None,
                False,
                status.problem,
                msg(
                    f"printer.{status.problem.value}",
                    status.problem.text.notice_zh,
                    f"The printer is not ready ({status.problem.value}); nothing was reprinted",
                ),
            )
        if original.kind in ("sale", "void") and not self.ledger.ever_printed(original.meal_id):
            outcome = self._print_safely(original.meal_id, lambda: self._receipt_of(original, None))
            return RecordResult(None, outcome.printed, outcome.error, _print_message(outcome))
        try:
            record = self.ledger.record_reprint(meal_id, cashier=self._who(cashier), now=self._now())
        except (RuyiError, ValidationError) as exc:
            return RecordResult(None, False, None, _refused("reprint", exc))
        outcome = self._after_commit(record, lambda: self._receipt_of(original, record))
        return RecordResult(record, outcome.printed, outcome.error, _print_message(outcome))

    def _receipt_of(self, original: MealRecord, reprint: MealRecord | None) -> ReceiptDocument:
        """The receipt of a sale or the slip of a void; marked 重打 with ``reprint`` (the reprint record)."""
        if original.kind == "void":
            assert original.refers_to is not None
            sale = self.ledger.get(original.refers_to)
            assert sale is not None
            return void_slip(original, sale, self.describe(sale), reprint=reprint is not None)
        return sale_receipt(original, self.describe(original), reprint=reprint)

    def receipt_number(self, record: MealRecord) -> str:
        """The number a record's receipt carries (``RY01-2-000042``)."""
        return receipt_number(record, self.terminal_code)

    def live_sales(self) -> list[MealRecord]:
        """Today's sales not voided, by seq (what a void may cancel)."""
        return self.ledger.live_sales(self.today())

    def last_receipt(self) -> MealRecord | None:
        """Today's last sale or void: what a reprint that names no record prints again."""
        originals = [r for r in self.ledger.meals_on(self.today()) if r.kind in ("sale", "void")]
        return originals[-1] if originals else None

    def today_summary(self, day: date | None = None) -> ZReport:
        """The figures of ``day`` (default today) so far, as its Z-report would have them; nothing is stored."""
        return self.ledger.day_report(day or self.today(), now=self._now())

    def unsynced_count(self) -> int:
        return self.ledger.unsynced_count()

    def printer_status(self) -> PrinterStatus:
        """Ask the printer (takes up to its timeout)."""
        return self.printer.status()

    def reprint_queue(self) -> list[MealRecord]:
        """Sales and voids (today and the previous ``reprint_days`` days) whose receipt has not printed."""
        return self.ledger.reprint_queue(since=self.today() - timedelta(days=self.reprint_days))

    def reprint_all(self, cashier: str | None = None) -> list[RecordResult]:
        """Reprint the whole queue, stopping at the first printer failure."""
        results = []
        for record in self.reprint_queue():
            result = self.reprint(record.meal_id, cashier)
            results.append(result)
            if not result.printed:
                break
        return results

    def end_of_day(self, day: date | None = None) -> ZResult:
        """Make, store and print the Z-report of ``day`` (default today)."""
        report = self.ledger.z_report(day or self.today(), now=self._now())
        return self._print_z(report)

    def reprint_z(self, day: date) -> ZResult | CounterMessage:
        reports = self.ledger.z_reports(day)
        if not reports:
            return msg("z.none", f"{day} 没有日结报表", f"No Z-report for {day}")
        return self._print_z(reports[-1])

    def _print_z(self, report: ZReport) -> ZResult:
        try:
            doc = z_report_document(
                report,
                canteen_name=self.canteen_name,
                zone=self.ledger.zone,
                terminal_code=self.terminal_code,
                cashier_names=self.cashier_names(),
            )
            self.printer.print_document(doc)
        except PrinterError as exc:
            return ZResult(report, False, exc.code, msg(f"printer.{exc.code.value}", exc.cashier_message, str(exc)))
        except Exception:  # the report is stored; say it did not print, whatever the cause (logged with it)
            log.exception("Z-report of %s not printed", report.day)
            return ZResult(
                report,
                False,
                None,
                msg("z.not_printed", "日结报表已保存，未打印", "Z-report stored; it did not print"),
            )
        return ZResult(report, True, None, msg("ok", "日结报表已打印", "Z-report printed"))

    def status(self, *, query_printer: bool = True) -> CounterStatus:
        now = self._now()
        stops = self.offline.subsidy_stops_at() if self.offline is not None else None
        start = self.offline.countdown_from() if self.offline is not None else None
        countdown = stops - now if stops is not None and start is not None and start <= now < stops else None
        return CounterStatus(
            reader=self.reader_status,
            printer=self.printer.status() if query_printer else None,
            unsynced=self.ledger.unsynced_count(),
            reprint_pending=len(self.reprint_queue()),
            snapshot_created_at=self.snapshot.created_at,
            subsidy_stops_at=stops,
            countdown=countdown,
            offline_too_long=stops is not None and now >= stops,
        )

    # ---- helpers

    def _committed(self) -> None:
        if self.on_commit is not None:
            self.on_commit()

    def describe(self, record: MealRecord) -> ReceiptContext:
        """The words for a record's ids (masked name, item name) and where it was made, as its receipt shows them."""
        elder = self.snapshot.elder(record.elder_id) if record.elder_id else None
        item = self.snapshot.menu_item(record.menu_item_id)
        return ReceiptContext(
            canteen_name=self.canteen_name,
            zone=self.ledger.zone,
            terminal_code=self.terminal_code,
            masked_name=None if elder is None else elder.masked_name,
            item_name=None if item is None else item.name,
            cashier_names=self.cashier_names(),
        )

    def cashier_names(self) -> dict[str, str]:
        """Cashier id -> personal number and short name, as screens and receipts show a cashier."""
        return {c.id: f"{c.number} {c.name}".strip() for c in self.snapshot.data.cashiers}

    def _after_commit(self, record: MealRecord, make_doc: Callable[[], ReceiptDocument]) -> PrintOutcome:
        """Everything after a record is committed: wake sync, lay out the receipt, print it, note the outcome.

        None of it may undo or hide the commit: whatever fails here (a printer, a layout, a bug) is logged and
        answered as "recorded, not printed", and the receipt waits in the reprint queue (which holds every record
        without a successful print). This is the one place the counter catches every exception, on purpose.
        """
        try:
            self._committed()
        except Exception:
            log.exception("after commit of %s: the sync wake-up failed", record.meal_id)
        return self._print_safely(record.meal_id, make_doc)

    def _print_safely(self, meal_id: UUID, make_doc: Callable[[], ReceiptDocument]) -> PrintOutcome:
        """Lay out and print the receipt of ``meal_id`` and note the outcome; never raises."""
        try:
            return self._print(make_doc(), meal_id)
        except Exception:
            log.exception("receipt of %s not printed", meal_id)
            self._note_print(meal_id, printed=False)
            return PrintOutcome(False, None, NOT_PRINTED.zh)

    def _print(self, doc: ReceiptDocument, meal_id: UUID) -> PrintOutcome:
        """Print, then note the outcome in the ledger. Bounded by the printer's timeout."""
        try:
            self.printer.print_document(doc)
        except PrinterError as exc:
            log.warning("receipt of %s not printed: %s", meal_id, exc.code)
            self._note_print(meal_id, printed=False)
            return PrintOutcome(False, exc.code, exc.cashier_message)
        self._note_print(meal_id, printed=True)
        return PrintOutcome(True)

    def _note_print(self, meal_id: UUID, *, printed: bool) -> None:
        """Note a print outcome; a ledger that cannot take the note leaves the record in the reprint queue (a
        receipt that did print may then print once more, which is better than one that never prints)."""
        try:
            self.ledger.record_print(meal_id, printed=printed, at=self._now())
        except Exception:
            log.exception("print outcome of %s not noted", meal_id)


def _print_message(outcome: PrintOutcome) -> CounterMessage:
    if outcome.printed:
        return OK_PRINTED
    if outcome.error is None:
        return NOT_PRINTED
    return msg(
        f"printer.{outcome.error.value}",
        f"{NOT_PRINTED.zh}。{outcome.message_zh}",
        f"{NOT_PRINTED.en} ({outcome.error.value}).",
    )


def _refused(what: str, exc: RuyiError | ValidationError) -> CounterMessage:
    if isinstance(exc, RuyiError):
        p = exc.problems[0]
        return msg(p.code, p.zh, p.en)
    return msg(
        f"{what}.invalid", "输入不正确，未记账", f"Invalid input; nothing recorded: {exc.error_count()} error(s)"
    )


__all__ = [
    "NOT_PRINTED",
    "Clock",
    "ConfirmResult",
    "Counter",
    "CounterMessage",
    "CounterStatus",
    "OfflineGate",
    "PrintOutcome",
    "RecordResult",
    "Sale",
    "ZResult",
    "receipt_number",
]
