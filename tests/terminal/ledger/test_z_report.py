"""End of day: the Z-report adds up to the meals of the day, is stored, and can be printed again."""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ruyi.meal import PAYMENT_METHODS, PaymentMethod
from terminal.ledger import Ledger
from tests.terminal.ledger.builders import NOON, ZONE, open_ledger, sell

DAY = NOON.date()
OPEN = datetime(2026, 3, 2, 6, 0, tzinfo=ZONE)


def test_an_empty_day(ledger: Ledger) -> None:
    z = ledger.z_report(DAY, now=NOON)
    assert (z.sales, z.meals, z.voids, z.price_total, z.first_seq, z.last_seq, z.chain_head) == (
        0,
        0,
        0,
        0,
        None,
        None,
        None,
    )
    assert z.elder_pays_by_method == dict.fromkeys(PAYMENT_METHODS, 0)


def test_a_small_day_by_hand(ledger: Ledger) -> None:
    sell(ledger, NOON - timedelta(days=1))  # yesterday: not in today's report
    a = sell(ledger, NOON, price=1300, subsidy=500, operating=200, payment_method="cash")
    b = sell(ledger, NOON, price=1100, subsidy=300, operating=200, payment_method="wechat", how="manual")
    c = sell(ledger, NOON, elder_id=None, price=1500, subsidy=0, payment_method="cash")
    void = ledger.record_void(b.meal_id, reason="退餐", cashier="c07", now=NOON)
    ledger.record_reprint(a.meal_id, cashier="c07", now=NOON)
    z = ledger.z_report(DAY, now=NOON + timedelta(hours=8))
    assert (z.sales, z.voids, z.reprints, z.meals, z.subsidised_meals, z.walk_ins, z.manual_entries) == (
        3,
        1,
        1,
        2,
        1,
        1,
        0,
    )
    assert z.price_total == 1300 + 1500
    assert z.subsidy_total == 500
    assert z.elder_pays_total == 800 + 1500
    assert z.operating_subsidy_total == 200
    assert z.elder_pays_by_method == {"cash": 2300, "wechat": 0, "alipay": 0, "other": 0}
    assert (z.voided_price_total, z.voided_subsidy_total, z.voided_elder_pays_total) == (1100, 300, 800)
    assert (z.first_seq, z.last_seq) == (a.seq, void.seq + 1)
    assert z.chain_head == ledger.head().hash
    assert z.terminal_id == a.terminal_id
    assert z.day == DAY
    assert c.seq == a.seq + 2


def test_reports_are_stored_and_can_be_printed_again(ledger: Ledger) -> None:
    sell(ledger)
    first = ledger.z_report(DAY, now=NOON + timedelta(hours=1))
    sell(ledger, NOON + timedelta(hours=2))
    second = ledger.z_report(DAY, now=NOON + timedelta(hours=3))
    assert ledger.z_reports(DAY) == [first, second]
    assert (first.meals, second.meals) == (1, 2)
    assert ledger.z_reports(DAY + timedelta(days=1)) == []


sale_ops = st.tuples(
    st.integers(min_value=1, max_value=600),  # seconds after the last one
    st.sampled_from([None, "E1", "E2", "E3"]),
    st.integers(min_value=0, max_value=3000),  # price
    st.integers(min_value=0, max_value=100),  # subsidy, percent of the price
    st.sampled_from(PAYMENT_METHODS),
    st.booleans(),  # void it later
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(sale_ops, max_size=25), other_day=st.lists(sale_ops, max_size=4))
def test_z_report_sums_equal_the_sums_of_the_meals(
    ops: list[tuple[int, str | None, int, int, PaymentMethod, bool]],
    other_day: list[tuple[int, str | None, int, int, PaymentMethod, bool]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp, open_ledger(Path(tmp) / "l.sqlite3") as ledger:
        when = OPEN - timedelta(days=1)
        for gap, elder, price, pct, _method, _void in other_day:
            when += timedelta(seconds=gap)
            sell(ledger, when, elder_id=elder, price=price, subsidy=0 if elder is None else price * pct // 100)
        when = OPEN
        to_void = []
        for gap, elder, price, pct, method, void in ops:
            when += timedelta(seconds=gap)
            subsidy = 0 if elder is None else price * pct // 100
            r = sell(ledger, when, elder_id=elder, price=price, subsidy=subsidy, payment_method=method)
            if void:
                to_void.append(r)
        for r in to_void:
            ledger.record_void(r.meal_id, reason="退", cashier="c07", now=when)

        records = ledger.meals_on(DAY)
        voided = {r.refers_to for r in records if r.kind == "void"}
        kept = [r for r in records if r.kind == "sale" and r.meal_id not in voided]
        gone = [r for r in records if r.kind == "sale" and r.meal_id in voided]
        z = ledger.z_report(DAY, now=when)

        assert z.sales == len(ops)
        assert z.voids == len(to_void)
        assert z.meals == len(kept) == len(ops) - len(to_void)
        assert z.price_total == sum(r.quote.price for r in kept)
        assert z.subsidy_total == sum(r.quote.subsidy for r in kept)
        assert z.elder_pays_total == sum(r.quote.elder_pays for r in kept)
        assert z.operating_subsidy_total == sum(r.quote.operating_subsidy for r in kept)
        assert z.subsidised_meals == sum(r.quote.subsidised for r in kept)
        assert z.price_total == z.subsidy_total + z.elder_pays_total
        assert sum(z.elder_pays_by_method.values()) == z.elder_pays_total
        for method in PAYMENT_METHODS:
            assert z.elder_pays_by_method[method] == sum(r.quote.elder_pays for r in kept if r.payment_method == method)
        assert z.voided_price_total == sum(r.quote.price for r in gone)
        assert z.voided_subsidy_total + z.subsidy_total == sum(r.quote.subsidy for r in records if r.kind == "sale")
        if records:
            assert (z.first_seq, z.last_seq) == (records[0].seq, records[-1].seq)
            assert z.chain_head == records[-1].hash
        assert ledger.z_reports(DAY) == [z]
        assert ledger.integrity_check()


def test_a_report_for_a_day_with_only_other_days(ledger: Ledger) -> None:
    sell(ledger, NOON + timedelta(days=1))
    assert ledger.z_report(date(2026, 3, 2), now=NOON).sales == 0
