"""Parts that fail after a meal is committed, each at one step, for the "never a lie after commit" tests: the
sync wake-up, the receipt's layout (a canteen name a receipt cannot carry), the snapshot's words for the ids, a
printer driver that breaks with something other than a printer error, and a ledger that cannot note the print.
Each is a real part with one method that raises, passed in where the counter takes it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from ruyi.sync import MenuItem
from terminal.devices.printing import PrinterStatus, ReceiptDocument, ReceiptPrinter
from terminal.ledger import Ledger
from terminal.snapshot import Snapshot
from tests.terminal.counter.world import CANTEEN_ID, CANTEEN_NAME, TERMINAL_ID, ZONE


class Injected(RuntimeError):
    """The failure a test injected."""


class SnapshotWithoutWords(Snapshot):
    """A snapshot that cannot name a menu item (as a corrupt one might): the receipt cannot be described."""

    def menu_item(self, item_id: str) -> MenuItem | None:
        raise Injected("menu item lookup")


class LedgerThatCannotNotePrints(Ledger):
    """A ledger whose print notes fail (disk full after the meal's own write)."""

    def record_print(self, meal_id: UUID, *, printed: bool, at: Any) -> None:
        raise Injected("print note")


@dataclass
class BrokenDriver:
    """A receipt printer whose driver breaks with something other than a PrinterError (a bug, a bad byte)."""

    inner: ReceiptPrinter

    def print_document(self, doc: ReceiptDocument) -> None:
        raise Injected("printer driver")

    def status(self) -> PrinterStatus:
        return self.inner.status()


def failing_wake() -> None:
    raise Injected("sync wake-up")


@dataclass(frozen=True)
class Step:
    """One step after the commit and how to make it fail; ``printed`` says whether the receipt still prints."""

    name: str
    printed: bool
    canteen_name: str = CANTEEN_NAME
    snapshot: type[Snapshot] = Snapshot
    ledger: type[Ledger] = Ledger
    broken_driver: bool = False
    on_commit: Callable[[], None] | None = None


STEPS = (
    Step("sync wake-up", printed=True, on_commit=failing_wake),
    Step("receipt words", printed=False, snapshot=SnapshotWithoutWords),
    Step("receipt layout", printed=False, canteen_name="如意食堂\x1b鼓楼店"),  # ESC: no receipt line may carry it
    Step("printer driver", printed=False, broken_driver=True),
    Step("print note", printed=True, ledger=LedgerThatCannotNotePrints),
)


def open_ledger(kind: type[Ledger], path: Path) -> Iterator[Ledger]:
    with kind.open(path, terminal_id=TERMINAL_ID, canteen_id=CANTEEN_ID, zone=ZONE) as ledger:
        yield ledger
