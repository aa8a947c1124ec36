"""Meal intake over HTTP against PostgreSQL, and a raw COPY of the same rows into the same database.

    .venv/bin/python -m bench.server_intake [--meals 20000] [--terminals 4] [--elders 2000] [--workers 1]

A throwaway PostgreSQL cluster (as in the tests: fsync off) is migrated and given the city rules, two canteens,
``--terminals`` terminals, ``--elders`` elders with a card each and a lunch menu. Every terminal's ledger is
generated beforehand: hash-chained sales (card sales priced with ``ruyi.pricing.quote`` exactly as a terminal
does, one lunch per elder and day over the past days, plus walk-ins), so intake finds them clean. A uvicorn
server (``--workers`` processes) takes them in 500-meal batches, each terminal pushing from its own client thread,
with every check on (dedupe, chain, re-quote with the day's history, limits, eligibility, cards, clock). Then
the stored rows are read back and COPY-ed (psycopg 3, ``COPY … FROM STDIN``) into a copy of the ``meals`` table
with the same constraints and indexes. Printed: rows/s of both and intake/COPY (target >= 0.25).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ruyi.idnum import Sex, make_resident_id  # noqa: E402
from ruyi.meal import UNSEALED, MealRecord, genesis_hash, seal, uuid7  # noqa: E402
from ruyi.pricing import MealRequest, quote  # noqa: E402
from ruyi.sync import MAX_BATCH_RECORDS  # noqa: E402
from server.auth.principal import SYSTEM  # noqa: E402
from server.canteens.service import create_canteen, create_menu_item, create_terminal  # noqa: E402
from server.cards.service import bind  # noqa: E402
from server.config import Settings  # noqa: E402
from server.db import make_engine, open_session, upgrade  # noqa: E402
from server.elders.service import profile, register  # noqa: E402
from server.rules.service import load_book, upload  # noqa: E402
from tests.server.pgcluster import free_port, throwaway_cluster  # noqa: E402

RULES = (ROOT / "deploy" / "rules" / "ruyi-city.yaml").read_text(encoding="utf-8")
SECRET = "bench-secret-key-0123456789"
CARD_SECRET = "bench-card-key-secret-0123456789"
CATEGORY_KEY = "bench-category-key-0123456789"


def settings_for(url: str) -> Settings:
    return Settings(
        environment="test", database_url=url, secret_key=SECRET, card_key_secret=CARD_SECRET, category_key=CATEGORY_KEY
    )


def app_factory() -> Any:
    """For ``uvicorn --factory``: the app on the database named by RUYI_DATABASE_URL."""
    from server.app import create_app  # noqa: PLC0415

    return create_app(settings_for(os.environ["RUYI_DATABASE_URL"]))


def setup(url: str, *, terminals: int, elders: int) -> tuple[list[tuple[str, str, str]], list[Any], str, Any]:
    """Registry for the run: (terminal id, canteen id, credential), elder profiles, lunch item id, rule book."""
    engine = make_engine(url)
    try:
        with open_session(engine, write=True) as session:
            upload(session, actor=SYSTEM, source=RULES)
            canteen = create_canteen(
                session, actor=SYSTEM, code="ry-01", name="一号店", programme="ruyi-city", address=""
            )
            item = create_menu_item(
                session,
                actor=SYSTEM,
                canteen_id=canteen.id,
                name="午餐",
                price=1200,
                slot="lunch",
                effective_from=datetime(2026, 1, 1, tzinfo=UTC).date(),
                effective_to=None,
            )
            terms = []
            for t in range(terminals):
                row, credential = create_terminal(
                    session, actor=SYSTEM, canteen_id=canteen.id, name=f"T{t}", pepper=SECRET
                )
                terms.append((str(row.id), str(canteen.id), credential))
            profiles = []
            for n in range(elders):
                number = make_resident_id(
                    "320102", datetime(1940, 1, 1, tzinfo=UTC).date() + timedelta(days=n), n % 100, Sex.MALE
                )
                e = register(
                    session,
                    actor=SYSTEM,
                    name=f"老人{n}",
                    id_number=number,
                    community="",
                    area=None,
                    canteen_id=canteen.id,
                    enrolled_on=datetime(2026, 1, 1, tzinfo=UTC).date(),
                    categories=[],
                )
                bind(session, actor=SYSTEM, elder_id=e.id, kind="uid", serial=f"04{n:010X}", bound_on=None)
                profiles.append(profile(session, e))
            session.commit()
            book = load_book(session, "ruyi-city")
            return terms, profiles, str(item.id), book
    finally:
        engine.dispose()


def ledgers(
    terms: list[tuple[str, str, str]], profiles: list[Any], item_id: str, book: Any, meals: int
) -> list[list[MealRecord]]:
    """Clean ledgers: one card lunch per elder and day (spread over terminals), a walk-in every fifth meal."""
    from ruyi.sync import card_key_digest  # noqa: PLC0415

    chains: list[list[MealRecord]] = [[] for _ in terms]
    heads = [genesis_hash(t[0]) for t in terms]
    now = datetime.now(UTC)
    for n in range(meals):
        t = n % len(terms)
        tid, cid, _cred = terms[t]
        day, k = divmod(n, len(profiles))
        when = now - timedelta(days=1 + day % 30, seconds=k)
        walk_in = n % 5 == 4
        elder = None if walk_in else profiles[k]
        q = quote(elder, MealRequest(canteen_id=cid, slot="lunch", price=1200, service_time=when), [], book)
        record = seal(
            MealRecord(
                meal_id=uuid7(int(when.timestamp() * 1000), os.urandom(10)),
                terminal_id=tid,
                canteen_id=cid,
                seq=len(chains[t]) + 1,
                kind="sale",
                service_time=when,
                elder_id=None if elder is None else elder.elder_id,
                card_kind=None if elder is None else "uid",
                card_key=None if elder is None else card_key_digest(CARD_SECRET.encode(), "uid", f"04{k:010X}"),
                identified_by="walk_in" if elder is None else "card",
                menu_item_id=item_id,
                slot="lunch",
                payment_method="cash",
                quote=q,
                cashier="c1",
                prev_hash=heads[t],
                hash=UNSEALED,
            )
        )
        heads[t] = record.hash
        chains[t].append(record)
    return chains


def push_all(base: str, terms: list[tuple[str, str, str]], chains: list[list[MealRecord]]) -> float:
    bodies = [
        [
            {
                "protocol": 1,
                "terminal_clock": "",
                "snapshot_created_at": datetime.now(UTC).isoformat(),
                "records": [r.model_dump(mode="json") for r in chain[i : i + MAX_BATCH_RECORDS]],
            }
            for i in range(0, len(chain), MAX_BATCH_RECORDS)
        ]
        for chain in chains
    ]
    start_gate = threading.Barrier(len(terms))

    def one(t: int) -> None:
        headers = {"Authorization": f"Bearer {terms[t][2]}"}
        with httpx.Client(base_url=base, timeout=120) as client:
            start_gate.wait()
            for body in bodies[t]:
                body["terminal_clock"] = datetime.now(UTC).isoformat()
                r = client.post("/api/v1/sync/push", headers=headers, json=body)
                if r.status_code != 200 or any(o["outcome"] != "stored" for o in r.json()["results"]):
                    raise SystemExit(f"push failed: {r.status_code} {r.text[:300]}")

    start = time.perf_counter()
    with ThreadPoolExecutor(len(terms)) as pool:
        list(pool.map(one, range(len(terms))))
    return time.perf_counter() - start


def copy_rows(dsn: str) -> tuple[int, float]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE meals_copy (LIKE meals INCLUDING ALL)")
        columns = [
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'meals' ORDER BY ordinal_position"
            )
        ]
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM meals").fetchall()
        start = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(f"COPY meals_copy ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return len(rows), time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--meals", type=int, default=20_000)
    parser.add_argument("--terminals", type=int, default=4)
    parser.add_argument("--elders", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with throwaway_cluster() as cluster:
        with cluster.admin() as conn:
            conn.execute("CREATE DATABASE intake")
        url = cluster.url("intake")
        upgrade(settings_for(url))
        terms, profiles, item_id, book = setup(url, terminals=args.terminals, elders=args.elders)
        chains = ledgers(terms, profiles, item_id, book, args.meals)
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "bench.server_intake:app_factory",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env={**os.environ, "RUYI_DATABASE_URL": url},
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/api/v1/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("server did not start")
                time.sleep(0.1)
            intake_s = push_all(base, terms, chains)
        finally:
            server.terminate()
            server.wait(10)
        dsn = f"host=127.0.0.1 port={cluster.port} user={cluster.user} dbname=intake"
        with psycopg.connect(dsn) as conn:
            stored = conn.execute("SELECT count(*) FROM meals").fetchone()
            flags = conn.execute("SELECT count(*) FROM meal_flags").fetchone()
        assert stored is not None and flags is not None
        if stored[0] != args.meals:
            raise SystemExit(f"stored {stored[0]} of {args.meals}")
        copied, copy_s = copy_rows(dsn)
    intake_rate, copy_rate = args.meals / intake_s, copied / copy_s
    print(
        f"server intake over HTTP, PostgreSQL: {args.meals} meals in 500-meal batches from {args.terminals} terminals, "
        f"{args.workers} server worker(s), all checks on ({flags[0]} flags raised)"
    )
    print(f"  intake  {intake_s:7.2f} s  {intake_rate:9,.0f} rows/s")
    print(
        f"  COPY    {copy_s:7.2f} s  {copy_rate:9,.0f} rows/s  (same rows, same database, table with the same indexes)"
    )
    print(f"  intake/COPY ratio: {intake_rate / copy_rate:.3f} (target >= 0.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
