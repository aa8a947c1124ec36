"""Sync on the server: take in a terminal's meals exactly once (push) and hand it what it needs (pull).

**Push.** One transaction per batch. The terminal's row in ``sync_terminals`` is locked first (PostgreSQL
``SELECT … FOR UPDATE``; SQLite writers hold the database write lock from ``BEGIN IMMEDIATE``), so pushes of one
terminal are verified one after another while other terminals go on in parallel. Records are inserted with
``INSERT … ON CONFLICT DO NOTHING`` (the primary key on ``meal_id`` and the unique ``(terminal_id, seq)``
decide, never a look-then-insert); those not inserted are then read back and classified as duplicates (same
canonical text and hash) or conflicts (an alert, a log line, HTTP 409; the stored meal stands). The chain is
verified with :func:`ruyi.meal.verify_chain` over the stored records around the new ones, in seq order, from the
nearest stored record below them (or the genesis), so batches that arrive out of order are not faulted once
they fit; a gap stays flagged until records fill it (the flag is then marked resolved, never removed). The
contiguous head (``held_through`` and its hash) moves forward in the same transaction.

**Pull.** See :func:`pull`: a full resync pages through the roster; deltas come from the registry change log
(:mod:`server.sync.tables`) after the cursor's change number.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from ruyi.eligibility import EnrolmentStatus
from ruyi.flags import CHAIN_PREFIX
from ruyi.idnum import mask_name
from ruyi.meal import ChainHead, MealRecord, canonical_bytes, genesis_hash, verify_chain
from ruyi.redact import profile_for_terminal, rulebook_for_terminal
from ruyi.rules import RuleBook
from ruyi.sync import (
    SUPPORTED_PROTOCOLS,
    MenuItem,
    OfflinePolicy,
    PullResponse,
    PushRequest,
    PushResponse,
    RecordOutcome,
    RosterEntry,
    ZReportAck,
    ZReportIn,
    card_key_digest,
)
from server.auth.principal import Principal
from server.base import LOCAL_ZONE, utcnow
from server.canteens.tables import Canteen
from server.canteens.tables import MenuItem as MenuRow
from server.cards.tables import Card
from server.config import Settings
from server.elders.service import CLOSED
from server.elders.tables import Elder
from server.errors import Forbidden, ServerError
from server.meals import rollups
from server.meals.tables import Meal, MealFlag
from server.rules.service import load_book
from server.sync.changes import current_change_no
from server.sync.intake import Flag, IntakeContext, among, as_uuid, profiles_of, sale_flags, time_flags, void_flags
from server.sync.tables import SyncAlert, SyncChange, SyncTerminal, SyncZReport

log = logging.getLogger("ruyi.sync")


class UpgradeRequired(ServerError):
    status, code = 426, "sync.upgrade_required"


def check_protocol(protocol: int) -> None:
    if protocol not in SUPPORTED_PROTOCOLS:
        supported = ", ".join(str(p) for p in sorted(SUPPORTED_PROTOCOLS))
        raise UpgradeRequired(
            f"同步协议 {protocol} 不受支持（支持 {supported}），请升级终端",
            f"sync protocol {protocol} is not supported (supported: {supported}): upgrade the terminal",
            supported=sorted(SUPPORTED_PROTOCOLS),
        )


def _insert(session: Session, table: sa.Table) -> Any:
    """``INSERT`` of the session's dialect, so that ``on_conflict_do_nothing`` is available on both."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def _table(model: type) -> sa.Table:
    return cast(sa.Table, model.__table__)  # type: ignore[attr-defined]


def programme_zone(book: RuleBook | None) -> ZoneInfo:
    return book.zone if book is not None else LOCAL_ZONE


# -- Z-reports -------------------------------------------------------------------------------------------------

_Z_FIGURES = ("meals", "voids", "price_total", "subsidy_total", "elder_pays_total", "first_seq", "last_seq")


