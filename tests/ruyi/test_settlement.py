"""Settlement: edit checks (each fires on a crafted case, all quiet on a clean month), closing, late arrivals,
the content hash, the CSV export, and properties over random months (hypothesis)."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruyi.export import StatementDoc, statement_csv
from ruyi.meal import Kind
from ruyi.rules import RuleBook, Slot
from ruyi.settlement import (
    CHECK_CODES,
    ConstructionLine,
    CorrectionLine,
    Decision,
    InvalidSettlementInput,
    MealFact,
    Month,
    PriorMonth,
    Ratio,
    Settlement,
    SettlementConfig,
    ZTotals,
    can_close,
    settle,
    settled_of,
    statement_bytes,
    statement_hash,
    target_month,
    verify_statement,
)
from tests.ruyi.factories import SHANGHAI, book

CITY = book("ruyi-city")
JUNE = Month(2026, 6)
_ids = itertools.count(1)


def fact(
    day: date,
    *,
    elder: str | None = "e1",
    slot: Slot = "lunch",
    price: int = 1200,
    subsidy: int = 200,
    minute: int = 0,
    hour: int | None = None,
    terminal: str = "t1",
    cashier: str = "k1",
    canteen: str = "c1",
    kind: Kind = "sale",
    refers_to: str | None = None,
    flags: tuple[str, ...] = (),
    decision: Decision | None = None,
    tiers: tuple[str, ...] | None = None,
    manual: bool = False,
    meal_id: str | None = None,
) -> MealFact:
    """A stored meal fact; ids count up (m000001 …) unless given."""
    if hour is None:
        hour = {"breakfast": 7, "lunch": 11, "dinner": 17}[slot]
    when = datetime(day.year, day.month, day.day, hour, 0, tzinfo=SHANGHAI) + timedelta(minutes=minute)
    return MealFact(
        meal_id=meal_id or f"m{next(_ids):06d}",
        canteen_id=canteen,
        terminal_id=terminal,
        seq=1,
        kind=kind,
        refers_to=refers_to,
        service_date=day,
        service_time=when,
        slot=slot,
        elder_id=elder,
        identified_by="walk_in" if elder is None else "manual" if manual else "card",
        cashier=cashier,
        price=price,
        subsidy=subsidy,
        elder_pays=price - subsidy,
        subsidised=subsidy > 0,
        operating_subsidy=200 if subsidy else 0,
        rule_version="2026.1",
        tiers=(tiers if tiers is not None else ("age60",) if subsidy else ()),
        flags=flags,
        decision=decision,
    )


def void(sale: MealFact, *, cashier: str | None = None, flags: tuple[str, ...] = ()) -> MealFact:
    return fact(
        sale.service_date,
        elder=sale.elder_id,
        slot=sale.slot,
        price=sale.price,
        subsidy=sale.subsidy,
        minute=5,
        terminal=sale.terminal_id,
        cashier=cashier or sale.cashier,
        canteen=sale.canteen_id,
        kind="void",
        refers_to=sale.meal_id,
        flags=flags,
    )


def z_of(facts: Iterable[MealFact]) -> list[ZTotals]:
    """What each terminal's Z-report says, computed the simple way from its records."""
    facts = list(facts)
    voided = {f.refers_to for f in facts if f.kind == "void"}
    rows: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for f in facts:
        row = rows[(f.terminal_id, f.service_date)]
        if f.kind == "void":
            row[1] += 1
        elif f.kind == "sale" and f.meal_id not in voided:
            row[0] += 1
            row[2] += f.price
            row[3] += f.subsidy
            row[4] += f.elder_pays
    return [ZTotals(t, d, r[0], r[1], r[2], r[3], r[4]) for (t, d), r in rows.items()]


