"""The same batch from two clients at once, 50 rounds, through a live server: exactly one row per meal."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from tests.server.sync.helpers import PUSH, World, now_utc
from tests.server.test_races import live  # noqa: F401 (the live uvicorn fixture)

ROUNDS = 50
CLIENTS = 2


def _together(url: str, headers: dict[str, str], body: dict[str, Any]) -> list[httpx.Response]:
    """POST the same body from CLIENTS threads released at the same instant."""
    barrier = threading.Barrier(CLIENTS)

    def send(_: int) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            return client.post(url, headers=headers, json=body)

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(send, range(CLIENTS)))


def test_same_batch_from_two_clients_at_once(world: World, live: str) -> None:  # noqa: F811
    chain = world.chain(world.ta)
    failures: list[str] = []
    for n in range(ROUNDS):
        batch = chain.walk_ins(7, start=now_utc() - timedelta(hours=3) + timedelta(minutes=n))
        body = {
            "terminal_clock": now_utc().isoformat(),
            "records": [r.model_dump(mode="json") for r in batch],
        }
        answers = _together(f"{live}{PUSH}", world.ta.headers, body)
        for a in answers:
            if a.status_code != 200 or a.json()["held_through"] != len(chain.records):
                failures.append(f"round {n}: {a.status_code} {a.text[:200]}")
        outcomes = sorted(o["outcome"] for a in answers for o in a.json()["results"])
        if outcomes != ["duplicate"] * 7 + ["stored"] * 7:
            failures.append(f"round {n}: {outcomes}")
    assert failures == []
    with world.api.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT count(*), count(DISTINCT meal_id), max(seq) FROM meals")).one()
    assert tuple(rows) == (ROUNDS * 7, ROUNDS * 7, ROUNDS * 7)
    assert world.flags() == []
