"""Logs carry no personal data: after requests that carried an elder's name, ID number and card serial (in the
body, the query string and the path), everything the server logged, formatted as the JSON lines production writes,
contains none of them; the request lines are there and name the route template."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from server.ops.logs import JsonFormatter
from tests.server.conftest import Api
from tests.server.helpers import canteen, id_number, upload_city_rules

NAME = "欧阳秀英"
SERIAL = "04A1B2C3D4E5F6"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every record any logger emits, at DEBUG, through the production JSON formatter."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    # the test's own HTTP client (httpx, in this process) logs the URLs it requests; the server does not use it
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_requests_with_personal_data_leave_none_in_the_logs(api: Api, json_log: io.StringIO) -> None:
    upload_city_rules(api)
    canteen_id = canteen(api)["id"]
    number = id_number(7)
    body = {"name": NAME, "id_number": number, "community": "湖南路社区", "canteen_id": canteen_id}
    elder = api.ok("POST", "/api/v1/elders", api.operator, 201, json=body)
    api.ok("POST", "/api/v1/elders", api.operator, 409, json=body)  # the same ID number again: refused
    bad = {**body, "id_number": number[:-1] + ("0" if number[-1] != "0" else "1")}  # wrong check character
    api.ok("POST", "/api/v1/elders", api.operator, 422, json=bad)
    api.ok("POST", f"/api/v1/elders/{elder['id']}/cards", api.operator, 201, json={"kind": "uid", "serial": SERIAL})
    api.ok("GET", "/api/v1/elders", api.operator, params={"name": NAME})
    api.ok("GET", "/api/v1/elders", api.operator, params={"id_number": number})
    api.ok("GET", "/api/v1/elders", api.operator, params={"card_serial": SERIAL})
    api.ok("GET", "/api/v1/cards/lookup", api.operator, params={"kind": "uid", "serial": SERIAL})
    assert api.client.get(f"/api/v1/elders/by-number/{number}", headers=api.operator).status_code == 404

    text = json_log.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    requests = [e for e in lines if e["logger"] == "ruyi.request"]
    routes = {(e["method"], e["route"], e["status"]) for e in requests}
    assert ("POST", "/api/v1/elders", 201) in routes and ("POST", "/api/v1/elders", 409) in routes
    assert ("POST", "/api/v1/elders/{elder_id}/cards", 201) in routes
    assert ("GET", "/api/v1/cards/lookup", 200) in routes
    assert ("GET", "(unmatched)", 404) in routes  # the concrete path is not logged
    assert all(isinstance(e["ms"], float | int) for e in requests)
    for secret in (NAME, number, number.lower(), SERIAL, SERIAL.lower()):
        assert secret not in text, f"{secret!r} is in the log"
    assert "?" not in "".join(str(e.get("route")) for e in requests)  # no query strings
