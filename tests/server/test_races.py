"""Races on the constraints that matter, through a live server and real threads: one success, one clear 409."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

from server.app import create_app
from tests.server.conftest import Api
from tests.server.helpers import elder, id_number

WORKERS = 8


@pytest.fixture
def live(api: Api) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(api.settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _race(call: Callable[[httpx.Client, int], httpx.Response]) -> list[httpx.Response]:
    barrier = threading.Barrier(WORKERS)

    def one(i: int) -> httpx.Response:
        with httpx.Client(timeout=30) as client:
            barrier.wait()
            return call(client, i)

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(one, range(WORKERS)))


def test_registering_the_same_id_concurrently(api: Api, live: str) -> None:
    headers = api.operator
    number = id_number(7)
    results = _race(
        lambda c, i: c.post(f"{live}/api/v1/elders", headers=headers, json={"name": f"并发{i}", "id_number": number})
    )
    assert Counter(r.status_code for r in results) == {201: 1, 409: WORKERS - 1}
    winner = next(r for r in results if r.status_code == 201).json()["id"]
    for r in results:
        if r.status_code == 409:
            assert r.json()["error"] == "elder.duplicate_id" and r.json()["detail"]["existing_id"] == winner


def test_binding_the_same_card_concurrently(api: Api, live: str) -> None:
    headers = api.operator
    elders = [elder(api, 10 + i)["id"] for i in range(WORKERS)]
    results = _race(
        lambda c, i: c.post(
            f"{live}/api/v1/elders/{elders[i]}/cards", headers=headers, json={"kind": "uid", "serial": "0badcafe"}
        )
    )
    assert Counter(r.status_code for r in results) == {201: 1, 409: WORKERS - 1}
    assert all(r.json()["error"] == "card.already_bound" for r in results if r.status_code == 409)
