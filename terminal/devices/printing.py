"""What the terminal prints and what a printer may answer, with no driver behind it.

The meal is committed before anything prints (DESIGN §4.1), so a printer problem is never the sale's problem: a
:class:`ReceiptPrinter` returns or raises :class:`PrinterError` within its timeout, and the caller puts the receipt
in the reprint queue. :data:`PRINTER_TEXT` is the one table of what the cashier reads about each printer fault.
The ESC/POS driver is :mod:`terminal.devices.escpos_printer`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import NamedTuple, Protocol

__all__ = [
    "PRINTER_TEXT",
    "Align",
    "Block",
    "Cut",
    "Feed",
    "PaperWidth",
    "PrinterError",
    "PrinterErrorCode",
    "PrinterStatus",
    "PrinterText",
    "QrCode",
    "ReceiptDocument",
    "ReceiptPrinter",
    "Separator",
    "TextLine",
    "TwoColumnLine",
    "check_printable",
]


# --- the document ------------------------------------------------------------------------------------------


class Align(StrEnum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


def check_printable(text: str) -> None:
    """Refuse control characters: a line of a receipt is one line, and a stray ESC would be a command."""
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise ValueError(f"control character U+{ord(ch):04X} in receipt text {text!r}")


class PaperWidth(IntEnum):
    """Paper roll width in mm; font A gives 12 dots a column on both."""

    MM58 = 58
    MM80 = 80

    @property
    def columns(self) -> int:
        return 32 if self is PaperWidth.MM58 else 48

    @property
    def dots(self) -> int:
        return 384 if self is PaperWidth.MM58 else 576


@dataclass(frozen=True, slots=True)
class TextLine:
    """A line of text; wraps if longer than the paper. `double` is double width and height (half the columns).

    The rules that keep any text on any paper: ``max_lines`` shortens the text (ending in "…") to that many
    lines; ``shrink`` prints a `double` text at normal size when it does not fit one double-size line.
    """

    text: str
    align: Align = Align.LEFT
    bold: bool = False
    double: bool = False
    max_lines: int | None = None
    shrink: bool = False

    def __post_init__(self) -> None:
        check_printable(self.text)
        if self.max_lines is not None and self.max_lines < 1:
            raise ValueError("max_lines is at least 1")


@dataclass(frozen=True, slots=True)
class TwoColumnLine:
    """A label on the left and an amount on the right, spread over exactly the paper's width; a label or an
    amount too wide wraps (``max_label_lines`` shortens the label to that many lines, ending in "…")."""

    label: str
    amount: str
    bold: bool = False
    double: bool = False
    max_label_lines: int | None = None

    def __post_init__(self) -> None:
        check_printable(self.label)
        check_printable(self.amount)
        if self.max_label_lines is not None and self.max_label_lines < 1:
            raise ValueError("max_label_lines is at least 1")


@dataclass(frozen=True, slots=True)
class Separator:
    """A full-width rule made of one character repeated."""

    char: str = "-"

    def __post_init__(self) -> None:
        check_printable(self.char)
        if len(self.char) != 1 or self.char.isspace():
            raise ValueError(f"a separator is one visible character, not {self.char!r}")


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR code printed by the printer itself (error correction M)."""

    data: str
    align: Align = Align.CENTER

    def __post_init__(self) -> None:
        if not self.data or len(self.data.encode("utf-8")) > 2331:  # version 40 at level M, byte mode
            raise ValueError("QR code data must be 1 to 2331 bytes")


@dataclass(frozen=True, slots=True)
class Feed:
    lines: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.lines <= 255:
            raise ValueError("feed 1 to 255 lines")


@dataclass(frozen=True, slots=True)
class Cut:
    """Feed the receipt past the cutter and cut (a partial cut leaves a hinge, if the printer can)."""

    partial: bool = False


Block = TextLine | TwoColumnLine | Separator | QrCode | Feed | Cut


@dataclass(frozen=True, slots=True)
class ReceiptDocument:
    blocks: tuple[Block, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "blocks", tuple(self.blocks))


# --- errors, status and their texts ----------------------------------------------------------------------------


class PrinterErrorCode(StrEnum):
    OFFLINE = "offline"
    """Not reachable (connection refused, no answer to connect, unplugged) or reports itself offline."""
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    PRINTER_ERROR = "printer_error"
    """The printer reports an error (cutter jam, head too hot), or answers something that is not ESC/POS."""
    TIMEOUT = "timeout"
    """Connected, but no answer (or no room for the receipt) within the timeout."""
    UNAVAILABLE = "unavailable"
    """This terminal cannot drive the printer at all: a driver library is missing."""

    @property
    def text(self) -> PrinterText:
        return PRINTER_TEXT[self]


class PrinterText(NamedTuple):
    """What the cashier reads about a printer fault: the notice after a receipt did not print (Chinese), and the
    status bar's words."""

    notice_zh: str
    status_zh: str
    status_en: str

    def status(self, lang: str) -> str:
        return self.status_en if lang == "en" else self.status_zh


PRINTER_TEXT: dict[PrinterErrorCode, PrinterText] = {
    PrinterErrorCode.OFFLINE: PrinterText(
        "打印机未连接或已离线，小票已放入补打队列", "离线", "Printer offline: receipts go to the reprint queue"
    ),
    PrinterErrorCode.PAPER_OUT: PrinterText(
        "打印机缺纸，请装纸后补打小票", "缺纸", "Printer out of paper: load paper, then reprint"
    ),
    PrinterErrorCode.COVER_OPEN: PrinterText(
        "打印机纸仓盖未关好，请关好后补打小票", "纸仓盖未关", "Printer cover open: close it, then reprint"
    ),
    PrinterErrorCode.PRINTER_ERROR: PrinterText(
        "打印机故障，小票已放入补打队列", "故障", "Printer fault: receipts go to the reprint queue"
    ),
    PrinterErrorCode.TIMEOUT: PrinterText(
        "打印机无响应，小票已放入补打队列", "无响应", "Printer not answering: receipts go to the reprint queue"
    ),
    PrinterErrorCode.UNAVAILABLE: PrinterText(
        "本机无法使用该打印机（缺少驱动），请联系管理员",
        "无驱动",
        "This terminal cannot drive the printer: call the administrator",
    ),
}


class PrinterError(Exception):
    """The receipt was not (or may not have been) printed."""

    def __init__(self, code: PrinterErrorCode | str, detail: str = "") -> None:
        self.code = PrinterErrorCode(code)
        self.detail = detail
        super().__init__(f"{self.code.value}: {detail}" if detail else self.code.value)

    @property
    def cashier_message(self) -> str:
        return self.code.text.notice_zh


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    problem: PrinterErrorCode | None
    paper_near_end: bool = False
    queried: bool = True
    """False when the connection cannot carry a status answer (a file): the printer is then assumed ready."""
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.problem is None


# --- the protocol the terminal uses ------------------------------------------------------------------------


class ReceiptPrinter(Protocol):
    def print_document(self, doc: ReceiptDocument) -> None:
        """Print, or raise :class:`PrinterError`; never takes much longer than the printer's timeout."""
        ...

    def status(self) -> PrinterStatus:
        """Ask the printer how it is; never raises for printer trouble, never takes longer than the timeout."""
        ...
