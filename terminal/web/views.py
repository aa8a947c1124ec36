"""The shapes of the JSON the pages read (built by :class:`terminal.web.station.Station`), key for key."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from ruyi.meal import IdentifiedBy, PaymentMethod


class NoticeView(TypedDict):
    code: str
    text: str
    level: str


class FoundElder(TypedDict):
    ref: str
    name: str
    born: int | None
    tail: str


class RecordRow(TypedDict):
    id: str
    kind: str
    receipt: str
    time: str
    who: str | None
    item: str
    pays: str
    method: PaymentMethod


class RecordsView(TypedDict):
    sales: list[RecordRow]
    queue: list[RecordRow]


class TodayView(TypedDict):
    meals: int
    subsidised: int
    walk_ins: int
    manual: int
    voids: int
    paid: str


class ZView(TypedDict):
    day: str
    meals: int
    subsidised: int
    voids: int
    price: str
    subsidy: str
    paid: str
    printed: bool


class MenuEntry(TypedDict):
    id: str
    name: str
    price: str
    key: str


class MethodEntry(TypedDict):
    id: PaymentMethod
    label: str
    key: str


class SaleView(TypedDict):
    no: int
    who: str | None
    walk_in: bool
    identified_by: IdentifiedBy
    age: int | None
    item: str
    item_name: str
    price: str
    subsidy: str
    pays: str
    subsidised: bool
    why: str
    more: list[str]
    full_price: bool
    menu: list[MenuEntry]
    methods: list[MethodEntry]
    method: PaymentMethod


class DoneView(TypedDict):
    receipt: str
    who: str | None
    price: str
    subsidy: str
    pays: str
    method: str
    printed: bool


class ServerLine(TypedDict):
    ok: bool
    text: str
    since: str | None


class PrinterLine(TypedDict):
    ok: bool | None
    text: str
    code: str | None
    warn: bool
    """Ready, but the roll is near its end (``DLE EOT 4``'s near-end sensor)."""


class ReaderLine(TypedDict):
    ok: bool | None
    text: str
    state: str | None


class StatusView(TypedDict):
    server: ServerLine
    countdown_ms: float | None
    unsynced: int
    printer: PrinterLine
    reader: ReaderLine
    reprint_pending: int


class CashierSignView(TypedDict):
    """Who is signed in (personal number and short name), whether sign-in is required, and the lockout."""

    who: str | None
    required: bool
    signed_out: bool
    """True while no sale can be opened: sign-in is required and nobody is signed in."""
    locked_until: str | None
    text: str


class CashierView(TypedDict):
    v: int
    lang: str
    canteen: str
    terminal: str
    mode: str
    sale: SaleView | None
    sale_no: int
    waiting: str | None
    """Who tapped while the sale was open (masked name, or "new tap"), until the cashier decides."""
    done: DoneView | None
    notice: NoticeView | None
    reading: str | None
    """「正在读卡…」 from the moment a card arrives on the reader until its tap (or error) is known."""
    status: StatusView
    today: TodayView | None
    z: ZView | None
    cashier: CashierSignView
    sent_ms: float


class DisplayView(TypedDict):
    """The elder display: ``mode`` sale (with the amounts), done (name and amount paid until ``until_ms``) or idle."""

    v: int
    lang: str
    canteen: str
    mode: str
    no: NotRequired[int]
    name: NotRequired[str | None]
    price: NotRequired[str]
    subsidy: NotRequired[str | None]
    pays: NotRequired[str]
    until_ms: NotRequired[float]
