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
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.eligibility import ElderProfile
from ruyi.meal import MealRecord
from ruyi.pricing import WITHHOLD_REASONS, MealRequest, PriorMeal, Quote, quote
from ruyi.reasons import Reason
from ruyi.rules import RuleBook
from ruyi.sync import MenuItem, card_key_digest
from server.base import as_uuid
from server.canteens.tables import MenuItem as MenuRow
from server.cards.service import revoked_since
from server.cards.tables import Card
from server.elders.service import NOT_ELIGIBLE, profiles_of
from server.meals.queries import DayMeal, elder_day_meals
from server.meals.tables import Meal
from server.sql import in_values
from server.sync.changes import current_change_no
from server.sync.schemas import menu_entry
from server.sync.tables import SyncChange

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


def _revoked_at(card: Card, zone: ZoneInfo) -> datetime | None:
    return revoked_since(card.revoked_on, card.revoked_at, zone)


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


@dataclass(frozen=True, slots=True)
class _Sales:
    """What the sale checks of one batch read, once: the day and elder of each sale, the elders' profiles and
    revoked cards, the canteen's menu items named, and the elders' live sales on those days."""

    day_of: dict[uuid.UUID, date]
    elder_of: dict[uuid.UUID, uuid.UUID | None]
    profiles: dict[uuid.UUID, ElderProfile]
    cards: dict[uuid.UUID, list[Card]]
    items: dict[uuid.UUID, MenuItem]
    day_meals: dict[tuple[uuid.UUID, date], list[DayMeal]]


def _read_sales(session: Session, sales: list[MealRecord], ctx: IntakeContext) -> _Sales:
    elder_of = {r.meal_id: as_uuid(r.elder_id) for r in sales}
    ids = sorted({e for e in elder_of.values() if e is not None})
    profiles = profile_cache(session).get(session, ids)
    cards: dict[uuid.UUID, list[Card]] = defaultdict(list)
    if ids:
        revoked = select(Card).where(in_values(session, col(Card.elder_id), ids), col(Card.revoked_at).is_not(None))
        for card in session.exec(revoked):  # only revoked bindings matter here (few)
            cards[card.elder_id].append(card)
    item_ids = sorted({i for i in (as_uuid(r.menu_item_id) for r in sales) if i is not None})
    named = select(MenuRow).where(
        in_values(session, col(MenuRow.id), item_ids), col(MenuRow.canteen_id) == ctx.canteen_id
    )
    items = {m.id: menu_entry(m) for m in session.exec(named)} if item_ids else {}
    day_of = {r.meal_id: r.service_time.astimezone(ctx.zone).date() for r in sales}
    known = [e for e in ids if e in profiles]
    days = {day_of[r.meal_id] for r in sales if elder_of[r.meal_id] in profiles}
    return _Sales(day_of, elder_of, profiles, cards, items, elder_day_meals(session, known, days))


def menu_flags(r: MealRecord, day: date, facts: _Sales) -> tuple[list[Flag], int]:
    """An item the canteen does not offer that day; and the price to quote again with (the menu's, else the
    terminal's)."""
    item = facts.items.get(as_uuid(r.menu_item_id) or uuid.UUID(int=0))
    if item is not None and item.on_menu(day):
        return [], item.price
    evidence = {"menu_item_id": r.menu_item_id, "service_date": str(day)}
    return [Flag(r.meal_id, "unknown_menu_item", evidence)], r.quote.price


def status_and_card_flags(
    r: MealRecord, day: date, elder: ElderProfile, cards: list[Card], *, ctx: IntakeContext, withhold: Reason | None
) -> tuple[list[Flag], Reason | None]:
    """A known elder not eligible that day, or a card revoked before the meal; and what then withholds the
    subsidy (``withhold``: what the terminal's quote gave)."""
    out: list[Flag] = []
    status = elder.status_on(day)
    if status in NOT_ELIGIBLE:
        evidence = {"status": str(status), "service_date": day.isoformat(), "subsidised": r.quote.subsidised}
        out.append(Flag(r.meal_id, "elder_not_eligible", evidence))
    card_flag = _revoked_card_flag(r, cards, ctx) if r.card_key is not None else None
    if card_flag is not None:
        out.append(card_flag)
        withhold = withhold or Reason.CARD_REVOKED
    return out, withhold


