"""Sales, voids and reprints: gapless seq, a valid chain, the rules of voids and reprints, daily-limit history."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from ruyi.eligibility import ElderProfile, EnrolmentStatus, StatusChange
from ruyi.meal import ChainHead, MealRecord, genesis_hash, uuid7, uuid7_unix_ms, verify_chain
from ruyi.pricing import MealRequest, quote
from ruyi.reasons import Reason
from ruyi.rules import RuleBook
from terminal.ledger import Ledger
from terminal.ledger_file import LedgerError
from tests.ruyi.factories import book
from tests.terminal.ledger.builders import CANTEEN, NOON, TERMINAL, ZONE, make_quote, sell


def test_the_first_sale_links_to_the_terminals_genesis(ledger: Ledger) -> None:
    assert ledger.head() == ChainHead.genesis(TERMINAL)
    r = sell(ledger)
    assert r.seq == 1
    assert r.prev_hash == genesis_hash(TERMINAL)
    assert r.terminal_id == TERMINAL
    assert r.canteen_id == CANTEEN
    assert r.kind == "sale"
    assert ledger.head() == ChainHead.of(r)
    assert r.meal_id.version == 7
    assert uuid7_unix_ms(r.meal_id) == int(NOON.timestamp() * 1000)
    assert ledger.get(r.meal_id) == r


def test_what_is_returned_is_what_is_stored(ledger: Ledger) -> None:
    made = [
        sell(ledger, NOON),
        sell(ledger, NOON + timedelta(seconds=1), elder_id=None),
        sell(ledger, NOON + timedelta(seconds=2), how="manual", payment_method="wechat"),
    ]
    assert ledger.records() == made
    assert [r.identified_by for r in made] == ["card", "walk_in", "manual"]
    assert made[1].elder_id is None
    assert made[1].card_kind is None
    assert made[2].manual_reason == "忘带卡"
    assert made[2].card_kind is None
    # Stored in UTC; the same instant.
    assert made[0].service_time == NOON


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seq_is_gapless_and_the_chain_valid_over_many_sales_voids_and_reprints(ledger: Ledger, seed: int) -> None:
    rng = random.Random(seed)
    when = NOON
    sales: list[MealRecord] = []
    voided: set[object] = set()
    made: list[MealRecord] = []
    for _ in range(150):
        when += timedelta(seconds=rng.randint(1, 30))
        roll = rng.random()
        live = [s for s in sales if s.meal_id not in voided]
        if roll < 0.15 and live:
            target = rng.choice(live)
            made.append(ledger.record_void(target.meal_id, reason="点错了", cashier="c02", now=when))
            voided.add(target.meal_id)
        elif roll < 0.25 and live:
            made.append(ledger.record_reprint(rng.choice(live).meal_id, cashier="c02", now=when))
        else:
            elder = rng.choice([None, "E1", "E2", "E3"])
            r = sell(ledger, when, elder_id=elder, subsidy=0 if elder is None else rng.choice([0, 300, 500]))
            sales.append(r)
            made.append(r)
    records = ledger.records()
    assert records == made
    assert [r.seq for r in records] == list(range(1, len(made) + 1))
    assert len({r.meal_id for r in records}) == len(records)
    assert verify_chain(records) == []
    assert ledger.integrity_check()
    assert ledger.head() == ChainHead.of(records[-1])


def test_meals_on_a_day_follow_the_ledgers_time_zone(ledger: Ledger) -> None:
    late = datetime(2026, 3, 2, 23, 59, 59, 999000, tzinfo=ZONE)
    early = datetime(2026, 3, 3, 0, 0, 0, tzinfo=ZONE)
    a = sell(ledger, late)
    b = sell(ledger, early)
    c = sell(ledger, early.astimezone(UTC) + timedelta(hours=1))  # 01:00 Shanghai, 17:00 UTC the day before
    assert ledger.meals_on(date(2026, 3, 2)) == [a]
    assert ledger.meals_on(date(2026, 3, 3)) == [b, c]
    assert ledger.meals_on(date(2026, 3, 4)) == []


def test_a_quote_for_another_day_is_refused(ledger: Ledger) -> None:
    yesterday_quote = make_quote(NOON - timedelta(days=1))
    with pytest.raises(LedgerError) as caught:
        sell(ledger, NOON, quote=yesterday_quote)
    assert caught.value.code == "sale.other_day"
    assert ledger.records() == []


def test_a_naive_time_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="aware"):
        ledger.record_sale(
            now=NOON.replace(tzinfo=None),
            quote=make_quote(NOON),
            slot="lunch",
            menu_item_id="set-a",
            payment_method="cash",
            cashier="c07",
            identified_by="walk_in",
        )


def test_an_inconsistent_sale_is_refused_and_takes_no_seq(ledger: Ledger) -> None:
    with pytest.raises(ValidationError):
        sell(ledger, elder_id="E1", how="walk_in")
    with pytest.raises(ValidationError):
        sell(ledger, elder_id="张三")  # a name is not an elder id
    assert sell(ledger).seq == 1


# ---- voids


def test_a_void_points_at_the_sale_and_repeats_it(ledger: Ledger) -> None:
    sale = sell(ledger, how="manual", payment_method="alipay")
    void = ledger.record_void(sale.meal_id, reason="顾客退餐", cashier="c09", now=NOON + timedelta(minutes=5))
    assert void.kind == "void"
    assert void.refers_to == sale.meal_id
    assert void.reason == "顾客退餐"
    assert void.cashier == "c09"
    assert void.seq == 2
    assert void.prev_hash == sale.hash
    assert void.service_time == NOON + timedelta(minutes=5)
    for field in ("elder_id", "identified_by", "manual_reason", "menu_item_id", "slot", "payment_method", "quote"):
        assert getattr(void, field) == getattr(sale, field)
    assert ledger.get(sale.meal_id) == sale  # the sale itself is unchanged


def test_a_sale_is_voided_once_only(ledger: Ledger) -> None:
    sale = sell(ledger)
    ledger.record_void(sale.meal_id, reason="错", cashier="c07", now=NOON)
    with pytest.raises(LedgerError) as caught:
        ledger.record_void(sale.meal_id, reason="再错", cashier="c07", now=NOON)
    assert caught.value.code == "void.twice"
    assert ledger.head().seq == 2


def test_only_a_sale_can_be_voided(ledger: Ledger) -> None:
    sale = sell(ledger)
    reprint = ledger.record_reprint(sale.meal_id, cashier="c07", now=NOON)
    void = ledger.record_void(sale.meal_id, reason="错", cashier="c07", now=NOON)
    for target in (void, reprint):
        with pytest.raises(LedgerError) as caught:
            ledger.record_void(target.meal_id, reason="错", cashier="c07", now=NOON)
        assert caught.value.code == "void.not_a_sale"


def test_a_void_is_same_day_only(ledger: Ledger) -> None:
    sale = sell(ledger, NOON)
    next_day = datetime(2026, 3, 3, 0, 0, 1, tzinfo=ZONE)
    with pytest.raises(LedgerError) as caught:
        ledger.record_void(sale.meal_id, reason="错", cashier="c07", now=next_day)
    assert caught.value.code == "void.other_day"
    last_moment = datetime(2026, 3, 2, 23, 59, 59, tzinfo=ZONE)
    assert ledger.record_void(sale.meal_id, reason="错", cashier="c07", now=last_moment).kind == "void"


def test_voiding_an_unknown_meal_is_refused(ledger: Ledger) -> None:
    sell(ledger)
    stranger = uuid7(int(NOON.timestamp() * 1000), bytes(10))
    with pytest.raises(LedgerError) as caught:
        ledger.record_void(stranger, reason="错", cashier="c07", now=NOON)
    assert caught.value.code == "void.unknown"
    with pytest.raises(LedgerError) as caught:
        ledger.record_reprint(stranger, cashier="c07", now=NOON)
    assert caught.value.code == "reprint.unknown"
    assert ledger.head().seq == 1


def test_a_void_needs_a_reason(ledger: Ledger) -> None:
    sale = sell(ledger)
    with pytest.raises(ValidationError):
        ledger.record_void(sale.meal_id, reason="", cashier="c07", now=NOON)
    assert ledger.head().seq == 1


# ---- reprints


def test_reprints_of_sales_and_voids(ledger: Ledger) -> None:
    sale = sell(ledger)
    again = ledger.record_reprint(sale.meal_id, cashier="c03", now=NOON + timedelta(minutes=1))
    assert (again.kind, again.refers_to, again.reason, again.cashier) == ("reprint", sale.meal_id, None, "c03")
    assert again.quote == sale.quote
    other = sell(ledger)
    void = ledger.record_void(other.meal_id, reason="错", cashier="c07", now=NOON)
    assert ledger.record_reprint(void.meal_id, cashier="c07", now=NOON).refers_to == void.meal_id
    with pytest.raises(LedgerError) as caught:
        ledger.record_reprint(other.meal_id, cashier="c07", now=NOON)
    assert caught.value.code == "reprint.voided"
    with pytest.raises(LedgerError) as caught:
        ledger.record_reprint(again.meal_id, cashier="c07", now=NOON)
    assert caught.value.code == "reprint.of_reprint"


def test_a_reprint_on_a_later_day_is_fine(ledger: Ledger) -> None:
    sale = sell(ledger)
    later = NOON + timedelta(days=3)
    assert ledger.record_reprint(sale.meal_id, cashier="c07", now=later).service_time == later


# ---- the elder's history, for daily limits


def test_elder_history_lists_todays_sales_not_voided(ledger: Ledger) -> None:
    a = sell(ledger, NOON.replace(hour=11), elder_id="E1")
    b = sell(ledger, NOON.replace(hour=17), elder_id="E1", slot="dinner", subsidy=0)
    sell(ledger, NOON, elder_id="E2")
    sell(ledger, NOON - timedelta(days=1), elder_id="E1")
    ledger.record_reprint(a.meal_id, cashier="c07", now=NOON)
    history = ledger.elder_history("E1", NOON.date())
    assert [(h.service_time, h.slot, h.subsidised, h.canteen_id) for h in history] == [
        (a.service_time, "lunch", True, CANTEEN),
        (b.service_time, "dinner", False, CANTEEN),
    ]
    ledger.record_void(a.meal_id, reason="退餐", cashier="c07", now=NOON)
    assert [h.service_time for h in ledger.elder_history("E1", NOON.date())] == [b.service_time]
    assert ledger.elder_history("E9", NOON.date()) == []


def _enrolled(born: date) -> ElderProfile:
    return ElderProfile(
        elder_id="E1",
        birth_date=born,
        statuses=(StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2020, 1, 1)),),
    )


def _price(rules: RuleBook, ledger: Ledger, elder: ElderProfile, when: datetime) -> MealRecord:
    meal = MealRequest(canteen_id=CANTEEN, slot="lunch", price=1300, service_time=when)
    q = quote(elder, meal, ledger.elder_history(elder.elder_id, when.date()), rules)
    return sell(ledger, when, elder_id=elder.elder_id, quote=q)


def test_the_daily_limit_counts_the_ledger_and_a_void_gives_the_subsidy_back(ledger: Ledger) -> None:
    rules = book("ruyi-city")  # one subsidised lunch a day
    elder = _enrolled(date(1940, 5, 1))
    first = _price(rules, ledger, elder, NOON)
    assert first.quote.subsidised
    second = _price(rules, ledger, elder, NOON + timedelta(minutes=10))
    assert not second.quote.subsidised
    assert Reason.SLOT_LIMIT_REACHED in second.quote.reasons
    ledger.record_void(first.meal_id, reason="刷错卡", cashier="c07", now=NOON + timedelta(minutes=11))
    ledger.record_void(second.meal_id, reason="刷错卡", cashier="c07", now=NOON + timedelta(minutes=11))
    third = _price(rules, ledger, elder, NOON + timedelta(minutes=12))
    assert third.quote.subsidised
