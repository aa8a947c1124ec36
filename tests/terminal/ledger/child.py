"""A terminal process for the multi-process and kill -9 tests: it records meals into a ledger and reports each one
on stdout only after the ledger call returned (the moment a real terminal would print the receipt).

Run: python -m tests.terminal.ledger.child LEDGER SEED COUNT [--wait] [--pace]

Lines written: ``ready`` once the ledger is open; ``sale <meal_id>`` after ``record_sale`` returned;
``void <meal_id>`` after ``record_void`` returned; ``printed <meal_id>`` / ``failed <meal_id>`` after a print
outcome was recorded (most sales get one; some are left unprinted, as if the terminal died before printing).
With ``--wait`` it reads one line from stdin before starting (so two processes start together); with ``--pace`` it
pauses up to 2 ms between meals, like a counter does, which lets another process's writes in between (SQLite's
busy handler sleeps, so a process writing flat out keeps the lock). COUNT 0 means "until killed".
"""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from tests.terminal.ledger.builders import ZONE, open_ledger, sell


def main(argv: list[str]) -> None:
    path, seed, count = Path(argv[0]), int(argv[1]), int(argv[2])
    rng = random.Random(seed)
    out = sys.stdout
    with open_ledger(path) as ledger:
        out.write("ready\n")
        out.flush()
        if "--wait" in argv:
            sys.stdin.readline()
        # Meals of one service day, on a clock that only moves forward.
        when = datetime(2026, 3, 2, 6, 0, tzinfo=ZONE) + timedelta(seconds=seed % 1000)
        last_sale = None
        i = 0
        pace = "--pace" in argv
        while count == 0 or i < count:
            i += 1
            if pace:
                time.sleep(rng.uniform(0, 0.002))
            when += timedelta(milliseconds=rng.randint(1, 50))
            roll = rng.random()
            if roll < 0.1 and last_sale is not None:
                void = ledger.record_void(last_sale, reason="退餐", cashier="c07", now=when)
                out.write(f"void {void.meal_id}\n")
                last_sale = None
            else:
                elder = rng.choice([None, "E1", "E2", "E3", "E4"])
                r = sell(ledger, when, elder_id=elder, subsidy=0 if elder is None else 500)
                out.write(f"sale {r.meal_id}\n")
                out.flush()
                last_sale = r.meal_id
                if roll < 0.7:
                    printed = roll < 0.6
                    ledger.record_print(r.meal_id, printed=printed, at=when)
                    out.write(f"{'printed' if printed else 'failed'} {r.meal_id}\n")
            out.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
