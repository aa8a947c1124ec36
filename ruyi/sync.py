"""The sync contract between terminals and the server (protocol :data:`SYNC_PROTOCOL`).

Push: ``POST /api/v1/sync/push`` with a :class:`PushRequest` (a terminal's unsynced meals, in seq order, at most
:data:`MAX_BATCH_RECORDS` records and :data:`MAX_BATCH_BYTES` bytes of JSON). The server stores each meal exactly
once and answers a :class:`PushResponse` whose ``held_through`` is the highest seq it holds *contiguously* from 1
for that terminal; the terminal marks meals synced only up to there. HTTP 200 when nothing conflicted; HTTP 409
with the same body when some meal id arrived with content different from what is stored (the stored meal is
never overwritten; the others in the batch are stored as usual).

Pull: ``GET /api/v1/sync/pull?protocol=1&cursor=…`` answers a :class:`PullResponse` with what changed for the
terminal's canteen since the cursor (no cursor, or one the server no longer understands: a full resync,
``full=true``). Roster entries carry card keys, masked names, ID tails and redacted profiles only
(:mod:`ruyi.redact`); never an ID number, a name or a category.

Z-reports: ``POST /api/v1/sync/z-reports`` with a :class:`ZReportIn` (one terminal's end of day, sent after its
meals). The server keeps every report it is sent, once per (terminal, day, ``made_at``): the same report again is
answered ``duplicate``; a different report under the same key ``conflict`` (HTTP 409, the stored one stands). A
later report of the same day supersedes the earlier ones for the settlement's terminal reconciliation.

A request whose ``protocol`` the server does not support is answered 426 with error ``sync.upgrade_required``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from ruyi._model import Frozen
from ruyi.cashier import CashierEntry
from ruyi.eligibility import ElderProfile
from ruyi.meal import HASH_RE, Ident, MealRecord
from ruyi.money import INT4_MAX, MealPrice, StrictFen
from ruyi.rules import RuleBook, Slot

SYNC_PROTOCOL = 1
SUPPORTED_PROTOCOLS = frozenset({1})
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
_INT4_MAX = INT4_MAX
"""The largest count or fen sum a Z-report may carry (the server stores them as 4-byte integers)."""

TOKEN_RE = re.compile(r"^c[0-9a-f]{12}$")
Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""A card key: hex HMAC-SHA256 of ``kind:serial`` under the programme's card-key secret."""
IdTail = Annotated[str, StringConstraints(pattern=r"^[0-9X]{4}$")]


def card_key_digest(secret: bytes, kind: str, serial: str) -> str:
    """The card key of a card: hex HMAC-SHA256 under ``secret`` of ``f"{kind}:{serial}"`` (UTF-8).

    The reader makes it from what it reads, the server from the card numbers it holds; only keys travel.
    An empty secret is refused: it would make every card key a plain, guessable hash of the number.
    """
    if not secret:
        raise ValueError("the card-key secret must not be empty")
    return hmac.new(secret, f"{kind}:{serial}".encode(), hashlib.sha256).hexdigest()