def requote_flags(
    r: MealRecord, *, price: int, withhold: Reason | None, history: list[PriorMeal], elder: ElderProfile | None,
    ctx: IntakeContext, book: RuleBook,
) -> list[Flag]:  # fmt: skip
    """The sale quoted again by the server (its profile, its view of the day): a flag where amounts differ."""
    request = MealRequest(
        canteen_id=str(ctx.canteen_id),
        slot=r.slot,
        price=price,
        service_time=r.service_time,
        menu_item_id=r.menu_item_id,
        withhold=withhold,
    )
    server = quote(elder, request, history, book)
    differs = [f for f in COMPARED if getattr(server, f) != getattr(r.quote, f)]
    if not differs:
        return []
    evidence = {"differs": differs, "terminal": _quote_dict(r.quote), "server": _quote_dict(server)}
    return [Flag(r.meal_id, "quote_mismatch", evidence)]


def _history(r: MealRecord, elder_id: uuid.UUID, day: date, facts: _Sales) -> list[PriorMeal]:
    """The elder's live sales that day before this one (by service time, then meal id), at every canteen."""
    mine = (r.service_time, r.meal_id)
    return [
        PriorMeal(service_time=m.service_time, slot=m.slot, canteen_id=str(m.canteen_id), subsidised=m.subsidised)
        for m in facts.day_meals.get((elder_id, day), [])
        if m.meal_id != r.meal_id and (m.service_time, m.meal_id) < mine
    ]


def sale_flags(session: Session, *, records: list[MealRecord], ctx: IntakeContext) -> list[Flag]:
    """Menu, eligibility and card, re-quote and limit checks of newly stored sales (already in the meals table)."""
    sales = [r for r in records if r.kind == "sale"]
    if not sales:
        return []
    facts = _read_sales(session, sales, ctx)
    out: list[Flag] = []
    for r in sales:
        day, elder_id = facts.day_of[r.meal_id], facts.elder_of[r.meal_id]
        elder = facts.profiles.get(elder_id) if elder_id is not None else None
        flags, price = menu_flags(r, day, facts)
        out += flags
        if r.elder_id is not None and elder is None:
            out.append(Flag(r.meal_id, "unknown_elder", {"elder_id": r.elder_id}))
            continue
        withhold = next((x for x in r.quote.reasons if x in WITHHOLD_REASONS), None)
        history: list[PriorMeal] = []
        if elder is not None and elder_id is not None:
            flags, withhold = status_and_card_flags(r, day, elder, facts.cards[elder_id], ctx=ctx, withhold=withhold)
            out += flags
            history = _history(r, elder_id, day, facts)
        if ctx.book is not None:
            out += requote_flags(
                r, price=price, withhold=withhold, history=history, elder=elder, ctx=ctx, book=ctx.book
            )
    if ctx.book is not None:
        touched = {(facts.elder_of[r.meal_id], facts.day_of[r.meal_id]) for r in sales}
        out += limit_flags(ctx.book, touched, facts.day_meals)
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
        for row in session.execute(sa.select(*cols, *amounts).where(in_values(session, col(Meal.meal_id), targets)))
    }
    first_void: dict[uuid.UUID, uuid.UUID] = {}
    for target, meal_id in session.execute(
        sa.select(col(Meal.refers_to), col(Meal.meal_id)).where(
            in_values(session, col(Meal.refers_to), targets), col(Meal.kind) == "void"
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


def limit_flags(
    book: RuleBook, touched: set[tuple[uuid.UUID | None, date]], day_meals: dict[tuple[uuid.UUID, date], list[DayMeal]]
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
