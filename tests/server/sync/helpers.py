"""A small world for the sync tests (two canteens, three terminals, elders with cards, city rules) and a
builder of hash-chained meal records the way a terminal's ledger makes them."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from ruyi.eligibility import ElderProfile
from ruyi.meal import UNSEALED, MealRecord, genesis_hash, seal, uuid7
from ruyi.pricing import MealRequest, PriorMeal, Quote, quote
from ruyi.reasons import Reason
from ruyi.rules import RuleBook
from ruyi.sync import card_key_digest
from server.db import open_session
from server.elders.service import profiles_of
from server.elders.tables import Elder
from server.rules.service import load_book
from tests.server.conftest import CARD_SECRET, Api
from tests.server.helpers import canteen, elder, upload_city_rules

PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"
LUNCH = 1200
DINNER = 1000


def now_utc() -> datetime:
    return datetime.now(UTC)


def yesterday_noon() -> datetime:
    """Noon yesterday in the programme's zone: in the past, in force, and one service date whatever the hour."""
    zone = ZoneInfo("Asia/Shanghai")
    day = now_utc().astimezone(zone).date() - timedelta(days=1)
    return datetime.combine(day, time(12, 0), zone)


def prior_meal(record: MealRecord) -> PriorMeal:
    """A stored sale as pricing's history of the elder's day holds it."""
    q = record.quote
    return PriorMeal(
        service_time=record.service_time, slot=record.slot, canteen_id=record.canteen_id, subsidised=q.subsidised
    )


@dataclass
class Term:
    id: str
    canteen_id: str
    credential: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}


@dataclass
class Chain:
    """One terminal's ledger: records sealed in seq order from the terminal's genesis. Sales are quoted with the
    world's shared history of subsidised meals, or (``own_ledger``) as a real terminal quotes: with its own
    ledger's sales of the elder that day, not voided, and nothing of any other terminal."""

    world: World
    term: Term
    records: list[MealRecord] = field(default_factory=list)
    own_ledger: bool = False

    @property
    def head(self) -> tuple[int, str]:
        if not self.records:
            return 0, genesis_hash(self.term.id)
        return self.records[-1].seq, self.records[-1].hash

    def history(self, elder_id: str, when: datetime) -> list[PriorMeal]:
        if not self.own_ledger:
            return self.world.history.get(elder_id, [])
        zone = self.world.book.zone
        day = when.astimezone(zone).date()
        voided = {r.refers_to for r in self.records if r.kind == "void"}
        return [
            prior_meal(r)
            for r in self.records
            if r.kind == "sale"
            and r.elder_id == elder_id
            and r.meal_id not in voided
            and r.service_time.astimezone(zone).date() == day
        ]

    def sale(
        self,
        *,
        elder: str | None = None,
        when: datetime | None = None,
        slot: str = "lunch",
        by: str = "card",
        quote_over: dict[str, Any] | None = None,
        price: int | None = None,
        withhold: Reason | None = None,
        append: bool = True,
    ) -> MealRecord:
        when = when or yesterday_noon() + timedelta(seconds=len(self.records))
        item = self.world.items[(self.term.canteen_id, slot)]
        q = self.world.quote(
            elder,
            self.term.canteen_id,
            slot=slot,
            when=when,
            price=price or item[1],
            withhold=withhold,
            history=self.history(elder, when) if elder else [],
        )
        if quote_over:
            q = q.model_copy(update=quote_over)
        seq, prev = self.head
        card = self.world.cards.get(elder or "") if by == "card" and elder else None
        ms = int(when.timestamp() * 1000)
        record = seal(
            MealRecord(
                meal_id=uuid7(ms, os.urandom(10)),
                terminal_id=self.term.id,
                canteen_id=self.term.canteen_id,
                seq=seq + 1,
                kind="sale",
                service_time=when,
                elder_id=elder,
                card_kind="uid" if elder and by == "card" else None,
                card_key=card,
                identified_by="walk_in" if elder is None else by,
                manual_reason="忘带卡" if by == "manual" and elder else None,
                menu_item_id=item[0],
                slot=slot,
                payment_method="cash",
                quote=q,
                cashier="c1",
                prev_hash=prev,
                hash=UNSEALED,
            )
        )
        if append:
            self.records.append(record)
            if elder is not None and q.subsidised:
                self.world.history.setdefault(elder, []).append(
                    PriorMeal(service_time=when, slot=slot, canteen_id=self.term.canteen_id, subsidised=True)
                )
        return record

    def void(self, original: MealRecord, *, when: datetime | None = None, **over: Any) -> MealRecord:
        """A void of ``original`` made on this terminal as its ledger makes it (the sale's fields repeated), two
        minutes later unless ``when`` is given, with ``over`` changed; the original may be another terminal's
        record, as intake allows."""
        seq, prev = self.head
        when = when or original.service_time + timedelta(minutes=2)
        update = {
            "meal_id": uuid7(int(when.timestamp() * 1000), os.urandom(10)),
            "terminal_id": self.term.id,
            "canteen_id": self.term.canteen_id,
            "seq": seq + 1,
            "kind": "void",
            "refers_to": original.meal_id,
            "service_time": when,
            "reason": "点错菜",
            "prev_hash": prev,
            "hash": UNSEALED,
        }
        record = seal(original.model_copy(update=update | over))
        self.records.append(record)
        if original.elder_id is not None:  # a voided meal no longer counts towards the elder's limits
            history = self.world.history.get(original.elder_id, [])
            self.world.history[original.elder_id] = [h for h in history if h.service_time != original.service_time]
        return record

    def walk_ins(self, n: int, *, start: datetime | None = None) -> list[MealRecord]:
        start = start or yesterday_noon() - timedelta(hours=1)
        return [self.sale(when=start + timedelta(seconds=i)) for i in range(n)]