@dataclasses.dataclass
class Month_:
    """A clean month and everything the checks need; tests change one thing each."""

    facts: list[MealFact]
    enrolled: dict[date, int]
    baseline: dict[date, int]
    z: list[ZTotals]
    other: list[MealFact] = dataclasses.field(default_factory=list)
    config: SettlementConfig = dataclasses.field(default_factory=SettlementConfig)
    corrections: list[CorrectionLine] = dataclasses.field(default_factory=list)

    def run(self) -> Settlement:
        return settle(
            canteen_id="c1",
            month=JUNE,
            facts=self.facts,
            rules=CITY,
            config=self.config,
            enrolled=self.enrolled,
            z_reports=self.z,
            other_canteens=self.other,
            baseline=self.baseline,
            corrections=self.corrections,
        )

    def codes(self) -> list[str]:
        return [c.code for c in self.run().checks]


def clean_month() -> Month_:
    """10 days, 30 lunches a day by 30 elders over two terminals and cashiers, all by card, nothing flagged."""
    facts = []
    days = [date(2026, 6, d) for d in range(1, 11)]
    for day in days:
        for i in range(30):
            facts.append(
                fact(day, elder=f"e{i}", minute=i * 3, terminal=f"t{i % 2}", cashier=f"k{i % 2}", meal_id=None)
            )
    baseline = {date(2026, 5, 31) - timedelta(days=k): 30 for k in range(28)}
    return Month_(facts, dict.fromkeys(days, 40), baseline, z_of(facts))


def test_clean_month_is_quiet_and_closes_without_notes() -> None:
    result = clean_month().run()
    assert result.checks == ()
    assert can_close(result.checks, {}).allowed
    assert result.statement.totals.meals == 300
    assert result.statement.totals.elder_subsidy == 300 * 200


def test_attendance_exceeded_and_unknown() -> None:
    m = clean_month()
    m.enrolled[date(2026, 6, 3)] = 29  # 30 subsidised meals > 29 x 1
    del m.enrolled[date(2026, 6, 4)]
    checks = m.run().checks
    assert [(c.code, c.evidence.days) for c in checks] == [
        ("attendance_exceeded", (date(2026, 6, 3),)),
        ("attendance_unknown", (date(2026, 6, 4),)),
    ]
    assert len(checks[0].evidence.meal_ids) == 30
    m.enrolled[date(2026, 6, 4)] = 40
    m.config = SettlementConfig(attendance_factor=Ratio(11, 10))  # 29 x 1.1 = 31.9 >= 30
    assert m.codes() == []


def test_two_canteens_within_the_interval_until_decided() -> None:
    m = clean_month()
    ours = m.facts[0]  # e0 at 11:00 on 1 June
    m.other = [fact(ours.service_date, elder="e0", slot="dinner", hour=11, minute=40, canteen="c2")]
    checks = m.run().checks
    assert [c.code for c in checks] == ["two_canteens"]
    assert checks[0].severity == "error" and checks[0].evidence.meal_ids[0] == ours.meal_id
    assert dict(checks[0].evidence.figures)["minutes_apart"] == 40
    assert not can_close(checks, {checks[0].key: "noted"}).allowed  # errors cannot be noted away
    m.facts[0] = dataclasses.replace(ours, decision="accepted")
    assert m.codes() == []


def test_two_canteens_far_apart_is_fine_but_a_voided_one_does_not_count() -> None:
    m = clean_month()
    ours = m.facts[0]
    theirs = fact(ours.service_date, elder="e0", slot="dinner", hour=11, minute=30, canteen="c2")
    m.other = [theirs, void(theirs)]
    assert m.codes() == []
    m.other = [fact(ours.service_date, elder="e0", slot="dinner", hour=17, canteen="c2")]
    assert m.codes() == []  # lunch here, dinner there: within the limits of 2 a day, 1 a slot


def test_daily_and_slot_limits_across_canteens() -> None:
    m = clean_month()
    ours = m.facts[0]
    # A second subsidised lunch elsewhere 5 hours later (offline terminal): slot limit 1 crossed.
    m.other = [fact(ours.service_date, elder="e0", slot="lunch", hour=16, canteen="c2")]
    checks = m.run().checks
    assert [(c.code, c.key) for c in checks] == [("daily_limit_exceeded", "daily_limit_exceeded:e0:2026-06-01:lunch")]
    # And a third meal (dinner at a third canteen): 3 > 2 a day as well.
    m.other.append(fact(ours.service_date, elder="e0", slot="dinner", hour=18, canteen="c3"))
    assert [c.key for c in m.run().checks] == [
        "daily_limit_exceeded:e0:2026-06-01",
        "daily_limit_exceeded:e0:2026-06-01:lunch",
    ]
    m.facts[0] = dataclasses.replace(ours, decision="rejected")
    assert m.codes() == []


