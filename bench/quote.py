"""How long one quote takes (the pure pricing function, no I/O), for each shipped rule book.

Run: .venv/bin/python -m bench.quote [--n 20000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange
from ruyi.pricing import MealRequest, PriorMeal, quote
from ruyi.rules import RuleBook, parse_rulebook

RULES = Path(__file__).resolve().parents[1] / "deploy" / "rules"


def workload(rules: RuleBook, n: int, rng: random.Random) -> list[tuple[ElderProfile, MealRequest, list[PriorMeal]]]:
    zone = ZoneInfo(rules.timezone)
    start = rules.versions[-1].effective_from
    cats = list(rules.categories)
    out = []
    for i in range(n):
        day = start + timedelta(days=rng.randrange(28))
        when = datetime(day.year, day.month, day.day, 11, rng.randrange(60), tzinfo=zone)
        elder = ElderProfile(
            elder_id=str(i),
            birth_date=date(rng.randint(1925, 1968), rng.randint(1, 12), rng.randint(1, 28)),
            statuses=(StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2020, 1, 1)),),
            categories=tuple(
                CategorySpan(code=c, valid_from=date(2020, 1, 1)) for c in rng.sample(cats, k=min(len(cats), 1))
            )
            if cats and rng.random() < 0.3
            else (),
        )
        meal = MealRequest(canteen_id="c1", slot="lunch", price=rng.choice([900, 1100, 1300]), service_time=when)
        history = [PriorMeal(service_time=when - timedelta(hours=20), slot="lunch", canteen_id="c2", subsidised=True)]
        out.append((elder, meal, history))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    rng = random.Random(7)
    print(f"{'rule book':28} {'quotes/s':>10} {'median µs':>10} {'p99 µs':>8}")
    for path in sorted(RULES.glob("*.yaml")):
        rules = parse_rulebook(path.read_text(encoding="utf-8"))
        cases = workload(rules, args.n, rng)
        times = []
        for elder, meal, history in cases:
            t0 = time.perf_counter_ns()
            quote(elder, meal, history, rules)
            times.append(time.perf_counter_ns() - t0)
        times.sort()
        median = statistics.median(times) / 1000
        p99 = times[int(len(times) * 0.99)] / 1000
        print(f"{path.stem:28} {1e9 * len(times) / sum(times):10.0f} {median:10.1f} {p99:8.1f}")


if __name__ == "__main__":
    main()
