"""What the station shows the cashier besides the sale: a :class:`Notice` (both languages, a level), the last
confirmed sale (:class:`Done`), and :class:`StationError` for a request it refuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ruyi.meal import PaymentMethod
from terminal.counter import CounterMessage
from terminal.web import views
from terminal.web.messages import Lang, text

Level = Literal["info", "ok", "warn", "error"]


@dataclass(frozen=True, slots=True)
class Notice:
    """A message for the cashier in both languages, with its level (colour) and a code for machines."""

    code: str
    zh: str
    en: str
    level: Level = "info"

    @classmethod
    def of(cls, key: str, level: Level = "info", **values: object) -> Notice:
        return cls(key, text(key, "zh", **values), text(key, "en", **values), level)

    @classmethod
    def from_counter(cls, message: CounterMessage, level: Level) -> Notice:
        return cls(message.code, message.zh, message.en, level)

    def view(self, lang: Lang) -> views.NoticeView:
        return {"code": self.code, "text": self.en if lang == "en" else self.zh, "level": self.level}


@dataclass(frozen=True, slots=True)
class Done:
    """The outcome of the last confirmed sale (shown until the next tap)."""

    receipt: str
    who: str | None
    price: int
    subsidy: int
    pays: int
    method: PaymentMethod
    printed: bool


class StationError(Exception):
    """A request the station refuses (bad input): the notice says why, in both languages."""

    def __init__(self, notice: Notice) -> None:
        super().__init__(notice.code)
        self.notice = notice
