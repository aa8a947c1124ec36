"""What the counter answers: an open :class:`Sale`, a :class:`CounterMessage` for the cashier, the results of
confirming, voiding, reprinting and the Z-report, the counter's status, and the offline gate it asks. Kept apart
from :mod:`terminal.counter` (which re-exports them) so that the flow reads on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ruyi.meal import CardKind, IdentifiedBy, MealRecord
from ruyi.money import format_yuan
from ruyi.pricing import Quote
from ruyi.reasons import Reason, reason_text
from ruyi.sync import MenuItem, RosterEntry
from terminal.devices.cards import ReaderStatus
from terminal.devices.printing import PrinterErrorCode, PrinterStatus
from terminal.ledger import ZReport


@dataclass(frozen=True, slots=True)
class CounterMessage:
    """Something the cashier must read (no sale was opened or nothing was recorded). ``code`` is for machines."""

    code: str
    zh: str
    en: str

    def message(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


def msg(code: str, zh: str, en: str) -> CounterMessage:
    return CounterMessage(code, zh, en)


@dataclass(frozen=True, slots=True)
class Sale:
    """An open sale: who (or a walk-in), what, and the quote shown to the cashier and the elder."""

    elder: RosterEntry | None
    identified_by: IdentifiedBy
    card_kind: CardKind | None
    manual_reason: str | None
    withhold: Reason | None
    item: MenuItem
    quote: Quote
    quoted_at: datetime
    card_key: str | None = None

    @property
    def masked_name(self) -> str | None:
        return None if self.elder is None else self.elder.masked_name

    def text(self, lang: str = "zh") -> str:
        """One line for the screen: masked name, item, price, subsidy, what the elder pays, and why."""
        q = self.quote
        who = self.masked_name or ("散客" if lang == "zh" else "walk-in")
        why = reason_text(q.reasons[0], lang) if q.reasons else ""
        if lang == "en":
            return (
                f"{who}  {self.item.name} {format_yuan(q.price)}  subsidy {format_yuan(q.subsidy)}"
                f"  to pay {format_yuan(q.elder_pays)}  ({why})"
            )
        return (
            f"{who}  {self.item.name} {format_yuan(q.price)}  补贴 {format_yuan(q.subsidy)}"
            f"  应付 {format_yuan(q.elder_pays)}（{why}）"
        )


@dataclass(frozen=True, slots=True)
class PrintOutcome:
    printed: bool
    error: PrinterErrorCode | None = None
    message_zh: str = ""


@dataclass(frozen=True, slots=True)
class ConfirmResult:
    """``committed``: the meal is in the ledger (``record``). ``printed`` False with ``print_error``: the receipt
    is in the reprint queue. Not committed with a new ``sale``: the price changed since it was shown (confirm
    that one instead); not committed without: ``message`` says why."""

    committed: bool
    record: MealRecord | None
    printed: bool
    print_error: PrinterErrorCode | None
    message: CounterMessage
    sale: Sale | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    """The outcome of a void or a reprint: the new ledger record (None when refused) and how printing went."""

    record: MealRecord | None
    printed: bool
    print_error: PrinterErrorCode | None
    message: CounterMessage


@dataclass(frozen=True, slots=True)
class ZResult:
    report: ZReport
    printed: bool
    print_error: PrinterErrorCode | None
    message: CounterMessage


class OfflineGate(Protocol):
    """What the counter asks sync (``terminal.sync``) before each quote; must answer at once (no network I/O)."""

    def subsidy_stops_at(self) -> datetime | None:
        """When the terminal has been offline too long and stops granting subsidies (None: no limit applies)."""
        ...

    def countdown_from(self) -> datetime | None:
        """From when the cashier screen counts down to :meth:`subsidy_stops_at` (None: no limit applies)."""
        ...


@dataclass(frozen=True, slots=True)
class CounterStatus:
    reader: ReaderStatus | None
    """The last state the card reader reported (None before it reported anything)."""
    printer: PrinterStatus | None
    """None when not asked (``status(query_printer=False)``)."""
    unsynced: int
    reprint_pending: int
    snapshot_created_at: datetime
    subsidy_stops_at: datetime | None = None
    """Offline policy: when subsidies stop without a successful sync (None: no limit applies)."""
    countdown: timedelta | None = None
    """Time left before subsidies stop, once the countdown shows (None before that or without a limit)."""
    offline_too_long: bool = False
    """Subsidies are withheld now (quotes carry ``offline_too_long``) until the next successful sync."""


OK_PRINTED = msg("ok", "已记账，小票已打印", "Recorded; receipt printed")
NOT_PRINTED = msg(
    "receipt.not_printed",
    "已记账，小票未打印，已加入补打",
    "Recorded; the receipt did not print and is in the reprint queue",
)
"""What the cashier reads when anything after a commit fails other than the printer itself (laying out the
receipt, the ledger's note of the print, a bug): the meal is recorded, whatever else went wrong."""
