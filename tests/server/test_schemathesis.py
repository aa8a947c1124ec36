"""schemathesis against the live OpenAPI document (loaded from the ASGI app), with two canteens as peers.

- Stateless: every operation, a bounded number of generated examples, each sent with the bureau admin's token and
  with canteen A's manager and terminal credentials. Path parameters are either generated or one of the ids of
  real objects (of both canteens), so handlers run past "not found". Checks: no 5xx, responses match their schema.
- Cross-canteen: every GET operation with a path parameter, asked with one canteen's credentials for the other
  canteen's objects, answers 404 (or 403 where the role may not read that kind of object at all) and never returns
  the other canteen's data.

SQLite only (a copy of the migrated template per test): the same API runs on PostgreSQL in the other server tests.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from server.app import create_app
from server.auth.principal import Role
from server.config import Settings
from server.db import make_engine
from tests.server.conftest import CARD_SECRET, CATEGORY_KEY, SECRET, Api
from tests.server.helpers import id_number, upload_city_rules

MAX_EXAMPLES = 12
CHECKS = [not_a_server_error, response_schema_conformance]
NAMES = {"A": ("甲食堂", "张三丰"), "B": ("乙食堂", "李四光")}
NOT_CANTEEN_OWNED = {"programme"}
"""Path parameters naming shared objects (rule books belong to a programme, not to a canteen)."""


@dataclass
class Peers:
    app: FastAPI
    api: Api
    ids: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per canteen ("A", "B"): path parameter name -> id of an object of that canteen."""
    spare: dict[str, list[str]] = field(default_factory=dict)
    """Ids that generated calls may revoke or deactivate without taking away the peers' own credentials."""
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


def _world(api: Api) -> Peers:
    upload_city_rules(api)
    peers = Peers(app=api.client.app, api=api)  # type: ignore[arg-type]
    for n, t in enumerate(("A", "B"), start=1):
        canteen_name, elder_name = NAMES[t]
        body = {"code": f"ry-0{n}", "name": canteen_name, "programme": "ruyi-city", "address": "鼓楼区"}
        c = api.ok("POST", "/api/v1/canteens", api.admin, 201, json=body)
        item = api.ok(
            "POST",
            f"/api/v1/canteens/{c['id']}/menu-items",
            api.admin,
            201,
            json={"name": f"{canteen_name}套餐", "price": 900, "slot": "lunch", "effective_from": "2026-01-01"},
        )
        e = api.ok(
            "POST",
            "/api/v1/elders",
            api.operator,
            201,
            json={
                "name": elder_name,
                "id_number": id_number(n),
                "canteen_id": c["id"],
                "categories": [{"code": "dibao", "valid_from": "2026-01-01"}],
            },
        )
        span = api.ok("GET", f"/api/v1/elders/{e['id']}", api.admin)["categories"][0]
        card = api.ok(
            "POST", f"/api/v1/elders/{e['id']}/cards", api.operator, 201, json={"kind": "uid", "serial": f"04AB{n}"}
        )
        term = api.ok("POST", f"/api/v1/canteens/{c['id']}/terminals", api.admin, 201, json={"name": "柜台"})
        peers.ids[t] = {
            "canteen_id": c["id"],
            "item_id": item["id"],
            "elder_id": e["id"],
            "category_id": span["id"],
            "card_id": card["id"],
            "terminal_id": term["terminal"]["id"],
        }
        statement = api.ok(
            "POST", "/api/v1/settlements", api.admin, 201, json={"canteen_id": c["id"], "month": "2026-03"}
        )
        peers.ids[t]["statement_id"] = statement["id"]
        peers.headers[f"manager-{t}"] = api.manager(c["id"])
        peers.headers[f"terminal-{t}"] = {"Authorization": f"Bearer {term['credential']}"}
    peers.headers["admin"] = api.admin
    spare_terminal = api.ok("POST", f"/api/v1/canteens/{c['id']}/terminals", api.admin, 201, json={"name": "备用"})
    spare_staff = api.ok("POST", "/api/v1/staff", api.admin, 201, json={"username": "spare", "role": "bureau_operator"})
    spare_token = api.ok(
        "POST", "/api/v1/auth/tokens", api.admin, 201, json={"name": "spare", "roles": ["bureau_auditor"]}
    )
    peers.spare = {
        "terminal_id": [spare_terminal["terminal"]["id"]],
        "staff_id": [spare_staff["staff"]["id"]],
        "token_id": [spare_token["info"]["id"]],
        "programme": ["ruyi-city"],
    }
    return peers


@pytest.fixture
def peers(sqlite_template: Path, tmp_path: Path) -> Iterator[Peers]:
    path = tmp_path / "ruyi.sqlite3"
    shutil.copyfile(sqlite_template, path)
    s = Settings(
        environment="test",
        secret_key=SECRET,
        card_key_secret=CARD_SECRET,
        category_key=CATEGORY_KEY,
        database_url=f"sqlite:///{path}",
    )
    engine = make_engine(s.resolved_database_url)
    app = create_app(s, engine=engine)
    with TestClient(app) as client:
        yield _world(Api(client=client, engine=engine, settings=s))
    engine.dispose()


