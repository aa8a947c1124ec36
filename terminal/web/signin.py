"""The station's sign-in part: who is at the counter, sign in, sign out and switch (key K on the cashier screen).

The PIN is checked by the counter against the snapshot (offline); the station only says what happened. Signing
out or switching is refused while a sale is open (finish or cancel it first): a sale is always one cashier's.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from terminal.web import views
from terminal.web.messages import Lang, text
from terminal.web.notices import Notice, StationError

if TYPE_CHECKING:
    from terminal.counter import Counter, Sale


class SignInPart:
    """Mixed into :class:`terminal.web.station.Station` (it holds the lock, the sale and the notice)."""

    counter: Counter
    sale: Sale | None
    notice: Notice | None
    _lock: threading.RLock

    def _publish(self) -> None:  # pragma: no cover - the station's
        raise NotImplementedError

    def _no_open_sale(self) -> None:
        if self.sale is not None:
            self.notice = Notice.of("signin.sale_open", "warn")
            self._publish()
            raise StationError(self.notice)

    def sign_in(self, number: str, pin: str) -> None:
        """Sign a cashier in (the one signed in before, if any, is replaced: switching is one step)."""
        with self._lock:
            self._no_open_sale()
            result = self.counter.sign_in(number, pin)
            if result.ok and result.cashier is not None:
                self.notice = Notice.of("signin.ok", "ok", who=self._who())
                self._publish()
                return
            if result.code == "locked" and result.locked_until is not None:
                until = result.locked_until.astimezone(self.counter.zone).strftime("%H:%M")
                self.notice = Notice.of("signin.locked", "error", until=until)
            elif result.code == "malformed":
                self.notice = Notice.of("signin.malformed", "warn")
            else:
                self.notice = Notice.of("signin.wrong", "error", left=result.tries_left)
            self._publish()
            raise StationError(self.notice)

    def sign_out(self) -> None:
        with self._lock:
            self._no_open_sale()
            self.counter.sign_out()
            self.notice = Notice.of("signin.out", "info")
            self._publish()

    def _who(self) -> str | None:
        current = self.counter.desk.current
        return None if current is None else f"{current.number} {current.name}".strip()

    def _cashier_view(self, lang: Lang) -> views.CashierSignView:
        until = self.counter.desk.locked_until(self.counter.clock())
        who = self._who()
        return {
            "who": who,
            "required": self.counter.require_sign_in,
            "signed_out": self.counter.cashier_id is None,
            "locked_until": None if until is None else until.astimezone(self.counter.zone).strftime("%H:%M"),
            "text": text("signin.who", lang, who=who) if who else text("signin.nobody", lang),
        }
