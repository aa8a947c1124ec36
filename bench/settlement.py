"""One canteen's month statement from meal facts in memory (the pure part: ruyi.settlement, no database).

300,000 facts is about ten times a busy canteen-month (500 elders, lunch and dinner, 30 days). The facts include
voids, reprints, flagged and decided meals, other canteens' meals of the same elders and Z-reports, so every edit
check runs. Prints the time of ``settle`` alone, of the content hash and of the CSV export, and facts/s.
``--registry``: settle against the registry as it stands now (every subsidised meal priced again; one elder in a
hundred registered deceased from the 20th, after the meals), the eligibility re-check's cost.
``--catchment N``: the attendance check's catchment of N elders (random status histories) counted per day from
each elder's eligible spans vs every elder assessed on every day (the figures must agree; the ratio is printed).
``--pdf``: also the XLSX and PDF exports of the statement (the PDF needs the server's fonts and fpdf2).

Run: .venv/bin/python -m bench.settlement [--facts 300000] [--repeat 3] [--registry] [--catchment 3800] [--pdf]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

from ruyi.eligibility import CategorySpan, ElderProfile, EnrolmentStatus, StatusChange
from ruyi.export import StatementDoc, statement_csv
from ruyi.money import format_yuan
from ruyi.rules import parse_rulebook
from ruyi.settlement import (
    Decision,
    MealFact,
    Month,
    Ratio,
    Registry,
    RegistryFact,
    SettlementConfig,
    ZTotals,
    settle,
    statement_hash,
)
from ruyi.settlement.catchment import eligible_per_day, eligible_per_day_slow

RULES = parse_rulebook((Path(__file__).resolve().parents[1] / "deploy" / "rules" / "ruyi-city.yaml").read_text())
MONTH = Month(2026, 6)


def workload(n: int, rng: random.Random) -> tuple[list[MealFact], list[MealFact], list[ZTotals]]:
    zone = RULES.zone
    facts: list[MealFact] = []
    per_slot = max(1, n // 60)  # meals per day and slot, each elder at most once (ruyi-city: 1 a slot, 2 a day)
    population = [f"e{k}" for k in range(per_slot * 6 // 5)]
    decisions: list[Decision | None] = [None, "accepted", "rejected"]
    i = 0
    while len(facts) < n:
        for d in range(1, 31):
            day = date(2026, 6, d)
            for slot in ("lunch", "dinner"):
                for elder in rng.sample(population, per_slot):
                    if len(facts) >= n:
                        break
                    i += 1
                    hour = 11 if slot == "lunch" else 17
                    when = datetime(2026, 6, d, hour, rng.randrange(60), rng.randrange(60), tzinfo=zone)
                    walk_in = rng.random() < 0.05
                    subsidy = 0 if walk_in else rng.choice((200, 300, 500, 1000))
                    flagged = rng.random() < 0.01
                    sale = MealFact(
                        meal_id=f"{i:012d}",
                        canteen_id="c1",
                        terminal_id=f"t{i % 4}",
                        seq=i,
                        kind="sale",
                        refers_to=None,
                        service_date=day,
                        service_time=when,
                        slot="lunch" if slot == "lunch" else "dinner",
                        elder_id=None if walk_in else elder,
                        identified_by="walk_in" if walk_in else ("manual" if rng.random() < 0.03 else "card"),
                        cashier=f"k{i % 6}",
                        price=1200,
                        subsidy=subsidy,
                        elder_pays=1200 - subsidy,
                        subsidised=subsidy > 0,
                        operating_subsidy=200 if subsidy else 0,
                        rule_version="2026.1",
                        tiers=("age60",) if subsidy else (),
                        flags=("quote_mismatch",) if flagged else (),
                        decision=rng.choice(decisions) if flagged else None,
                    )
                    facts.append(sale)
                    r = rng.random()
                    if r < 0.01 or r > 0.995:
                        i += 1
                        facts.append(_follow(sale, f"{i:012d}", "void" if r < 0.01 else "reprint"))
    other = [
        _follow(f, f"x{k:011d}", "sale", canteen="c2", minutes=rng.choice((20, 300)))
        for k, f in enumerate(facts[: n // 100])
        if f.kind == "sale" and f.elder_id is not None
    ]
    return facts, other, _z(facts)


def _follow(sale: MealFact, meal_id: str, kind: str, *, canteen: str = "c1", minutes: int = 3) -> MealFact:
    return MealFact(
        meal_id=meal_id,
        canteen_id=canteen,
        terminal_id=sale.terminal_id if canteen == sale.canteen_id else "t-other",
        seq=sale.seq + 1,
        kind="void" if kind == "void" else "reprint" if kind == "reprint" else "sale",
        refers_to=None if kind == "sale" else sale.meal_id,
        service_date=sale.service_date,
        service_time=sale.service_time + timedelta(minutes=minutes),
        slot=sale.slot,
        elder_id=sale.elder_id,
        identified_by=sale.identified_by,
        cashier=sale.cashier,
        price=sale.price,
        subsidy=sale.subsidy,
        elder_pays=sale.elder_pays,
        subsidised=sale.subsidised,
        operating_subsidy=sale.operating_subsidy,
        rule_version=sale.rule_version,
        tiers=sale.tiers,
    )


def _z(facts: list[MealFact]) -> list[ZTotals]:
    voided = {f.refers_to for f in facts if f.kind == "void"}
    rows: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for f in facts:
        row = rows[(f.terminal_id, f.service_date)]
        if f.kind == "void":
            row[1] += 1
        elif f.kind == "sale" and f.meal_id not in voided:
            row[0] += 1
            row[2] += f.price
            row[3] += f.subsidy
            row[4] += f.elder_pays
    return [ZTotals(t, d, *r) for (t, d), r in rows.items()]


def registry(facts: list[MealFact]) -> Registry:
    """Every elder 90+ and 特困 (so every subsidy recorded here is supported), one in a hundred deceased from the
    20th of the month."""
    profiles: dict[str, ElderProfile] = {}
    facts_out: list[RegistryFact] = []
    died = date(MONTH.year, MONTH.month, 20)
    for k, e in enumerate(sorted({f.elder_id for f in facts if f.elder_id is not None})):
        statuses = [StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2020, 1, 1))]
        if k % 100 == 0:
            statuses.append(StatusChange(status=EnrolmentStatus.DECEASED, effective_from=died))
            facts_out.append(RegistryFact(e, "status", "deceased", died))
        profiles[e] = ElderProfile(
            elder_id=e,
            birth_date=date(1930, 1, 1),
            statuses=tuple(statuses),
            categories=(CategorySpan(code="tekun", valid_from=date(2020, 1, 1)),),
        )
    return Registry(profiles, facts=tuple(facts_out))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--facts", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--registry", action="store_true")
    parser.add_argument("--catchment", type=int, default=0, help="time the catchment of N elders instead")
    parser.add_argument("--pdf", action="store_true", help="also time the XLSX and PDF exports")
    args = parser.parse_args()
    if args.catchment:
        catchment(args.catchment, args.repeat)
        return
    facts, other, z = workload(args.facts, random.Random(7))
    now = registry(facts) if args.registry else None
    enrolled = {MONTH.first_day + timedelta(days=k): args.facts // 30 for k in range(30)}
    config = SettlementConfig(attendance_factor=Ratio(1))
    times, hash_times, csv_times = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = settle(
            canteen_id="c1",
            month=MONTH,
            facts=facts,
            rules=RULES,
            config=config,
            enrolled=enrolled,
            z_reports=z,
            other_canteens=other,
            registry=now,
        )
        t1 = time.perf_counter()
        digest = statement_hash(result.statement)
        t2 = time.perf_counter()
        data = statement_csv(StatementDoc(result.statement, RULES, "c1", "c1", "draft"))
        t3 = time.perf_counter()
        times.append(t1 - t0)
        hash_times.append(t2 - t1)
        csv_times.append(t3 - t2)
    s = result.statement
    if args.pdf:
        exports(StatementDoc(s, RULES, "ry-01", "如意食堂一号店", "draft"), args.repeat)
    best = min(times)
    print(f"facts {len(facts):,} (+{len(other):,} at other canteens, {len(z)} Z-reports), repeat {args.repeat}")
    print(f"settle        median {statistics.median(times):.3f} s  best {best:.3f} s  {len(facts) / best:,.0f} facts/s")
    print(f"hash          median {statistics.median(hash_times):.3f} s  ({digest[:16]}…)")
    print(f"csv           median {statistics.median(csv_times):.3f} s  ({len(data):,} bytes)")
    print(
        f"statement: {s.totals.meals:,} paid meals in {len(s.lines)} lines, {len(s.held):,} held/rejected, "
        f"payable {format_yuan(s.totals.payable)} (cap reduction {s.totals.operating_cap_reduction} fen), "
        f"{len(result.checks)} checks: {sorted({c.code for c in result.checks})}"
    )


def catchment(n: int, repeat: int) -> None:
    """N elders, a third of them with a status change inside the month (suspended, back, deceased)."""
    rng = random.Random(11)
    profiles = []
    for k in range(n):
        statuses = [StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=date(2020, 1, 1))]
        if k % 3 == 0:
            day = MONTH.first_day + timedelta(days=rng.randrange(30))
            kind = rng.choice([EnrolmentStatus.SUSPENDED, EnrolmentStatus.DECEASED])
            statuses.append(StatusChange(status=kind, effective_from=day))
            if kind == EnrolmentStatus.SUSPENDED:
                back = day + timedelta(days=rng.randrange(1, 10))
                statuses.append(StatusChange(status=EnrolmentStatus.ENROLLED, effective_from=back))
        born = date(1966, 6, 1) + timedelta(days=rng.randrange(-9000, 60))  # a few turn 60 this month
        profiles.append(ElderProfile(elder_id=f"e{k}", birth_date=born, statuses=tuple(statuses)))
    first, end = MONTH.first_day, MONTH.next().first_day
    spans, every = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fast = eligible_per_day(profiles, RULES, first, end)
        t1 = time.perf_counter()
        slow = eligible_per_day_slow(profiles, RULES, first, end)
        t2 = time.perf_counter()
        assert fast == slow
        spans.append(t1 - t0)
        every.append(t2 - t1)
    a, b = statistics.median(spans), statistics.median(every)
    print(f"catchment of {n:,} elders, {len(fast)} days: spans median {a * 1000:.1f} ms, every elder every day")
    print(f"  median {b * 1000:.1f} ms: ratio {a / b:.3f} (same figures)")


def exports(doc: StatementDoc, repeat: int) -> None:
    from server.settlements.exports import statement_xlsx  # noqa: PLC0415 (the pure bench runs without them)
    from server.settlements.pdf import statement_pdf  # noqa: PLC0415

    xlsx_times, pdf_times = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        xlsx = statement_xlsx(doc)
        t1 = time.perf_counter()
        pdf = statement_pdf(doc)
        t2 = time.perf_counter()
        xlsx_times.append(t1 - t0)
        pdf_times.append(t2 - t1)
    s = doc.statement
    lines = f"{len(s.lines)} lines + {len(s.operating)} operating days + {len(s.held)} held rows"
    print(f"xlsx          median {statistics.median(xlsx_times):.3f} s  ({len(xlsx):,} bytes, {lines})")
    print(f"pdf           median {statistics.median(pdf_times):.3f} s  ({len(pdf):,} bytes, {lines})")


if __name__ == "__main__":
    main()
