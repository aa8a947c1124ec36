"""Settlement on PostgreSQL: one canteen's month statement, and the whole programme's month against the bare
``GROUP BY canteen`` over the same rows.

    .venv/bin/python -m bench.server_settlement [--meals 2000000] [--canteens 1000] [--months 12] [--runs 7]

A throwaway PostgreSQL cluster (as in the tests: fsync off) is migrated and given the city rules, ``--canteens``
canteens with a terminal and 20 home elders each (enrolled), and ``--meals`` meals over ``--months`` months of
2026 written with COPY: lunches of the canteen's elders (10 % walk-ins), 1 % voided, each with a canonical text
of realistic size (chain hashes are not real: intake is not what is measured here). Then ANALYZE, and:

- one canteen's month: :func:`server.settlements.service.compute` with every edit check (facts, voids, flags,
  decisions, the same elders elsewhere, enrolment, baseline, closed months) — the median of ``--runs`` canteens;
- the whole programme's month: :func:`server.settlements.service.programme_month` (every canteen's statement,
  one read of the month) — median of 3, and the read of the month's facts alone;
- the bare ``SELECT canteen_id, count(*), sum(subsidy) … WHERE service_date in the month GROUP BY canteen_id``
  over the same rows — median of 3; the ratio programme / GROUP BY (target <= 1.5) and the one-canteen median
  (target < 1 s) are printed, with the EXPLAIN of the one-canteen month query.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlmodel import col, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ruyi.settlement import Month  # noqa: E402
from server.auth.principal import SYSTEM  # noqa: E402
from server.canteens.tables import Canteen  # noqa: E402
from server.config import Settings  # noqa: E402
from server.db import make_engine, open_session, upgrade  # noqa: E402
from server.rules.service import upload  # noqa: E402
from server.settlements import service  # noqa: E402
from server.settlements.tables import SettlementStatement  # noqa: E402
from tests.server.pgcluster import throwaway_cluster  # noqa: E402

RULES = (ROOT / "deploy" / "rules" / "ruyi-city.yaml").read_text(encoding="utf-8")
CATEGORY_KEY = "bench-category-key-0123456789"
ZONE = ZoneInfo("Asia/Shanghai")
ELDERS_PER_CANTEEN = 20


def settings_for(url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=url,
        secret_key="bench-secret-key-0123456789",
        card_key_secret="bench-card-key-secret-0123456789",
        category_key=CATEGORY_KEY,
    )


def _canonical(  # noqa: PLR0917 (the fields of one record)
    meal_id: str, terminal: str, canteen: str, seq: int, kind: str, refers: str | None,
               when: datetime, elder: str | None, day: date, subsidy: int) -> str:  # fmt: skip
    quote = {
        "age": 76 if elder else None,
        "elder_pays": 1200 - subsidy,
        "operating_subsidy": 200 if subsidy else 0,
        "per_day_limit": 2,
        "price": 1200,
        "programme": "ruyi-city",
        "reasons": [{"code": "tier_applied", "detail": {"tier": "age70"}}] if subsidy else [],
        "rule_version": "2026.1" if day < date(2026, 7, 1) else "2026.7",
        "service_date": day.isoformat(),
        "subsidised": bool(subsidy),
        "subsidised_today": 0,
        "subsidy": subsidy,
        "tiers": ["age70"] if subsidy else [],
    }
    return json.dumps(
        {
            "canteen_id": canteen, "card_key": None, "card_kind": "uid" if elder else None, "cashier": "c1",
            "elder_id": elder, "format": 1, "identified_by": "card" if elder else "walk_in", "kind": kind,
            "manual_reason": None, "meal_id": meal_id, "menu_item_id": "lunch", "payment_method": "cash",
            "prev_hash": "0" * 64, "quote": quote, "reason": "点错" if kind == "void" else None,
            "refers_to": refers, "seq": seq, "service_time": when.astimezone(UTC).isoformat(),
            "slot": "lunch", "terminal_id": terminal,
        },
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip


def populate(url: str, *, meals: int, canteens: int, months: int) -> None:  # noqa: PLR0915
    settings = settings_for(url)
    engine = make_engine(settings.resolved_database_url)
    with open_session(engine, write=True) as session:
        upload(session, actor=SYSTEM, source=RULES)
        session.commit()
    engine.dispose()
    rng = random.Random(7)
    now = datetime.now(UTC)
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    canteen_ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(canteens)]
    terminal_ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(canteens)]
    elders = {c: [uuid.UUID(int=rng.getrandbits(128)) for _ in range(ELDERS_PER_CANTEEN)] for c in canteen_ids}
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        with cur.copy("COPY canteens (id, code, name, programme, address, active, created_at) FROM STDIN") as cp:
            for i, c in enumerate(canteen_ids):
                cp.write_row((c, f"c{i:05d}", f"如意食堂{i}号店", "ruyi-city", "", True, now))
        with cur.copy("COPY terminals (id, canteen_id, name, credential_hash, created_at) FROM STDIN") as cp:
            for c, t in zip(canteen_ids, terminal_ids, strict=True):
                cp.write_row((t, c, "收银台", uuid.uuid4().hex + uuid.uuid4().hex, now))
        with cur.copy(
            "COPY elders (id, id_number, id_tail, name, birth_date, sex, community, canteen_id, created_at, "
            "updated_at) FROM STDIN"
        ) as cp:
            n = 0
            for c, es in elders.items():
                for e in es:
                    n += 1
                    cp.write_row((e, f"320102{n:012d}", f"{n % 10000:04d}", "老人", date(1950, 3, 1), "male", "", c,
                                  now, now))  # fmt: skip
        with cur.copy(
            "COPY elder_status_changes (id, elder_id, status, effective_from, reason, created_at) FROM STDIN"
        ) as cp:
            for es in elders.values():
                for e in es:
                    cp.write_row((uuid.uuid4(), e, "enrolled", date(2026, 1, 1), "", now))
        conn.commit()
        per_month = meals // months
        seqs = dict.fromkeys(terminal_ids, 0)
        cols = (
            "meal_id, terminal_id, canteen_id, seq, kind, refers_to, elder_id, card_kind, card_key, identified_by, "
            "slot, menu_item_id, payment_method, price, subsidy, elder_pays, operating_subsidy, subsidised, "
            "rule_version, service_time, service_date, terminal_clock, received_at, canonical, hash, prev_hash"
        )
        started = time.perf_counter()
        written = 0
        for mi in range(months):
            month = Month(2026, mi + 1)
            days = (month.last_day - month.first_day).days + 1
            with cur.copy(f"COPY meals ({cols}) FROM STDIN") as cp:
                for k in range(per_month):
                    ci = k % canteens
                    c, t = canteen_ids[ci], terminal_ids[ci]
                    day = month.first_day + timedelta(days=rng.randrange(days))
                    when = datetime(day.year, day.month, day.day, 11, rng.randrange(60), tzinfo=ZONE)
                    elder = None if rng.random() < 0.1 else rng.choice(elders[c])
                    subsidy = 400 if elder else 0
                    seqs[t] += 1
                    mid = uuid.UUID(int=rng.getrandbits(128))
                    canonical = _canonical(str(mid), str(t), str(c), seqs[t], "sale", None, when,
                                           None if elder is None else str(elder), day, subsidy)  # fmt: skip
                    row = (mid, t, c, seqs[t], "sale", None, elder, "uid" if elder else None, None,
                           "card" if elder else "walk_in", "lunch", "lunch", "cash", 1200, subsidy, 1200 - subsidy,
                           200 if subsidy else 0, bool(subsidy), "2026.1" if mi < 6 else "2026.7", when, day, when,
                           when, canonical, "a" * 64, "0" * 64)  # fmt: skip
                    cp.write_row(row)
                    written += 1
                    if rng.random() < 0.01:
                        seqs[t] += 1
                        vid = uuid.UUID(int=rng.getrandbits(128))
                        vwhen = when + timedelta(minutes=2)
                        vcanon = _canonical(str(vid), str(t), str(c), seqs[t], "void", str(mid), vwhen,
                                            None if elder is None else str(elder), day, subsidy)  # fmt: skip
                        cp.write_row((vid, t, c, seqs[t], "void", mid, *row[6:19], vwhen, day, vwhen, vwhen, vcanon,
                                      "b" * 64, "a" * 64))  # fmt: skip
                        written += 1
            conn.commit()
            print(f"  {month}: {per_month:,} sales written ({written / (time.perf_counter() - started):,.0f} rows/s)")
        cur.execute("ANALYZE")
        conn.commit()


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meals", type=int, default=2_000_000)
    parser.add_argument("--canteens", type=int, default=1000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    month = Month(2026, 6)
    with throwaway_cluster() as cluster:
        with cluster.admin() as conn:
            conn.execute("CREATE DATABASE bench")
        url = cluster.url("bench")
        upgrade(settings_for(url))
        t0 = time.perf_counter()
        print(f"populating: {args.meals:,} meals, {args.canteens:,} canteens, {args.months} months …")
        populate(url, meals=args.meals, canteens=args.canteens, months=args.months)
        print(f"populated in {time.perf_counter() - t0:.0f} s")
        engine = make_engine(settings_for(url).resolved_database_url)
        config = service.DEFAULT_CONFIG
        with open_session(engine, write=False) as session:
            canteens = list(session.exec(select(Canteen).order_by(col(Canteen.code))))
            rng = random.Random(3)
            picks = rng.sample(canteens, min(args.runs, len(canteens)))
            one: list[float] = []
            for c in picks:
                ctx = service.context(session, c, category_key=CATEGORY_KEY, config=config)
                row = SettlementStatement(id=uuid.uuid4(), canteen_id=c.id, month=str(month), created_by="bench")
                t_start = time.perf_counter()
                result = [service.compute(session, row=row, ctx=ctx)]
                one.append(time.perf_counter() - t_start)
            facts = len(result[0].facts)
            statement = result[0].settlement.statement
            load: list[float] = []
            tiers = service.context(session, canteens[0], category_key=CATEGORY_KEY, config=config).tier_of_token
            for _ in range(3):
                load.append(timed(lambda: service.month_facts(session, month=month, tiers_map=tiers, canteen_id=None)))
            programme: list[float] = []
            entries: list[Any] = []
            for _ in range(3):
                entries.clear()
                programme.append(
                    timed(
                        lambda: entries.extend(
                            service.programme_month(session, month=month, category_key=CATEGORY_KEY, config=config)
                        )
                    )
                )
            first, nxt = month.first_day, month.next().first_day
            bare_sql = (
                "SELECT canteen_id, count(*), sum(subsidy), sum(price) FROM meals "
                "WHERE service_date >= %(a)s AND service_date < %(b)s AND kind = 'sale' GROUP BY canteen_id"
            )
            conninfo = url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(conninfo) as conn:
                bare: list[float] = []
                for _ in range(3):
                    bare.append(timed(lambda: conn.execute(bare_sql, {"a": first, "b": nxt}).fetchall()))
                c0 = picks[0].id
                explain = conn.execute(
                    "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT meal_id, canteen_id, terminal_id, seq, kind, "
                    "refers_to, service_date, service_time, slot, identified_by, price, subsidy, elder_pays, "
                    "subsidised, operating_subsidy, rule_version, canonical FROM meals WHERE service_date >= %(a)s "
                    "AND service_date < %(b)s AND canteen_id = %(c)s AND kind = 'sale'",
                    {"a": first, "b": nxt, "c": c0},
                ).fetchall()
                explain_refs = conn.execute(
                    "EXPLAIN (ANALYZE, COSTS OFF) SELECT meal_id FROM meals WHERE refers_to IN (SELECT meal_id FROM "
                    "meals WHERE service_date >= %(a)s AND service_date < %(b)s AND canteen_id = %(c)s AND "
                    "kind = 'sale')",
                    {"a": first, "b": nxt, "c": c0},
                ).fetchall()
                explain_bare = conn.execute(
                    "EXPLAIN (ANALYZE, COSTS OFF) " + bare_sql, {"a": first, "b": nxt}
                ).fetchall()
                month_rows = conn.execute(
                    "SELECT count(*) FROM meals WHERE service_date >= %(a)s AND service_date < %(b)s",
                    {"a": first, "b": nxt},
                ).fetchone()
        engine.dispose()
    med_one, med_prog, med_bare, med_load = (statistics.median(x) for x in (one, programme, bare, load))
    print(f"\nmonth {month}: {month_rows[0] if month_rows else 0:,} rows; {len(entries)} canteens")
    print(f"one canteen's month (compute with every check, {facts} facts, payable {statement.totals.payable} fen): "
          f"median {med_one * 1000:.0f} ms of {len(one)} canteens (target < 1000 ms) — runs "
          + ", ".join(f"{x * 1000:.0f}" for x in one))  # fmt: skip
    print(f"whole programme's month (every canteen's statement): median {med_prog:.2f} s")
    print(f"  of which reading the month's facts of all canteens: median {med_load:.2f} s")
    print(f"bare GROUP BY canteen over the same rows: median {med_bare * 1000:.0f} ms")
    print(f"ratio programme / GROUP BY: {med_prog / med_bare:.1f} (target <= 1.5)")
    print(f"ratio reading the facts / GROUP BY: {med_load / med_bare:.1f}")
    print("\nEXPLAIN one canteen's month (sales):")
    print("\n".join(r[0] for r in explain))
    print("\nEXPLAIN the records referring to them (voids):")
    print("\n".join(r[0] for r in explain_refs))
    print("\nEXPLAIN the bare GROUP BY:")
    print("\n".join(r[0] for r in explain_bare))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
