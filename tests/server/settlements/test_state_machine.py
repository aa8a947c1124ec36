"""A hypothesis state machine over the whole server, through the real app and database: two canteens with one
terminal each record meals into their own hash chains (sales quoted with ruyi.pricing.quote from the terminal's
own ledger, as a terminal quotes; walk-ins; voids of the day's sales); a terminal with a link pushes through
``POST /sync/push`` in sequence order, some or all of what it has, sometimes the same batch twice, sometimes losing
the answer and sending again; a terminal without one keeps recording and, when the link comes back, sends it all,
meals and voids of a month its canteen may have closed meanwhile; bureau staff run checks, decide flagged meals,
note warnings and close months through the API (an auditor closes); the server restarts on the same database.

Dates are fixed: January to March 2026 on a simulated calendar. January and February close (closing moves the
calendar past the month's end); March stays open and takes what arrives late. These months are far behind the
real clock, so intake's ``far_past_service_time`` is switched off through its setting; the terminals' clocks at
push are the real clock (as a terminal's are) and their rosters an hour old, so no other time flag fires.

The model knows only what the terminals recorded, what reached the server (the answers say how far) and the
decisions the machine took. It predicts intake's flags as intake is specified: every sale quoted again with
ruyi.pricing.quote from the elder's other stored sales that day, not voided, earlier by service time
(``quote_mismatch`` when an amount differs); subsidised sales of an elder-day beyond the daily or slot limit across
canteens, in service-time order (``daily_limit_exceeded``, also on a sale stored earlier); every manual
identification. After every step:

- the server holds exactly the flags predicted;
- each stored sale is counted exactly once when it is payable (not voided, not rejected, not held: accepted, or
  without a holding flag) and zero times otherwise, over its month's statement and the adjustment lines of
  later months pointing back to its month (``late_paid`` +1, ``reversed`` -1), closed and open statements alike;
- a closed statement's bytes still hash to the hash answered when it closed;
- per canteen and month, the statement's elder subsidy plus the adjustments pointing back to it equal the
  subsidies of its payable meals, and likewise the operating subsidy (the rule book's amount per payable
  subsidised meal; the monthly cap is never reached here);
- each terminal's acknowledged records are what the server holds for it (records, hashes, totals net of voids,
  ``held_through``), and nothing more.

The plain scenarios at the end take the paths that matter on every run, whatever hypothesis draws: a void that
arrives after its month closed, a late meal that puts another canteen's paid meal over the limit, a meal held
over two closes and accepted (in bulk) in March. Out of reach here: the server re-examines a closed month only
for what it received from 10 minutes before the last close on (``LATE_MARGIN``); a run is shorter than that, so
every closed month is re-examined every time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ruyi.eligibility import ElderProfile
from ruyi.meal import MealRecord
from ruyi.pricing import MealRequest, quote
from ruyi.settlement import INFO_FLAGS, Month
from server.auth.principal import Role
from server.config import Settings
from server.db import make_engine
from server.sync.intake import COMPARED
from tests.server.conftest import Api, Databases, make_settings, serve
from tests.server.settlements.helpers import S, at, close, create, note_all_warnings
from tests.server.sync.helpers import Chain, World, build_world, prior_meal

MONTHS = tuple(Month(2026, m) for m in (1, 2, 3))
CLOSABLE = MONTHS[:-1]
LAST_DAY = MONTHS[-1].last_day
NO_FAR_PAST = 365 * 100
"""``sync_far_past_days``: these fixed months are long past the real clock."""
Sale = tuple[int, int | None, str, str]
SALES = st.tuples(
    st.integers(0, 1),
    st.sampled_from([None, 0, 1]),
    st.sampled_from(["lunch", "dinner"]),
    st.sampled_from(["card", "manual"]),
)
Verdict = Literal["accepted", "rejected"]
VERDICTS: list[Verdict] = ["accepted", "rejected"]


@dataclass(frozen=True)
class Start:
    """What every example starts from, built once per test and copied per example: the small world of the sync
    tests (two canteens, a terminal each, two elders with cards, the city rules), a draft statement for every
    canteen and month, the elders' profiles."""

    databases: Databases
    url: str
    world: World
    tokens: dict[str, str]
    sids: dict[tuple[str, Month], str]
    profiles: dict[str, ElderProfile]

    @classmethod
    def build(cls, databases: Databases) -> Start:
        url = databases.new()
        with ExitStack() as server:
            w = build_world(start_server(server, settings_for(url)), elders=2)
            sids = {(c, m): create(w, c, m)["id"] for c in (w.canteen_a, w.canteen_b) for m in MONTHS}
            profiles = {e: w.profile(e) for e in w.elders}
            w.api.token(Role.BUREAU_AUDITOR)  # every role the machine uses has its staff member in the copy
        return cls(databases, url, w, w.api._tokens, sids, profiles)


