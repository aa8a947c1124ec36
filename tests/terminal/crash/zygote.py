"""The process the kill -9 test kills: ``python -m tests.terminal.crash.zygote WORKDIR PRINTER_PORT T0``.

It imports everything once, then forks one child per ``go N`` line on stdin and answers with the child's pid (and
later ``dead``, when the child is reaped). Each child runs the real counter (ledger in WORKDIR, receipts to the
loopback printer on PRINTER_PORT) in a loop of taps, sales, voids and reprints until it is killed. Forking from a
process that has already imported the terminal makes a fresh child cost a millisecond, so 200+ kills fit in a
short test. The clock is lunchtime on a fixed day plus the monotonic seconds since T0 (shared by all children).
"""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

WORKDIR = Path(sys.argv[1])
os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(WORKDIR / "escpos")

from terminal.counter import Counter, Sale  # noqa: E402
from terminal.devices.cards import CardKey, CardKind, card_key_digest  # noqa: E402
from terminal.devices.escpos_printer import EscposPrinter, PrinterConfig, TcpConnection  # noqa: E402
from terminal.ledger import Ledger  # noqa: E402
from terminal.snapshot import load_snapshot  # noqa: E402
from tests.terminal.counter.world import (  # noqa: E402
    CANTEEN_ID,
    CANTEEN_NAME,
    CARD_SECRET,
    NOON,
    PEOPLE,
    TERMINAL_ID,
    ZONE,
)

PORT = int(sys.argv[2])
T0 = float(sys.argv[3])
SNAPSHOT = load_snapshot(WORKDIR / "snapshot.json")
PRINTER = PrinterConfig(connection=TcpConnection(host="127.0.0.1", port=PORT), timeout_s=1.0)
EscposPrinter(PRINTER)  # imports python-escpos (which writes its cache) here, once, not in a child killed mid-way
METHODS = ("cash", "wechat", "alipay", "other")


def child(n: int) -> None:
    rng = random.Random(n)
    ledger = Ledger.open(WORKDIR / "ledger.sqlite3", terminal_id=TERMINAL_ID, canteen_id=CANTEEN_ID, zone=ZONE)
    counter = Counter(
        snapshot=SNAPSHOT,
        ledger=ledger,
        printer=EscposPrinter(PRINTER),
        clock=lambda: NOON + timedelta(seconds=time.monotonic() - T0),
        canteen_name=CANTEEN_NAME,
    )
    counter.reprint_all("c-restart")  # what start-up offers: receipts committed but never printed
    announced = False
    while True:
        person = rng.choice((*PEOPLE, None))
        if person is None:
            opened = counter.walk_in()
        else:
            assert person.uid is not None
            opened = counter.on_card(CardKey(CardKind.UID, card_key_digest(CARD_SECRET, "uid", person.uid)))
        assert isinstance(opened, Sale)
        result = counter.confirm(opened, rng.choice(METHODS), f"c{n % 3}")  # type: ignore[arg-type]
        if not result.committed and result.sale is not None:
            result = counter.confirm(result.sale, "cash", f"c{n % 3}")
        record = result.record
        if record is None:
            continue
        if n % 2 == 1 and not announced:  # odd children say when their first meal is committed
            sys.stdout.write("committed\n")
            sys.stdout.flush()
            announced = True
        roll = rng.random()
        if roll < 0.2:
            counter.void(record.meal_id, "测试作废", f"c{n % 3}")
        elif roll < 0.3:
            counter.reprint(record.meal_id, f"c{n % 3}")


def main() -> None:
    out = sys.stdout
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] != "go":
            break
        out.flush()
        pid = os.fork()
        if pid == 0:
            try:
                child(int(words[1]))
            finally:
                os._exit(3)
        out.write(f"{pid}\n")
        out.flush()
        _, status = os.waitpid(pid, 0)
        out.write(f"dead {status}\n")
        out.flush()


if __name__ == "__main__":
    main()
