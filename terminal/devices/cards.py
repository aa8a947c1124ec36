"""Card taps as the rest of the terminal sees them: a stream of :data:`ReaderEvent` values from a :class:`CardSource`.

A card arrived and is being read (:class:`CardPresent`), a card was tapped (:class:`CardTapped`, carrying only a
keyed hash of the card's number), a tap could not be read (:class:`CardError`, a machine code plus a short message
in Chinese and English), or the reader's state changed (:class:`ReaderStatus`: connected, no reader, pcscd down).
The PC/SC reader is :mod:`terminal.devices.pcsc_reader`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from ruyi.sync import card_key_digest

__all__ = [
    "DEFAULT_KIND_ORDER",
    "CardError",
    "CardErrorCode",
    "CardKey",
    "CardKind",
    "CardPresent",
    "CardSource",
    "CardTapped",
    "ReaderEvent",
    "ReaderState",
    "ReaderStatus",
    "card_key_digest",
]


class CardKind(StrEnum):
    """The kinds of card a tap can be read as; the value is the ``kind`` hashed into the card key."""

    UID = "uid"
    RESIDENT_ID = "resident_id"
    SOCIAL_SECURITY = "social_security"


DEFAULT_KIND_ORDER: tuple[CardKind, ...] = (CardKind.SOCIAL_SECURITY, CardKind.RESIDENT_ID, CardKind.UID)


@dataclass(frozen=True, slots=True)
class CardKey:
    """What the terminal knows about a tapped card: its kind and the keyed hash of its number."""

    kind: CardKind
    digest: str


@dataclass(frozen=True, slots=True)
class CardTapped:
    """A card was tapped and read."""

    key: CardKey


@dataclass(frozen=True, slots=True)
class CardPresent:
    """A card arrived on the reader and is being read: its :class:`CardTapped` or :class:`CardError` follows.

    Sent as soon as the reader reports the card, before the first command to it, so the screen can say
    「正在读卡…」 while a slow card (or a slow kind tried first) takes its time."""


class CardErrorCode(StrEnum):
    CARD_REMOVED = "card_removed"
    UNKNOWN_CARD = "unknown_card"
    BAD_ANSWER = "bad_answer"
    CARD_UNRESPONSIVE = "card_unresponsive"
    READ_FAILED = "read_failed"


_CARD_ERROR_TEXT: dict[CardErrorCode, tuple[str, str]] = {
    CardErrorCode.CARD_REMOVED: (
        "卡片离开太快，请重新刷卡",
        "The card was moved away before it was read. Please tap again.",
    ),
    CardErrorCode.UNKNOWN_CARD: (
        "无法识别此卡，请使用社保卡、身份证或就餐卡",
        "Card not recognised. Please use a social security card, resident ID card or canteen card.",
    ),
    CardErrorCode.BAD_ANSWER: (
        "读卡出错，请重新刷卡",
        "The card gave an invalid answer. Please tap again.",
    ),
    CardErrorCode.CARD_UNRESPONSIVE: (
        "卡片无响应，请重新刷卡",
        "The card does not respond. Please tap again.",
    ),
    CardErrorCode.READ_FAILED: (
        "读卡失败，请重新刷卡",
        "The card could not be read. Please tap again.",
    ),
}


@dataclass(frozen=True, slots=True)
class CardError:
    """A tap that did not produce a card key. ``detail`` is for logs: status words and PC/SC codes only,
    never card data."""

    code: CardErrorCode
    detail: str = field(default="", compare=False)

    @property
    def zh(self) -> str:
        return _CARD_ERROR_TEXT[self.code][0]

    @property
    def en(self) -> str:
        return _CARD_ERROR_TEXT[self.code][1]

    def message(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


class ReaderState(StrEnum):
    CONNECTED = "connected"
    NO_READER = "no_reader"
    PCSCD_DOWN = "pcscd_down"


_READER_STATE_TEXT: dict[ReaderState, tuple[str, str]] = {
    ReaderState.CONNECTED: ("读卡器已就绪", "Card reader ready"),
    ReaderState.NO_READER: ("未找到读卡器，请检查连接", "No card reader found; check that it is plugged in"),
    ReaderState.PCSCD_DOWN: ("读卡服务未运行", "The smart card service (pcscd) is not running"),
}


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    """The reader's state changed. ``reader`` is the PC/SC reader name when connected."""

    state: ReaderState
    reader: str | None = None

    @property
    def zh(self) -> str:
        return _READER_STATE_TEXT[self.state][0]

    @property
    def en(self) -> str:
        return _READER_STATE_TEXT[self.state][1]

    def message(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


ReaderEvent = CardPresent | CardTapped | CardError | ReaderStatus


class CardSource(Protocol):
    """Where taps come from. ``run`` blocks, calling ``on_event`` from its own thread, until ``stop`` is
    set; it raises nothing for card or reader faults (those are events). ``on_event`` should be quick
    (e.g. put the event on a queue); an exception it raises ends ``run``."""

    def run(self, on_event: Callable[[ReaderEvent], None], stop: threading.Event) -> None: ...