@pytest.mark.parametrize(
    ("flag", "code"),
    [
        ("elder_not_eligible", "after_cancellation"),
        ("card_revoked", "card_revoked"),
        ("chain_gap", "chain_unresolved"),
    ],
)
def test_flagged_meals_block_until_decided(flag: str, code: str) -> None:
    m = clean_month()
    m.facts[5] = dataclasses.replace(m.facts[5], flags=(flag,))
    checks = m.run().checks
    assert [c.code for c in checks] == sorted([code, "meals_held"])
    hit = next(c for c in checks if c.code == code)
    assert hit.severity == "error" and hit.evidence.meal_ids == (m.facts[5].meal_id,)
    for decision in ("accepted", "rejected"):
        m.facts[5] = dataclasses.replace(m.facts[5], decision=decision)
        assert m.codes() == []


def test_manual_share_per_cashier() -> None:
    m = clean_month()
    # k1 serves 150 meals; make 31 of them manual: 20.7% > 20%.
    k1 = [i for i, f in enumerate(m.facts) if f.cashier == "k1"]
    for i in k1[:31]:
        m.facts[i] = dataclasses.replace(m.facts[i], identified_by="manual")
    checks = m.run().checks
    assert [(c.code, c.evidence.subject) for c in checks] == [("manual_share", "k1")]
    assert "20.7%" in checks[0].zh and "20.0%" in checks[0].en
    assert can_close(checks, {checks[0].key: "读卡器故障，已报修"}).allowed
    m.facts[k1[0]] = dataclasses.replace(m.facts[k1[0]], identified_by="card")  # 30/150 = 20%: not above
    assert m.codes() == []


def test_void_share_per_cashier() -> None:
    m = clean_month()
    k0 = [f for f in m.facts if f.cashier == "k0"]  # 150 sales
    voids = [void(f) for f in k0[:7]]  # 7/150 = 4.7% <= 5%
    m.facts += voids
    m.z = z_of(m.facts)
    assert m.codes() == []
    m.facts.append(void(k0[7]))  # 8/150 = 5.3%
    m.z = z_of(m.facts)
    checks = m.run().checks
    assert [(c.code, c.evidence.subject) for c in checks] == [("void_share", "k0")]
    assert len(checks[0].evidence.meal_ids) == 8


def test_signed_in_cashiers_are_checked_apart() -> None:
    """Two cashiers signed in at the counters (their records carry their staff ids): one identifies 31 of
    her 150 elders by hand, the other none. Under one shared id (every meal recorded as "cashier", as before
    sign-in) the share was 31/300 and nothing showed; apart, only the first is above 20%, and only her voids count
    against her sales."""
    wang, li = "0192a6f0-0000-7000-8000-00000000c001", "0192a6f0-0000-7000-8000-00000000c002"
    m = clean_month()
    m.facts = [dataclasses.replace(f, cashier="cashier") for f in m.facts]
    ks = [i for i, f in enumerate(clean_month().facts) if f.cashier == "k1"]
    for i in ks[:31]:
        m.facts[i] = dataclasses.replace(m.facts[i], identified_by="manual")
    m.z = z_of(m.facts)
    assert m.codes() == []  # one shared id: the manual share hides in the whole counter's
    m.facts = [dataclasses.replace(f, cashier=wang if i in ks else li) for i, f in enumerate(m.facts)]
    checks = m.run().checks
    assert [(c.code, c.evidence.subject) for c in checks] == [("manual_share", wang)]
    li_sales = [f for f in m.facts if f.cashier == li]
    m.facts += [void(f, cashier=li) for f in li_sales[:8]]  # 8/150 > 5%: Li's, not Wang's
    m.z = z_of(m.facts)
    assert sorted((c.code, c.evidence.subject) for c in m.run().checks) == [("manual_share", wang), ("void_share", li)]


