"""The sign-in desk on its own: a malformed entry costs no try, an unknown number is a wrong try (whatever PIN,
the dummy hash's included), the lock ends on the counter's clock, and a right PIN resets the count."""

from __future__ import annotations

from datetime import timedelta

from terminal.cashiers import CashierDesk
from tests.terminal.counter.world import CASHIER_PINS, CASHIERS, NOON

BY_NUMBER = {c.number: c for c in CASHIERS}


def test_desk() -> None:
    desk = CashierDesk(max_wrong=3, lock_for=timedelta(minutes=5))
    assert desk.sign_in(BY_NUMBER, "1001", "12", NOON).code == "malformed"
    assert desk.sign_in(BY_NUMBER, "", "1234", NOON).code == "malformed"
    wrong = desk.sign_in(BY_NUMBER, "7777", "0000", NOON)
    assert (wrong.ok, wrong.code, wrong.tries_left, wrong.cashier) == (False, "wrong", 2, None)
    assert desk.sign_in(BY_NUMBER, "1001", CASHIER_PINS["1002"], NOON).tries_left == 1  # another cashier's PIN
    locked = desk.sign_in(BY_NUMBER, "1001", "999999", NOON)
    assert (locked.code, locked.locked_until) == ("locked", NOON + timedelta(minutes=5))
    assert desk.sign_in(BY_NUMBER, "1001", CASHIER_PINS["1001"], NOON + timedelta(minutes=4, seconds=59)).code == (
        "locked"
    )
    ok = desk.sign_in(BY_NUMBER, " 1001 ", CASHIER_PINS["1001"], NOON + timedelta(minutes=5))
    assert ok.ok and ok.cashier == CASHIERS[0] and desk.current == CASHIERS[0]
    assert desk.sign_in(BY_NUMBER, "1002", "000000", NOON).tries_left == 2  # the count started again
    assert desk.current == CASHIERS[0]  # a failed switch leaves the cashier signed in
    assert desk.sign_out() == CASHIERS[0] and desk.current is None
