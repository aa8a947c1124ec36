"""Intake checks: what the server finds on newly stored meals, as flags for review. A check never refuses a
meal (it happened and the elder paid); it only says what a reviewer should look at and why.

Every sale is quoted again with :func:`ruyi.pricing.quote` under the programme's full rule book, the server's
profile of the elder (status history, categories) and the elder's other meals that day at every canteen as the
server holds them (not voided, earlier by service time); its amounts are compared with what the terminal
charged. Limits are also checked over the whole day, so the later of two subsidised meals at two canteens is
flagged whichever of them reaches the server first.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any, cast
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange
from ruyi.meal import MealRecord
from ruyi.pricing import WITHHOLD_REASONS, MealRequest, PriorMeal, Quote, quote
from ruyi.reasons import Reason
from ruyi.rules import RuleBook
from ruyi.sync import card_key_digest
from server.canteens.tables import MenuItem
from server.cards.tables import Card
from server.elders.tables import Elder, ElderCategory, ElderStatusChange
from server.meals.tables import Meal
from server.sync.changes import current_change_no
from server.sync.tables import SyncChange

NOT_ELIGIBLE = frozenset({EnrolmentStatus.SUSPENDED, EnrolmentStatus.CANCELLED, EnrolmentStatus.DECEASED})
COMPARED = ("price", "subsidy", "elder_pays", "operating_subsidy", "subsidised", "rule_version")


@dataclass(frozen=True, slots=True)
class Flag:
    meal_id: uuid.UUID
    code: str
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class IntakeContext:
    now: datetime
    terminal_clock: datetime
    snapshot_created_at: datetime | None
    canteen_id: uuid.UUID
    terminal_id: uuid.UUID
    book: RuleBook | None
    zone: ZoneInfo
    skew: timedelta
    far_past: timedelta
    offline: timedelta
    card_secret: bytes


def _iso(value: datetime) -> str:
    return value.isoformat()


def among(session: Session, column: Any, values: Iterable[Any]) -> sa.ColumnElement[bool]:
    """``column`` is one of ``values``. On PostgreSQL ``= ANY(array)``: one parameter, so the statement text is
    the same for every batch (psycopg parses it once and prepares it) where ``IN (…)`` would spell out a
    placeholder per value and make a new statement for every length. SQLite gets ``IN``."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return cast(
            sa.ColumnElement[bool], column == sa.any_(sa.bindparam(None, values, postgresql.ARRAY(column.type)))
        )
    return cast(sa.ColumnElement[bool], column.in_(values))


@lru_cache(maxsize=65_536)
def as_uuid(text: str | None) -> uuid.UUID | None:
    """The UUID ``text`` spells, or None (cached: the same elder and menu ids come in every batch)."""
    if text is None:
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def time_flags(r: MealRecord, ctx: IntakeContext) -> list[Flag]:
    """Clock and service-time plausibility, and how the elder was identified."""
    out: list[Flag] = []
    skew = ctx.terminal_clock - ctx.now
    if abs(skew) > ctx.skew:
        out.append(
            Flag(
                r.meal_id,
                "clock_skew",
                {
                    "terminal_clock": _iso(ctx.terminal_clock),
                    "server_time": _iso(ctx.now),
                    "skew_seconds": round(skew.total_seconds()),
                },
            )
        )
    if r.service_time > ctx.now + ctx.skew:
        out.append(
            Flag(
                r.meal_id,
                "future_service_time",
                {"service_time": _iso(r.service_time), "server_time": _iso(ctx.now)},
            )
        )
    if r.service_time < ctx.now - ctx.far_past:
        out.append(
            Flag(
                r.meal_id,
                "far_past_service_time",
                {
                    "service_time": _iso(r.service_time),
                    "server_time": _iso(ctx.now),
                    "limit_days": ctx.far_past.days,
                },
            )
        )
    if r.kind != "sale":
        return out
    snap = ctx.snapshot_created_at
    if snap is not None and r.service_time - snap > ctx.offline:
        out.append(
            Flag(
                r.meal_id,
                "stale_roster",
                {
                    "snapshot_created_at": _iso(snap),
                    "service_time": _iso(r.service_time),
                    "limit_hours": round(ctx.offline.total_seconds() / 3600),
                },
            )
        )
    if r.identified_by == "manual":
        out.append(Flag(r.meal_id, "manual_identification", {"cashier": r.cashier}))
    return out


