"""Meal commit latency (``Ledger.record_sale``) against a bare SQLite WAL + synchronous=FULL single-row insert.

Both databases live in the same fresh directory (same disk), are set up the same way (WAL switched once under
``synchronous=EXTRA``, then ``FULL``) and are measured in the same run, interleaved one call each, alternating
which goes first. The bare insert writes the same JSON text a real meal record stores, in one autocommit
statement. Targets (issue 4): median ratio <= 1.5, p99 ratio <= 3. The CPU column (this thread's CPU time) tells
the Python work apart from waiting for the disk: on a disk whose fsync takes ~0.15 ms the ledger's ~40 µs of
Python (validation, canonical JSON, SHA-256) is a large share; on one that takes milliseconds it is noise.

Run: .venv/bin/python -m bench.terminal_ledger [--n 5000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ruyi.eligibility import ElderProfile, EnrolmentStatus, StatusChange
from ruyi.pricing import MealRequest, Quote, quote
from ruyi.rules import parse_rulebook
from terminal.ledger import Ledger

RULES = Path(__file__).resolve().parents[1] / "deploy" / "rules" / "ruyi-city.yaml"
ZONE = ZoneInfo("Asia/Shanghai")


def quotes(n: int, when: datetime, rng: random.Random) -> list[tuple[str, Quote]]:
    rules = parse_rulebook(RULES.read_text(encoding="utf-8"))
    out = []
    for i in range(n):
        elder = ElderProfile(
            elder_id=f"E{i:06d}",
            birth_date=date(rng.randint(1925, 1965), rng.randint(1, 12), rng.randint(1, 28)),
            statuses=(StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2020, 1, 1)),),
        )
        meal = MealRequest(canteen_id="c01", slot="lunch", price=rng.choice([900, 1100, 1300]), service_time=when)
        out.append((elder.elder_id, quote(elder, meal, [], rules)))
    return out


def bare_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = EXTRA")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    return conn


def summary(ns: list[int]) -> tuple[float, float, float]:
    s = sorted(ns)
    return statistics.median(s) / 1000, s[int(len(s) * 0.99)] / 1000, s[-1] / 1000


def run(directory: Path, n: int, warmup: int) -> None:
    rng = random.Random(7)
    when = datetime(2026, 3, 2, 11, 30, tzinfo=ZONE)
    cases = quotes(200, when, rng)
    ledger = Ledger.open(directory / "ledger.db", terminal_id="T-bench", canteen_id="c01", zone=ZONE)
    bare = bare_db(directory / "bare.db")
    ours: list[int] = []
    base: list[int] = []
    ours_cpu: list[int] = []
    base_cpu: list[int] = []

    def sale(i: int) -> str:
        elder_id, q = cases[i % len(cases)]
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        r = ledger.record_sale(
            now=when + timedelta(milliseconds=i),
            quote=q,
            slot="lunch",
            menu_item_id="set-b",
            payment_method="wechat" if i % 3 else "cash",
            cashier="c07",
            identified_by="card",
            elder_id=elder_id,
            card_kind="uid",
        )
        if i >= warmup:
            ours.append(time.perf_counter_ns() - t0)
            ours_cpu.append(time.thread_time_ns() - c0)
        return r.model_dump_json()

    body = sale(0)

    def insert(i: int) -> None:
        c0 = time.thread_time_ns()
        t0 = time.perf_counter_ns()
        bare.execute("INSERT INTO t (body) VALUES (?)", (body,))
        if i >= warmup:
            base.append(time.perf_counter_ns() - t0)
            base_cpu.append(time.thread_time_ns() - c0)

    for i in range(1, n + warmup):
        if i % 2:
            sale(i)
            insert(i)
        else:
            insert(i)
            sale(i)
    ledger.close()
    bare.close()

    (om, op, ox), (bm, bp, bx) = summary(ours), summary(base)
    print(f"directory: {directory}  (sqlite {sqlite3.sqlite_version}, {len(ours)} calls each, {warmup} warm-up)")
    print(f"record row: {len(body)} bytes of JSON")
    oc, bc = statistics.median(ours_cpu) / 1000, statistics.median(base_cpu) / 1000
    print(f"{'':28} {'median µs':>10} {'p99 µs':>10} {'max µs':>10} {'CPU median µs':>14}")
    print(f"{'Ledger.record_sale':28} {om:10.1f} {op:10.1f} {ox:10.1f} {oc:14.1f}")
    print(f"{'bare WAL+FULL insert':28} {bm:10.1f} {bp:10.1f} {bx:10.1f} {bc:14.1f}")
    print(f"ratio median {om / bm:.2f} (target <= 1.5)   ratio p99 {op / bp:.2f} (target <= 3)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=5000, help="measured calls of each kind")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None, help="where to put both databases (default: a temp dir)")
    args = parser.parse_args()
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="ruyi-bench-ledger-") as tmp:
        run(Path(tmp), args.n, args.warmup)


if __name__ == "__main__":
    main()
