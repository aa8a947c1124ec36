"""The daily rollups intake keeps equal the sums of the meals, whatever arrives: duplicates, conflicts, voids
before their sales, double voids, voids of voids, another terminal's (or canteen's) voids, walk-ins; so does the
activity it notes per canteen-month and terminal; the migration that made the tables fills them the same way;
and concurrent pushes of a sale and its void from two terminals (or of two voids of one sale) leave them
right."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from alembic import command

from server.db import alembic_config, open_session
from server.meals.rollups import differences, rebuild
from tests.server.meals.helpers import activity, past_days, random_intake, snapshot
from tests.server.sync.helpers import PUSH, World, now_utc
from tests.server.test_races import live  # noqa: F401 (the live uvicorn fixture)


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_the_meals_after_random_intake(world: World, seed: int) -> None:
    made = random_intake(world, random.Random(seed), days=past_days(3))
    engine = world.api.engine
    with open_session(engine, write=True) as session:
        assert differences(session) == []
        before, noted = snapshot(session.connection()), activity(session.connection())
        assert rebuild(session) == len(before)
        assert snapshot(session.connection()) == before and activity(session.connection()) == noted
    voided = {r.refers_to for r in made if r.kind == "void"}
    sales = {r.meal_id for r in made if r.kind == "sale"}
    assert sales - voided and sales & voided  # some sales live, some voided
    assert sum(n for _k, (n, *_rest) in before.items()) == len(sales - voided)


def test_migration_fills_the_rollups_as_intake_keeps_them(world: World) -> None:
    random_intake(world, random.Random(3), days=past_days(2))
    engine = world.api.engine
    with engine.connect() as conn:
        kept, noted = snapshot(conn), activity(conn)
    with engine.begin() as conn:
        cfg = alembic_config(str(engine.url))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
        command.upgrade(cfg, "head")
    with engine.connect() as conn:
        assert snapshot(conn) == kept and kept
        assert activity(conn) == noted and len({k[2] for k in noted}) == 3  # every terminal noted


def test_concurrent_sale_and_void_from_two_terminals(world: World, live: str) -> None:  # noqa: F811
    """Terminal 1's sale and terminal 2's void of it, then terminals 1 and 2 voiding one sale, each pair sent at
    the same instant: the rollups still equal the meals."""
    a, a2 = world.chain(world.ta), world.chain(world.ta2)
    start = now_utc() - timedelta(hours=5)
    for n in range(12):
        sale = a.sale(elder=world.elders[n % 2 * 2] if n % 3 else None, when=start + timedelta(minutes=n))
        void = a2.void(sale)
        _together(live, [(world.ta.headers, sale), (world.ta2.headers, void)])
        stored = a.sale(when=start + timedelta(minutes=n, seconds=30))
        world.push(world.ta, [stored])
        _together(live, [(world.ta.headers, a.void(stored)), (world.ta2.headers, a2.void(stored))])
    with open_session(world.api.engine, write=False) as session:
        assert differences(session) == []


def _together(url: str, pushes: list[tuple[dict[str, str], Any]]) -> None:
    barrier = threading.Barrier(len(pushes))

    def send(item: tuple[dict[str, str], Any]) -> httpx.Response:
        headers, record = item
        body = {"protocol": 1, "terminal_clock": now_utc().isoformat(), "records": [record.model_dump(mode="json")]}
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            return client.post(f"{url}{PUSH}", headers=headers, json=body)

    with ThreadPoolExecutor(len(pushes)) as pool:
        for r in pool.map(send, pushes):
            assert r.status_code == 200, r.text