def settings_for(url: str) -> Settings:
    return make_settings(url, sync_far_past_days=NO_FAR_PAST)


def start_server(server: ExitStack, settings: Settings, tokens: dict[str, str] | None = None) -> Api:
    """A server process on ``settings``' database: its own engine (pool) and app, ended with ``server``."""
    engine = make_engine(settings.resolved_database_url)
    server.callback(engine.dispose)
    return server.enter_context(serve(settings, engine, tokens))


class ServerSettlement(RuleBasedStateMachine):
    start: Start
    """Set by each test."""

    def __init__(self) -> None:
        super().__init__()
        start = self.start
        self.settings = settings_for(start.databases.new(like=start.url))
        self.writes = 0
        """Steps that reached the server so far (a restart counts)."""
        self.started_at = self.checked_at = -1
        """``writes`` when the server last started, and when the statements were last fetched."""
        self.world = dataclasses.replace(start.world, api=self._start(dict(start.tokens)), history={})
        w = self.world
        self.canteens = (w.canteen_a, w.canteen_b)
        self.chains = (w.chain(w.ta, own_ledger=True), w.chain(w.tb, own_ledger=True))
        self.sids, self.profiles = start.sids, start.profiles
        self.now = at(MONTHS[0].first_day, 11)
        self.acked: dict[str, int] = {c.term.id: 0 for c in self.chains}
        self.stored: dict[uuid.UUID, MealRecord] = {}
        self.flags: dict[uuid.UUID, set[str]] = defaultdict(set)
        self.decisions: dict[uuid.UUID, Verdict] = {}
        self.closed: dict[tuple[str, Month], str] = {}
        """(canteen, month) -> the content hash answered at close."""
        self.offline: set[str] = set()
        """Terminals without a link to the server."""

    def _start(self, tokens: dict[str, str]) -> Api:
        self.server = ExitStack()
        self.started_at = self.writes
        return start_server(self.server, self.settings, tokens)

    def teardown(self) -> None:
        self.server.close()

    @property
    def api(self) -> Api:
        return self.world.api

    # -- the model ------------------------------------------------------------------------------------------------

    def day(self, r: MealRecord) -> date:
        return r.service_time.astimezone(self.world.book.zone).date()

    def month(self, r: MealRecord) -> Month:
        return Month.of(self.day(r))

    def unsynced(self, chain: Chain) -> list[MealRecord]:
        return chain.records[self.acked[chain.term.id] :]

    def open_months(self, canteen: str) -> list[Month]:
        return [m for m in MONTHS if (canteen, m) not in self.closed]

    def closable(self, canteen: str) -> Month | None:
        """The canteen's earliest open month, unless it is the last (which never closes)."""
        month = self.open_months(canteen)[0]
        return month if month in CLOSABLE else None

    def voided(self) -> set[uuid.UUID | None]:
        return {r.refers_to for r in self.stored.values() if r.kind == "void"}

    def payable(self, r: MealRecord, voided: set[uuid.UUID | None]) -> bool:
        if r.kind != "sale" or r.meal_id in voided:
            return False
        decision = self.decisions.get(r.meal_id)
        return decision == "accepted" or (decision is None and self.flags[r.meal_id] <= INFO_FLAGS)

    def who(self, elder: int | None) -> str | None:
        """The elder a sale is for (None: a walk-in)."""
        return None if elder is None else self.world.elders[elder]

    def day_sales(self, elder: str, day: date, voided: set[uuid.UUID | None]) -> list[MealRecord]:
        """The elder's stored sales that day at every canteen, not voided, in service-time order."""
        found = [
            r
            for r in self.stored.values()
            if r.kind == "sale" and r.elder_id == elder and r.meal_id not in voided and self.day(r) == day
        ]
        return sorted(found, key=lambda r: (r.service_time, r.meal_id))

    def intake(self, new: list[MealRecord]) -> None:
        """What the server flags when ``new`` (just stored) arrives."""
        self.stored.update((r.meal_id, r) for r in new)
        voided = self.voided()
        touched: set[tuple[str, date]] = set()
        for r in new:
            if r.kind != "sale":
                continue
            if r.identified_by == "manual":
                self.flags[r.meal_id].add("manual_identification")
            if r.elder_id is None:
                continue
            day = self.day(r)
            touched.add((r.elder_id, day))
            earlier = [
                prior_meal(m)
                for m in self.day_sales(r.elder_id, day, voided)
                if (m.service_time, m.meal_id) < (r.service_time, r.meal_id)
            ]
            request = MealRequest(
                canteen_id=r.canteen_id,
                slot=r.slot,
                price=self.world.items[(r.canteen_id, r.slot)][1],
                service_time=r.service_time,
                menu_item_id=r.menu_item_id,
            )
            again = quote(self.profiles[r.elder_id], request, earlier, self.world.book)
            if any(getattr(again, f) != getattr(r.quote, f) for f in COMPARED):
                self.flags[r.meal_id].add("quote_mismatch")
        for elder, day in touched:
            version = self.world.book.version_on(day)
            assert version is not None
            per_day, per_slot = version.limits.per_day, version.limits.per_slot
            slots: Counter[str] = Counter()
            for n, m in enumerate(m for m in self.day_sales(elder, day, voided) if m.quote.subsidised):
                slots[m.slot] += 1
                if (per_day is not None and n >= per_day) or (per_slot is not None and slots[m.slot] > per_slot):
                    self.flags[m.meal_id].add("daily_limit_exceeded")

    def tick(self, minutes: int) -> datetime:
        self.now += timedelta(minutes=minutes)
        return self.now

    # -- talking to the server ------------------------------------------------------------------------------------

    def push(self, chain: Chain, batch: list[MealRecord]) -> None:
        """Send ``batch``; every record is answered stored or duplicate, and the terminal's cursor moves to the
        answer's ``held_through``."""
        self.writes += 1
        body = self.world.push(chain.term, batch)
        expected = ["duplicate" if r.meal_id in self.stored else "stored" for r in batch]
        assert [o["outcome"] for o in body["results"]] == expected
        self.intake([r for r, o in zip(batch, expected, strict=True) if o == "stored"])
        held = sum(r.meal_id in self.stored for r in chain.records)
        assert body["held_through"] == held
        self.acked[chain.term.id] = held

    def decide(self, sid: str, meal_id: str, verdict: Verdict) -> None:
        api, self.writes = self.api, self.writes + 1
        body = {"meal_id": meal_id, "decision": verdict, "note": "状态机审核"}
        api.ok("POST", f"{S}/{sid}/decisions", api.operator, 201, json=body)
        self.decisions[uuid.UUID(meal_id)] = verdict

    def blocking(self, canteen: str, month: Month, body: dict[str, Any]) -> list[str]:
        """The canteen's undecided sales of ``month`` that an error check names: only a decision resolves those."""
        named = {uuid.UUID(m) for c in body["checks"] if c["severity"] == "error" for m in c["meal_ids"]}
        return sorted(
            str(m)
            for m in named
            if m not in self.decisions
            and (r := self.stored.get(m)) is not None
            and r.kind == "sale"
            and r.canteen_id == canteen
            and self.month(r) == month
        )

    # -- rules: terminals -----------------------------------------------------------------------------------------

    @precondition(lambda self: self.now.date() < LAST_DAY)
    @rule(sales=st.lists(SALES, min_size=1, max_size=4), wait=st.sampled_from([1, 20, 75]))
    def serve(self, sales: list[Sale], wait: int) -> None:
        """Sales ``wait`` minutes apart: (terminal, elder or None for a walk-in, slot, how the elder was found),
        each quoted by its terminal from its own ledger."""
        for term, elder, slot, by in sales:
            who = self.who(elder)
            self.chains[term].sale(elder=who, when=self.tick(wait), slot=slot, by=by)

    def voidable(self) -> list[tuple[Chain, MealRecord]]:
        """Sales of today not voided yet (a terminal voids only today's sales)."""
        out = []
        for chain in self.chains:
            voided = {r.refers_to for r in chain.records if r.kind == "void"}
            out += [
                (chain, r)
                for r in chain.records
                if r.kind == "sale" and r.meal_id not in voided and self.day(r) == self.now.date()
            ]
        return out

    @precondition(lambda self: bool(self.voidable()) and self.now.date() < LAST_DAY)
    @rule(pick=st.integers(0, 20), wait=st.sampled_from([1, 30]))
    def void_sale(self, pick: int, wait: int) -> None:
        """A terminal voids one of today's sales (a new record pointing at it)."""
        candidates = self.voidable()
        chain, sale = candidates[pick % len(candidates)]
        chain.void(sale, when=self.tick(wait))

    @precondition(lambda self: self.now.date() < LAST_DAY)
    @rule(days=st.sampled_from([1, 2, 10, 31]))
    def next_day(self, days: int) -> None:
        """The calendar moves on (no further than the last day of the last month)."""
        self.now = at(min(self.now.date() + timedelta(days=days), LAST_DAY), 11)

    def reachable(self, online: bool = True) -> list[Chain]:
        return [c for c in self.chains if (c.term.id in self.offline) != online]

    @initialize(offline=st.sets(st.integers(0, 1)))
    def links(self, offline: set[int]) -> None:
        """Which terminals start without a link to the server."""
        self.offline = {self.chains[i].term.id for i in offline}

    @precondition(lambda self: any(self.unsynced(c) for c in self.reachable()))
    @rule(
        pick=st.integers(0, 1),
        size=st.sampled_from([1, 2, 5, None]),
        how=st.sampled_from(["once", "twice", "lost"]),
    )
    def sync(self, pick: int, size: int | None, how: str) -> None:
        """A terminal with a link pushes its first ``size`` unsynced records (None: all): once; the same batch
        twice; or with the answer lost, so that it sends again from where it was, with whatever it has."""
        chains = [c for c in self.reachable() if self.unsynced(c)]
        chain = chains[pick % len(chains)]
        before = self.acked[chain.term.id]
        batch = self.unsynced(chain)[:size]
        self.push(chain, batch)
        if how == "twice":
            self.push(chain, batch)
        elif how == "lost":
            self.acked[chain.term.id] = before
            self.push(chain, self.unsynced(chain))

    @precondition(lambda self: bool(self.reachable()))
    @rule(pick=st.integers(0, 1))
    def link_down(self, pick: int) -> None:
        """A terminal loses its link: it goes on recording."""
        chains = self.reachable()
        self.offline.add(chains[pick % len(chains)].term.id)

    @precondition(lambda self: bool(self.reachable(online=False)))
    @rule(pick=st.integers(0, 1))
    def link_up(self, pick: int) -> None:
        """A terminal's link comes back and it sends all it recorded meanwhile: meals (and voids) of a month
        its canteen may have closed since."""
        chains = self.reachable(online=False)
        chain = chains[pick % len(chains)]
        self.offline.discard(chain.term.id)
        if self.unsynced(chain):
            self.push(chain, self.unsynced(chain))

    # -- rules: the bureau and the server -------------------------------------------------------------------------

    def awaiting(self, canteen: str, month: Month) -> set[str]:
        """The undecided meals an open statement lists as flagged: the month's sales with any flag, and in the first
        open month (where closed months are settled) the held meals of closed months."""
        voided, first = self.voided(), month == self.open_months(canteen)[0]
        out = set()
        for r in self.stored.values():
            if r.kind != "sale" or r.canteen_id != canteen or r.meal_id in self.decisions:
                continue
            origin, flags = self.month(r), self.flags[r.meal_id]
            held = first and (canteen, origin) in self.closed and r.meal_id not in voided and flags - INFO_FLAGS
            if (origin == month and flags) or held:
                out.add(str(r.meal_id))
        return out

    @rule(
        canteen=st.integers(0, 1),
        pick=st.integers(0, 3),
        verdicts=st.lists(st.sampled_from([None, *VERDICTS]), max_size=6),
        bulk=st.none()
        | st.tuples(st.sampled_from(["quote_mismatch", "daily_limit_exceeded"]), st.sampled_from(VERDICTS)),
        notes=st.booleans(),
    )
    def review(
        self, canteen: int, pick: int, verdicts: list[Verdict | None], bulk: tuple[str, Verdict] | None, notes: bool
    ) -> None:
        """Run the checks of an open statement (it lists the flagged meals awaiting a decision), decide some of them
        one by one, maybe every one with a flag at once, maybe note the warnings."""
        api, c, self.writes = self.api, self.canteens[canteen], self.writes + 1
        month = self.open_months(c)[pick % len(self.open_months(c))]
        sid = self.sids[(c, month)]
        body = api.ok("POST", f"{S}/{sid}/checks", api.auditor)
        listed = sorted(f["meal_id"] for f in body["flagged"] if f["decision"] is None)
        assert set(listed) == self.awaiting(c, month)
        for meal_id, verdict in zip(listed, verdicts, strict=False):
            if verdict is not None:
                self.decide(sid, meal_id, verdict)
        if bulk is not None:
            code, verdict = bulk
            expected = sorted(m for m in self.awaiting(c, month) if code in self.flags[uuid.UUID(m)])
            answer = {"code": code, "decision": verdict, "note": "按标记批量审核"}
            assert api.ok("POST", f"{S}/{sid}/decisions/bulk", api.operator, json=answer)["meal_ids"] == expected
            self.decisions.update((uuid.UUID(m), verdict) for m in expected)
        if notes:
            note_all_warnings(self.world, sid)

    @precondition(lambda self: any(self.closable(c) for c in self.canteens))
    @rule(canteen=st.integers(0, 1), verdicts=st.lists(st.sampled_from(VERDICTS), min_size=1, max_size=3))
    def close_month(self, canteen: int, verdicts: list[Verdict]) -> None:
        """Close a canteen's earliest open month (auditor), the calendar first moving past its end if it has not
        yet: decide the meals errors name, note every warning, review, close; the answer's hash is what the
        month must keep."""
        api, self.writes = self.api, self.writes + 1
        c = self.canteens[canteen] if self.closable(self.canteens[canteen]) else self.canteens[1 - canteen]
        month = self.closable(c)
        assert month is not None
        if Month.of(self.now.date()) <= month:
            self.now = at(month.next().first_day, 11)
        sid = self.sids[(c, month)]
        decided = 0
        while named := self.blocking(c, month, api.ok("GET", f"{S}/{sid}", api.auditor)):
            # One at a time: a decision can resolve the other meals an error names (a rejected meal no longer
            # counts towards the limit), and those are then no longer open to a decision.
            self.decide(sid, named[0], verdicts[decided % len(verdicts)])
            decided += 1
        closed = close(self.world, sid)
        assert closed["state"] == "closed"
        self.closed[(c, month)] = closed["content_hash"]

    @precondition(lambda self: self.writes != self.started_at)
    @rule()
    def restart(self) -> None:
        """The server process ends and a new one starts on the same database (staff tokens stay valid); only
        once it has taken something since it started."""
        tokens, self.writes = self.api._tokens, self.writes + 1
        self.server.close()
        self.world.api = self._start(tokens)

    # -- invariants -----------------------------------------------------------------------------------------------

    def check(self) -> None:
        """Every invariant, now (the scenarios below call it after each step)."""
        self.flags_as_predicted()
        self.each_meal_paid_exactly_once_and_closed_months_unchanged()
        self.terminals_reconcile()

    @invariant()
    def flags_as_predicted(self) -> None:
        """The server keeps exactly the flags predicted (resolved ones included: none is resolved here)."""
        api, found, after = self.api, defaultdict(set), 0
        params: dict[str, Any] = {"include_resolved": True, "limit": 1000}
        while page := api.ok("GET", "/api/v1/meal-flags", api.auditor, params={**params, "after_id": after}):
            for f in page:
                found[uuid.UUID(f["meal_id"])].add(f["code"])
            after = page[-1]["id"]
        assert found == {m: codes for m, codes in self.flags.items() if codes}

    @precondition(lambda self: self.writes != self.checked_at)
    @invariant()
    def each_meal_paid_exactly_once_and_closed_months_unchanged(self) -> None:
        """Every statement, closed or open, as the server gives it now: after each step that reached the server
        (recording on a terminal or turning the calendar changes nothing the server holds)."""
        api, voided, self.checked_at = self.api, self.voided(), self.writes
        for c in self.canteens:
            net: Counter[uuid.UUID] = Counter()
            subsidy: Counter[Month] = Counter()
            operating: Counter[Month] = Counter()
            for month in MONTHS:
                r = api.client.get(f"{S}/{self.sids[(c, month)]}/export", headers=api.auditor)
                assert r.status_code == 200, r.text
                if (c, month) in self.closed:
                    assert hashlib.sha256(r.content).hexdigest() == self.closed[(c, month)]
                statement = json.loads(r.content)
                for line in statement["lines"]:
                    for m in line["meal_ids"]:
                        assert self.month(self.stored[uuid.UUID(m)]) == month
                        net[uuid.UUID(m)] += 1
                subsidy[month] += statement["totals"]["elder_subsidy"]
                operating[month] += statement["totals"]["operating"]
                for a in statement["adjustments"]:
                    origin = Month.parse(a["origin"])
                    assert origin < month and (c, origin) in self.closed
                    if (c, month) not in self.closed:  # an open month takes what is late for the months before it
                        assert month == self.open_months(c)[0]
                    for m in a["meal_ids"]:
                        assert self.month(self.stored[uuid.UUID(m)]) == origin
                    if a["kind"] in ("late_paid", "reversed", "eligibility_changed"):
                        sign = 1 if a["kind"] == "late_paid" else -1
                        net.update({uuid.UUID(m): sign for m in a["meal_ids"]})
                        subsidy[origin] += a["amount"]
                    elif a["kind"] == "operating":
                        operating[origin] += a["amount"]
            mine = [r for r in self.stored.values() if r.canteen_id == c and r.kind == "sale"]
            payable = [r for r in mine if self.payable(r, voided)]
            assert {m: n for m, n in net.items() if n} == {r.meal_id: 1 for r in payable}
            for month in MONTHS:
                paid = [r for r in payable if self.month(r) == month]
                assert subsidy[month] == sum(r.quote.subsidy for r in paid)
                assert operating[month] == sum(self.operating_amount(r) for r in paid if r.quote.subsidised)

    def operating_amount(self, r: MealRecord) -> int:
        version = self.world.book.version_on(self.day(r))
        assert version is not None and version.operating is not None
        return version.operating.amount

    @invariant()
    def terminals_reconcile(self) -> None:
        """Each terminal's acknowledged records are what the server holds for it, and nothing more."""
        with self.api.engine.connect() as conn:
            heads = conn.execute(sa.text("SELECT terminal_id, held_through FROM sync_terminals"))
            held = {uuid.UUID(str(t)): h for t, h in heads}
            rows = {uuid.UUID(str(row[0])): tuple(row[1:]) for row in conn.execute(sa.text(TERMINAL_TOTALS))}
            hashes: dict[uuid.UUID, list[tuple[int, str]]] = defaultdict(list)
            for t, seq, digest in conn.execute(sa.text("SELECT terminal_id, seq, hash FROM meals ORDER BY seq")):
                hashes[uuid.UUID(str(t))].append((seq, digest))
        for chain in self.chains:
            tid, acked = uuid.UUID(chain.term.id), self.acked[chain.term.id]
            mine = chain.records[:acked]
            assert hashes.get(tid, []) == [(r.seq, r.hash) for r in mine]
            assert held.get(tid, 0) == acked
            voids = {r.refers_to for r in mine if r.kind == "void"}
            live = [r for r in mine if r.kind == "sale" and r.meal_id not in voids]
            totals = (
                len(mine),
                sum(r.kind == "void" for r in mine),
                sum(r.quote.price for r in live),
                sum(r.quote.subsidy for r in live),
                sum(r.quote.elder_pays for r in live),
            )
            assert tuple(int(x) for x in rows.get(tid, (0, 0, 0, 0, 0))) == totals


