"""The server settlement machine (:mod:`.test_state_machine`) with late facts: bureau staff register, through the
API as they would, a death, a cancellation, a suspension or a card revocation effective from a day that has
already passed — after the meals it covers were served and stored, in a month that may be open or already
closed. The elder is then no longer served (a card reported lost is taken away; the terminals' rosters would
refuse the others), so every meal a fact covers was recorded before the fact.

The model says which meals the registry as it stands no longer supports: a subsidised sale of the elder on or
after the status change's effective date; for a revoked card, a subsidised sale tapped with that card on or after
the day it is revoked from (a sale whose elder was found by hand carries no card and is still supported). On top
of the base machine's invariants (each stored sale paid exactly once when payable, over its month and the
adjustments pointing back to it, which now include ``eligibility_changed`` reversals; closed hashes unchanged; the
flags intake raised as predicted), after every step:

- no such meal is paid unless a reviewer accepted it: undecided, it is listed held with ``eligibility_changed``
  in its own month while that is open, and in the canteen's first open month once its month has closed;
- a closed month's paid meals that are no longer supported appear as an ``eligibility_changed`` adjustment
  (negative) in the canteen's first open month, pointing back to their month.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date, timedelta
from typing import Any, Literal

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule, run_state_machine_as_test

from ruyi.meal import MealRecord
from ruyi.settlement import INFO_FLAGS, Month
from ruyi.sync import card_key_digest
from tests.server.conftest import CARD_SECRET, Databases
from tests.server.settlements.helpers import S
from tests.server.settlements.test_state_machine import (
    MONTHS,
    ServerSettlement,
    Start,
    play,
    settings_for,
    start_server,
    statement,
)

Kind = Literal["deceased", "cancelled", "suspended", "card_revoked"]
KINDS: list[Kind] = ["deceased", "cancelled", "suspended", "card_revoked"]
HELD_SINCE = date(2026, 1, 1)
"""The day the elders were enrolled and their cards bound (a card cannot be revoked before it was bound)."""


def late_start(databases: Databases) -> Start:
    """The base machine's start, each elder's card bound on the 1st of January (the world's own cards are bound
    the real today, after every meal here, so a revocation dated within these months would be refused)."""
    start = Start.build(databases)
    cards = dict(start.world.cards)
    with ExitStack() as server:
        api = start_server(server, settings_for(start.url), dict(start.tokens))
        for n, e in enumerate(start.world.elders):
            serial = f"04C0FFEE{n:08d}"
            body = {"kind": "uid", "serial": serial, "bound_on": str(HELD_SINCE)}
            api.ok("POST", f"/api/v1/elders/{e}/cards", api.operator, 201, json=body)
            cards[e] = card_key_digest(CARD_SECRET.encode(), "uid", serial)
    return dataclasses.replace(start, world=dataclasses.replace(start.world, cards=cards))


class LateFacts(ServerSettlement):
    def __init__(self) -> None:
        super().__init__()
        self.gone: dict[str, tuple[Kind, date]] = {}
        """Elder -> the fact registered late and the day it takes effect from."""

    def who(self, elder: int | None) -> str | None:
        """An elder with a fact registered is not served any more: the sale is a walk-in's."""
        found = super().who(elder)
        return None if found in self.gone else found

    def supported(self, r: MealRecord) -> bool:
        """Whether the registry as it stands supports ``r``'s subsidy."""
        fact = self.gone.get(r.elder_id or "")
        if fact is None or r.quote.subsidy <= 0:
            return True
        kind, effective = fact
        if kind == "card_revoked" and r.card_key != self.world.cards[r.elder_id or ""]:
            return True
        return self.day(r) < effective

    def unsupported(self, canteen: str, month: Month) -> set[str]:
        """The undecided sales (not voided) no longer supported that ``month``'s open statement holds: its own,
        and in the canteen's first open month those of its closed months."""
        voided, first = self.voided(), month == self.open_months(canteen)[0]
        return {
            str(r.meal_id)
            for r in self.stored.values()
            if r.kind == "sale"
            and r.canteen_id == canteen
            and r.meal_id not in voided
            and r.meal_id not in self.decisions
            and not self.supported(r)
            and (self.month(r) == month or (first and (canteen, self.month(r)) in self.closed))
        }

    def payable(self, r: MealRecord, voided: set[uuid.UUID | None]) -> bool:
        if r.kind != "sale" or r.meal_id in voided:
            return False
        decision = self.decisions.get(r.meal_id)
        if decision is not None:
            return decision == "accepted"
        return self.flags[r.meal_id] <= INFO_FLAGS and self.supported(r)

    def awaiting(self, canteen: str, month: Month) -> set[str]:
        return super().awaiting(canteen, month) | self.unsupported(canteen, month)

    def blocking(self, canteen: str, month: Month, body: dict[str, Any]) -> list[str]:
        """Also the closed months' meals taken back for ``eligibility_changed``: each awaits a decision in the
        canteen's first open month, whose close they block until then."""
        named = {uuid.UUID(m) for c in body["checks"] if c["severity"] == "error" for m in c["meal_ids"]}
        return sorted(
            str(m)
            for m in named
            if m not in self.decisions
            and (r := self.stored.get(m)) is not None
            and r.kind == "sale"
            and r.canteen_id == canteen
            and (self.month(r) == month or (canteen, self.month(r)) in self.closed)
        )

    # -- the rule ---------------------------------------------------------------------------------------------

    @precondition(lambda self: len(self.gone) < len(self.world.elders) and not any(map(self.unsynced, self.chains)))
    @rule(elder=st.integers(0, 1), kind=st.sampled_from(KINDS), back=st.sampled_from([0, 1, 3, 20, 45]))
    def register_late(self, elder: int, kind: Kind, back: int) -> None:
        """Staff register a fact effective ``back`` days ago (not before the elder's enrolment), once every
        terminal has sent what it recorded."""
        api, self.writes = self.api, self.writes + 1
        left = [e for e in self.world.elders if e not in self.gone]
        e = left[elder % len(left)]
        effective = max(HELD_SINCE, self.now.date() - timedelta(days=back))
        if kind == "card_revoked":
            cards = api.ok("GET", f"/api/v1/elders/{e}/cards", api.operator)
            (card,) = [c for c in cards if c["bound_on"] == str(HELD_SINCE)]
            body = {"revoked_on": str(effective), "reason": "挂失，家属告知自上周起丢失"}
            api.ok("POST", f"/api/v1/cards/{card['id']}/revoke", api.operator, json=body)
        else:
            body = {"status": kind, "effective_from": str(effective), "reason": "家属事后告知"}
            api.ok("POST", f"/api/v1/elders/{e}/status", api.operator, 201, json=body)
        self.gone[e] = (kind, effective)

    # -- the invariants ---------------------------------------------------------------------------------------

    def check(self) -> None:
        super().check()
        self.no_meal_paid_without_a_decision()

    @precondition(lambda self: bool(self.gone))
    @invariant()
    def no_meal_paid_without_a_decision(self) -> None:
        """Each open statement holds, with ``eligibility_changed``, the unsupported undecided meals it should; the
        ones a closed month paid are reversed by an ``eligibility_changed`` line of the first open month."""
        api = self.api
        for c in self.canteens:
            first = self.open_months(c)[0]
            for month in self.open_months(c):
                body = api.ok("GET", f"{S}/{self.sids[(c, month)]}", api.auditor)
                held = {f["meal_id"]: {x["code"] for x in f["flags"]} for f in body["flagged"] if f["status"] == "held"}
                for m in self.unsupported(c, month):
                    assert "eligibility_changed" in held.get(m, set()), (m, body["flagged"])
                if month == first:
                    taken = {
                        m
                        for a in body["statement"]["adjustments"]
                        if a["kind"] == "eligibility_changed"
                        for m in a["meal_ids"]
                    }
            paid_closed = {
                m
                for month in MONTHS
                if (c, month) in self.closed
                for line in statement(self, self.canteens.index(c), month)["lines"]
                for m in line["meal_ids"]
            }
            assert taken == paid_closed & self.unsupported(c, first)