def test_volume_spike_against_rolling_baseline() -> None:
    m = clean_month()
    day = date(2026, 6, 7)
    extra = [fact(day, elder=f"x{i}", minute=i, subsidy=0, tiers=()) for i in range(31)]  # 61 > 2 x 30
    m.facts += extra
    m.z = z_of(m.facts)
    checks = m.run().checks
    assert [(c.code, c.evidence.days) for c in checks] == [("volume_spike", (day,))]
    assert dict(checks[0].evidence.figures)["meals"] == 61
    m.facts = m.facts[:-1]  # 60 = 2 x 30 is not above
    m.z = z_of(m.facts)
    assert m.codes() == []


def test_spike_needs_a_baseline() -> None:
    m = clean_month()
    m.baseline = {}
    assert m.codes() == []  # the first days have too little history; later days are steady


def test_terminal_reconciliation() -> None:
    m = clean_month()
    z = m.z[3]
    m.z[3] = dataclasses.replace(z, meals=z.meals + 1, price_total=z.price_total + 1200)
    missing = m.z.pop(5)
    checks = m.run().checks
    assert [(c.code, c.evidence.subject, c.severity) for c in checks] == [
        ("terminal_mismatch", z.terminal_id, "error"),
        ("zreport_missing", missing.terminal_id, "warning"),
    ]
    figures = dict(checks[0].evidence.figures)
    assert figures == {
        "server_meals": 15,
        "terminal_meals": 16,
        "server_price_total": 18000,
        "terminal_price_total": 19200,
    }
    # A Z-report for a day the server has nothing of is a mismatch too (meals missing on the server).
    m.z = [*z_of(m.facts), ZTotals("t9", date(2026, 6, 2), 1, 0, 1200, 200, 1000)]
    assert m.codes() == ["terminal_mismatch"]


def test_void_without_sale_and_correction_window() -> None:
    m = clean_month()
    m.facts.append(fact(date(2026, 6, 2), kind="void", refers_to="m-unknown"))
    m.config = SettlementConfig(upward_window_months=2)
    m.corrections = [
        CorrectionLine("x1", Month(2026, 3), 500, "补发"),  # 3 months back, upward: outside the window
        CorrectionLine("x2", Month(2026, 3), -500, "扣回"),  # downward: always allowed
        CorrectionLine("x3", Month(2026, 4), 500, "补发"),  # 2 months back: inside
    ]
    checks = m.run().checks
    assert [(c.code, c.key) for c in checks] == [
        ("correction_window", "correction_window:x1"),
        ("void_without_sale", "void_without_sale"),
    ]


def test_severity_override_and_every_code_is_known() -> None:
    m = clean_month()
    m.enrolled[date(2026, 6, 3)] = 10
    m.config = SettlementConfig(severities={"attendance_exceeded": "error"})
    checks = m.run().checks
    assert [(c.code, c.severity) for c in checks] == [("attendance_exceeded", "error")]
    assert set(CHECK_CODES) >= {c.code for c in checks}


def test_can_close_needs_notes_for_warnings_and_no_errors() -> None:
    m = clean_month()
    m.enrolled[date(2026, 6, 3)] = 10
    m.facts[0] = dataclasses.replace(m.facts[0], flags=("quote_mismatch",))
    checks = m.run().checks
    assert [c.code for c in checks] == ["attendance_exceeded", "meals_held"]
    verdict = can_close(checks, {"attendance_exceeded:2026-06-03": "老年节活动", "meals_held": "  "})
    assert not verdict.allowed and [c.code for c in verdict.unnoted] == ["meals_held"]
    assert verdict.problems[0].zh.startswith("警告须填写说明")
    assert can_close(checks, {c.key: "说明" for c in checks}).allowed


# ----------------------------------------------------------------------------------------------------------------
# Late arrivals and closed months


def close_month(month: Month, facts: Sequence[MealFact], closed: Sequence[Any]) -> Any:
    return settle(canteen_id="c1", month=month, facts=facts, rules=CITY).statement


