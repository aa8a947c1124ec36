"""The local snapshot a terminal runs from until sync refreshes it: roster, revoked cards, rule book, menu.

A JSON file (format :data:`SNAPSHOT_FORMAT`). What it may hold is what invariant 8 allows a terminal's disk:

- the roster, keyed by **card key** (the keyed hash of ``kind:serial`` made by
  :func:`ruyi.sync.card_key_digest`), never a card number; each elder with an opaque ``elder_id``, the
  **masked** name, optionally the birth year and the **last 4 characters** of the ID number (for a manual lookup
  when the card is at home), and the pricing profile with categories replaced by tokens (:mod:`ruyi.redact`);
- revoked card keys;
- the rule book as :func:`ruyi.redact.rulebook_for_terminal` makes it (no category code, name or tier label);
- the menu.

Loading refuses a file that breaks these rules (a clear category, an unmasked name, a longer ID tail), so a bad
export from the server cannot put them on the terminal's disk unnoticed. :func:`build_snapshot` makes a snapshot
from plain data (the server's export, the tests and the demo use it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError, model_validator

from ruyi.cashier import CashierEntry
from ruyi.eligibility import ElderProfile
from ruyi.errors import RuyiError
from ruyi.i18n import problems_from
from ruyi.idnum import mask_name
from ruyi.redact import CATEGORY_TIER_LABEL, profile_for_terminal, rulebook_for_terminal
from ruyi.rules import RuleBook, Slot
from ruyi.sync import TOKEN_RE, Digest, MenuItem, RosterEntry, card_key_digest
from terminal.devices.cards import CardKind
from terminal.files import write_atomic

SNAPSHOT_FORMAT: Literal[1] = 1
_TOKEN = TOKEN_RE


class SnapshotError(RuyiError):
    """The snapshot file cannot be used."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SnapshotData(_Frozen):
    """The snapshot file's content."""

    format: Literal[1] = SNAPSHOT_FORMAT
    created_at: AwareDatetime
    rules: RuleBook
    elders: tuple[RosterEntry, ...] = ()
    revoked_cards: tuple[Digest, ...] = ()
    menu: tuple[MenuItem, ...] = ()
    cashiers: tuple[CashierEntry, ...] = ()
    """Who may sign in at this canteen's counters: number, short name and PIN hash (never a PIN)."""

    @model_validator(mode="after")
    def _redacted(self) -> Self:
        for code, name in self.rules.categories.items():
            if not _TOKEN.match(code) or name != code:
                raise ValueError("the rule book's categories must be tokens (ruyi.redact.rulebook_for_terminal)")
        for version in self.rules.versions:
            for tier in version.tiers:
                if (tier.when.categories_any or tier.when.categories_all) and tier.label != CATEGORY_TIER_LABEL:
                    raise ValueError("a category tier must carry the neutral label (ruyi.redact)")
        return self


@dataclass(frozen=True, slots=True)
class CardEntry:
    """What a card key leads to: the elder, and whether this card is revoked."""

    elder: RosterEntry
    revoked: bool


