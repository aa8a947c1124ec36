"""The meal record: what a terminal commits for every sale, void and reprint, and what the server takes in.

This module is the shared contract between ``terminal/`` and ``server/`` (format :data:`MEAL_FORMAT`):

- **Record.** :class:`MealRecord`, frozen, unknown fields refused. A void or reprint is a new record whose
  ``refers_to`` names the original; it repeats the original's sale fields (elder, item, slot, payment, quote) so
  every record can be read on its own.
- **Canonical bytes.** :func:`canonical_bytes` is the compact JSON (keys sorted at every level, separators ``,``
  and ``:``, UTF-8 without ``\\u`` escapes) of every field except ``hash``. Values: strings as they are; integers
  (money is integer fen) as JSON integers; booleans and null as JSON; UUIDs as lower-case hyphenated text; dates
  as ``YYYY-MM-DD``; datetimes converted to UTC and written ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00`` (always six
  fraction digits). A float anywhere is refused. Normalising to UTC means a store that keeps the instant but not
  the offset (PostgreSQL ``timestamptz``) still reproduces the same bytes.
- **Chain.** ``hash = sha256(bytes.fromhex(prev_hash) + canonical_bytes(record))``, lower-case hex. The first
  record of a terminal (``seq`` 1) links to :func:`genesis_hash` of its ``terminal_id``, so a chain cannot be
  moved to another terminal, not even from its first record.
- **Verification.** :func:`verify_chain` walks records in the order given (the order recorded or sent) and
  returns every :class:`ChainFault`; a clean chain gives none.

The chain is not keyed: it proves continuity and that nothing the server has already seen was changed later,
but whoever can write the terminal's disk can recompute the hashes of records not yet synced.
Adding a field to :class:`MealRecord` or to :class:`ruyi.pricing.Quote` changes the canonical bytes: that is a
new :data:`MEAL_FORMAT`, never an edit of format 1.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints, model_validator

from ruyi._model import Frozen
from ruyi.idnum import check_char
from ruyi.pricing import Quote
from ruyi.rules import Slot

MEAL_FORMAT: Literal[1] = 1
"""The version of the record format and its canonical encoding."""

Kind = Literal["sale", "void", "reprint"]
IdentifiedBy = Literal["card", "manual", "walk_in"]
PaymentMethod = Literal["cash", "wechat", "alipay", "other"]
PAYMENT_METHODS: tuple[PaymentMethod, ...] = ("cash", "wechat", "alipay", "other")
CardKind = Literal["uid", "resident_id", "social_security"]
"""The card kinds the reader knows (the values of ``terminal.reader.CardKind``)."""

HASH_RE = re.compile(r"^[0-9a-f]{64}$")
_GENESIS_DOMAIN = b"ruyi-meal-chain/v1\x00"
_ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_ID_LENGTH = 18
_UUID7_RAND_BYTES = 10
_MS_MAX = 1 << 48


def _no_id_number(text: str) -> str:
    """Refuse text holding a resident ID number (a valid check character): it must never reach a disk."""
    if len(text) < _ID_LENGTH:
        return text
    for m in _ID_NUMBER.finditer(text):
        number = m.group().upper()
        if check_char(number[:17]) == number[17]:
            raise ValueError("must not contain a resident ID number")
    return text


Ident = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"),
    AfterValidator(_no_id_number),
]
"""An identifier (terminal, canteen, elder, cashier, menu item): a code, never a name or an ID number."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_id_number)]
"""A short free text typed by a cashier (a reason), never holding an ID number."""