def test_target_month_skips_closed_months() -> None:
    closed = {Month(2026, 5), Month(2026, 6)}
    assert target_month(Month(2026, 5), closed) == Month(2026, 7)
    assert target_month(Month(2026, 4), closed) == Month(2026, 4)
    assert target_month(Month(2026, 12), {Month(2026, 12)}) == Month(2027, 1)


def test_late_meal_void_and_decision_become_adjustments_pointing_back() -> None:
    may = Month(2026, 5)
    a = fact(date(2026, 5, 30), elder="e1")
    b = fact(date(2026, 5, 30), elder="e2", subsidy=500, flags=("quote_mismatch",))
    may_stmt = settle(canteen_id="c1", month=may, facts=[a, b], rules=CITY).statement
    stored = statement_hash(may_stmt)
    assert may_stmt.totals.elder_subsidy == 200 and [h.meal_id for h in may_stmt.held] == [b.meal_id]

    # After close: a late sale of 31 May arrives, a's void arrives, b is accepted.
    late = fact(date(2026, 5, 31), elder="e3", subsidy=300)
    now = [a, void(a), dataclasses.replace(b, decision="accepted"), late]
    assert target_month(may, {may}) == JUNE
    june = settle(
        canteen_id="c1",
        month=JUNE,
        facts=[],
        rules=CITY,
        prior=[PriorMonth(tuple(now), settled_of(may, [may_stmt]))],
    ).statement
    adj = [(x.origin, x.kind, x.amount, x.meal_ids) for x in june.adjustments]
    # late_paid: b 500 + late 300 = 800; reversed: a -200; operating: now 2 meals x 200 = 400, was 1 x 200: +200
    assert adj == [
        (may, "late_paid", 800, tuple(sorted([b.meal_id, late.meal_id]))),
        (may, "reversed", -200, (a.meal_id,)),
        (may, "operating", 200, tuple(sorted([a.meal_id, b.meal_id, late.meal_id]))),
    ]
    assert june.totals.adjustments == 800 and june.totals.payable == 800
    assert verify_statement(may_stmt, stored)  # the closed month is untouched

    # Once June is closed with those adjustments, nothing more is owed for May.
    settled = settled_of(may, [may_stmt, june])
    assert settled.paid_meal_ids == {b.meal_id, late.meal_id} and settled.elder_subsidy == 800
    july = settle(canteen_id="c1", month=Month(2026, 7), facts=[], rules=CITY, prior=[PriorMonth(tuple(now), settled)])
    assert july.statement.adjustments == ()


def test_upward_window_leaves_old_late_meals_unpaid_but_listed() -> None:
    jan = Month(2026, 1)
    a = fact(date(2026, 1, 10))
    jan_stmt = settle(canteen_id="c1", month=jan, facts=[a], rules=CITY).statement
    late = fact(date(2026, 1, 11), elder="e2")
    prior = PriorMonth((a, late, void(a)), settled_of(jan, [jan_stmt]))
    config = SettlementConfig(upward_window_months=3)
    june = settle(canteen_id="c1", month=JUNE, facts=[], rules=CITY, prior=[prior], config=config).statement
    assert [(x.kind, x.amount) for x in june.adjustments] == [("reversed", -200), ("operating", -200)]
    assert [(h.meal_id, h.status) for h in june.held] == [(late.meal_id, "window_expired")]


def test_prior_month_must_match_what_was_settled() -> None:
    may = Month(2026, 5)
    a = fact(date(2026, 5, 30))
    may_stmt = settle(canteen_id="c1", month=may, facts=[a], rules=CITY).statement
    settled = settled_of(may, [may_stmt])
    with pytest.raises(InvalidSettlementInput) as exc:
        settle(canteen_id="c1", month=JUNE, facts=[], rules=CITY, prior=[PriorMonth((), settled)])
    assert exc.value.code == "settlement.prior_incomplete"
    changed = dataclasses.replace(a, subsidy=300, elder_pays=900)
    with pytest.raises(InvalidSettlementInput) as exc:
        settle(canteen_id="c1", month=JUNE, facts=[], rules=CITY, prior=[PriorMonth((changed,), settled)])
    assert exc.value.code == "settlement.prior_mismatch"
    with pytest.raises(InvalidSettlementInput):
        settled_of(Month(2026, 4), [may_stmt])


