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

**Pull** is :mod:`server.sync.pull`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.flags import CHAIN_PREFIX
from ruyi.meal import ChainHead, MealRecord, canonical_bytes, from_canonical, genesis_hash, verify_chain
from ruyi.pricing import Quote
from ruyi.rules import RuleBook
from ruyi.sync import (
    SUPPORTED_PROTOCOLS,
    OfflinePolicy,
    PushRequest,
    PushResponse,
    RecordOutcome,
    ZReportAck,
    ZReportIn,
)
from server.auth.principal import Principal
from server.base import LOCAL_ZONE, as_uuid, utcnow
from server.canteens.tables import Canteen
from server.config import Settings
from server.errors import Forbidden, ServerError
from server.meals import queries, rollups
from server.meals.tables import Meal, MealFlag
from server.rules.service import load_book
from server.sql import insert_ignore, table_of
from server.sync.intake import Flag, IntakeContext, sale_flags, time_flags, void_flags
from server.sync.tables import SyncAlert, SyncTerminal, SyncZReport

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
    values = {c.name: getattr(row, c.name) for c in table_of(SyncZReport).columns if c.name != "id"}
    if insert_ignore(session, SyncZReport, [values], returning="id"):
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


Candidate = tuple[int, MealRecord, str]
"""A record to insert: its index in the batch, the record, its canonical text."""


@dataclass(slots=True)
class _Batch:
    """What one push finds, record by record, on its way."""

    outcomes: dict[int, RecordOutcome]
    alerts: list[SyncAlert]
    flags: list[Flag]


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
    batch = _Batch(outcomes={}, alerts=[], flags=[])
    candidates = _candidates(request, batch, terminal_id=terminal_id, canteen_id=canteen_id)
    own = {"terminal_id": terminal_id, "canteen_id": canteen_id, "terminal_clock": request.terminal_clock}
    own["received_at"], zone = now, programme_zone(book)
    rows = [_meal_row(r, canonical, own, zone) for _i, r, canonical in candidates]
    inserted = _insert_meals(session, rows)
    rollups.apply_intake(session, rows=rows, inserted=inserted)
    stored = [(i, r, c) for i, r, c in candidates if r.meal_id in inserted]
    for i, r, _c in stored:
        batch.outcomes[i] = RecordOutcome(seq=r.seq, meal_id=str(r.meal_id), outcome="stored")
    left = [(i, r, c) for i, r, c in candidates if r.meal_id not in inserted]
    if left:
        _classify(session, left, batch, terminal_id=terminal_id, canteen_id=canteen_id)
    if stored:
        records = [r for _i, r, _c in stored]
        batch.flags += _chain_flags(session, state, records, {id(r): c.encode() for _i, r, c in stored})
        ctx = _context(request, canteen, book, settings, terminal_id=terminal_id, now=now)
        for r in records:
            batch.flags += time_flags(r, ctx)
        batch.flags += sale_flags(session, records=records, ctx=ctx)
        batch.flags += void_flags(session, records=records, ctx=ctx)
    _store_flags(session, batch.flags, now=now)
    _store_alerts(session, batch.alerts, terminal_id=terminal_id)
    _advance(session, state, now=now)
    response = PushResponse(
        held_through=state.held_through,
        head_hash=state.head_hash if state.held_through > 0 else None,
        results=tuple(batch.outcomes[i] for i in range(len(request.records))),
        server_time=now,
    )
    return PushResult(response, conflict=any(o.outcome == "conflict" for o in batch.outcomes.values()))