TERMINAL_TOTALS = """
SELECT m.terminal_id, count(*),
       sum(CASE WHEN m.kind = 'void' THEN 1 ELSE 0 END),
       sum(CASE WHEN m.kind = 'sale' AND v.meal_id IS NULL THEN m.price ELSE 0 END),
       sum(CASE WHEN m.kind = 'sale' AND v.meal_id IS NULL THEN m.subsidy ELSE 0 END),
       sum(CASE WHEN m.kind = 'sale' AND v.meal_id IS NULL THEN m.elder_pays ELSE 0 END)
FROM meals m LEFT JOIN meals v ON v.kind = 'void' AND v.refers_to = m.meal_id
GROUP BY m.terminal_id
"""
"""A terminal's totals as the server holds them: records, voids, and the sales not voided (price, subsidy,
what the elders paid)."""


def machine_on(databases: Databases) -> type[ServerSettlement]:
    class Machine(ServerSettlement):
        start = Start.build(databases)

    return Machine


def test_server_settlement_machine(databases: Databases) -> None:
    examples = 8 if databases.kind == "sqlite" else 4
    run_state_machine_as_test(
        machine_on(databases), settings=settings(max_examples=examples, stateful_step_count=40, deadline=None)
    )


@pytest.fixture
def machine(databases: Databases) -> Iterator[ServerSettlement]:
    m = machine_on(databases)()
    m.check()
    yield m
    m.teardown()