def test_inputs_refused() -> None:
    a = fact(date(2026, 6, 1))
    with pytest.raises(InvalidSettlementInput, match="different content"):
        settle(canteen_id="c1", month=JUNE, facts=[a, dataclasses.replace(a, price=1300, elder_pays=1100)], rules=CITY)
    with pytest.raises(InvalidSettlementInput, match="not in 2026-06"):
        settle(canteen_id="c1", month=JUNE, facts=[fact(date(2026, 7, 1))], rules=CITY)
    with pytest.raises(InvalidSettlementInput, match="belongs to canteen c2"):
        settle(canteen_id="c1", month=JUNE, facts=[fact(date(2026, 6, 1), canteen="c2")], rules=CITY)
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(a, service_time=datetime(2026, 6, 1, 11))  # noqa: DTZ001
    with pytest.raises(ValueError, match="subsidy \\+ elder_pays"):
        dataclasses.replace(a, subsidy=300)
    with pytest.raises(ValueError, match="Ratio"):
        SettlementConfig(attendance_factor=0.9)  # type: ignore[arg-type]
    # The same fact twice (sent twice) is one meal.
    once = settle(canteen_id="c1", month=JUNE, facts=[a], rules=CITY).statement
    twice = settle(canteen_id="c1", month=JUNE, facts=[a, a], rules=CITY).statement
    assert statement_hash(once) == statement_hash(twice)


def test_ratio_parse_and_month() -> None:
    assert Ratio.parse("0.9") == Ratio(9, 10) and Ratio.parse("9/10") == Ratio(9, 10) and Ratio.parse("2") == Ratio(2)
    assert Ratio(9, 10).below(10, 11) is True and Ratio(9, 10).below(9, 10) is False
    assert Month.parse("2026-06") == JUNE and str(JUNE) == "2026-06" and JUNE.last_day == date(2026, 6, 30)
    assert Month(2026, 12).next() == Month(2027, 1)


# ----------------------------------------------------------------------------------------------------------------
# Hash and CSV


def test_hash_is_of_canonical_bytes_and_changes_with_content() -> None:
    m = clean_month()
    s = m.run().statement
    data = statement_bytes(s)
    assert data.startswith(b'{"adjustments":[],"canteen_id":"c1","construction":[],"format":"ruyi-statement/1"')
    assert b"." not in data.replace(b"ruyi-statement/1", b"").replace(b"2026.1", b"")  # no float, no yuan text
    assert b'"month":"2026-06"' in data and b'"day":"2026-06-01"' in data
    other = settle(canteen_id="c1", month=JUNE, facts=m.facts[1:], rules=CITY).statement
    assert statement_hash(other) != statement_hash(s)
    assert len(statement_hash(s)) == 64


# ----------------------------------------------------------------------------------------------------------------
# Properties


DECISIONS: list[Decision | None] = [None, None, "accepted", "rejected"]


@st.composite
def months(draw: st.DrawFn, rules: RuleBook = CITY) -> list[MealFact]:
    """A random small June: sales (some flagged, some decided), voids of some, reprints of some."""
    n = draw(st.integers(0, 40))
    facts: list[MealFact] = []
    for i in range(n):
        day = date(2026, 6, draw(st.integers(1, 30)))
        subsidy = draw(st.sampled_from([0, 200, 300, 500, 1000]))
        flags = draw(st.sampled_from([(), (), (), ("quote_mismatch",), ("card_revoked", "stale_roster")]))
        decision = draw(st.sampled_from(DECISIONS))
        sale = fact(
            day,
            elder=draw(st.sampled_from([None, "e1", "e2", "e3", "e4"])) if subsidy == 0 else f"e{i % 5}",
            slot=draw(st.sampled_from(["lunch", "dinner"])),
            subsidy=subsidy,
            minute=draw(st.integers(0, 120)),
            terminal=draw(st.sampled_from(["t1", "t2"])),
            flags=flags,
            decision=decision,
            meal_id=f"m{i:03d}",
        )
        facts.append(sale)
        extra = draw(st.sampled_from(["", "", "void", "reprint"]))
        if extra == "void":
            facts.append(dataclasses.replace(void(sale), meal_id=f"v{i:03d}"))
        elif extra == "reprint":
            facts.append(dataclasses.replace(sale, meal_id=f"r{i:03d}", kind="reprint", refers_to=sale.meal_id))
    return facts


