"""Who is at the counter: cashier sign-in against the snapshot (offline), with a lockout after wrong PINs.

The PIN is checked against the salted scrypt hash the server put in the snapshot (:mod:`ruyi.cashier`); nothing
is asked of the network. Wrong attempts are counted at this terminal, whatever number was typed: after
``max_wrong`` wrong attempts in a row sign-in is locked for ``lock_for`` (on the counter's clock), and the screen
says until when. A right PIN resets the count. The count lives in memory: a restart of the terminal process
(which takes its own minute) clears it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ruyi.cashier import CashierEntry, hash_pin, valid_pin, verify_pin

_DUMMY: list[str] = []


def _dummy_hash() -> str:
    """A hash no PIN of a real cashier has: an unknown number costs the same time as a wrong PIN."""
    if not _DUMMY:
        _DUMMY.append(hash_pin("0000", b"ruyi-no-cashier!"))
    return _DUMMY[0]


@dataclass(frozen=True, slots=True)
class SignInResult:
    ok: bool
    cashier: CashierEntry | None = None
    code: str = ""
    """``ok``, ``wrong`` (number or PIN; never which), ``locked``, ``malformed``."""
    tries_left: int = 0
    locked_until: datetime | None = None


class CashierDesk:
    """The signed-in cashier of one counter and the wrong-PIN lockout (single caller, like the counter)."""

    def __init__(self, *, max_wrong: int = 5, lock_for: timedelta = timedelta(minutes=5)) -> None:
        self.max_wrong = max_wrong
        self.lock_for = lock_for
        self.current: CashierEntry | None = None
        self._wrong = 0
        self._locked_until: datetime | None = None

    def locked_until(self, now: datetime) -> datetime | None:
        if self._locked_until is not None and now >= self._locked_until:
            self._locked_until = None
            self._wrong = 0
        return self._locked_until

    def sign_in(self, cashiers: dict[str, CashierEntry], number: str, pin: str, now: datetime) -> SignInResult:
        """Check ``pin`` for cashier ``number``; on success they are the signed-in cashier (replacing anyone)."""
        until = self.locked_until(now)
        if until is not None:
            return SignInResult(False, code="locked", locked_until=until)
        number, pin = number.strip(), pin.strip()
        if not number or not valid_pin(pin):
            return SignInResult(False, code="malformed", tries_left=self.max_wrong - self._wrong)
        entry = cashiers.get(number)
        matches = verify_pin(pin, entry.pin_hash if entry is not None else _dummy_hash())  # as slow either way
        if entry is None or not matches:
            self._wrong += 1
            if self._wrong >= self.max_wrong:
                self._locked_until = now + self.lock_for
                return SignInResult(False, code="locked", locked_until=self._locked_until)
            return SignInResult(False, code="wrong", tries_left=self.max_wrong - self._wrong)
        self._wrong = 0
        self.current = entry
        return SignInResult(True, entry, code="ok", tries_left=self.max_wrong)

    def sign_out(self) -> CashierEntry | None:
        gone, self.current = self.current, None
        return gone