def play(m: ServerSettlement, steps: list[tuple[str, dict[str, Any]]]) -> None:
    """Call the machine's rules in this order, checking every invariant after each."""
    for name, kwargs in steps:
        getattr(m, name)(**kwargs)
        m.check()


def statement(m: ServerSettlement, canteen: int, month: Month) -> dict[str, Any]:
    result: dict[str, Any] = m.api.ok("GET", f"{S}/{m.sids[(m.canteens[canteen], month)]}", m.api.auditor)["statement"]
    return result


def adjustments(m: ServerSettlement, canteen: int, month: Month) -> list[tuple[str, str]]:
    """(kind, origin month) of the adjustment lines of a canteen's statement."""
    return [(a["kind"], a["origin"]) for a in statement(m, canteen, month)["adjustments"]]


def test_a_void_arriving_after_close_reverses_the_paid_meal(machine: ServerSettlement) -> None:
    play(
        machine,
        [
            ("links", {"offline": set()}),
            ("serve", {"sales": [(0, 0, "lunch", "card"), (0, None, "lunch", "card")], "wait": 1}),
            ("sync", {"pick": 0, "size": None, "how": "once"}),
            ("void_sale", {"pick": 0, "wait": 1}),
            ("link_down", {"pick": 0}),
            ("close_month", {"canteen": 0, "verdicts": ["accepted"]}),
            ("link_up", {"pick": 0}),
        ],
    )
    assert adjustments(machine, 0, MONTHS[1]) == [("reversed", "2026-01"), ("operating", "2026-01")]