@dataclass(frozen=True, slots=True)
class _DayMeal:
    meal_id: uuid.UUID
    service_time: datetime
    slot: str
    canteen_id: uuid.UUID
    subsidised: bool


def profiles_of(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, ElderProfile]:
    """Pricing profiles (status history, categories) of these elders, in three column queries (no ORM objects:
    intake builds hundreds of these per batch)."""
    if not ids:
        return {}
    elders = session.execute(
        sa.select(col(Elder.id), col(Elder.birth_date), col(Elder.area)).where(among(session, col(Elder.id), ids))
    ).all()
    statuses: dict[uuid.UUID, list[StatusChange]] = defaultdict(list)
    for row in session.execute(
        sa.select(col(ElderStatusChange.elder_id), col(ElderStatusChange.status), col(ElderStatusChange.effective_from))
        .where(among(session, col(ElderStatusChange.elder_id), ids))
        .order_by(col(ElderStatusChange.effective_from), col(ElderStatusChange.created_at))
    ):
        statuses[row.elder_id].append(
            StatusChange(status=EnrolmentStatus(row.status), effective_from=row.effective_from)
        )
    cats: dict[uuid.UUID, list[CategorySpan]] = defaultdict(list)
    for row in session.execute(
        sa.select(
            col(ElderCategory.elder_id),
            col(ElderCategory.code),
            col(ElderCategory.valid_from),
            col(ElderCategory.valid_to),
        )
        .where(among(session, col(ElderCategory.elder_id), ids))
        .order_by(col(ElderCategory.valid_from), col(ElderCategory.code))
    ):
        cats[row.elder_id].append(CategorySpan(code=row.code, valid_from=row.valid_from, valid_to=row.valid_to))
    return {
        e.id: ElderProfile(
            elder_id=str(e.id),
            birth_date=e.birth_date,
            area=e.area,
            statuses=tuple(statuses[e.id]),
            categories=tuple(cats[e.id]),
        )
        for e in elders
    }


class ProfileCache:
    """Pricing profiles kept between pushes for as long as the registry has not changed them.

    The registry change log (:mod:`server.sync.changes`) numbers every committed registry write in commit
    order (the number is taken under a row lock held to commit). Each use reads the current number first: any
    elder logged since the number the cache was filled at is dropped (an import, or a number that went back, as
    after a restore, drops everything), then only missing elders are read. Profiles read while the number moved
    on are not kept, so the cache never holds a profile older than its number."""

    def __init__(self, max_size: int = 100_000) -> None:
        self._max = max_size
        self._at = -1
        self._profiles: dict[uuid.UUID, ElderProfile] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, ElderProfile]:
        if not ids:
            return {}
        now = current_change_no(session.connection())
        with self._lock:
            if now != self._at:
                self._forget_since(session, now)
            hit = {i: p for i in ids if (p := self._profiles.get(i)) is not None}
        fetched = profiles_of(session, [i for i in ids if i not in hit])
        with self._lock:
            if self._at == now:
                if len(self._profiles) + len(fetched) > self._max:
                    self._profiles.clear()
                self._profiles.update(fetched)
        return hit | fetched

    def _forget_since(self, session: Session, now: int) -> None:
        if self._at < 0 or now < self._at:
            self._profiles.clear()
        elif self._profiles:
            changed = session.execute(
                sa.select(col(SyncChange.kind), col(SyncChange.ref)).where(
                    col(SyncChange.change_no) > self._at,
                    col(SyncChange.change_no) <= now,
                    col(SyncChange.kind).in_(("elder", "import")),
                )
            ).all()
            if any(kind == "import" for kind, _ref in changed):
                self._profiles.clear()
            for _kind, ref in changed:
                elder_id = as_uuid(ref)
                if elder_id is not None:
                    self._profiles.pop(elder_id, None)
        self._at = now