@dataclass
class World:
    api: Api
    canteen_a: str
    canteen_b: str
    ta: Term
    ta2: Term
    tb: Term
    elders: list[str]
    items: dict[tuple[str, str], tuple[str, int]]
    cards: dict[str, str]
    """elder id -> card key of its uid card"""
    serials: dict[str, str]
    book: RuleBook
    history: dict[str, list[PriorMeal]] = field(default_factory=dict)

    def chain(self, term: Term, *, own_ledger: bool = False) -> Chain:
        return Chain(self, term, own_ledger=own_ledger)

    def profile(self, elder_id: str) -> ElderProfile:
        with open_session(self.api.engine, write=False) as session:
            row = session.get(Elder, uuid.UUID(elder_id))
            assert row is not None
            return profiles_of(session, [row.id])[row.id]

    def quote(
        self,
        elder: str | None,
        canteen_id: str,
        *,
        slot: str,
        when: datetime,
        price: int,
        withhold: Reason | None,
        history: list[PriorMeal] | None = None,
    ) -> Quote:
        """The quote a terminal gives; ``history``: the elder's earlier meals it knows (default: the world's)."""
        req = MealRequest(
            canteen_id=canteen_id,
            slot=slot,
            price=price,
            service_time=when,
            withhold=withhold,
        )
        prof = self.profile(elder) if elder else None
        if history is None:
            history = self.history.get(elder, []) if elder else []
        return quote(prof, req, history, self.book)

    def push(
        self,
        term: Term,
        records: list[MealRecord],
        *,
        clock: datetime | None = None,
        snapshot: datetime | None = None,
        status: int | None = 200,
    ) -> dict[str, Any]:
        body = {
            "protocol": 1,
            "terminal_clock": (clock or now_utc()).isoformat(),
            "snapshot_created_at": (snapshot or now_utc() - timedelta(hours=1)).isoformat(),
            "records": [r.model_dump(mode="json") for r in records],
        }
        r = self.api.client.post(PUSH, headers=term.headers, json=body)
        if status is not None:
            assert r.status_code == status, r.text
        result: dict[str, Any] = r.json()
        return result

    def flags(self) -> list[tuple[str, int, str, bool]]:
        """(terminal id, seq, code, resolved) of every flag."""
        with self.api.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT m.terminal_id, m.seq, f.code, f.resolved_at FROM meal_flags f "
                    "JOIN meals m ON m.meal_id = f.meal_id ORDER BY m.seq, f.code"
                )
            )
            return [(str(uuid.UUID(str(t))), s, c, r is not None) for t, s, c, r in rows]

    def open_flags(self, term: Term | None = None) -> list[tuple[int, str]]:
        return [(s, c) for t, s, c, resolved in self.flags() if not resolved and (term is None or t == term.id)]

    def count(self, table: str = "meals") -> int:
        with self.api.engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def terminal(api: Api, canteen_id: str, name: str) -> Term:
    body = api.ok("POST", f"/api/v1/canteens/{canteen_id}/terminals", api.admin, 201, json={"name": name})
    return Term(id=body["terminal"]["id"], canteen_id=canteen_id, credential=body["credential"])


def build_world(api: Api, *, elders: int = 4) -> World:
    upload_city_rules(api)
    a = canteen(api, "ry-01")["id"]
    b = canteen(api, "ry-02", "如意食堂二号店")["id"]
    items: dict[tuple[str, str], tuple[str, int]] = {}
    for c in (a, b):
        for slot, price in (("lunch", LUNCH), ("dinner", DINNER)):
            item = api.ok(
                "POST",
                f"/api/v1/canteens/{c}/menu-items",
                api.admin,
                201,
                json={"name": f"{slot}套餐", "price": price, "slot": slot, "effective_from": "2026-01-01"},
            )
            items[(c, slot)] = (item["id"], price)
    ids: list[str] = []
    cards: dict[str, str] = {}
    serials: dict[str, str] = {}
    for n in range(elders):
        e = elder(api, n + 1, enrolled_on="2026-01-01", canteen_id=a if n % 2 == 0 else b)
        serial = f"04A1B2C3{n:04d}"
        api.ok("POST", f"/api/v1/elders/{e['id']}/cards", api.operator, 201, json={"kind": "uid", "serial": serial})
        ids.append(e["id"])
        cards[e["id"]] = card_key_digest(CARD_SECRET.encode(), "uid", serial)
        serials[e["id"]] = serial
    with open_session(api.engine, write=False) as session:
        book = load_book(session, "ruyi-city")
    assert book is not None
    return World(
        api=api,
        canteen_a=a,
        canteen_b=b,
        ta=terminal(api, a, "收银台1"),
        ta2=terminal(api, a, "收银台2"),
        tb=terminal(api, b, "收银台1"),
        elders=ids,
        items=items,
        cards=cards,
        serials=serials,
        book=book,
    )


def local(text: str) -> datetime:
    """``"2026-10-31 23:59:59"`` in the programme's zone."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai"))


__all__ = [
    "DINNER",
    "LUNCH",
    "PULL",
    "PUSH",
    "Chain",
    "Term",
    "World",
    "build_world",
    "date",
    "local",
    "now_utc",
    "prior_meal",
    "yesterday_noon",
]