def store_z_report(session: Session, *, actor: Principal, report: ZReportIn, now: datetime | None = None) -> ZReportAck:
    """Keep the calling terminal's Z-report once per (terminal, day, ``made_at``): ``INSERT … ON CONFLICT DO
    NOTHING`` on that unique key, then, when nothing was inserted, the stored report decides between a duplicate
    and a conflict (logged; the stored one stands). A report of another terminal or canteen is refused."""
    check_protocol(report.protocol)
    if actor.kind != "terminal" or actor.id is None or actor.canteen_id is None:
        raise Forbidden("此操作仅限终端", "terminals only")
    if report.terminal_id != str(actor.id) or report.canteen_id != str(actor.canteen_id):
        raise Forbidden("只能上报本终端、本食堂的日结报表", "a terminal sends only its own Z-reports")
    now = now or utcnow()
    row = SyncZReport(
        terminal_id=actor.id,
        canteen_id=actor.canteen_id,
        day=report.day,
        made_at=report.made_at,
        meals=report.meals,
        voids=report.voids,
        price_total=report.price_total,
        subsidy_total=report.subsidy_total,
        elder_pays_total=report.elder_pays_total,
        first_seq=report.first_seq,
        last_seq=report.last_seq,
        chain_head=report.chain_head,
        received_at=now,
    )
    table = _table(SyncZReport)
    values = {c.name: getattr(row, c.name) for c in table.columns if c.name != "id"}
    stmt = _insert(session, table).values(values).on_conflict_do_nothing().returning(table.c.id)
    if session.execute(stmt).first() is not None:
        return ZReportAck(outcome="stored", server_time=now)
    stored = session.exec(
        select(SyncZReport).where(
            col(SyncZReport.terminal_id) == actor.id,
            col(SyncZReport.day) == report.day,
            col(SyncZReport.made_at) == report.made_at,
        )
    ).one()
    same = all(getattr(stored, n) == getattr(report, n) for n in _Z_FIGURES) and stored.chain_head == report.chain_head
    if not same:
        log.warning(
            "sync z-report conflict: terminal %s day %s made_at %s differs from the stored one",
            actor.id,
            report.day,
            report.made_at.isoformat(),
        )
    return ZReportAck(outcome="duplicate" if same else "conflict", server_time=now)


def offline_policy(canteen: Canteen, settings: Settings) -> OfflinePolicy:
    """The canteen's offline policy: its own hours and countdown where set, else the server's defaults."""
    warn = canteen.offline_warn_minutes
    return OfflinePolicy(
        max_offline_hours=canteen.offline_hours or settings.sync_offline_hours,
        warn_minutes=settings.sync_warn_minutes if warn is None else warn,
    )


# -- push ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushResult:
    response: PushResponse
    conflict: bool