def late_machine_on(databases: Databases) -> type[LateFacts]:
    class Machine(LateFacts):
        start = late_start(databases)

    return Machine


def test_late_facts_machine(databases: Databases) -> None:
    examples = 8 if databases.kind == "sqlite" else 4
    run_state_machine_as_test(
        late_machine_on(databases), settings=settings(max_examples=examples, stateful_step_count=40, deadline=None)
    )


@pytest.fixture
def machine(databases: Databases) -> Iterator[LateFacts]:
    m = late_machine_on(databases)()
    m.check()
    yield m
    m.teardown()


def held(m: LateFacts, canteen: int, month: Month) -> dict[str, tuple[str, set[str]]]:
    """Held meals of a statement: meal id -> (origin month, flag codes)."""
    body = m.api.ok("GET", f"{S}/{m.sids[(m.canteens[canteen], month)]}", m.api.auditor)
    return {
        f["meal_id"]: (f["origin_month"], {x["code"] for x in f["flags"]})
        for f in body["flagged"]
        if f["status"] == "held"
    }


def test_a_death_registered_after_the_meals_holds_them_until_decided(machine: LateFacts) -> None:
    """Elder 0 lunches on the 1st and the 3rd of January; on the 3rd, staff record the death from that day: the
    lunch of the 3rd is held (the 1st's is paid), and once rejected it is never paid; January closes."""
    m = machine
    play(
        m,
        [
            ("links", {"offline": set()}),
            ("serve", {"sales": [(0, 0, "lunch", "card")], "wait": 1}),
            ("next_day", {"days": 2}),
            ("serve", {"sales": [(0, 0, "lunch", "card")], "wait": 1}),
            ("sync", {"pick": 0, "size": None, "how": "once"}),
            ("register_late", {"elder": 0, "kind": "deceased", "back": 0}),
        ],
    )
    first, third = (r for r in m.chains[0].records if r.kind == "sale")
    assert held(m, 0, MONTHS[0]) == {str(third.meal_id): ("2026-01", {"eligibility_changed"})}
    play(m, [("close_month", {"canteen": 0, "verdicts": ["rejected"]})])
    (line,) = statement(m, 0, MONTHS[0])["lines"]
    assert line["meal_ids"] == [str(first.meal_id)]