@dataclass(slots=True)
class Snapshot:
    """A loaded snapshot with its indexes: card key, elder id and ID tail, each a dict (O(1) lookups)."""

    data: SnapshotData
    by_card: dict[str, RosterEntry] = field(default_factory=dict)
    by_elder: dict[str, RosterEntry] = field(default_factory=dict)
    by_tail: dict[str, list[RosterEntry]] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()
    menu_by_id: dict[str, MenuItem] = field(default_factory=dict)
    by_number: dict[str, CashierEntry] = field(default_factory=dict)

    @classmethod
    def of(cls, data: SnapshotData) -> Snapshot:
        snap = cls(data=data, revoked=frozenset(data.revoked_cards))
        for elder in data.elders:
            snap.by_elder[elder.elder_id] = elder
            for digest in elder.cards:
                snap.by_card[digest] = elder
            if elder.id_tail is not None:
                snap.by_tail.setdefault(elder.id_tail, []).append(elder)
        for item in data.menu:
            snap.menu_by_id[item.id] = item
        for cashier in data.cashiers:
            snap.by_number[cashier.number] = cashier
        return snap

    @property
    def rules(self) -> RuleBook:
        return self.data.rules

    @property
    def created_at(self) -> datetime:
        return self.data.created_at

    def card(self, digest: str) -> CardEntry | None:
        """The elder a card key belongs to (None for an unknown card) and whether the card is revoked."""
        elder = self.by_card.get(digest)
        return None if elder is None else CardEntry(elder, digest in self.revoked)

    def is_revoked(self, digest: str) -> bool:
        return digest in self.revoked

    def elder(self, elder_id: str) -> RosterEntry | None:
        return self.by_elder.get(elder_id)

    def find_manual(self, id_tail: str, name_fragment: str = "") -> list[RosterEntry]:
        """Elders whose ID number ends in ``id_tail`` (4 characters) and whose masked name shows every visible
        character of ``name_fragment`` (e.g. the surname); at most a handful."""
        tail = id_tail.strip().upper()
        wanted = {c for c in name_fragment if not c.isspace() and c != "*"}
        return [e for e in self.by_tail.get(tail, []) if wanted.issubset(set(e.masked_name))]

    def menu_on(self, day: date, slot: Slot | None = None) -> list[MenuItem]:
        """The menu items on sale on ``day`` (of ``slot`` when given), in the snapshot's order."""
        return [m for m in self.data.menu if m.on_menu(day) and (slot is None or m.slot == slot)]

    def menu_item(self, item_id: str) -> MenuItem | None:
        return self.menu_by_id.get(item_id)

    def cashier(self, number: str) -> CashierEntry | None:
        return self.by_number.get(number.strip())


def parse_snapshot(text: str | bytes) -> Snapshot:
    try:
        data = SnapshotData.model_validate_json(text)
    except ValidationError as exc:
        raise SnapshotError(problems_from(exc)) from None
    return Snapshot.of(data)


def load_snapshot(path: Path) -> Snapshot:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SnapshotError.one(
            "snapshot.unreadable",
            f"无法读取名册快照 {path}：{exc.strerror}",
            f"cannot read the snapshot {path}: {exc.strerror}",
        ) from None
    return parse_snapshot(raw)


def write_snapshot(path: Path, data: SnapshotData) -> None:
    """Write atomically: a temporary file, fsync, rename, fsync of the directory."""
    write_atomic(path, data.model_dump_json().encode())


# ---- building from plain data (server export, tests, demo) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlainElder:
    """An elder as the registry holds them, before redaction. Only the builder sees this."""

    profile: ElderProfile
    """With clear category codes; the builder tokenises them."""
    name: str
    id_number: str | None = None
    cards: tuple[tuple[CardKind | str, str], ...] = ()
    """(kind, serial) of each card, e.g. ``("uid", "04A1B2C3")``; the builder keeps only their card keys."""


def build_snapshot(
    *,
    created_at: datetime,
    rules: RuleBook,
    elders: Iterable[PlainElder],
    menu: Iterable[MenuItem],
    card_secret: bytes,
    category_key: bytes,
    revoked_cards: Iterable[tuple[CardKind | str, str]] = (),
    cashiers: Iterable[CashierEntry] = (),
) -> SnapshotData:
    """A snapshot from plain registry data: card numbers hashed with ``card_secret`` (the terminal's card-key
    secret), categories tokenised with ``category_key``, names masked, ID numbers cut to their last 4."""
    entries = [
        RosterEntry(
            elder_id=e.profile.elder_id,
            masked_name=mask_name(e.name) if len(e.name.strip()) > 0 else "*",
            birth_year=e.profile.birth_date.year,
            id_tail=e.id_number[-4:].upper() if e.id_number else None,
            cards=tuple(card_key_digest(card_secret, str(CardKind(k)), s) for k, s in e.cards),
            profile=profile_for_terminal(e.profile, category_key),
        )
        for e in elders
    ]
    return SnapshotData(
        created_at=created_at,
        rules=rulebook_for_terminal(rules, category_key),
        elders=tuple(entries),
        revoked_cards=tuple(card_key_digest(card_secret, str(CardKind(k)), s) for k, s in revoked_cards),
        menu=tuple(menu),
        cashiers=tuple(cashiers),
    )