def push(
    session: Session, *, actor: Principal, request: PushRequest, settings: Settings, now: datetime | None = None
) -> PushResult:
    check_protocol(request.protocol)
    if actor.kind != "terminal" or actor.id is None or actor.canteen_id is None:
        raise Forbidden("此操作仅限终端", "terminals only")
    now = now or utcnow()
    terminal_id, canteen_id = actor.id, actor.canteen_id
    state = _lock_terminal(session, terminal_id)
    canteen = session.get(Canteen, canteen_id)
    assert canteen is not None  # a terminal's canteen cannot be deleted
    book = load_book(session, canteen.programme)
    zone = programme_zone(book)

    outcomes: dict[int, RecordOutcome] = {}
    alerts: list[SyncAlert] = []
    candidates: dict[uuid.UUID, tuple[int, MealRecord, str]] = {}
    for i, r in enumerate(request.records):
        if r.terminal_id != str(terminal_id) or r.canteen_id != str(canteen_id):
            which = "terminal" if r.terminal_id != str(terminal_id) else "canteen"
            outcomes[i] = RecordOutcome(
                seq=r.seq, meal_id=str(r.meal_id), outcome="rejected", detail=f"{which}_mismatch"
            )
            alerts.append(
                SyncAlert(
                    code="foreign" if which == "terminal" else "rejected",
                    terminal_id=terminal_id,
                    canteen_id=canteen_id,
                    meal_id=r.meal_id,
                    seq=r.seq,
                    evidence={"record_terminal_id": r.terminal_id, "record_canteen_id": r.canteen_id},
                )
            )
            continue
        canonical = canonical_bytes(r).decode()  # once per record: stored, compared and hashed from here
        earlier = candidates.get(r.meal_id)
        if earlier is not None:  # the same meal twice in one batch: judged against the first
            same = earlier[2] == canonical and earlier[1].hash == r.hash
            outcomes[i] = RecordOutcome(
                seq=r.seq, meal_id=str(r.meal_id), outcome="duplicate" if same else "conflict", detail="in_batch"
            )
            continue
        candidates[r.meal_id] = (i, r, canonical)

    rows = [
        _meal_row(r, canonical, terminal_id=terminal_id, canteen_id=canteen_id, zone=zone, request=request, now=now)
        for _i, r, canonical in candidates.values()
    ]
    inserted = _insert_meals(session, rows)
    rollups.apply_intake(session, rows=rows, inserted=inserted)
    stored_records = [r for i, r, _c in candidates.values() if r.meal_id in inserted]
    for i, r, _c in candidates.values():
        if r.meal_id in inserted:
            outcomes[i] = RecordOutcome(seq=r.seq, meal_id=str(r.meal_id), outcome="stored")
    flags: list[Flag] = []
    left = [(i, r, c) for i, r, c in candidates.values() if r.meal_id not in inserted]
    if left:
        flags += _classify(session, left, outcomes, alerts, terminal_id=terminal_id, canteen_id=canteen_id)

    if stored_records:
        made = {id(r): c.encode() for _i, r, c in candidates.values() if r.meal_id in inserted}
        flags += _chain_flags(session, state, stored_records, made)
        ctx = IntakeContext(
            now=now,
            terminal_clock=request.terminal_clock,
            snapshot_created_at=request.snapshot_created_at,
            canteen_id=canteen_id,
            terminal_id=terminal_id,
            book=book,
            zone=zone,
            skew=timedelta(seconds=settings.sync_clock_skew_seconds),
            far_past=timedelta(days=settings.sync_far_past_days),
            offline=timedelta(hours=offline_policy(canteen, settings).max_offline_hours),
            card_secret=settings.card_key_secret.encode(),
        )
        for r in stored_records:
            flags += time_flags(r, ctx)
        flags += sale_flags(session, records=stored_records, ctx=ctx)
        flags += void_flags(session, records=stored_records, ctx=ctx)
    _store_flags(session, flags, now=now)
    for alert in alerts:
        session.add(alert)
        log.warning(
            "sync %s: terminal %s seq %d meal %s (%s)",
            alert.code,
            terminal_id,
            alert.seq,
            alert.meal_id,
            alert.evidence.get("reason", ""),
        )
    _advance(session, state, now=now)
    response = PushResponse(
        held_through=state.held_through,
        head_hash=state.head_hash if state.held_through > 0 else None,
        results=tuple(outcomes[i] for i in range(len(request.records))),
        server_time=now,
    )
    return PushResult(response, conflict=any(o.outcome == "conflict" for o in outcomes.values()))


def _lock_terminal(session: Session, terminal_id: uuid.UUID) -> SyncTerminal:
    table = _table(SyncTerminal)
    session.execute(
        _insert(session, table)
        .values(terminal_id=terminal_id, held_through=0, head_hash=genesis_hash(str(terminal_id)))
        .on_conflict_do_nothing()
    )
    stmt = select(SyncTerminal).where(col(SyncTerminal.terminal_id) == terminal_id).with_for_update()
    return session.exec(stmt.execution_options(populate_existing=True)).one()


def _meal_row(
    r: MealRecord,
    canonical: str,
    *,
    terminal_id: uuid.UUID,
    canteen_id: uuid.UUID,
    zone: ZoneInfo,
    request: PushRequest,
    now: datetime,
) -> dict[str, Any]:
    q = r.quote
    return {
        "meal_id": r.meal_id,
        "terminal_id": terminal_id,
        "canteen_id": canteen_id,
        "seq": r.seq,
        "kind": r.kind,
        "refers_to": r.refers_to,
        "elder_id": as_uuid(r.elder_id),
        "card_kind": r.card_kind,
        "card_key": r.card_key,
        "identified_by": r.identified_by,
        "slot": r.slot,
        "menu_item_id": r.menu_item_id,
        "payment_method": r.payment_method,
        "price": q.price,
        "subsidy": q.subsidy,
        "elder_pays": q.elder_pays,
        "operating_subsidy": q.operating_subsidy,
        "subsidised": q.subsidised,
        "rule_version": q.rule_version,
        "service_time": r.service_time,
        "service_date": r.service_time.astimezone(zone).date(),
        "terminal_clock": request.terminal_clock,
        "received_at": now,
        "canonical": canonical,
        "hash": r.hash,
        "prev_hash": r.prev_hash,
    }


