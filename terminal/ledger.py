"""The terminal's ledger: one SQLite file holding every meal record the terminal ever made, hash-chained.

Durability: WAL with ``synchronous=FULL`` (the switch to WAL is made once, under ``synchronous=EXTRA``, so the
conversion itself is durable), so each commit is on disk when :meth:`Ledger.record_sale` returns; the receipt
prints only after that. Each record takes its ``seq`` and ``prev_hash`` from the table inside the same
``BEGIN IMMEDIATE`` transaction that inserts it, so two processes cannot take the same seq, and a trigger refuses
any row that does not follow the chain head.

Append-only: there is no UPDATE or DELETE of a record anywhere in this module, and triggers abort any that is
tried (also the deletes of ``INSERT OR REPLACE``: ``recursive_triggers`` is on). Voids and reprints are new
records; print results, sync acknowledgements and Z-reports are rows of their own append-only tables.

Stored: each record as its canonical JSON, exactly the bytes its hash covers (:mod:`ruyi.meal`: opaque elder and
cashier ids, never a name, an ID number or a category), plus the few columns it is found by. Timestamps are ISO-8601
text with their UTC offset. A meal id is a UUIDv7 of the same millisecond as the record's service time, so the
records of a service day are a range of the ``meal_id`` index and no other index is written per meal: a commit
writes two pages (the row and its meal id), which keeps it close to a bare insert.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from pathlib import Path
from types import TracebackType
from typing import Literal, Self
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, TypeAdapter

from ruyi.meal import (
    PAYMENT_METHODS,
    UNSEALED,
    CardKind,
    ChainFault,
    ChainHead,
    Ident,
    IdentifiedBy,
    MealRecord,
    PaymentMethod,
    canonical_data,
    from_canonical,
    genesis_hash,
    seal_at,
    uuid7,
    uuid7_floor,
    verify_chain,
)
from ruyi.money import Fen
from ruyi.pricing import PriorMeal, Quote
from ruyi.rules import Slot
from terminal.files import fsync_dir
from terminal.ledger_file import LedgerError, migrate, read_rows, unix_ms

DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")


class CashierFigures(BaseModel):
    """One cashier's part of a day (by the ``cashier`` id on the records they made): their sales not voided, the
    elder lookups they did by hand, the voids they made and what they took."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meals: int = 0
    manual_entries: int = 0
    voids: int = 0
    elder_pays_total: Fen = 0


