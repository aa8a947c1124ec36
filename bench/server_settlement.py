"""Settlement on PostgreSQL: one canteen's month statement, and the whole programme's month (from the daily
rollups) against the bare ``GROUP BY canteen`` over the same rows.

    .venv/bin/python -m bench.server_settlement [--meals 10000000] [--canteens 1000] [--months 12] [--runs 7]

A throwaway PostgreSQL cluster (as in the tests: fsync off) is migrated and given the city rules, ``--canteens``
canteens with a terminal and 20 home elders each (enrolled), and ``--meals`` meals over ``--months`` months of
2026 written with COPY: lunches of the canteen's elders (10 % walk-ins), 1 % voided, each with a canonical text
of realistic size (chain hashes are not real: intake is not what is measured here). COPY bypasses intake, so the
daily rollups (``meal_elder_days``) are then filled from the meals by :func:`server.meals.rollups.rebuild`
(timed on its own: what migration 0005 does to an existing database), and ANALYZE. Then, for June:

- one canteen's month: :func:`server.settlements.service.compute` with every edit check (facts, voids, flags,
  decisions, the same elders elsewhere, enrolment, baseline, closed months) — the median of ``--runs`` canteens;
- the whole programme's month: :func:`server.settlements.programme.programme_month` (every canteen's totals from
  the rollups) — median of 3;
- the bare ``SELECT canteen_id, count(*), sum(subsidy), sum(price) … WHERE service_date in the month AND
  kind = 'sale' GROUP BY canteen_id`` over the same rows — median of 3; the ratio programme / GROUP BY (target
  <= 1.5) and the one-canteen median (target < 1 s) are printed;
- the same programme month again once May is closed for every canteen (the usual state when June is settled:
  each canteen's closed May is then checked for late records), median of 3;
- EXPLAIN (ANALYZE) of the one-canteen month query, its voids, the bare GROUP BY and the programme's queries.
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
from sqlmodel import Session, col, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ruyi.settlement import Month, settle, statement_bytes, statement_hash  # noqa: E402
from server.auth.principal import SYSTEM  # noqa: E402
from server.base import utcnow  # noqa: E402
from server.canteens.tables import Canteen  # noqa: E402
from server.config import Settings  # noqa: E402
from server.db import make_engine, open_session, upgrade  # noqa: E402
from server.meals import rollups  # noqa: E402
from server.rules.service import upload  # noqa: E402
from server.settlements import programme, service  # noqa: E402
from server.settlements.tables import ClosedMonth, SettlementStatement  # noqa: E402
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
                    subsidy = (300 if mi < 6 else 400) if elder else 0  # the city rules' age70 tier (2026.1, 2026.7)
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


def close_for_every_canteen(session: Session, month: Month) -> None:
    """Every canteen's statement of ``month`` closed as the lifecycle closes it (canonical bytes and hash), without
    the reviews: the state in which the next month is settled."""
    canteens = list(session.exec(select(Canteen)))
    ctx = service.context(session, canteens[0], category_key=CATEGORY_KEY, config=service.DEFAULT_CONFIG)
    facts = service.month_facts(session, month=month, tiers_map=ctx.tier_of_token, canteen_id=None)
    now = utcnow()
    for c in canteens:
        statement = settle(
            canteen_id=str(c.id), month=month, facts=facts.get(str(c.id), []), rules=ctx.book, checks=False
        ).statement
        digest = statement_hash(statement)
        row = SettlementStatement(
            canteen_id=c.id, month=str(month), state="closed", body=statement_bytes(statement).decode(),
            content_hash=digest, computed_hash=digest, created_by="bench", reviewed_by="bench", reviewed_at=now,
            closed_by="bench", closed_at=now,
        )  # fmt: skip
        session.add(row)
        session.flush()
        closed = ClosedMonth(canteen_id=c.id, month=str(month), statement_id=row.id, content_hash=digest, closed_at=now)
        session.add(closed)
    session.commit()


def sql_plan(conn: psycopg.Connection[Any], sql: str, params: dict[str, Any]) -> list[str]:
    return [r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params).fetchall()]


def explain(session: Session, stmt: Any) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of a SQLAlchemy statement as the server sends it."""
    compiled = stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    sql = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled)
    return [r[0] for r in session.connection().exec_driver_sql(sql, compiled.params)]