# The columns of ``meals`` and their PostgreSQL array types, for :func:`_insert_meals`.
_MEAL_ARRAYS: tuple[tuple[str, str], ...] = (
    ("meal_id", "uuid"),
    ("terminal_id", "uuid"),
    ("canteen_id", "uuid"),
    ("seq", "integer"),
    ("kind", "text"),
    ("refers_to", "uuid"),
    ("elder_id", "uuid"),
    ("card_kind", "text"),
    ("card_key", "text"),
    ("identified_by", "text"),
    ("slot", "text"),
    ("menu_item_id", "text"),
    ("payment_method", "text"),
    ("price", "integer"),
    ("subsidy", "integer"),
    ("elder_pays", "integer"),
    ("operating_subsidy", "integer"),
    ("subsidised", "boolean"),
    ("rule_version", "text"),
    ("service_time", "timestamptz"),
    ("service_date", "date"),
    ("terminal_clock", "timestamptz"),
    ("received_at", "timestamptz"),
    ("canonical", "text"),
    ("hash", "text"),
    ("prev_hash", "text"),
)
_PG_INSERT_MEALS = (
    f"INSERT INTO meals ({', '.join(c for c, _t in _MEAL_ARRAYS)}) "
    f"SELECT * FROM unnest({', '.join(f'%({c})b::{t}[]' for c, t in _MEAL_ARRAYS)}) "
    "ON CONFLICT DO NOTHING RETURNING meal_id"
)