def test_a_late_meal_holds_a_paid_meal_of_another_canteen_until_accepted(machine: ServerSettlement) -> None:
    """A's terminal, offline, subsidised elder 0's lunch first; B's (online) 20 minutes later. January closes
    at both with what B sent; A's lunch then puts B's over the slot limit: B's paid lunch is held (reversed in
    February) until a reviewer accepts it, and A's is paid late."""
    m = machine
    play(
        m,
        [
            ("links", {"offline": {0}}),
            ("serve", {"sales": [(0, 0, "lunch", "card"), (1, 0, "lunch", "card")], "wait": 20}),
            ("sync", {"pick": 0, "size": None, "how": "lost"}),
            ("close_month", {"canteen": 0, "verdicts": ["accepted"]}),
            ("close_month", {"canteen": 1, "verdicts": ["accepted"]}),
            ("link_up", {"pick": 0}),
        ],
    )
    jan = "2026-01"
    assert adjustments(m, 0, MONTHS[1]) == [("late_paid", jan), ("operating", jan)]
    assert adjustments(m, 1, MONTHS[1]) == [("reversed", jan), ("operating", jan)]
    play(
        m,
        [
            ("restart", {}),
            ("review", {"canteen": 1, "pick": 0, "verdicts": ["accepted"], "bulk": None, "notes": True}),
            ("close_month", {"canteen": 0, "verdicts": ["accepted"]}),
            ("close_month", {"canteen": 1, "verdicts": ["accepted"]}),
        ],
    )
    assert adjustments(m, 1, MONTHS[1]) == []