def _whole_minute_offset(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        raise ValueError("the UTC offset must be whole minutes")
    return value


def uuid7(unix_ms: int, rand: bytes) -> UUID:
    """A time-ordered UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.

    ``rand`` supplies the random bits (at least 10 bytes; the terminal passes ``os.urandom(10)``). UUIDs made in
    later milliseconds sort after earlier ones, as bytes and as text.
    """
    if not 0 <= unix_ms < _MS_MAX:
        raise ValueError("unix_ms must fit in 48 bits")
    if len(rand) < _UUID7_RAND_BYTES:
        raise ValueError(f"uuid7 needs at least {_UUID7_RAND_BYTES} random bytes")
    r = int.from_bytes(rand[:_UUID7_RAND_BYTES], "big")  # 80 bits, 74 used
    rand_a = r >> 68  # 12 bits
    rand_b = r & ((1 << 62) - 1)  # 62 bits
    value = (unix_ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    return UUID(int=value)


def uuid7_unix_ms(value: UUID) -> int:
    """The Unix milliseconds a version 7 UUID was made at."""
    return value.int >> 80


def _uuid_v7(value: UUID) -> UUID:
    if value.version != 7:
        raise ValueError("meal_id must be a version 7 (time-ordered) UUID")
    return value


class MealRecord(Frozen):
    """One committed record of a terminal's ledger: a sale, a void of a sale, or a reprint of a receipt."""

    format: Literal[1] = MEAL_FORMAT
    meal_id: UUID
    terminal_id: Ident
    canteen_id: Ident
    seq: int = Field(ge=1)
    """Gapless per terminal, from 1."""
    kind: Kind
    refers_to: UUID | None = None
    """The original sale (for a void) or the record whose receipt is printed again (for a reprint)."""
    service_time: AwareDatetime
    """When this record was made, on the terminal's clock."""
    elder_id: Ident | None = None
    card_kind: CardKind | None = None
    card_key: str | None = Field(default=None, pattern=HASH_RE.pattern)
    """The tapped card's key (``ruyi.sync.card_key_digest``, never the card number), so the server can tell
    a meal on a card revoked before its service time. Only with ``identified_by == "card"``."""
    identified_by: IdentifiedBy
    manual_reason: Text | None = None
    menu_item_id: Ident
    slot: Slot
    payment_method: PaymentMethod
    quote: Quote
    cashier: Ident
    reason: Text | None = None
    """Why a void was made (required for voids, absent otherwise)."""
    prev_hash: str = Field(pattern=HASH_RE.pattern)
    hash: str = Field(pattern=HASH_RE.pattern)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _uuid_v7(self.meal_id)
        _whole_minute_offset(self.service_time)
        if self.kind == "sale":
            if self.refers_to is not None or self.reason is not None:
                raise ValueError("a sale refers to nothing and has no void reason")
        elif self.refers_to is None:
            raise ValueError(f"a {self.kind} must name the record it refers to")
        elif self.refers_to == self.meal_id:
            raise ValueError("a record cannot refer to itself")
        if (self.kind == "void") != (self.reason is not None):
            raise ValueError("a void needs a reason; other records have none")
        if self.identified_by == "walk_in":
            if self.elder_id is not None or self.card_kind is not None:
                raise ValueError("a walk-in has no elder and no card")
        elif self.elder_id is None:
            raise ValueError(f"identified by {self.identified_by}: elder_id is required")
        if (self.identified_by == "card") != (self.card_kind is not None):
            raise ValueError("card_kind is given exactly when the elder was identified by card")
        if self.card_key is not None and self.identified_by != "card":
            raise ValueError("card_key is given only when the elder was identified by card")
        if (self.identified_by == "manual") != (self.manual_reason is not None):
            raise ValueError("manual_reason is given exactly when the elder was identified manually")
        q = self.quote
        if min(q.price, q.subsidy, q.elder_pays, q.operating_subsidy) < 0 or q.subsidy + q.elder_pays != q.price:
            raise ValueError("the quote's amounts must be non-negative and subsidy + elder_pays = price")
        return self


def _utc_text(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_bytes(record: MealRecord) -> bytes:
    """The bytes the hash covers: every field except ``hash`` (see the module docstring for the rules).

    Pydantic's JSON mode already writes UUIDs, dates, enums, tuples and integers the canonical way; the one
    datetime (``service_time``) is rewritten in UTC with six fraction digits. A new datetime field would need
    the same treatment (and is a new format anyway).
    """
    return _encode(canonical_data(record))


def canonical_data(record: MealRecord) -> dict[str, Any]:
    """The JSON value :func:`canonical_bytes` encodes (a fresh dict the caller may change)."""
    data = record.model_dump(mode="json")
    del data["hash"]
    data["service_time"] = _utc_text(record.service_time)
    return data


def _encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def chain_hash(prev_hash: str, record: MealRecord) -> str:
    """``sha256(bytes.fromhex(prev_hash) + canonical_bytes(record))`` as lower-case hex."""
    return link_hash(prev_hash, canonical_bytes(record))


def link_hash(prev_hash: str, canonical: bytes) -> str:
    """The chain hash from ``prev_hash`` and canonical bytes already made (by :func:`canonical_bytes`)."""
    if not HASH_RE.match(prev_hash):
        raise ValueError("prev_hash must be 64 lower-case hex digits")
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


def genesis_hash(terminal_id: str) -> str:
    """What a terminal's first record links to: ``sha256(b"ruyi-meal-chain/v1\\0" + terminal_id UTF-8)``."""
    return hashlib.sha256(_GENESIS_DOMAIN + terminal_id.encode()).hexdigest()


def seal(record: MealRecord) -> MealRecord:
    """The same record with its ``hash`` computed from its content and ``prev_hash``."""
    return sealed(record)[0]


def sealed(record: MealRecord) -> tuple[MealRecord, bytes]:
    """:func:`seal`, also returning the canonical bytes the hash covers (a store may keep them as they are)."""
    canonical = canonical_bytes(record)
    return record.model_copy(update={"hash": link_hash(record.prev_hash, canonical)}), canonical


def seal_at(
    draft: MealRecord, *, seq: int, prev_hash: str, data: dict[str, Any] | None = None
) -> tuple[MealRecord, bytes]:
    """``draft`` placed at ``seq`` after ``prev_hash`` and sealed, with its canonical bytes. ``data`` may be
    ``canonical_data(draft)`` made beforehand (say, before a lock was taken); it is changed in place."""
    if seq < 1:
        raise ValueError("seq starts at 1")
    data = canonical_data(draft) if data is None else data
    data["seq"] = seq
    data["prev_hash"] = prev_hash
    canonical = _encode(data)
    record = draft.model_copy(update={"seq": seq, "prev_hash": prev_hash, "hash": link_hash(prev_hash, canonical)})
    return record, canonical


def from_canonical(canonical: bytes | str, record_hash: str) -> MealRecord:
    """The record stored as its canonical bytes and its hash (the inverse of :func:`sealed`)."""
    data = json.loads(canonical)
    data["hash"] = record_hash
    return MealRecord.model_validate(data)


def uuid7_floor(unix_ms: int) -> UUID:
    """The smallest version 7 UUID of millisecond ``unix_ms``: meal ids of ``[a, b)`` ms are those
    ``>= uuid7_floor(a)`` and ``< uuid7_floor(b)`` (as UUIDs, and as their lower-case text)."""
    return uuid7(unix_ms, bytes(_UUID7_RAND_BYTES))


UNSEALED = "0" * 64
"""A placeholder ``hash`` for a record about to be :func:`seal`-ed."""


class ChainHead(Frozen):
    """Where a verified chain ends: the last record's ``seq`` and ``hash`` (``seq`` 0 and the genesis hash
    before the first record)."""

    terminal_id: Ident
    seq: int = Field(ge=0)
    hash: str = Field(pattern=HASH_RE.pattern)

    @classmethod
    def genesis(cls, terminal_id: str) -> ChainHead:
        return cls(terminal_id=terminal_id, seq=0, hash=genesis_hash(terminal_id))

    @classmethod
    def of(cls, record: MealRecord) -> ChainHead:
        return cls(terminal_id=record.terminal_id, seq=record.seq, hash=record.hash)


FaultKind = Literal["foreign", "altered", "gap", "break", "replay", "fork", "out_of_order", "rewind", "duplicate_id"]
FAULT_TEXT: dict[FaultKind, tuple[str, str]] = {
    "foreign": ("记录属于其他终端（被拼接）", "record of another terminal (spliced in)"),
    "altered": ("记录内容与其哈希不符（被改动）", "record content does not match its hash (altered)"),
    "gap": ("流水号不连续，缺少记录", "sequence gap: records are missing"),
    "break": ("哈希链断开：未链接到前一条记录", "chain break: does not link to the previous record"),
    "replay": ("重复发送的同一记录", "the same record sent again"),
    "fork": ("同一流水号出现不同记录（历史被改写或截断后续写）", "a different record at a sequence already seen"),
    "out_of_order": ("记录顺序错乱", "record out of order"),
    "rewind": ("流水号不晚于已核验的链头", "sequence at or before the verified head"),
    "duplicate_id": ("同一餐次编号出现在不同流水号", "the same meal id at two sequence numbers"),
}


class ChainFault(Frozen):
    """One thing wrong with a chain, with the evidence: where (position in the list given, seq, meal id), what
    was expected and what was found."""

    kind: FaultKind
    index: int
    """Position of the offending record in the list passed to :func:`verify_chain`."""
    seq: int
    meal_id: UUID
    expected: str
    found: str

    def message(self, lang: str = "zh") -> str:
        zh, en = FAULT_TEXT[self.kind]
        text = en if lang == "en" else zh
        return f"seq {self.seq} ({self.meal_id}): {text}; expected {self.expected}, found {self.found}"


def verify_chain(
    records: Iterable[MealRecord],
    start: ChainHead | None = None,
    *,
    canonical: Callable[[MealRecord], bytes] = canonical_bytes,
) -> list[ChainFault]:
    """Every fault in ``records`` (in the order recorded or sent), continuing from ``start``.

    ``start`` is the head already verified for this terminal (the server passes what it holds, or
    ``ChainHead.genesis(terminal_id)`` for a new terminal, with the terminal id it authenticated); by default the
    chain starts at the genesis of the first record's terminal. Faults:

    - ``foreign``: the record belongs to another terminal (a splice); it is otherwise skipped;
    - ``altered``: its ``hash`` is not the hash of its content and ``prev_hash``;
    - ``gap``: its seq jumps ahead of the head (records missing in between);
    - ``break``: it follows the head (or a neighbour) by seq but ``prev_hash`` does not link to it;
    - ``replay``: the very record already seen at that seq (the same hash) comes again;
    - ``fork``: a different record at a seq already seen (history rewritten, or truncated and continued); a fork
      that links to the record before it becomes the head, so its successors are not faulted again;
    - ``out_of_order``: a seq below the head, not seen before (records swapped or a gap filled late);
    - ``rewind``: a seq at or below ``start`` that is not its head record (the caller compares it with what it
      stored);
    - ``duplicate_id``: a meal id already seen at another seq.

    ``canonical`` gives a record's canonical bytes (a caller that has made them already passes a lookup).
    """
    items = list(records)
    if start is None:
        if not items:
            return []
        start = ChainHead.genesis(items[0].terminal_id)
    walk = _Walk(start, canonical)
    for index, record in enumerate(items):
        walk.step(index, record)
    return walk.faults


class _Walk:
    """The state of :func:`verify_chain` between records."""

    def __init__(self, start: ChainHead, canonical: Callable[[MealRecord], bytes]) -> None:
        self.start = start
        self.canonical = canonical
        self.faults: list[ChainFault] = []
        self.head_seq, self.head_hash = start.seq, start.hash
        # seq -> (hash, prev_hash) of the record accepted there; the start head is known by its hash only.
        self.accepted: dict[int, tuple[str, str | None]] = {start.seq: (start.hash, None)}
        self.ids: dict[UUID, int] = {}

    def step(self, index: int, r: MealRecord) -> None:
        def fault(kind: FaultKind, expected: str, found: str) -> None:
            self.faults.append(
                ChainFault(kind=kind, index=index, seq=r.seq, meal_id=r.meal_id, expected=expected, found=found)
            )

        if r.terminal_id != self.start.terminal_id:
            fault("foreign", f"terminal {self.start.terminal_id}", f"terminal {r.terminal_id}")
            return
        computed = link_hash(r.prev_hash, self.canonical(r)) if HASH_RE.match(r.prev_hash) else "(prev_hash malformed)"
        if computed != r.hash:
            fault("altered", f"hash {computed}", f"hash {r.hash}")
        seen_at = self.ids.get(r.meal_id)
        if seen_at is not None and seen_at != r.seq:
            fault("duplicate_id", f"meal id only at seq {seen_at}", f"again at seq {r.seq}")

        if r.seq > self.head_seq:
            if r.seq > self.head_seq + 1:
                fault("gap", f"seq {self.head_seq + 1}", f"seq {r.seq} ({r.seq - self.head_seq - 1} missing)")
            elif r.prev_hash != self.head_hash:
                fault("break", f"prev_hash {self.head_hash}", f"prev_hash {r.prev_hash}")
            self._advance(r)
            return

        known = self.accepted.get(r.seq)
        if known is not None and known[0] == r.hash:
            fault("replay", f"seq after {self.head_seq}", f"seq {r.seq} again (same hash)")
            return
        if r.seq <= self.start.seq:
            fault("rewind", f"seq after {self.start.seq}", f"seq {r.seq}")
            return
        before = self.accepted.get(r.seq - 1)
        if known is not None:
            fault("fork", f"hash {known[0]} at seq {r.seq}", f"hash {r.hash}")
            if before is not None and before[0] == r.prev_hash:
                # A new branch from a record we hold (truncated and continued): follow it from here on.
                for s in [s for s in self.accepted if s >= r.seq]:
                    del self.accepted[s]
                self._advance(r)
            return
        fault("out_of_order", f"seq after {self.head_seq}", f"seq {r.seq}")
        if before is not None and before[0] != r.prev_hash:
            fault("break", f"prev_hash {before[0]}", f"prev_hash {r.prev_hash}")
        after = self.accepted.get(r.seq + 1)
        if after is not None and after[1] != r.hash:
            fault("break", f"hash {after[1]} (what seq {r.seq + 1} links to)", f"hash {r.hash}")
        self.accepted[r.seq] = (r.hash, r.prev_hash)
        self.ids.setdefault(r.meal_id, r.seq)

    def _advance(self, r: MealRecord) -> None:
        self.head_seq, self.head_hash = r.seq, r.hash
        self.accepted[r.seq] = (r.hash, r.prev_hash)
        self.ids[r.meal_id] = r.seq