_CACHES: WeakKeyDictionary[Any, ProfileCache] = WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def profile_cache(session: Session) -> ProfileCache:
    """The profile cache of this session's database engine (one per engine, so per server process)."""
    engine = session.get_bind()
    with _CACHES_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = ProfileCache()
        return cache


def elder_day_meals(
    session: Session, elder_ids: list[uuid.UUID], days: set[Any]
) -> dict[tuple[uuid.UUID, Any], list[_DayMeal]]:
    """Sales of these elders on these service dates, at every canteen, not voided, in service-time order."""
    out: dict[tuple[uuid.UUID, Any], list[_DayMeal]] = defaultdict(list)
    if not elder_ids or not days:
        return out
    voids = sa.table("meals", sa.column("kind"), sa.column("refers_to")).alias("voids")
    voided = sa.exists().where(voids.c.kind == "void", voids.c.refers_to == col(Meal.meal_id))
    stmt = (
        sa.select(
            col(Meal.meal_id),
            col(Meal.elder_id),
            col(Meal.service_date),
            col(Meal.service_time),
            col(Meal.slot),
            col(Meal.canteen_id),
            col(Meal.subsidised),
        )
        .where(
            among(session, col(Meal.elder_id), elder_ids),
            among(session, col(Meal.service_date), sorted(days)),
            col(Meal.kind) == "sale",
        )
        .where(~voided)
    )
    for row in session.execute(stmt):
        out[(row.elder_id, row.service_date)].append(
            _DayMeal(row.meal_id, row.service_time, row.slot, row.canteen_id, row.subsidised)
        )
    for day_meals in out.values():
        day_meals.sort(key=lambda m: (m.service_time, m.meal_id))
    return out


def _revoked_at(card: Card, zone: ZoneInfo) -> datetime | None:
    """When a revoked card stopped counting: its revocation date's midnight, or when it was recorded if earlier."""
    if card.revoked_at is None:
        return None
    if card.revoked_on is None:
        return card.revoked_at
    return min(card.revoked_at, datetime.combine(card.revoked_on, time(0), zone))


def _revoked_card_flag(r: MealRecord, cards: list[Card], ctx: IntakeContext) -> Flag | None:
    """A flag when the tapped card (by its key) is one of the elder's bindings revoked before the service time."""
    for card in cards:
        stopped = _revoked_at(card, ctx.zone)
        if (
            stopped is not None
            and r.service_time >= stopped
            and card_key_digest(ctx.card_secret, card.kind, card.serial) == r.card_key
        ):
            evidence = {
                "card_id": str(card.id),
                "revoked_on": card.revoked_on.isoformat() if card.revoked_on else None,
                "service_time": _iso(r.service_time),
                "subsidised": r.quote.subsidised,
            }
            return Flag(r.meal_id, "card_revoked", evidence)
    return None


def _quote_dict(q: Quote) -> dict[str, Any]:
    data: dict[str, Any] = q.model_dump(mode="json")
    return data