class MenuItem(Frozen):
    id: Ident
    name: str = Field(min_length=1, max_length=40)
    price: MealPrice
    slot: Slot
    valid_from: date
    valid_to: date | None = None
    """Last day on the menu (inclusive); open-ended when absent."""

    def on_menu(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class RosterEntry(Frozen):
    """One elder as a terminal knows them: nothing that identifies them to a stranger."""

    elder_id: Ident
    masked_name: str = Field(min_length=1, max_length=20)
    birth_year: int | None = Field(default=None, ge=1880, le=2100)
    id_tail: IdTail | None = None
    """The last 4 characters of the ID number, for a manual lookup (never more)."""
    cards: tuple[Digest, ...] = ()
    profile: ElderProfile

    @model_validator(mode="after")
    def _redacted(self) -> Self:
        if "*" not in self.masked_name:
            raise ValueError("masked_name must be masked (张*明)")
        if self.profile.elder_id != self.elder_id:
            raise ValueError("profile.elder_id must be the entry's elder_id")
        for span in self.profile.categories:
            if not TOKEN_RE.match(span.code):
                raise ValueError("categories must be tokens (ruyi.redact), never category codes")
        return self


class OfflinePolicy(Frozen):
    """How long a terminal may sell subsidised meals without a successful sync (per canteen, from the server)."""

    max_offline_hours: int = Field(default=24, ge=1)
    warn_minutes: int = Field(default=60, ge=0)
    """How long before the limit the cashier screen starts its countdown."""


class PushRequest(Frozen):
    protocol: int = SYNC_PROTOCOL
    terminal_clock: AwareDatetime
    """The terminal's clock when it sent the batch (the server compares it with its own: skew is flagged)."""
    snapshot_created_at: AwareDatetime | None = None
    """When the roster the terminal priced with was made (a stale roster is flagged)."""
    records: tuple[MealRecord, ...] = Field(min_length=1, max_length=MAX_BATCH_RECORDS)


Outcome = Literal["stored", "duplicate", "conflict", "rejected"]


class RecordOutcome(Frozen):
    seq: int
    meal_id: str
    outcome: Outcome
    """stored: new; duplicate: already held with the same content; conflict: same id, other content (the
    stored one stands); rejected: not acceptable from this terminal (wrong terminal or canteen)."""
    detail: str | None = None


class PushResponse(Frozen):
    protocol: int = SYNC_PROTOCOL
    held_through: int = Field(ge=0)
    head_hash: str | None = None
    """The hash of the record at ``held_through`` (None when nothing is held)."""
    results: tuple[RecordOutcome, ...] = ()
    server_time: AwareDatetime


class PullResponse(Frozen):
    protocol: int = SYNC_PROTOCOL
    cursor: str
    full: bool
    """True: replace the whole local snapshot with this (and the following pages); False: apply as deltas."""
    more: bool = False
    """Another page follows: pull again at once with the new cursor."""
    rules: RuleBook | None = None
    """The redacted rule book (ruyi.redact) when it changed or on a full resync."""
    menu: tuple[MenuItem, ...] | None = None
    """The canteen's whole menu when it changed or on a full resync."""
    roster: tuple[RosterEntry, ...] = ()
    """Elders added or changed."""
    removed_elders: tuple[str, ...] = ()
    revoked_cards: tuple[Digest, ...] = ()
    cashiers: tuple[CashierEntry, ...] | None = None
    """The canteen's whole cashier list (numbers and PIN hashes, :mod:`ruyi.cashier`) on the first page of a
    pull; None on later pages (the terminal keeps what it has)."""
    offline_policy: OfflinePolicy = OfflinePolicy()
    server_time: AwareDatetime


ZReportOutcome = Literal["stored", "duplicate", "conflict"]


def _plausible_year(value: date, name: str) -> None:
    if not 2000 <= value.year <= 2999:
        raise ValueError(f"{name} must be in the years 2000-2999")


class ZFigures(Frozen):
    """A terminal's figures of one service day, integer fen over the day's sales **net of voids**: ``meals`` are
    the day's sales not voided, ``voids`` the day's sales voided (a terminal voids only sales of the same day, so
    this is also the day's void records), and the totals are those of the meals not voided. The settlement's
    :class:`ruyi.settlement.ZTotals` carries the same figures (:data:`Z_FIGURES`)."""

    meals: int = Field(ge=0, le=_INT4_MAX)
    voids: int = Field(ge=0, le=_INT4_MAX)
    price_total: StrictFen
    subsidy_total: StrictFen
    elder_pays_total: StrictFen

    @model_validator(mode="after")
    def _adds_up(self) -> Self:
        if self.subsidy_total + self.elder_pays_total != self.price_total:
            raise ValueError("subsidy_total + elder_pays_total must equal price_total")
        return self


Z_FIGURES: tuple[str, ...] = tuple(ZFigures.model_fields)
"""The Z figures' names, in their order: what a Z-report and the server's meals are compared on."""


class ZReportIn(ZFigures):
    """A terminal's Z-report of one service day, as the terminal ledger made it (``terminal.ledger.ZReport``): its
    :class:`ZFigures`, and where the day lies in the terminal's chain. ``first_seq``..``last_seq`` and
    ``chain_head`` (the hash of record ``last_seq``) say which part of the terminal's chain the day covers; all
    three are absent for a day without records."""

    protocol: int = SYNC_PROTOCOL
    terminal_id: Ident
    canteen_id: Ident
    day: date
    """The service day, in the programme's zone."""
    made_at: AwareDatetime
    """When the terminal made the report (its clock); with the terminal and the day, the report's identity."""
    first_seq: int | None = Field(default=None, ge=1, le=_INT4_MAX)
    last_seq: int | None = Field(default=None, ge=1, le=_INT4_MAX)
    chain_head: str | None = Field(default=None, pattern=HASH_RE.pattern)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _plausible_year(self.day, "day")
        _plausible_year(self.made_at, "made_at")
        offset = self.made_at.utcoffset()
        if offset is not None and offset.total_seconds() % 60:
            raise ValueError("the UTC offset of made_at must be whole minutes")
        chain = (self.first_seq, self.last_seq, self.chain_head)
        if any(v is None for v in chain) and any(v is not None for v in chain):
            raise ValueError("first_seq, last_seq and chain_head are all given or all absent")
        if self.first_seq is not None and self.last_seq is not None and self.first_seq > self.last_seq:
            raise ValueError("first_seq must not be after last_seq")
        return self


class ZReportAck(Frozen):
    """The server's answer to a :class:`ZReportIn` (HTTP 200, or 409 with ``conflict``)."""

    protocol: int = SYNC_PROTOCOL
    outcome: ZReportOutcome
    """stored: new; duplicate: held already, the same; conflict: another report is held under the same
    terminal, day and ``made_at`` (the stored one stands)."""
    server_time: AwareDatetime
