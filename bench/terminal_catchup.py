"""Catch-up of a terminal after 3 days offline: 3,000 meals in its ledger, then one sync round against a real
server process (``ruyi server`` on 127.0.0.1; SQLite, and PostgreSQL in a throwaway cluster).

    .venv/bin/python -m bench.terminal_catchup [--meals 3000] [--batch 200] [--only sqlite|postgresql]

The meals are walk-ins spread over the last 3 days (service times on the terminal's clock); the figure is the
wall time of the worker's push round, from the first batch to the ledger's cursor at its head, and meals/s. The
server does all its intake checks (chain, re-quote, flags) as in production. Each run starts from empty databases.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from tests.server.pgcluster import throwaway_cluster
from tests.terminal.sync.live import ZONE, ServerProcess, TerminalSide, register_site


def run_once(label: str, workdir: Path, meals: int, batch: int, database_url: str | None = None) -> None:
    server = ServerProcess(workdir / "server", database_url)
    server.migrate()
    server.start()
    try:
        site = register_site(server, workdir)
        side = TerminalSide(
            site, workdir / "terminal", server.url, settings={"max_batch_records": batch, "timeout_s": 60.0}
        )
        try:
            start = datetime.now(ZONE) - timedelta(days=3)
            step = timedelta(days=3) / meals
            for i in range(meals):
                side.clock.fixed = start + i * step
                side.sell(1, slot_item=i % 2)
            side.clock.fixed = None
            t0 = time.perf_counter()
            result = side.worker.push_pending()
            elapsed = time.perf_counter() - t0
            assert side.ledger.unsynced_count() == 0, "not everything was acknowledged"
            print(
                f"{label:<10} {meals} meals in {result.batches} batches of <= {batch}: {elapsed:.2f} s,"
                f" {meals / elapsed:,.0f} meals/s"
            )
        finally:
            side.close()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--meals", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ruyi-catchup-") as tmp:
        root = Path(tmp)
        if args.only != "postgresql":
            run_once("sqlite", root / "sqlite", args.meals, args.batch)
        if args.only != "sqlite":
            with throwaway_cluster() as cluster:
                with cluster.admin() as conn:
                    conn.execute("CREATE DATABASE catchup")
                run_once("postgresql", root / "pg", args.meals, args.batch, cluster.url("catchup"))


if __name__ == "__main__":
    main()