def _insert_meals(session: Session, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert ``rows`` into ``meals``, skipping any whose meal id or (terminal, seq) is taken; the ids inserted.

    On PostgreSQL one statement whose text never changes: each column travels as one array and ``unnest`` turns
    them back into rows, in the order given (so of two rows of one batch at the same seq the first wins, as with
    a multi-row ``VALUES``). psycopg prepares it after a few executions; a multi-row ``VALUES`` of 500 rows is a
    new 13,000-placeholder statement that the driver has to split and convert on every push. The arrays go in
    binary: their text form would quote and escape every character of every canonical JSON text (10x slower).
    SQLite keeps the SQLAlchemy ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (the same constraints decide)."""
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        params = {c: [row[c] for row in rows] for c, _t in _MEAL_ARRAYS}
        result = session.connection().exec_driver_sql(_PG_INSERT_MEALS, params)
        return {row[0] for row in result}
    stmt = _insert(session, _table(Meal)).on_conflict_do_nothing().returning(_table(Meal).c.meal_id)
    return set(session.execute(stmt, rows).scalars())


def _classify(
    session: Session,
    left: list[tuple[int, MealRecord, str]],
    outcomes: dict[int, RecordOutcome],
    alerts: list[SyncAlert],
    *,
    terminal_id: uuid.UUID,
    canteen_id: uuid.UUID,
) -> list[Flag]:
    """Records the database did not insert: the same meal again, or another meal where one is stored."""
    cols = (col(Meal.meal_id), col(Meal.terminal_id), col(Meal.seq), col(Meal.canonical), col(Meal.hash))
    by_id = {
        row.meal_id: row
        for row in session.execute(
            sa.select(*cols).where(among(session, col(Meal.meal_id), [r.meal_id for _i, r, _c in left]))
        )
    }
    seqs = [r.seq for _i, r, _c in left if r.meal_id not in by_id]
    by_seq = (
        {
            row.seq: row
            for row in session.execute(
                sa.select(*cols).where(col(Meal.terminal_id) == terminal_id, among(session, col(Meal.seq), seqs))
            )
        }
        if seqs
        else {}
    )
    flags: list[Flag] = []
    for i, r, canonical in left:
        stored = by_id.get(r.meal_id)
        if stored is not None and stored.canonical == canonical and stored.hash == r.hash:
            outcomes[i] = RecordOutcome(seq=r.seq, meal_id=str(r.meal_id), outcome="duplicate")
            continue
        reason = "meal_id_taken" if stored is not None else "seq_taken"
        stored = stored or by_seq.get(r.seq)
        if stored is None:  # inserted by nobody and held by nobody: cannot happen under the terminal lock
            raise RuntimeError(f"meal {r.meal_id} neither inserted nor found")
        outcomes[i] = RecordOutcome(seq=r.seq, meal_id=str(r.meal_id), outcome="conflict", detail=reason)
        evidence = {
            "reason": reason,
            "stored_meal_id": str(stored.meal_id),
            "stored_terminal_id": str(stored.terminal_id),
            "stored_seq": stored.seq,
            "stored_hash": stored.hash,
            "sent_hash": r.hash,
            "sent_seq": r.seq,
        }
        alerts.append(
            SyncAlert(
                code="conflict",
                terminal_id=terminal_id,
                canteen_id=canteen_id,
                meal_id=r.meal_id,
                seq=r.seq,
                evidence=evidence,
            )
        )
        if stored.terminal_id == terminal_id:
            flags.append(Flag(stored.meal_id, f"{CHAIN_PREFIX}fork", evidence))
    return flags


def _chain_flags(session: Session, state: SyncTerminal, new: list[MealRecord], made: dict[int, bytes]) -> list[Flag]:
    """Chain faults around the newly stored records: verified in seq order from the nearest stored record below
    them, through the stored record just above them (does it still link?). ``made`` holds the canonical bytes
    already made of the new records (by object identity)."""
    terminal = state.terminal_id
    seqs = sorted(r.seq for r in new)
    low, high = seqs[0], seqs[-1]
    if low == state.held_through + 1:  # the usual push: right after what is held, whose head is known
        start = ChainHead(terminal_id=str(terminal), seq=state.held_through, hash=state.head_hash)
    else:
        below = session.execute(
            sa.select(col(Meal.seq), col(Meal.hash))
            .where(col(Meal.terminal_id) == terminal, col(Meal.seq) < low)
            .order_by(col(Meal.seq).desc())
            .limit(1)
        ).first()
        start = (
            ChainHead(terminal_id=str(terminal), seq=below.seq, hash=below.hash)
            if below is not None
            else ChainHead.genesis(str(terminal))
        )
    # Stored records in the range that were not just inserted (each new record holds its own seq): usually
    # none, or the one right above.
    older = session.execute(
        sa.select(col(Meal.seq), col(Meal.canonical), col(Meal.hash)).where(
            col(Meal.terminal_id) == terminal,
            col(Meal.seq) > start.seq,
            col(Meal.seq) <= high + 1,
            ~among(session, col(Meal.seq), seqs),
        )
    )
    records = sorted([*new, *(_from_row(row.canonical, row.hash) for row in older)], key=lambda r: r.seq)
    return [
        Flag(
            f.meal_id,
            f"{CHAIN_PREFIX}{f.kind}",
            {"seq": f.seq, "expected": f.expected, "found": f.found, "verified_from_seq": start.seq},
        )
        for f in verify_chain(records, start=start, canonical=lambda r: made.get(id(r)) or canonical_bytes(r))
    ]


def _from_row(canonical: str, record_hash: str) -> MealRecord:
    data = json.loads(canonical)
    data["hash"] = record_hash
    return MealRecord.model_validate(data)


def _store_flags(session: Session, flags: Sequence[Flag], *, now: datetime) -> None:
    """Insert flags once per (meal, code), in a fixed order (two intakes flagging the same meals cannot
    deadlock); a flag already there stays as it was."""
    if not flags:
        return
    unique = {(f.meal_id, f.code): f for f in reversed(flags)}  # the first flag of a code wins
    info = {
        row.meal_id: (row.canteen_id, row.service_date)
        for row in session.execute(
            sa.select(col(Meal.meal_id), col(Meal.canteen_id), col(Meal.service_date)).where(
                among(session, col(Meal.meal_id), {m for m, _c in unique})
            )
        )
    }
    values = [
        {
            "meal_id": meal_id,
            "code": code,
            "canteen_id": info[meal_id][0],
            "service_date": info[meal_id][1],
            "evidence": unique[(meal_id, code)].evidence,
            "created_at": now,
        }
        for meal_id, code in sorted(unique, key=lambda k: (str(k[0]), k[1]))
    ]
    session.execute(_insert(session, _table(MealFlag)).on_conflict_do_nothing(), values)


def _advance(session: Session, state: SyncTerminal, *, now: datetime) -> None:
    """Move the contiguous head over whatever is now held right after it; mark gaps filled."""
    rows = session.execute(
        sa.select(col(Meal.seq), col(Meal.hash))
        .where(col(Meal.terminal_id) == state.terminal_id, col(Meal.seq) > state.held_through)
        .order_by(col(Meal.seq))
    )
    held, head = state.held_through, state.head_hash
    for row in rows:
        if row.seq != held + 1:
            break
        held, head = row.seq, row.hash
    if held != state.held_through:
        filled = sa.select(col(Meal.meal_id)).where(
            col(Meal.terminal_id) == state.terminal_id, col(Meal.seq) <= held, col(Meal.seq) > state.held_through
        )
        session.execute(
            sa.update(MealFlag)
            .where(
                col(MealFlag.code) == f"{CHAIN_PREFIX}gap",
                col(MealFlag.resolved_at).is_(None),
                col(MealFlag.meal_id).in_(filled),
            )
            .values(resolved_at=now)
        )
    state.held_through, state.head_hash, state.last_push_at = held, head, now
    session.add(state)
    session.flush()


# -- pull ------------------------------------------------------------------------------------------------------
#
# The cursor is opaque to the terminal: base64url of a small JSON object.
#   {"v": 1, "c": N}                       deltas after registry change N
#   {"v": 1, "c": N, "t": M, "a": ID}      a delta being paged: changes (N, M], elders after ID still to send
#   {"v": 1, "f": N, "a": ID}              a full resync being paged (taken at change N), elders after ID
# A cursor that does not decode, or names a change the server has not made (a restored database), starts a
# full resync. Writes that land while a full resync is paged come as deltas after it (it ends at "c": N).

_CURSOR_VERSION = 1


@dataclass(frozen=True, slots=True)
class Cursor:
    change_no: int
    target: int | None = None
    after: uuid.UUID | None = None
    full: bool = False

    def encode(self) -> str:
        data: dict[str, Any] = {"v": _CURSOR_VERSION, ("f" if self.full else "c"): self.change_no}
        if self.target is not None:
            data["t"] = self.target
        if self.after is not None:
            data["a"] = str(self.after)
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            if not isinstance(data, dict) or data.get("v") != _CURSOR_VERSION:
                return None
            full = "f" in data
            number = data["f"] if full else data["c"]
            target = data.get("t")
            after = uuid.UUID(data["a"]) if data.get("a") is not None else None
            if not isinstance(number, int) or not (target is None or isinstance(target, int)):
                return None
            return cls(change_no=number, target=target, after=after, full=full)
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            return None


def _in_roster(profile_status: EnrolmentStatus | None, has_history: bool) -> bool:
    """Who a terminal should know: anyone with an enrolment history not closed (cancelled, deceased) today.
    Suspended elders stay (pricing says why they pay in full); a future cancellation travels in the profile."""
    return has_history and profile_status not in CLOSED


def pull(
    session: Session,
    *,
    actor: Principal,
    protocol: int,
    cursor: str | None,
    settings: Settings,
    now: datetime | None = None,
) -> PullResponse:
    check_protocol(protocol)
    if actor.kind != "terminal" or actor.canteen_id is None:
        raise Forbidden("此操作仅限终端", "terminals only")
    now = now or utcnow()
    canteen = session.get(Canteen, actor.canteen_id)
    assert canteen is not None
    book = load_book(session, canteen.programme)
    today = now.astimezone(programme_zone(book)).date()
    current = current_change_no(session.connection())
    at = Cursor.decode(cursor)
    if at is not None and (at.change_no > current or (at.target is not None and at.target > current)):
        at = None
    page = settings.sync_roster_page
    policy = offline_policy(canteen, settings)
    category_key = settings.category_key.encode()
    card_secret = settings.card_key_secret.encode()

    if at is None or at.full:
        taken_at = current if at is None else at.change_no
        stmt = select(Elder).order_by(col(Elder.id)).limit(page + 1)
        if at is not None and at.after is not None:
            stmt = stmt.where(col(Elder.id) > at.after)
        elders = list(session.exec(stmt))
        more = len(elders) > page
        elders = elders[:page]
        roster, _removed = _roster(session, elders, today=today, category_key=category_key, card_secret=card_secret)
        nxt = Cursor(change_no=taken_at, after=elders[-1].id, full=True) if more else Cursor(change_no=taken_at)
        return PullResponse(
            cursor=nxt.encode(),
            full=True,
            more=more,
            rules=rulebook_for_terminal(book, category_key) if book is not None else None,
            menu=_menu(session, canteen.id, today),
            roster=tuple(roster),
            revoked_cards=_revoked_keys(session, None, card_secret),
            offline_policy=policy,
            server_time=now,
        )

    target = at.target if at.target is not None else current
    changes = list(
        session.exec(
            select(SyncChange).where(col(SyncChange.change_no) > at.change_no, col(SyncChange.change_no) <= target)
        )
    )
    refs: dict[str, set[str]] = {}
    for ch in changes:
        refs.setdefault(ch.kind, set()).add(ch.ref)
    elder_ids = {u for u in (as_uuid(r) for r in refs.get("elder", ())) if u is not None}
    imports = [u for u in (as_uuid(r) for r in refs.get("import", ())) if u is not None]
    if imports:
        elder_ids.update(session.exec(select(Elder.id).where(col(Elder.import_id).in_(imports))))
    pending = sorted(e for e in elder_ids if at.after is None or e > at.after)
    more = len(pending) > page
    pending = pending[:page]
    elders = (
        list(session.exec(select(Elder).where(col(Elder.id).in_(pending)).order_by(col(Elder.id)))) if pending else []
    )
    roster, removed = _roster(session, elders, today=today, category_key=category_key, card_secret=card_secret)
    first = at.after is None
    canteen_changed = str(canteen.id) in refs.get("canteen", set())
    rules_changed = canteen_changed or canteen.programme in refs.get("rules", set())
    menu_changed = canteen_changed or str(canteen.id) in refs.get("menu", set())
    card_ids = [u for u in (as_uuid(r) for r in refs.get("card", ())) if u is not None]
    nxt = Cursor(change_no=at.change_no, target=target, after=pending[-1]) if more else Cursor(change_no=target)
    return PullResponse(
        cursor=nxt.encode(),
        full=False,
        more=more,
        rules=rulebook_for_terminal(book, category_key) if first and rules_changed and book is not None else None,
        menu=_menu(session, canteen.id, today) if first and menu_changed else None,
        roster=tuple(roster),
        removed_elders=tuple(removed),
        revoked_cards=_revoked_keys(session, card_ids, card_secret) if first and card_ids else (),
        offline_policy=policy,
        server_time=now,
    )


def _roster(
    session: Session, elders: list[Elder], *, today: date, category_key: bytes, card_secret: bytes
) -> tuple[list[RosterEntry], list[str]]:
    """Roster entries of the elders a terminal should know, and the ids of those it should forget."""
    profiles = profiles_of(session, [e.id for e in elders])
    cards: dict[uuid.UUID, list[str]] = {}
    if elders:
        for card in session.exec(
            select(Card).where(col(Card.elder_id).in_([e.id for e in elders]), col(Card.revoked_at).is_(None))
        ):
            cards.setdefault(card.elder_id, []).append(card_key_digest(card_secret, card.kind, card.serial))
    roster: list[RosterEntry] = []
    removed: list[str] = []
    for e in elders:
        profile = profiles[e.id]
        if not _in_roster(profile.status_on(today), bool(profile.statuses)):
            removed.append(str(e.id))
            continue
        roster.append(
            RosterEntry(
                elder_id=str(e.id),
                masked_name=mask_name(e.name),
                birth_year=e.birth_date.year,
                id_tail=e.id_tail.upper(),
                cards=tuple(sorted(cards.get(e.id, []))),
                profile=profile_for_terminal(profile, category_key),
            )
        )
    return roster, removed


def _menu(session: Session, canteen_id: uuid.UUID, today: date) -> tuple[MenuItem, ...]:
    """The canteen's items still on offer today or later (ended ones are left out)."""
    stmt = select(MenuRow).where(
        col(MenuRow.canteen_id) == canteen_id,
        sa.or_(col(MenuRow.effective_to).is_(None), col(MenuRow.effective_to) >= today),
    )
    return tuple(
        MenuItem(
            id=str(m.id),
            name=m.name[:40],
            price=m.price,
            slot=m.slot,
            valid_from=m.effective_from,
            valid_to=m.effective_to,
        )
        for m in session.exec(stmt.order_by(col(MenuRow.slot), col(MenuRow.effective_from), col(MenuRow.name)))
    )


def _revoked_keys(session: Session, card_ids: list[uuid.UUID] | None, card_secret: bytes) -> tuple[str, ...]:
    """Keys of revoked bindings (of ``card_ids``, or all), except cards that are bound again now."""
    stmt = select(Card.kind, Card.serial).where(col(Card.revoked_at).is_not(None))
    if card_ids is not None:
        stmt = stmt.where(col(Card.id).in_(card_ids))
    revoked = {card_key_digest(card_secret, kind, serial) for kind, serial in session.exec(stmt)}
    if not revoked:
        return ()
    active = {
        card_key_digest(card_secret, kind, serial)
        for kind, serial in session.exec(select(Card.kind, Card.serial).where(col(Card.revoked_at).is_(None)))
    }
    return tuple(sorted(revoked - active))