def payable_ids(facts: Iterable[MealFact]) -> set[str]:
    facts = list(facts)
    voided = {f.refers_to for f in facts if f.kind == "void"}
    return {
        f.meal_id
        for f in facts
        if f.kind == "sale"
        and f.meal_id not in voided
        and (f.decision == "accepted" or (f.decision is None and not f.flags))
    }


@settings(max_examples=150, deadline=None)
@given(months(), st.randoms(use_true_random=False))
def test_same_data_in_any_order_gives_the_same_bytes(facts: list[MealFact], rnd: random.Random) -> None:
    shuffled = list(facts)
    rnd.shuffle(shuffled)
    a = settle(canteen_id="c1", month=JUNE, facts=facts, rules=CITY, z_reports=z_of(facts))
    b = settle(canteen_id="c1", month=JUNE, facts=shuffled, rules=CITY, z_reports=list(reversed(z_of(facts))))
    assert statement_bytes(a.statement) == statement_bytes(b.statement)
    assert a.checks == b.checks
    doc = (CITY, "ry-01", "一号店", "draft")
    assert statement_csv(StatementDoc(a.statement, *doc)) == statement_csv(StatementDoc(b.statement, *doc))


@settings(max_examples=150, deadline=None)
@given(months())
def test_lines_add_up_and_only_payable_meals_are_paid(facts: list[MealFact]) -> None:
    s = settle(
        canteen_id="c1", month=JUNE, facts=facts, rules=CITY, construction=[ConstructionLine("k", 12345, "x")]
    ).statement
    t = s.totals
    paid = [m for line in s.lines for m in line.meal_ids]
    assert len(paid) == len(set(paid)) == t.meals
    assert set(paid) == payable_ids(facts)  # voided never, rejected never, flagged only when accepted
    by_id = {f.meal_id: f for f in facts}
    assert sum(line.elder_subsidy for line in s.lines) == t.elder_subsidy == sum(by_id[m].subsidy for m in paid)
    assert sum(d.paid for d in s.operating) == t.operating
    assert t.operating_gross - t.operating_cap_reduction == t.operating
    assert t.payable == t.elder_subsidy + t.operating + t.construction + t.adjustments
    assert t.operating == 200 * sum(by_id[m].subsidised for m in paid)  # ¥2 a subsidised meal, cap far away
    held = {h.meal_id: h.status for h in s.held}
    voided = {f.refers_to for f in facts if f.kind == "void"}
    for f in facts:
        if f.kind != "sale":
            continue
        if f.meal_id in voided:
            assert f.meal_id not in held and f.meal_id not in paid
        elif f.decision == "rejected":
            assert held[f.meal_id] == "rejected"
        elif f.decision is None and f.flags:
            assert held[f.meal_id] == "held"
    assert t.held_subsidy == sum(by_id[m].subsidy for m, st_ in held.items() if st_ == "held")


def test_manual_identification_flag_alone_does_not_hold_a_meal() -> None:
    a = fact(date(2026, 6, 1), manual=True, flags=("manual_identification",))
    b = fact(date(2026, 6, 1), elder="e2", manual=True, flags=("manual_identification", "stale_roster"))
    s = settle(canteen_id="c1", month=JUNE, facts=[a, b], rules=CITY).statement
    assert [m for line in s.lines for m in line.meal_ids] == [a.meal_id]
    assert [(h.meal_id, h.status) for h in s.held] == [(b.meal_id, "held")]
    strict = SettlementConfig(info_flags=frozenset())
    assert settle(canteen_id="c1", month=JUNE, facts=[a], rules=CITY, config=strict).statement.totals.meals == 0