@pytest.fixture
def live_schema(peers: Peers) -> Any:
    schema = schemathesis.openapi.from_asgi("/openapi.json", peers.app)
    known: dict[str, list[str]] = {k: list(v) for k, v in peers.spare.items()}
    for t in ("A", "B"):
        for name, value in peers.ids[t].items():
            if name not in peers.spare:
                known.setdefault(name, []).append(value)

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
        """Half of the time, use ids of real objects instead of generated ones."""
        if not path_parameters:
            return st.just(path_parameters)
        choices = {
            name: st.one_of(st.just(value), st.sampled_from(known[name])) if name in known else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.fixed_dictionaries(choices)

    return schema


def _operations() -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document (an app without a database is enough to render it)."""
    app = create_app(
        Settings(
            environment="test",
            secret_key=SECRET,
            card_key_secret=CARD_SECRET,
            category_key=CATEGORY_KEY,
            database_url="sqlite://",
        )
    )
    return [(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops]


@pytest.mark.parametrize(("method", "path"), _operations(), ids=str)
def test_no_server_error_and_responses_match_schema(live_schema: Any, peers: Peers, method: str, path: str) -> None:
    # schemathesis.pytest.from_fixture would do this, but it touches a private pytest attribute gone in pytest 9.
    operation = live_schema[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    def run(case: Any) -> None:
        for who in ("admin", "manager-A", "terminal-A"):
            headers = peers.headers[who]
            if path.endswith("/auth/logout") and who != "terminal-A":
                # Logging out ends the credential used: give it one of its own.
                role = Role.BUREAU_ADMIN if who == "admin" else Role.CANTEEN_MANAGER
                canteen = None if who == "admin" else uuid.UUID(peers.ids["A"]["canteen_id"])
                token = peers.api.token(role, canteen, name=f"logout-{uuid.uuid4().hex[:8]}")
                headers = {"Authorization": f"Bearer {token}"}
            case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def _get_operations_with_path_parameters(peers: Peers) -> list[tuple[str, list[str]]]:
    spec = peers.app.openapi()
    out = []
    for path, ops in spec["paths"].items():
        params = [p["name"] for p in ops.get("get", {}).get("parameters", []) if p["in"] == "path"]
        if params:
            out.append((path, params))
    return out


@pytest.mark.parametrize(("mine", "theirs"), [("A", "B"), ("B", "A")])
def test_one_canteen_never_reads_the_others_objects(live_schema: Any, peers: Peers, mine: str, theirs: str) -> None:
    operations = _get_operations_with_path_parameters(peers)
    assert len(operations) >= 8
    checked = 0
    for path, params in operations:
        unknown = set(params) - peers.ids[theirs].keys() - NOT_CANTEEN_OWNED
        assert not unknown, f"{path}: say whose objects {unknown} are (a canteen's, or NOT_CANTEEN_OWNED)"
        if set(params) <= NOT_CANTEEN_OWNED:
            continue
        values = {p: peers.ids[theirs].get(p, "ruyi-city") for p in params}
        operation = live_schema[path]["GET"]
        query = {"on": "2026-03-02"} if path.endswith("/in-force") else None
        for who in (f"manager-{mine}", f"terminal-{mine}"):
            case = operation.Case(path_parameters=values, query=query)
            response = case.call(headers=peers.headers[who])
            where = f"{who} GET {path} with canteen {theirs}'s ids: {response.status_code} {response.text[:200]}"
            assert response.status_code in (403, 404), where
            for secret in (*NAMES[theirs], *peers.ids[theirs].values()):
                assert secret not in response.text, where
            case.validate_response(response, checks=CHECKS)
            checked += 1
            # The same credential reaches the same kind of object of its own canteen (so 404 above means foreign).
            own = operation.Case(path_parameters={p: peers.ids[mine].get(p, "ruyi-city") for p in params}, query=query)
            own_response = own.call(headers=peers.headers[who])
            if response.status_code == 404:
                assert own_response.status_code == 200, f"{who} GET {path} on its own canteen: {own_response.text}"
            else:
                assert own_response.status_code == 403, f"{who} GET {path} on its own canteen: {own_response.text}"
    assert checked >= 16


def test_null_for_a_required_elder_field_leaves_it_unchanged(peers: Peers) -> None:
    """Found by the run above: PATCH {"community": null} was a 500 (NOT NULL constraint)."""
    elder_id = peers.ids["A"]["elder_id"]
    api = peers.api
    before = api.ok("PATCH", f"/api/v1/elders/{elder_id}", api.admin, json={"community": "湖南路社区"})
    for field_name in ("community", "name"):
        updated = api.ok("PATCH", f"/api/v1/elders/{elder_id}", api.admin, json={field_name: None})
        assert updated[field_name] == before[field_name]
    assert api.ok("PATCH", f"/api/v1/elders/{elder_id}", api.admin, json={"area": None})["area"] is None
