"""Card event to quote ready, with a roster of 200,000 elders (issue 4 target: p99 < 20 ms).

Builds a snapshot of 200,000 elders through the real builder, writes and loads it, opens a real ledger holding a
day's earlier meals, then times ``Counter.on_card(CardKey)`` (roster lookup by card key, the elder's history from
the ledger, ``ruyi.pricing.quote``) for random cards. Prints median, p99 and max, and the snapshot load time.

    .venv/bin/python -m bench.terminal_quote [--elders 200000] [--taps 5000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange
from ruyi.idnum import Sex, make_resident_id
from ruyi.rules import parse_rulebook
from ruyi.sync import MenuItem
from terminal.counter import Counter, Sale
from terminal.devices.cards import CardKey, CardKind, card_key_digest
from terminal.devices.printing import PrinterStatus, ReceiptDocument
from terminal.ledger import Ledger
from terminal.snapshot import PlainElder, build_snapshot, load_snapshot, write_snapshot

REPO = Path(__file__).resolve().parents[1]
ZONE = ZoneInfo("Asia/Shanghai")
NOON = datetime(2025, 6, 10, 12, 0, tzinfo=ZONE)
SECRET = b"bench card-key secret, not for production"


class NoPrinter:
    """The bench never prints (quotes only)."""

    def print_document(self, doc: ReceiptDocument) -> None:
        raise AssertionError("not used")

    def status(self) -> PrinterStatus:
        return PrinterStatus(None, queried=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--elders", type=int, default=200_000)
    parser.add_argument("--taps", type=int, default=5_000)
    args = parser.parse_args()
    rng = random.Random(1)
    rules = parse_rulebook((REPO / "deploy/rules/jiangsu-county-2023.yaml").read_text(encoding="utf-8"))
    elders = []
    for i in range(args.elders):
        born = date(1925, 1, 1) + timedelta(days=rng.randrange(0, 365 * 40))
        cats = (CategorySpan(code="dibao", valid_from=date(2020, 1, 1)),) if i % 10 == 0 else ()
        profile = ElderProfile(
            elder_id=f"e-{i:07d}",
            birth_date=born,
            statuses=(StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2023, 1, 1)),),
            categories=cats,
        )
        number = make_resident_id("320102", born, i % 100, Sex.FEMALE)
        elders.append(PlainElder(profile=profile, name="张三丰", id_number=number, cards=(("uid", f"{i:014X}"),)))
    menu = (MenuItem(id="set-a", name="套餐A", price=1100, slot="lunch", valid_from=date(2025, 1, 1)),)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.json"
        t = time.perf_counter()
        data = build_snapshot(
            created_at=NOON, rules=rules, elders=elders, menu=menu, card_secret=SECRET, category_key=b"bench key"
        )
        write_snapshot(path, data)
        built = time.perf_counter() - t
        t = time.perf_counter()
        snapshot = load_snapshot(path)
        loaded = time.perf_counter() - t
        size = os.path.getsize(path)
        ledger = Ledger.open(Path(tmp) / "ledger.sqlite3", terminal_id="T01", canteen_id="c-1", zone=ZONE)
        counter = Counter(snapshot=snapshot, ledger=ledger, printer=NoPrinter(), clock=lambda: NOON, canteen_name="x")
        for i in range(0, 500):  # a busy morning already in the ledger
            sale = counter.on_card(CardKey(CardKind.UID, card_key_digest(SECRET, "uid", f"{i * 7:014X}")))
            assert isinstance(sale, Sale)
            ledger.record_sale(
                now=NOON - timedelta(minutes=1),
                quote=sale.quote,
                slot="lunch",
                menu_item_id="set-a",
                payment_method="cash",
                cashier="c",
                identified_by="card",
                elder_id=sale.elder.elder_id if sale.elder else None,
                card_kind="uid",
            )
        keys = [
            CardKey(CardKind.UID, card_key_digest(SECRET, "uid", f"{rng.randrange(args.elders):014X}"))
            for _ in range(args.taps)
        ]
        times = []
        for key in keys:
            t0 = time.perf_counter()
            sale = counter.on_card(key)
            times.append((time.perf_counter() - t0) * 1000)
            assert isinstance(sale, Sale)
        ledger.close()
    times.sort()
    p99 = times[int(len(times) * 0.99) - 1]
    print(
        f"roster: {args.elders} elders, snapshot {size / 1e6:.1f} MB;"
        f" built+written {built:.1f} s, loaded {loaded:.1f} s"
    )
    print(f"card event -> quote ready ({args.taps} taps, 500 meals in the ledger):")
    print(
        f"  median {statistics.median(times):.3f} ms   p99 {p99:.3f} ms   max {times[-1]:.3f} ms   (target p99 < 20 ms)"
    )


if __name__ == "__main__":
    main()