def _candidates(
    request: PushRequest, batch: _Batch, *, terminal_id: uuid.UUID, canteen_id: uuid.UUID
) -> list[Candidate]:
    """The records to insert: another terminal's or canteen's are rejected (with an alert), a meal sent twice
    in the batch is judged against its first copy."""
    candidates: dict[uuid.UUID, Candidate] = {}
    for i, r in enumerate(request.records):
        if r.terminal_id != str(terminal_id) or r.canteen_id != str(canteen_id):
            which = "terminal" if r.terminal_id != str(terminal_id) else "canteen"
            batch.outcomes[i] = RecordOutcome(
                seq=r.seq, meal_id=str(r.meal_id), outcome="rejected", detail=f"{which}_mismatch"
            )
            batch.alerts.append(
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
            batch.outcomes[i] = RecordOutcome(
                seq=r.seq, meal_id=str(r.meal_id), outcome="duplicate" if same else "conflict", detail="in_batch"
            )
            continue
        candidates[r.meal_id] = (i, r, canonical)
    return list(candidates.values())


def _context(
    request: PushRequest,
    canteen: Canteen,
    book: RuleBook | None,
    settings: Settings,
    *,
    terminal_id: uuid.UUID,
    now: datetime,
) -> IntakeContext:
    """What the intake checks need to know besides the records."""
    return IntakeContext(
        now=now,
        terminal_clock=request.terminal_clock,
        snapshot_created_at=request.snapshot_created_at,
        canteen_id=canteen.id,
        terminal_id=terminal_id,
        book=book,
        zone=programme_zone(book),
        skew=timedelta(seconds=settings.sync_clock_skew_seconds),
        far_past=timedelta(days=settings.sync_far_past_days),
        offline=timedelta(hours=offline_policy(canteen, settings).max_offline_hours),
        card_secret=settings.card_key_secret.encode(),
    )


def _lock_terminal(session: Session, terminal_id: uuid.UUID) -> SyncTerminal:
    head = {"terminal_id": terminal_id, "held_through": 0, "head_hash": genesis_hash(str(terminal_id))}
    insert_ignore(session, SyncTerminal, [head])
    stmt = select(SyncTerminal).where(col(SyncTerminal.terminal_id) == terminal_id).with_for_update()
    return session.exec(stmt.execution_options(populate_existing=True)).one()


_QUOTED = frozenset(Quote.model_fields) - {"service_date"}
"""Meal columns the record's quote gives."""
_OWN = frozenset({"terminal_id", "canteen_id", "terminal_clock", "received_at"})
"""Meal columns of the push, not of the record (its terminal and canteen are the caller's, checked)."""
_GIVEN = [c.name for c in table_of(Meal).columns if c.name not in _OWN | {"elder_id", "service_date", "canonical"}]
"""Meal columns that are the record's (or its quote's) fields of the same name."""


def _meal_row(r: MealRecord, canonical: str, own: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """The ``meals`` row of a record, by column name: its fields, and what the push adds (``own``)."""
    q = r.quote
    row = {name: getattr(q if name in _QUOTED else r, name) for name in _GIVEN}
    row |= own
    row["elder_id"] = as_uuid(r.elder_id)
    row["service_date"] = r.service_time.astimezone(zone).date()
    row["canonical"] = canonical
    return row


def _insert_meals(session: Session, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert ``rows`` into ``meals``, skipping any whose meal id or (terminal, seq) is taken; the ids inserted.
    On PostgreSQL one statement whose text never changes (:func:`server.sql.insert_ignore`: measured in
    bench/server_intake_phases.py)."""
    return set(insert_ignore(session, Meal, rows, returning="meal_id"))


def _classify(
    session: Session, left: list[Candidate], batch: _Batch, *, terminal_id: uuid.UUID, canteen_id: uuid.UUID
) -> None:
    """Records the database did not insert: the same meal again, or another meal where one is stored."""
    by_id = {row.meal_id: row for row in queries.held_by_id(session, [r.meal_id for _i, r, _c in left])}
    seqs = [r.seq for _i, r, _c in left if r.meal_id not in by_id]
    by_seq = {row.seq: row for row in queries.held_by_seq(session, terminal_id, seqs)} if seqs else {}
    for i, r, canonical in left:
        stored = by_id.get(r.meal_id)
        if stored is not None and stored.canonical == canonical and stored.hash == r.hash:
            batch.outcomes[i] = RecordOutcome(seq=r.seq, meal_id=str(r.meal_id), outcome="duplicate")
            continue
        reason = "meal_id_taken" if stored is not None else "seq_taken"
        stored = stored or by_seq.get(r.seq)
        if stored is None:  # inserted by nobody and held by nobody: cannot happen under the terminal lock
            raise RuntimeError(f"meal {r.meal_id} neither inserted nor found")
        batch.outcomes[i] = RecordOutcome(seq=r.seq, meal_id=str(r.meal_id), outcome="conflict", detail=reason)
        evidence = {
            "reason": reason,
            "stored_meal_id": str(stored.meal_id),
            "stored_terminal_id": str(stored.terminal_id),
            "stored_seq": stored.seq,
            "stored_hash": stored.hash,
            "sent_hash": r.hash,
            "sent_seq": r.seq,
        }
        batch.alerts.append(
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
            batch.flags.append(Flag(stored.meal_id, f"{CHAIN_PREFIX}fork", evidence))


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
        below = queries.last_below(session, terminal, low)
        start = (
            ChainHead(terminal_id=str(terminal), seq=below.seq, hash=below.hash)
            if below is not None
            else ChainHead.genesis(str(terminal))
        )
    # Stored records in the range that were not just inserted (each new record holds its own seq): usually
    # none, or the one right above.
    older = queries.chain_between(session, terminal, above=start.seq, through=high + 1, skip=seqs)
    records = sorted([*new, *(from_canonical(row.canonical, row.hash) for row in older)], key=lambda r: r.seq)
    return [
        Flag(
            f.meal_id,
            f"{CHAIN_PREFIX}{f.kind}",
            {"seq": f.seq, "expected": f.expected, "found": f.found, "verified_from_seq": start.seq},
        )
        for f in verify_chain(records, start=start, canonical=lambda r: made.get(id(r)) or canonical_bytes(r))
    ]


def _store_flags(session: Session, flags: Sequence[Flag], *, now: datetime) -> None:
    """Insert flags once per (meal, code), in a fixed order (two intakes flagging the same meals cannot
    deadlock); a flag already there stays as it was."""
    if not flags:
        return
    unique = {(f.meal_id, f.code): f for f in reversed(flags)}  # the first flag of a code wins
    info = queries.canteen_days(session, {m for m, _c in unique})
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
    insert_ignore(session, MealFlag, values)


def _store_alerts(session: Session, alerts: list[SyncAlert], *, terminal_id: uuid.UUID) -> None:
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


def _advance(session: Session, state: SyncTerminal, *, now: datetime) -> None:
    """Move the contiguous head over whatever is now held right after it; mark gaps filled."""
    rows = queries.seqs_above(session, state.terminal_id, state.held_through)
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
