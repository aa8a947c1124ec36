"""A hypothesis state machine over a canteen's months: meals recorded (also long after their month closed), voids,
review decisions and closes. The caller's part (which months are closed, what was settled) is modelled the way the
server will do it, with ruyi's own functions only: :func:`target_month`, :func:`settled_of`, :func:`settle`.

The registry changes too, AFTER the meals: a death, cancellation or suspension from a date, a card reported lost
since a day. Every statement is settled against the registry as it stands then (:class:`Registry`).

Invariants: a closed statement's hash never changes (and recomputing it from what was known at close gives the same
bytes); no meal is ever paid twice; no meal the registry no longer supports (the model's own reading: a status other
than enrolled on its day, or its card revoked before it) is paid in any statement without a decision; once
everything is flushed, each payable meal is paid exactly once (in its month or in one adjustment), nothing else is,
and the statements' subsidies plus adjustments equal the subsidies of the accepted eligible meals; the operating
subsidy paid per month equals the month recomputed from the final facts.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import date, datetime, time

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ruyi.eligibility import ElderProfile, EnrolmentStatus, StatusChange
from ruyi.settlement import (
    Decision,
    MealFact,
    Month,
    PriorMonth,
    Registry,
    RegistryFact,
    Revocation,
    Statement,
    settle,
    settled_of,
    statement_hash,
    target_month,
    verify_statement,
)
from tests.ruyi.factories import SHANGHAI, book
from tests.ruyi.test_settlement import fact, payable_ids, void
from tests.ruyi.test_settlement_golden import with_cap

RULES = with_cap(book("ruyi-city"), 0, 1000)  # a small cap (¥10) so recomputed months hit it
MONTHS = [Month(2026, m) for m in (1, 2, 3)]
FLAGS = [(), (), ("quote_mismatch",), ("elder_not_eligible",)]
DECISIONS: list[Decision] = ["accepted", "rejected"]
ELDERS = ["e1", "e2", "e3", "e4"]
BORN = date(1942, 5, 1)  # 83 or 84 in 2026: the age80 tier (¥5.00) supports every subsidy recorded here
ENDS = [EnrolmentStatus.DECEASED, EnrolmentStatus.CANCELLED, EnrolmentStatus.SUSPENDED]
Closed = tuple[Statement, str, tuple[MealFact, ...], tuple[PriorMonth, ...], Registry]


def card_of(elder: str) -> str:
    return f"card-{elder}"


class Settlement(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.facts: dict[str, MealFact] = {}
        self.closed: list[Closed] = []
        self.n = 0
        self.ended: dict[str, tuple[EnrolmentStatus, date]] = {}
        """Elders whose enrolment ended (or was suspended) from a date, as registered so far."""
        self.lost: dict[str, datetime] = {}
        """Cards reported lost, from when."""

    # -- the registry now --------------------------------------------------------------------------------------------

    def registry(self) -> Registry:
        profiles = {}
        facts = []
        for e in ELDERS:
            statuses = [StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2020, 1, 1))]
            if e in self.ended:
                status, since = self.ended[e]
                statuses.append(StatusChange(status=status, effective_from=since))
                facts.append(RegistryFact(e, "status", status.value, since))
            profiles[e] = ElderProfile(elder_id=e, birth_date=BORN, statuses=tuple(statuses))
        revocations = {
            card_of(e): Revocation(card_of(e), since, RegistryFact(e, "card_revoked", card_of(e), since.date()))
            for e, since in self.lost.items()
        }
        return Registry(profiles, revocations, tuple(facts))

    def supported(self, f: MealFact) -> bool:
        """The model's own reading of the registry now: no subsidy after an enrolment ended, or on a lost card."""
        if f.subsidy == 0 or f.elder_id is None:
            return True
        ended = self.ended.get(f.elder_id)
        if ended is not None and f.service_date >= ended[1]:
            return False
        lost = self.lost.get(f.elder_id)
        return not (lost is not None and f.card_key == card_of(f.elder_id) and f.service_time >= lost)

    # -- the caller's bookkeeping ----------------------------------------------------------------------------------

    def closed_months(self) -> set[Month]:
        return {s.month for s, *_ in self.closed}

    def open_month(self) -> Month:
        """The earliest month not closed (months close in order)."""
        return target_month(MONTHS[0], self.closed_months())

    def facts_of(self, month: Month) -> tuple[MealFact, ...]:
        sales = {m for m, f in self.facts.items() if f.kind == "sale" and month.contains(f.service_date)}
        return tuple(f for f in self.facts.values() if f.meal_id in sales or f.refers_to in sales)

    def statement_now(self, month: Month) -> tuple[Statement, tuple[MealFact, ...], tuple[PriorMonth, ...]]:
        closed = self.closed_months()
        statements = [s for s, *_ in self.closed]
        prior = tuple(
            PriorMonth(self.facts_of(origin), settled_of(origin, statements))
            for origin in sorted(closed)
            if target_month(origin, closed) == month
        )
        facts = self.facts_of(month)
        registry = self.registry()
        return (
            settle(canteen_id="c1", month=month, facts=facts, rules=RULES, prior=prior, registry=registry).statement,
            facts,
            prior,
        )

    # -- rules -----------------------------------------------------------------------------------------------------

    @rule(
        month=st.sampled_from(MONTHS),
        day=st.integers(1, 28),
        elder=st.sampled_from(["e1", "e2", "e3", "e4"]),
        slot=st.sampled_from(["lunch", "dinner"]),
        subsidy=st.sampled_from([0, 200, 500]),
        flags=st.sampled_from(FLAGS),
    )
    def record(self, *, month: Month, day: int, elder: str, slot: str, subsidy: int, flags: tuple[str, ...]) -> None:
        """A meal reaches the server: in an open month, or late into a closed one."""
        self.n += 1
        f = fact(
            date(month.year, month.month, day),
            elder=elder,
            slot="lunch" if slot == "lunch" else "dinner",
            subsidy=subsidy,
            minute=self.n,
            flags=flags,
            meal_id=f"m{self.n:04d}",
        )
        self.facts[f.meal_id] = dataclasses.replace(f, card_key=card_of(elder))

    @rule(elder=st.sampled_from(ELDERS), status=st.sampled_from(ENDS), month=st.sampled_from(MONTHS),
          day=st.integers(1, 28))  # fmt: skip
    def register_end(self, *, elder: str, status: EnrolmentStatus, month: Month, day: int) -> None:
        """A death, cancellation or suspension from a date, registered now: usually after the meals it covers,
        perhaps after their month closed."""
        if elder not in self.ended:
            self.ended[elder] = (status, date(month.year, month.month, day))

    @rule(elder=st.sampled_from(ELDERS), month=st.sampled_from(MONTHS), day=st.integers(1, 28))
    def report_card_lost(self, *, elder: str, month: Month, day: int) -> None:
        """A card reported lost 'since' a day, now."""
        if elder not in self.lost:
            self.lost[elder] = datetime.combine(date(month.year, month.month, day), time(0), SHANGHAI)

    @precondition(lambda self: any(f.kind == "sale" for f in self.facts.values()))
    @rule(data=st.data())
    def void_one(self, data: st.DataObject) -> None:
        voided = {f.refers_to for f in self.facts.values() if f.kind == "void"}
        sales = sorted(m for m, f in self.facts.items() if f.kind == "sale" and m not in voided)
        if not sales:
            return
        sale = self.facts[data.draw(st.sampled_from(sales))]
        self.n += 1
        v = dataclasses.replace(void(sale), meal_id=f"v{self.n:04d}")
        self.facts[v.meal_id] = v

    @precondition(lambda self: any(f.kind == "sale" and f.decision is None for f in self.facts.values()))
    @rule(data=st.data(), decision=st.sampled_from(DECISIONS))
    def decide(self, data: st.DataObject, decision: Decision) -> None:
        undecided = sorted(m for m, f in self.facts.items() if f.kind == "sale" and f.decision is None)
        mid = data.draw(st.sampled_from(undecided))
        self.facts[mid] = dataclasses.replace(self.facts[mid], decision=decision)

    @rule()
    def close(self) -> None:
        month = self.open_month()
        statement, facts, prior = self.statement_now(month)
        self.closed.append((statement, statement_hash(statement), facts, prior, self.registry()))
        for kind in sorted({a.kind for a in statement.adjustments}):
            event(f"closed with a {kind} adjustment")
        if any(h.status == "held" for h in statement.held):
            event("closed with held meals")

    # -- invariants ------------------------------------------------------------------------------------------------

    @invariant()
    def closed_statements_never_change(self) -> None:
        for statement, stored, facts, prior, registry in self.closed:
            assert verify_statement(statement, stored)
            again = settle(
                canteen_id="c1", month=statement.month, facts=facts, rules=RULES, prior=prior, registry=registry
            ).statement
            assert statement_hash(again) == stored

    @invariant()
    def nothing_unsupported_paid_without_a_decision(self) -> None:
        """The open month as it would close now pays no meal (its own, or one of a closed month paid back) that
        the registry now no longer supports, unless a reviewer decided it; closed months only ever take such
        meals back (the books as they would stand after this close are balanced in :meth:`teardown`)."""
        statement, *_ = self.statement_now(self.open_month())
        paid = {m for line in statement.lines for m in line.meal_ids}
        paid |= {m for a in statement.adjustments if a.kind == "late_paid" for m in a.meal_ids}
        for mid in paid:
            f = self.facts[mid]
            assert f.decision is not None or self.supported(f), mid
        taken_back = {
            m for a in statement.adjustments if a.kind in ("reversed", "eligibility_changed") for m in a.meal_ids
        }
        for mid in {m for m, c in self.paid_counts().items() if c == 1} - taken_back:
            f = self.facts[mid]
            assert f.decision is not None or self.supported(f), mid

    @invariant()
    def no_meal_paid_twice(self) -> None:
        for count in self.paid_counts().values():
            assert count in (0, 1)

    def paid_counts(self) -> Counter[str]:
        count: Counter[str] = Counter()
        for statement, *_ in self.closed:
            for line in statement.lines:
                count.update(line.meal_ids)
            for a in statement.adjustments:
                if a.kind == "late_paid":
                    count.update(a.meal_ids)
                elif a.kind in ("reversed", "eligibility_changed"):
                    count.subtract(a.meal_ids)
        return count

    def teardown(self) -> None:
        """Flush: close every month meals can be in, then one more (it takes every pending change), then check
        that the books balance."""
        while self.open_month() <= MONTHS[-1]:
            self.close()
        self.close()
        counts = self.paid_counts()
        payable = {
            m for m in payable_ids(self.facts.values()) if self.facts[m].decision or self.supported(self.facts[m])
        }
        assert {m for m, c in counts.items() if c == 1} == payable
        assert all(c in (0, 1) for c in counts.values())
        statements = [s for s, *_ in self.closed]
        paid_subsidy = sum(s.totals.elder_subsidy for s in statements) + sum(
            a.amount
            for s in statements
            for a in s.adjustments
            if a.kind in ("late_paid", "reversed", "eligibility_changed")
        )
        assert paid_subsidy == sum(self.facts[m].subsidy for m in payable)
        for month in {s.month for s in statements}:
            paid_operating = sum(s.totals.operating for s in statements if s.month == month) + sum(
                a.amount for s in statements for a in s.adjustments if a.kind == "operating" and a.origin == month
            )
            facts = self.facts_of(month)
            alone = settle(canteen_id="c1", month=month, facts=facts, rules=RULES, registry=self.registry()).statement
            assert paid_operating == alone.totals.operating
            assert alone.totals.operating <= 1000  # never above the month's cap, adjustments included


Settlement.TestCase.settings = settings(max_examples=120, stateful_step_count=40, deadline=None)
TestSettlementMachine = Settlement.TestCase