def sale_flags(session: Session, *, records: list[MealRecord], ctx: IntakeContext) -> list[Flag]:
    """Re-quote, eligibility, card, menu and limit checks of newly stored sales (already in the meals table)."""
    sales = [r for r in records if r.kind == "sale"]
    if not sales:
        return []
    out: list[Flag] = []
    elder_of = {r.meal_id: as_uuid(r.elder_id) for r in sales}
    ids = sorted({e for e in elder_of.values() if e is not None})
    profiles = profile_cache(session).get(session, ids)
    cards: dict[uuid.UUID, list[Card]] = defaultdict(list)
    if ids:
        revoked = select(Card).where(among(session, col(Card.elder_id), ids), col(Card.revoked_at).is_not(None))
        for card in session.exec(revoked):  # only revoked bindings matter here (few)
            cards[card.elder_id].append(card)
    item_ids = sorted({i for i in (as_uuid(r.menu_item_id) for r in sales) if i is not None})
    items = (
        {
            m.id: m
            for m in session.exec(
                select(MenuItem).where(
                    among(session, col(MenuItem.id), item_ids), col(MenuItem.canteen_id) == ctx.canteen_id
                )
            )
        }
        if item_ids
        else {}
    )
    day_of = {r.meal_id: r.service_time.astimezone(ctx.zone).date() for r in sales}
    known = [e for e in ids if e in profiles]
    day_meals = elder_day_meals(session, known, {day_of[r.meal_id] for r in sales if elder_of[r.meal_id] in profiles})

    for r in sales:
        day = day_of[r.meal_id]
        elder_id = elder_of[r.meal_id]
        elder = profiles.get(elder_id) if elder_id is not None else None
        item = items.get(as_uuid(r.menu_item_id) or uuid.UUID(int=0))
        price = r.quote.price
        if item is None or not (item.effective_from <= day and (item.effective_to is None or day <= item.effective_to)):
            out.append(Flag(r.meal_id, "unknown_menu_item", {"menu_item_id": r.menu_item_id, "service_date": str(day)}))
        else:
            price = item.price
        if r.elder_id is not None and elder is None:
            out.append(Flag(r.meal_id, "unknown_elder", {"elder_id": r.elder_id}))
            continue
        withhold = next((x for x in r.quote.reasons if x in WITHHOLD_REASONS), None)
        if elder is not None and elder_id is not None:
            status = elder.status_on(day)
            if status in NOT_ELIGIBLE:
                out.append(
                    Flag(
                        r.meal_id,
                        "elder_not_eligible",
                        {"status": str(status), "service_date": day.isoformat(), "subsidised": r.quote.subsidised},
                    )
                )
            card_flag = _revoked_card_flag(r, cards[elder_id], ctx) if r.card_key is not None else None
            if card_flag is not None:
                out.append(card_flag)
                withhold = withhold or Reason.CARD_REVOKED
        if ctx.book is None:
            continue
        history: list[PriorMeal] = []
        if elder_id is not None and elder is not None:
            mine = (r.service_time, r.meal_id)
            history = [
                PriorMeal(
                    service_time=m.service_time, slot=m.slot, canteen_id=str(m.canteen_id), subsidised=m.subsidised
                )
                for m in day_meals.get((elder_id, day), [])
                if m.meal_id != r.meal_id and (m.service_time, m.meal_id) < mine
            ]
        request = MealRequest(
            canteen_id=str(ctx.canteen_id),
            slot=r.slot,
            price=price,
            service_time=r.service_time,
            menu_item_id=r.menu_item_id,
            withhold=withhold,
        )
        server = quote(elder, request, history, ctx.book)
        if any(getattr(server, f) != getattr(r.quote, f) for f in COMPARED):
            out.append(
                Flag(
                    r.meal_id,
                    "quote_mismatch",
                    {
                        "differs": [f for f in COMPARED if getattr(server, f) != getattr(r.quote, f)],
                        "terminal": _quote_dict(r.quote),
                        "server": _quote_dict(server),
                    },
                )
            )
    if ctx.book is not None:
        out.extend(_limit_flags(ctx.book, {(elder_of[r.meal_id], day_of[r.meal_id]) for r in sales}, day_meals))
    return out


VOID_COMPARED = ("price", "subsidy", "elder_pays", "subsidised")


