"""The demo elders' cards, one of every kind the terminal reads: a canteen card (contactless UID), the resident ID
card (its 8-byte physical card number) and the social security card (its 9-character card number in EF05). Each
demo elder ``n`` has all three, bound on the server at seeding, and ``ruyi demo tap --kind KIND`` puts the
matching virtual card (:mod:`terminal.virtual.vpcd`, written from the cards' public descriptions) on the reader.

The numbers are made up and follow from ``n`` alone, so they are the same on every machine.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

CardKindName = Literal["uid", "resident_id", "social_security"]
CARD_KINDS: tuple[CardKindName, ...] = ("uid", "resident_id", "social_security")


def card_serial(kind: CardKindName, n: int) -> str:
    """The serial the reader reports for demo elder ``n``'s card of ``kind`` (what the server binds)."""
    if kind == "uid":
        return f"04D3{n:010X}"  # a 7-byte contactless UID, upper-case hex
    if kind == "resident_id":
        return f"D3{n:014X}"  # the 8-byte physical card number, upper-case hex
    return f"D{n:08d}"  # a 9-character social security card number


def virtual_card(kind: CardKindName, n: int) -> Any:
    """The virtual card of demo elder ``n`` of ``kind``, for the vpcd reader."""
    from terminal.virtual.vpcd import ResidentIdCard, SocialSecurityCard, UidCard  # noqa: PLC0415

    serial = card_serial(kind, n)
    if kind == "uid":
        return UidCard(bytes.fromhex(serial))
    if kind == "resident_id":
        return ResidentIdCard(bytes.fromhex(serial))
    return SocialSecurityCard(serial)


def bind_cards(session: Any, *, elder_id: Any, n: int) -> int:
    """Bind each of demo elder ``n``'s cards not bound yet (a data directory seeded before had the UID card only);
    how many were bound."""
    from server.auth.principal import SYSTEM  # noqa: PLC0415
    from server.cards import service as cards  # noqa: PLC0415

    bound = 0
    for kind in CARD_KINDS:
        serial = card_serial(kind, n)
        if cards.active_card(session, kind=kind, serial=serial) is None:
            cards.bind(session, actor=SYSTEM, elder_id=elder_id, kind=kind, serial=serial, bound_on=date(2026, 1, 1))
            bound += 1
    return bound