def test_a_meal_held_over_two_closes_is_paid_in_march_once_accepted(machine: ServerSettlement) -> None:
    """B's lunch is flagged at intake (A's lunch for the same elder came first); A's lunch is then voided, so no
    error names B's: it stays held through January's and February's close, is listed in March and paid there,
    pointing back to January, once accepted."""
    m = machine
    play(
        m,
        [
            ("links", {"offline": set()}),
            ("serve", {"sales": [(0, 0, "lunch", "card"), (1, 0, "lunch", "card")], "wait": 1}),
            ("sync", {"pick": 0, "size": None, "how": "once"}),
            ("sync", {"pick": 0, "size": None, "how": "twice"}),
            ("void_sale", {"pick": 0, "wait": 1}),
            ("sync", {"pick": 0, "size": None, "how": "once"}),
            ("close_month", {"canteen": 0, "verdicts": ["rejected"]}),
            ("close_month", {"canteen": 1, "verdicts": ["rejected"]}),
            ("close_month", {"canteen": 0, "verdicts": ["rejected"]}),
            ("close_month", {"canteen": 1, "verdicts": ["rejected"]}),
        ],
    )
    assert [(h["origin"], h["status"]) for h in statement(m, 1, MONTHS[2])["held"]] == [("2026-01", "held")]
    play(
        m,
        [("review", {"canteen": 1, "pick": 0, "verdicts": [], "bulk": ("quote_mismatch", "accepted"), "notes": False})],
    )
    assert adjustments(m, 1, MONTHS[2]) == [("late_paid", "2026-01"), ("operating", "2026-01")]