class ZReport(BaseModel):
    """End of day for one terminal: what was sold, voided and paid on ``day``. Amounts are integer fen and net of
    voids (a void cancels its sale; voids are same-day only)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    terminal_id: str
    canteen_id: str
    day: date
    made_at: AwareDatetime
    sales: int
    """Sale records of the day, including those voided since."""
    voids: int
    reprints: int
    meals: int
    """Sales not voided."""
    subsidised_meals: int
    walk_ins: int
    manual_entries: int
    """Meals whose elder was looked up by hand (a settlement edit check watches their share)."""
    price_total: Fen
    subsidy_total: Fen
    elder_pays_total: Fen
    operating_subsidy_total: Fen
    elder_pays_by_method: dict[PaymentMethod, Fen]
    voided_price_total: Fen
    voided_subsidy_total: Fen
    voided_elder_pays_total: Fen
    first_seq: int | None
    last_seq: int | None
    chain_head: str | None
    """The hash of record ``last_seq``: the chain up to the end of the day."""
    by_cashier: dict[str, CashierFigures] = {}
    """Per cashier id (absent in reports made before cashiers signed in)."""


class IntegrityReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sqlite: tuple[str, ...]
    """``PRAGMA integrity_check`` lines (``("ok",)`` when sound)."""
    chain: tuple[ChainFault, ...]
    rows: tuple[str, ...]
    """Rows that are unreadable, not stored in canonical form, or whose columns disagree with their record."""

    @property
    def ok(self) -> bool:
        return self.sqlite == ("ok",) and not self.chain and not self.rows


_IDENT = TypeAdapter(Ident).validate_python


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value


class Ledger:
    """The meal ledger of one terminal. Safe to share between threads of one process (calls are serialised);
    several processes may open the same file."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        terminal_id: str,
        canteen_id: str,
        zone: ZoneInfo,
        urandom: Callable[[int], bytes],
    ) -> None:
        self._db = conn
        self._lock = threading.RLock()
        self.terminal_id = terminal_id
        self.canteen_id = canteen_id
        self.zone = zone
        self._genesis = genesis_hash(terminal_id)
        self._urandom = urandom

    # ---- opening

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        terminal_id: str,
        canteen_id: str,
        zone: ZoneInfo = DEFAULT_ZONE,
        busy_timeout: float = 30.0,
        urandom: Callable[[int], bytes] = os.urandom,
    ) -> Ledger:
        """Open (or create) the ledger at ``path`` for ``terminal_id`` of ``canteen_id``; a file made for another
        terminal, canteen or time zone is refused. ``busy_timeout`` (seconds) bounds the wait for another
        process's write."""
        ChainHead.genesis(terminal_id)  # refuses an id that cannot go into a record
        _IDENT(canteen_id)
        file = Path(path)
        created = not file.exists()
        conn = sqlite3.connect(file, isolation_level=None, timeout=busy_timeout, check_same_thread=False)
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA synchronous = EXTRA")
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    raise LedgerError.one(
                        "ledger.wal", f"账本无法切换到WAL模式（{mode}）", f"cannot switch the ledger to WAL ({mode})"
                    )
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA recursive_triggers = ON")
            migrate(conn, terminal_id=terminal_id, canteen_id=canteen_id, zone=zone)
        except BaseException:
            conn.close()
            raise
        if created:
            fsync_dir(file.parent)
        return cls(conn, terminal_id=terminal_id, canteen_id=canteen_id, zone=zone, urandom=urandom)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ---- writing

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: the write lock is taken before anything is read."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _append(self, make: Callable[[sqlite3.Connection, int, str], tuple[MealRecord, bytes]]) -> MealRecord:
        """Insert the record ``make(db, seq, prev_hash)`` (sealed, with its canonical bytes) at the chain head, in
        one transaction that reads the head, inserts and commits durably. The stored ``record`` is the canonical
        JSON the hash covers."""
        with self._write() as db:
            row = db.execute("SELECT seq, hash FROM meals ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (row[0], row[1]) if row else (0, self._genesis)
            record, canonical = make(db, seq + 1, prev_hash)
            db.execute(
                "INSERT INTO meals (seq, terminal_id, meal_id, kind, refers_to, elder_id, prev_hash, hash, record)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.seq,
                    record.terminal_id,
                    str(record.meal_id),
                    record.kind,
                    None if record.refers_to is None else str(record.refers_to),
                    record.elder_id,
                    record.prev_hash,
                    record.hash,
                    canonical.decode(),
                ),
            )
        return record

    def _new_id(self, now: datetime) -> UUID:
        return uuid7(unix_ms(now), self._urandom(10))

    def _day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def record_sale(
        self,
        *,
        now: datetime,
        quote: Quote,
        slot: Slot,
        menu_item_id: str,
        payment_method: PaymentMethod,
        cashier: str,
        identified_by: IdentifiedBy,
        elder_id: str | None = None,
        card_kind: CardKind | None = None,
        manual_reason: str | None = None,
        card_key: str | None = None,
    ) -> MealRecord:
        """Commit a sale durably and return its record: print the receipt only after this returns.

        ``now`` is the service time (the quote's service date must be its date in the ledger's zone). ``elder_id``
        is None for a walk-in; ``card_kind`` and ``card_key`` are given when identified by card, ``manual_reason``
        when looked up by hand.
        """
        _aware(now, "now")
        if quote.service_date != self._day_of(now):
            raise LedgerError.one(
                "sale.other_day",
                f"报价日期 {quote.service_date} 不是今天（{self._day_of(now)}），请重新读卡报价",
                f"the quote is for {quote.service_date}, not today ({self._day_of(now)}): quote again",
            )
        # Validated before the write lock is taken; inside, only seq and prev_hash are filled in.
        draft = MealRecord(
            meal_id=self._new_id(now),
            terminal_id=self.terminal_id,
            canteen_id=self.canteen_id,
            seq=1,
            kind="sale",
            service_time=now,
            elder_id=elder_id,
            card_kind=card_kind,
            card_key=card_key,
            identified_by=identified_by,
            manual_reason=manual_reason,
            menu_item_id=menu_item_id,
            slot=slot,
            payment_method=payment_method,
            quote=quote,
            cashier=cashier,
            prev_hash=self._genesis,
            hash=UNSEALED,
        )
        data = canonical_data(draft)
        return self._append(lambda _db, seq, prev_hash: seal_at(draft, seq=seq, prev_hash=prev_hash, data=data))

    def record_void(self, original_id: UUID, *, reason: str, cashier: str, now: datetime) -> MealRecord:
        """Void a sale of the same service day (once, with a reason): a new record pointing at it."""

        def check(db: sqlite3.Connection, original: MealRecord) -> None:
            day = self._day_of(original.service_time)
            if original.kind != "sale":
                raise LedgerError.one(
                    "void.not_a_sale", "只能作废销售记录", f"only a sale can be voided, not a {original.kind}"
                )
            if _voided(db, original_id):
                raise LedgerError.one("void.twice", "此餐已作废", "this meal is already voided")
            if self._day_of(now) != day:
                raise LedgerError.one(
                    "void.other_day",
                    f"只能作废当天的餐（此餐为 {day}）",
                    f"only a meal of the same day can be voided (this one is of {day})",
                )

        return self._record_follow_up(original_id, "void", check, cashier=cashier, now=now, reason=reason)

    def record_reprint(self, original_id: UUID, *, cashier: str, now: datetime) -> MealRecord:
        """Record that the receipt of a sale or a void is printed again (the original record is unchanged)."""

        def check(db: sqlite3.Connection, original: MealRecord) -> None:
            if original.kind == "reprint":
                raise LedgerError.one(
                    "reprint.of_reprint", "请补打原始小票", "reprint the original record, not a reprint"
                )
            if original.kind == "sale" and _voided(db, original_id):
                raise LedgerError.one("reprint.voided", "此餐已作废，请补打作废单", "voided: reprint the void instead")

        return self._record_follow_up(original_id, "reprint", check, cashier=cashier, now=now, reason=None)

    def _record_follow_up(
        self,
        original_id: UUID,
        kind: Literal["void", "reprint"],
        check: Callable[[sqlite3.Connection, MealRecord], None],
        *,
        cashier: str,
        now: datetime,
        reason: str | None,
    ) -> MealRecord:
        """Append a void or reprint of record ``original_id``, once ``check`` (inside the write) lets it."""
        _aware(now, "now")
        meal_id = self._new_id(now)

        def make(db: sqlite3.Connection, seq: int, prev_hash: str) -> tuple[MealRecord, bytes]:
            original = self._original(db, original_id, kind)
            check(db, original)
            draft = _follow_up(
                original,
                kind=kind,
                meal_id=meal_id,
                seq=seq,
                prev_hash=prev_hash,
                now=now,
                cashier=cashier,
                reason=reason,
            )
            return seal_at(draft, seq=seq, prev_hash=prev_hash)

        return self._append(make)

    @staticmethod
    def _original(db: sqlite3.Connection, meal_id: UUID, what: str) -> MealRecord:
        row = db.execute("SELECT record, hash FROM meals WHERE meal_id = ?", (str(meal_id),)).fetchone()
        if row is None:
            raise LedgerError.one(f"{what}.unknown", "本终端没有这笔记录", f"no record {meal_id} on this terminal")
        return from_canonical(row[0], row[1])

    def record_print(self, meal_id: UUID, *, printed: bool, at: datetime) -> None:
        """Note the outcome of printing the receipt of record ``meal_id`` (a sale, a void or a reprint)."""
        _aware(at, "at")
        with self._write() as db:
            row = db.execute("SELECT kind, refers_to FROM meals WHERE meal_id = ?", (str(meal_id),)).fetchone()
            if row is None:
                raise LedgerError.one("print.unknown", "本终端没有这笔记录", f"no record {meal_id} on this terminal")
            receipt_of = row[1] if row[0] == "reprint" else str(meal_id)
            db.execute(
                "INSERT INTO print_jobs (meal_id, receipt_of, state, at) VALUES (?, ?, ?, ?)",
                (str(meal_id), receipt_of, "printed" if printed else "failed", at.isoformat()),
            )

    def ever_printed(self, meal_id: UUID) -> bool:
        """Whether a receipt of record ``meal_id`` (a sale or a void, or a reprint of it) has printed at least once:
        the next print of one that never did is its first, not a reprint."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM print_jobs WHERE receipt_of = ? AND state = 'printed' LIMIT 1", (str(meal_id),)
            ).fetchone()
        return row is not None

    def mark_synced(self, up_to_seq: int, *, at: datetime) -> None:
        """The server holds this terminal's records up to ``up_to_seq`` contiguously. Never moves back."""
        _aware(at, "at")
        with self._write() as db:
            head = db.execute("SELECT COALESCE(MAX(seq), 0) FROM meals").fetchone()[0]
            if up_to_seq > head:
                raise LedgerError.one(
                    "sync.beyond_head",
                    f"服务器确认的流水号 {up_to_seq} 超过本机最新 {head}",
                    f"acknowledged seq {up_to_seq} is beyond this ledger's head {head}",
                )
            if up_to_seq > self._synced(db):
                db.execute("INSERT INTO sync_acks (up_to_seq, at) VALUES (?, ?)", (up_to_seq, at.isoformat()))

    def z_report(self, day: date, *, now: datetime) -> ZReport:
        """Make, store and return the Z-report of ``day`` (each call stores a new one; see :meth:`z_reports`)."""
        _aware(now, "now")
        with self._write() as db:
            lo, hi = self._day_ids(day)
            rows = db.execute(
                "SELECT record, hash FROM meals WHERE meal_id >= ? AND meal_id < ? ORDER BY seq", (lo, hi)
            ).fetchall()
            records = [from_canonical(r[0], r[1]) for r in rows]
            report = _z_report(self.terminal_id, self.canteen_id, day, now, records)
            db.execute(
                "INSERT INTO z_reports (day, made_at, report) VALUES (?, ?, ?)",
                (day.isoformat(), now.isoformat(), report.model_dump_json()),
            )
        return report

    # ---- reading

    def head(self) -> ChainHead:
        with self._lock:
            row = self._db.execute("SELECT seq, hash FROM meals ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            return ChainHead.genesis(self.terminal_id)
        return ChainHead(terminal_id=self.terminal_id, seq=row[0], hash=row[1])

    def _day_ids(self, day: date) -> tuple[str, str]:
        """The meal ids of service day ``day`` (in the ledger's zone) are those in ``[lo, hi)``: a meal id is a
        UUIDv7 of the same instant as the record's service time, so a day is a range of the meal_id index."""
        start = datetime.combine(day, time(0), tzinfo=self.zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
        return str(uuid7_floor(unix_ms(start))), str(uuid7_floor(unix_ms(end)))

    def get(self, meal_id: UUID) -> MealRecord | None:
        found = self._records("SELECT record, hash FROM meals WHERE meal_id = ?", (str(meal_id),))
        return found[0] if found else None

    def meals_on(self, day: date) -> list[MealRecord]:
        """Every record (sales, voids, reprints) of service day ``day``, by seq."""
        return self._records(
            "SELECT record, hash FROM meals WHERE meal_id >= ? AND meal_id < ? ORDER BY seq", self._day_ids(day)
        )

    def live_sales(self, day: date) -> list[MealRecord]:
        """The sales of service day ``day`` not voided, by seq."""
        return split_sales(self.meals_on(day))[0]

    def day_report(self, day: date, *, now: datetime) -> ZReport:
        """The figures of ``day`` so far, as its Z-report would have them (nothing is stored)."""
        return _z_report(self.terminal_id, self.canteen_id, day, _aware(now, "now"), self.meals_on(day))

    def records(self, after_seq: int = 0, limit: int = -1) -> list[MealRecord]:
        """The records after ``after_seq`` (at most ``limit`` of them, all when negative), by seq."""
        return self._records("SELECT record, hash FROM meals WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit))

    def elder_history(self, elder_id: str, day: date) -> list[PriorMeal]:
        """The elder's sales on ``day`` at this terminal that are not voided, for the daily limits."""
        rows = self._records(
            "SELECT m.record, m.hash FROM meals m WHERE m.meal_id >= ? AND m.meal_id < ?"
            " AND m.kind = 'sale' AND m.elder_id = ?"
            " AND NOT EXISTS (SELECT 1 FROM meals v WHERE v.kind = 'void' AND v.refers_to = m.meal_id)"
            " ORDER BY m.seq",
            (*self._day_ids(day), elder_id),
        )
        return [
            PriorMeal(service_time=r.service_time, slot=r.slot, canteen_id=r.canteen_id, subsidised=r.quote.subsidised)
            for r in rows
        ]

    def reprint_queue(self, *, since: date) -> list[MealRecord]:
        """Sales (not voided) and voids of service days from ``since`` whose receipt has not printed: no print
        job yet, or the latest one (of the record or of a reprint of it) failed."""
        return self._records(
            "SELECT m.record, m.hash FROM meals m WHERE m.meal_id >= ? AND m.kind IN ('sale', 'void')"
            " AND NOT EXISTS (SELECT 1 FROM meals v WHERE v.kind = 'void' AND v.refers_to = m.meal_id)"
            " AND COALESCE((SELECT p.state FROM print_jobs p WHERE p.receipt_of = m.meal_id"
            "               ORDER BY p.id DESC LIMIT 1), '') <> 'printed'"
            " ORDER BY m.seq",
            (self._day_ids(since)[0],),
        )

    def synced_up_to(self) -> int:
        with self._lock:
            return self._synced(self._db)

    @staticmethod
    def _synced(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT COALESCE(MAX(up_to_seq), 0) FROM sync_acks").fetchone()[0])

    def unsynced(self, limit: int, after_seq: int | None = None) -> list[MealRecord]:
        """Up to ``limit`` records after ``after_seq`` (default: after what the server acknowledged), by seq."""
        with self._lock:
            start = self._synced(self._db) if after_seq is None else after_seq
            return self.records(start, limit)

    def unsynced_count(self) -> int:
        with self._lock:
            head = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM meals").fetchone()[0]
            return int(head) - self._synced(self._db)

    def z_reports(self, day: date) -> list[ZReport]:
        """The Z-reports stored for ``day``, oldest first (the last one is the one to reprint)."""
        with self._lock:
            rows = self._db.execute("SELECT report FROM z_reports WHERE day = ? ORDER BY id", (day.isoformat(),))
            return [ZReport.model_validate_json(r[0]) for r in rows.fetchall()]

    def z_reports_after(self, after_id: int, limit: int = -1) -> list[tuple[int, ZReport]]:
        """The Z-reports stored after row ``after_id`` (at most ``limit``, all when negative), oldest first, each
        with its row id: the sync worker sends them in this order and keeps how far the server took them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, report FROM z_reports WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            ).fetchall()
        return [(int(r[0]), ZReport.model_validate_json(r[1])) for r in rows]

    def integrity_report(self) -> IntegrityReport:
        """``PRAGMA integrity_check``, the whole chain through :func:`ruyi.meal.verify_chain`, and each row's
        columns against the record it stores."""
        with self._lock:
            sqlite_lines = tuple(r[0] for r in self._db.execute("PRAGMA integrity_check").fetchall())
            rows = self._db.execute(
                "SELECT seq, terminal_id, meal_id, kind, refers_to, elder_id, prev_hash, hash, record"
                " FROM meals ORDER BY seq"
            ).fetchall()
        records, bad = read_rows(rows)
        chain = verify_chain(records, start=ChainHead.genesis(self.terminal_id))
        return IntegrityReport(sqlite=sqlite_lines, chain=tuple(chain), rows=tuple(bad))

    def integrity_check(self) -> bool:
        return self.integrity_report().ok

    def _records(self, sql: str, params: tuple[object, ...]) -> list[MealRecord]:
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [from_canonical(r[0], r[1]) for r in rows]


def _follow_up(
    original: MealRecord,
    *,
    kind: Literal["void", "reprint"],
    meal_id: UUID,
    seq: int,
    prev_hash: str,
    now: datetime,
    cashier: str,
    reason: str | None,
) -> MealRecord:
    """A void or reprint of ``original``: its sale fields repeated, so the record reads on its own."""
    return original.model_validate(
        original.model_dump()
        | {
            "meal_id": meal_id,
            "seq": seq,
            "kind": kind,
            "refers_to": original.meal_id,
            "service_time": now,
            "cashier": cashier,
            "reason": reason,
            "prev_hash": prev_hash,
            "hash": UNSEALED,
        }
    )


def _voided(db: sqlite3.Connection, meal_id: UUID) -> bool:
    return (
        db.execute("SELECT 1 FROM meals WHERE kind = 'void' AND refers_to = ?", (str(meal_id),)).fetchone() is not None
    )


def split_sales(records: list[MealRecord]) -> tuple[list[MealRecord], list[MealRecord]]:
    """The sales among ``records``: those standing, and those a void among ``records`` cancels."""
    voided = {r.refers_to for r in records if r.kind == "void"}
    sales = [r for r in records if r.kind == "sale"]
    return [r for r in sales if r.meal_id not in voided], [r for r in sales if r.meal_id in voided]


def _z_report(terminal_id: str, canteen_id: str, day: date, now: datetime, records: list[MealRecord]) -> ZReport:
    kept, gone = split_sales(records)
    by_method: dict[PaymentMethod, Fen] = dict.fromkeys(PAYMENT_METHODS, 0)
    for r in kept:
        by_method[r.payment_method] += r.quote.elder_pays
    last = records[-1] if records else None
    return ZReport(
        terminal_id=terminal_id,
        canteen_id=canteen_id,
        day=day,
        made_at=now,
        sales=len(kept) + len(gone),
        voids=sum(r.kind == "void" for r in records),
        reprints=sum(r.kind == "reprint" for r in records),
        meals=len(kept),
        subsidised_meals=sum(r.quote.subsidised for r in kept),
        walk_ins=sum(r.identified_by == "walk_in" for r in kept),
        manual_entries=sum(r.identified_by == "manual" for r in kept),
        price_total=sum(r.quote.price for r in kept),
        subsidy_total=sum(r.quote.subsidy for r in kept),
        elder_pays_total=sum(r.quote.elder_pays for r in kept),
        operating_subsidy_total=sum(r.quote.operating_subsidy for r in kept),
        elder_pays_by_method=by_method,
        voided_price_total=sum(r.quote.price for r in gone),
        voided_subsidy_total=sum(r.quote.subsidy for r in gone),
        voided_elder_pays_total=sum(r.quote.elder_pays for r in gone),
        first_seq=records[0].seq if records else None,
        last_seq=last.seq if last else None,
        chain_head=last.hash if last else None,
        by_cashier=_by_cashier(kept, records),
    )


def _by_cashier(kept: list[MealRecord], records: list[MealRecord]) -> dict[str, CashierFigures]:
    figures: dict[str, dict[str, int]] = {}
    for r in kept:
        f = figures.setdefault(r.cashier, dict.fromkeys(CashierFigures.model_fields, 0))
        f["meals"] += 1
        f["manual_entries"] += r.identified_by == "manual"
        f["elder_pays_total"] += r.quote.elder_pays
    for r in records:
        if r.kind == "void":
            figures.setdefault(r.cashier, dict.fromkeys(CashierFigures.model_fields, 0))["voids"] += 1
    return {k: CashierFigures(**v) for k, v in sorted(figures.items())}
