"""Where a push's time goes: the same ledgers as :mod:`bench.server_intake`, pushed in-process (no HTTP) through
:func:`server.sync.service.push` on PostgreSQL, one batch at a time, with every phase of intake timed.

    .venv/bin/python -m bench.server_intake_phases [--meals 20000] [--terminals 4] [--elders 2000]

Phases are timed by wrapping the module functions push() calls (nested ones are inside their callers: quote and
elder_day_meals are part of sale_flags). Printed: ms per 500-meal batch for each, and the rows/s of the whole.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bench.server_intake import ledgers, settings_for, setup
from ruyi.sync import MAX_BATCH_RECORDS, PushRequest
from server.auth.principal import Principal
from server.db import make_engine, open_session, upgrade
from server.meals import rollups
from server.sync import intake, service
from tests.server.pgcluster import throwaway_cluster

PHASES = {
    service: ("_lock_terminal", "load_book", "canonical_bytes", "_meal_row", "_insert_meals", "_chain_flags",
              "time_flags", "sale_flags", "void_flags", "_store_flags", "_advance"),
    intake: ("elder_day_meals", "quote", "limit_flags"),
    rollups: ("apply_intake",),
}  # fmt: skip


def timed(spent: defaultdict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start

    return wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--meals", type=int, default=20_000)
    parser.add_argument("--terminals", type=int, default=4)
    parser.add_argument("--elders", type=int, default=2_000)
    args = parser.parse_args()
    spent: defaultdict[str, float] = defaultdict(float)
    for module, names in PHASES.items():
        for name in names:
            setattr(module, name, timed(spent, name, getattr(module, name)))
    with throwaway_cluster() as cluster:
        with cluster.admin() as conn:
            conn.execute("CREATE DATABASE intake")
        url = cluster.url("intake")
        settings = settings_for(url)
        upgrade(settings)
        terms, profiles, item_id, book = setup(url, terminals=args.terminals, elders=args.elders)
        chains = ledgers(terms, profiles, item_id, book, args.meals)
        engine = make_engine(settings.resolved_database_url)
        batches = [
            (t, chain[i : i + MAX_BATCH_RECORDS])
            for t, chain in enumerate(chains)
            for i in range(0, len(chain), MAX_BATCH_RECORDS)
        ]
        total = 0.0
        for t, records in batches:
            terminal_id, canteen_id, _credential = terms[t]
            actor = Principal(
                kind="terminal",
                id=uuid.UUID(terminal_id),
                canteen_id=uuid.UUID(canteen_id),
                roles=frozenset(),
                name=terminal_id,
            )
            now = datetime.now(UTC)
            request = PushRequest(terminal_clock=now, snapshot_created_at=now, records=tuple(records))
            start = time.perf_counter()
            with open_session(engine, write=True) as session:
                service.push(session, actor=actor, request=request, settings=settings)
                before_commit = time.perf_counter()
                session.commit()
            spent["commit"] += time.perf_counter() - before_commit
            total += time.perf_counter() - start
        engine.dispose()
    n = len(batches)
    print(f"in-process push, PostgreSQL, {args.meals} meals in {n} batches of {MAX_BATCH_RECORDS}, every check on")
    print(f"  whole push: {total / n * 1000:.1f} ms per batch = {args.meals / total:,.0f} rows/s (one thread)")
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:16s} {seconds / n * 1000:6.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