def main() -> int:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meals", type=int, default=10_000_000)
    parser.add_argument("--canteens", type=int, default=1000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    month = Month(2026, 6)
    config = service.DEFAULT_CONFIG
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
        with open_session(engine, write=True) as session:
            t0 = time.perf_counter()
            written = rollups.rebuild(session)
            session.commit()
            print(f"rollups rebuilt from the meals: {written:,} elder-day rows in {time.perf_counter() - t0:.0f} s")
            session.connection().exec_driver_sql("ANALYZE meal_elder_days")
            session.commit()
        conninfo = url.replace("postgresql+psycopg://", "postgresql://")
        first, nxt = month.first_day, month.next().first_day
        bare_sql = (
            "SELECT canteen_id, count(*), sum(subsidy), sum(price) FROM meals "
            "WHERE service_date >= %(a)s AND service_date < %(b)s AND kind = 'sale' GROUP BY canteen_id"
        )

        def run_programme(session: Session, entries: list[Any]) -> None:
            entries[:] = programme.programme_month(session, month=month, category_key=CATEGORY_KEY, config=config)

        with open_session(engine, write=False) as session, psycopg.connect(conninfo) as conn:
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
            entries: list[Any] = []
            programme_s: list[float] = []
            bare: list[float] = []
            for _ in range(3):  # interleaved, so that both see the same machine
                programme_s.append(timed(lambda: run_programme(session, entries)))
                bare.append(timed(lambda: conn.execute(bare_sql, {"a": first, "b": nxt}).fetchall()))
            by_canteen = {e.figures.canteen_id: e.figures.totals for e in entries}
            assert by_canteen[str(picks[-1].id)] == statement.totals, "programme totals != the canteen's statement"
            payable = sum(t.payable for t in by_canteen.values())
            diffs = rollups.differences(session, month=month)
            one_params = {"a": first, "b": nxt, "c": picks[0].id}
            plans = {
                "one canteen's month (sales)": sql_plan(
                    conn,
                    "SELECT meal_id, canteen_id, terminal_id, seq, kind, refers_to, service_date, service_time, slot, "
                    "identified_by, price, subsidy, elder_pays, subsidised, operating_subsidy, rule_version, "
                    "canonical FROM meals WHERE service_date >= %(a)s AND service_date < %(b)s AND canteen_id = %(c)s "
                    "AND kind = 'sale'",
                    one_params,
                ),
                "the records referring to them (voids)": sql_plan(
                    conn,
                    "SELECT meal_id FROM meals WHERE refers_to IN (SELECT meal_id FROM meals WHERE service_date >= "
                    "%(a)s AND service_date < %(b)s AND canteen_id = %(c)s AND kind = 'sale')",
                    one_params,
                ),
                "the bare GROUP BY": sql_plan(conn, bare_sql, {"a": first, "b": nxt}),
            }
            plans["programme: per canteen and day, from the rollups"] = explain(session, programme.per_day_query(month))
            plans["programme: distinct elders per canteen"] = explain(session, programme.elders_query(month))
            plans["programme: unpaid live sales (flags, decisions)"] = explain(
                session, programme.unpaid_query(month, config.info_flags)
            )
            month_rows = conn.execute(
                "SELECT count(*), (SELECT count(*) FROM meal_elder_days WHERE service_date >= %(a)s "
                "AND service_date < %(b)s) FROM meals WHERE service_date >= %(a)s AND service_date < %(b)s",
                {"a": first, "b": nxt},
            ).fetchone()
        with open_session(engine, write=True) as session:
            t0 = time.perf_counter()
            close_for_every_canteen(session, Month(2026, 5))
            closing = time.perf_counter() - t0
        with open_session(engine, write=False) as session, psycopg.connect(conninfo) as conn:
            after_close: list[float] = []
            bare_after: list[float] = []
            for _ in range(3):
                after_close.append(timed(lambda: run_programme(session, entries)))
                bare_after.append(timed(lambda: conn.execute(bare_sql, {"a": first, "b": nxt}).fetchall()))
            assert sum(e.figures.totals.payable for e in entries) == payable
        engine.dispose()
    med_one, med_prog, med_bare = (statistics.median(x) for x in (one, programme_s, bare))
    med_after, med_bare_after = statistics.median(after_close), statistics.median(bare_after)
    meals_month, rollup_month = month_rows if month_rows else (0, 0)
    print(f"\nmonth {month}: {meals_month:,} meal rows, {rollup_month:,} rollup rows; {len(entries)} canteens; "
          f"rollups differing from the meals: {len(diffs)}")  # fmt: skip
    print(f"one canteen's month (compute with every check, {facts} facts, payable {statement.totals.payable} fen): "
          f"median {med_one * 1000:.0f} ms of {len(one)} canteens (target < 1000 ms) — runs "
          + ", ".join(f"{x * 1000:.0f}" for x in one))  # fmt: skip
    print(f"whole programme's month (every canteen's totals, payable {payable} fen): median "
          f"{med_prog * 1000:.0f} ms — runs " + ", ".join(f"{x * 1000:.0f}" for x in programme_s))  # fmt: skip
    print(f"bare GROUP BY canteen over the same rows: median {med_bare * 1000:.0f} ms — runs "
          + ", ".join(f"{x * 1000:.0f}" for x in bare))  # fmt: skip
    print(f"ratio programme / GROUP BY: {med_prog / med_bare:.2f} (target <= 1.5)")
    print(f"\nwith May closed for every canteen ({closing:.0f} s to close): programme median "
          f"{med_after * 1000:.0f} ms, GROUP BY {med_bare_after * 1000:.0f} ms, "
          f"ratio {med_after / med_bare_after:.2f}")  # fmt: skip
    for title, lines in plans.items():
        print(f"\nEXPLAIN {title}:")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