def void_flags(session: Session, *, records: list[MealRecord], ctx: IntakeContext) -> list[Flag]:
    """Voids a terminal would not have made: of no stored sale of the same terminal, of a sale already voided
    (by a void with a lower meal id, the one settlement honours), on another service day, or not repeating
    the sale's elder and amounts. One ``void_irregular`` flag per void, with every problem found."""
    voids = [r for r in records if r.kind == "void"]
    if not voids:
        return []
    targets = sorted({r.refers_to for r in voids if r.refers_to is not None})
    cols = (col(Meal.meal_id), col(Meal.terminal_id), col(Meal.kind), col(Meal.elder_id), col(Meal.service_date))
    amounts = tuple(getattr(Meal, f) for f in VOID_COMPARED)
    sales = {
        row.meal_id: row
        for row in session.execute(sa.select(*cols, *amounts).where(among(session, col(Meal.meal_id), targets)))
    }
    first_void: dict[uuid.UUID, uuid.UUID] = {}
    for target, meal_id in session.execute(
        sa.select(col(Meal.refers_to), col(Meal.meal_id)).where(
            among(session, col(Meal.refers_to), targets), col(Meal.kind) == "void"
        )
    ):
        first_void[target] = min(meal_id, first_void.get(target, meal_id))
    out: list[Flag] = []
    for r in voids:
        sale = sales.get(r.refers_to) if r.refers_to is not None else None
        problems: list[str] = []
        if sale is None or sale.kind != "sale":
            problems.append("unknown_sale" if sale is None else "not_a_sale")
        else:
            if sale.terminal_id != ctx.terminal_id:
                problems.append("other_terminal")
            if first_void.get(sale.meal_id, r.meal_id) != r.meal_id:
                problems.append("repeated")
            if r.service_time.astimezone(ctx.zone).date() != sale.service_date:
                problems.append("other_day")
            if as_uuid(r.elder_id) != sale.elder_id or any(
                getattr(r.quote, f) != getattr(sale, f) for f in VOID_COMPARED
            ):
                problems.append("differs")
        if problems:
            evidence: dict[str, Any] = {"problems": problems, "refers_to": str(r.refers_to)}
            if sale is not None:
                evidence["sale"] = {f: getattr(sale, f) for f in VOID_COMPARED}
                evidence["sale"]["service_date"] = sale.service_date.isoformat()
                evidence["void"] = {f: getattr(r.quote, f) for f in VOID_COMPARED}
                if "repeated" in problems:
                    evidence["voided_by"] = str(first_void[sale.meal_id])
            out.append(Flag(r.meal_id, "void_irregular", evidence))
    return out


def _limit_flags(
    book: RuleBook, touched: set[tuple[uuid.UUID | None, Any]], day_meals: dict[tuple[uuid.UUID, Any], list[_DayMeal]]
) -> list[Flag]:
    """Subsidised meals of one elder-day beyond the per-day or per-slot limit, in service-time order, at every
    canteen. May flag meals stored earlier (a late record can push a later one over the limit)."""
    out: list[Flag] = []
    for elder_id, day in touched:
        if elder_id is None:
            continue
        version = book.version_on(day)
        if version is None:
            continue
        limits = version.limits
        subsidised = [m for m in day_meals.get((elder_id, day), []) if m.subsidised]
        per_slot: dict[str, int] = defaultdict(int)
        for n, m in enumerate(subsidised):
            per_slot[m.slot] += 1
            over_day = limits.per_day is not None and n >= limits.per_day
            over_slot = limits.per_slot is not None and per_slot[m.slot] > limits.per_slot
            if over_day or over_slot:
                out.append(
                    Flag(
                        m.meal_id,
                        "daily_limit_exceeded",
                        {
                            "service_date": day.isoformat(),
                            "per_day": limits.per_day,
                            "per_slot": limits.per_slot,
                            "limit": "per_day" if over_day else "per_slot",
                            "subsidised_that_day": [
                                {
                                    "meal_id": str(x.meal_id),
                                    "canteen_id": str(x.canteen_id),
                                    "slot": x.slot,
                                    "service_time": _iso(x.service_time),
                                }
                                for x in subsidised
                            ],
                        },
                    )
                )
    return out