def test_a_card_revoked_after_close_is_taken_back_next_month(machine: LateFacts) -> None:
    """Elder 0's January lunch (tapped) and dinner (found by hand) are paid and January closes; in February staff
    revoke the card from the 1st of January: February's statement takes the lunch back (the dinner carried no
    card), pointing to January, whose hash stays; accepting it in February pays it again."""
    m = machine
    play(
        m,
        [
            ("links", {"offline": set()}),
            ("serve", {"sales": [(0, 0, "lunch", "card"), (0, 0, "dinner", "manual")], "wait": 400}),
            ("sync", {"pick": 0, "size": None, "how": "once"}),
            ("close_month", {"canteen": 0, "verdicts": ["accepted"]}),
            ("register_late", {"elder": 0, "kind": "card_revoked", "back": 45}),
        ],
    )
    lunch = next(r for r in m.chains[0].records if r.slot == "lunch")
    jan = "2026-01"
    assert [(a["kind"], a["origin"], a["meal_ids"]) for a in statement(m, 0, MONTHS[1])["adjustments"]] == [
        ("eligibility_changed", jan, [str(lunch.meal_id)]),
        ("operating", jan, [str(lunch.meal_id)]),
    ]
    assert held(m, 0, MONTHS[1]) == {str(lunch.meal_id): (jan, {"eligibility_changed"})}
    play(m, [("close_month", {"canteen": 0, "verdicts": ["accepted"]})])
    assert statement(m, 0, MONTHS[1])["adjustments"] == []
