"""One unit, strictly: every money field the API takes is integer fen and refuses text ("11.00", "500"), floats
(11.0) and booleans (true) with a 422 whose problem says, in Chinese and English, "amounts are integer fen: ¥11.00
is 1100"; an amount out of its bounds is refused the same way; nothing is stored; a proper int is accepted.

The money fields are read from the OpenAPI document (``"x-unit": "fen"``, :class:`ruyi.money.FenRange`), so a new
one is refused by :func:`test_every_money_field_refuses_what_is_not_fen` without a line here, and must be added to
:data:`EXPECTED` (and given an explicit accepted case below) for :func:`test_the_money_fields_are_the_known_ones`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from ruyi.i18n import field_path
from ruyi.money import FEN_UNIT_KEY, MEAL_PRICE_CEILING
from ruyi.settlement import Month
from server.app import create_app
from server.config import Settings
from server.settlements.schemas import BUREAU_LINE_MAX
from tests.server.conftest import Api, make_settings, serve
from tests.server.settlements.helpers import S, at, create, last_month
from tests.server.sync.helpers import PUSH, World, build_world, now_utc

HINT_ZH = "金额以分为单位的整数：¥11.00 应写作 1100"
HINT_EN = "amounts are integer fen: ¥11.00 is 1100"
NOT_INTS: list[Any] = ["11.00", "1100", 11.0, True]
API = "/api/v1"
Z = f"{API}/sync/z-reports"
MONEY_NAME = re.compile(r"(^|_)(price|amount|fen|subsidy|pays|total|cap|floor|cost|fee|payable|gross|paid)(_|$)")
"""A property name that reads as money: its schema must say the unit (``x-unit``)."""
INT4 = 2**31 - 1
NOT_MONEY = {"ElderPage.total"}
"""Integers named like money that are counts (the elders matching a search)."""

EXPECTED: dict[tuple[str, str, str], tuple[int, int]] = {
    ("post", "/canteens/{canteen_id}/menu-items", "body.price"): (0, MEAL_PRICE_CEILING),
    ("post", "/settlements/{statement_id}/construction-lines", "body.amount"): (-BUREAU_LINE_MAX, BUREAU_LINE_MAX),
    ("post", "/settlements/{statement_id}/corrections", "body.amount"): (-BUREAU_LINE_MAX, BUREAU_LINE_MAX),
    ("post", "/sync/push", "body.records[0].quote.price"): (0, MEAL_PRICE_CEILING),
    ("post", "/sync/push", "body.records[0].quote.subsidy"): (0, MEAL_PRICE_CEILING),
    ("post", "/sync/push", "body.records[0].quote.elder_pays"): (0, MEAL_PRICE_CEILING),
    ("post", "/sync/push", "body.records[0].quote.operating_subsidy"): (0, INT4),
    ("post", "/sync/z-reports", "body.price_total"): (0, INT4),
    ("post", "/sync/z-reports", "body.subsidy_total"): (0, INT4),
    ("post", "/sync/z-reports", "body.elder_pays_total"): (0, INT4),
}
"""(method, path under /api/v1, field) -> (minimum, maximum): every money field a request carries."""


# -- the fields, from the OpenAPI document ----------------------------------------------------------------------


@dataclass(frozen=True)
class MoneyField:
    method: str
    path: str
    loc: tuple[str | int, ...]
    minimum: int
    maximum: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.method, self.path.removeprefix(API), field_path(self.loc))


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(Settings(database_url="sqlite://")).openapi()
    return spec


SPEC = _spec()


def _resolve(schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    ref = schema.get("$ref")
    if ref is None:
        return schema, None
    return SPEC["components"]["schemas"][ref.rsplit("/", 1)[1]], ref


def _walk(schema: dict[str, Any], loc: tuple[str | int, ...], seen: frozenset[str]) -> Iterator[tuple[Any, ...]]:
    schema, ref = _resolve(schema)
    if ref in seen:
        return
    seen = seen | {ref} if ref else seen
    if schema.get(FEN_UNIT_KEY) == "fen":
        yield loc, int(schema["minimum"]), int(schema["maximum"])
    for name, sub in schema.get("properties", {}).items():
        yield from _walk(sub, (*loc, name), seen)
    if "items" in schema:
        yield from _walk(schema["items"], (*loc, 0), seen)
    for sub in schema.get("anyOf", []) + schema.get("allOf", []) + schema.get("oneOf", []):
        yield from _walk(sub, loc, seen)


def money_fields() -> list[MoneyField]:
    found: dict[tuple[str, str, str], MoneyField] = {}
    for path, ops in SPEC["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            places: list[tuple[dict[str, Any], tuple[str, ...]]] = [(body, ("body",))] if body else []
            places += [(p["schema"], (p["in"], p["name"])) for p in op.get("parameters", [])]
            for schema, loc in places:
                for where, low, high in _walk(schema, loc, frozenset()):
                    f = MoneyField(method, path, where, low, high)
                    found[f.key] = f
    return sorted(found.values(), key=lambda f: f.key)


FIELDS = money_fields()


def test_the_money_fields_are_the_known_ones() -> None:
    """A new money field is refused automatically below; add it here with its bounds and an accepted case."""
    assert {f.key: (f.minimum, f.maximum) for f in FIELDS} == EXPECTED


def _integers(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "integer" or any(s.get("type") == "integer" for s in schema.get("anyOf", []))


def test_every_integer_named_like_money_says_it_is_fen() -> None:
    """Requests and answers alike: a reader of the OpenAPI document never has to guess fen or yuan."""
    unmarked = []
    for model, schema in SPEC["components"]["schemas"].items():
        for name, prop in schema.get("properties", {}).items():
            marked = [s for s in (prop, *prop.get("anyOf", [])) if s.get(FEN_UNIT_KEY) == "fen"]
            if MONEY_NAME.search(name) and _integers(prop) and not marked and f"{model}.{name}" not in NOT_MONEY:
                unmarked.append(f"{model}.{name}")
            for where in marked:
                said = prop.get("description", "") + where.get("description", "")
                assert "integer fen (分)" in said, f"{model}.{name}"
    assert unmarked == []


# -- the API refuses, stores nothing ----------------------------------------------------------------------------


@pytest.fixture
def world(api: Api) -> World:
    return build_world(api, elders=1)


def _counts(api: Api) -> dict[str, int]:
    with api.engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {t: int(conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()) for t in names}


def _problems(r: Any) -> list[dict[str, str]]:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "validation_failed"
    problems: list[dict[str, str]] = body["detail"]["problems"]
    return problems


def _says_fen(problem: dict[str, str], code: str) -> None:
    assert problem["code"] == code
    assert HINT_ZH in problem["zh"] and HINT_EN in problem["en"]


def _nest(loc: tuple[str | int, ...], value: Any) -> Any:
    """The smallest body that puts ``value`` at ``loc`` (after "body")."""
    out = value
    for part in reversed(loc[1:]):
        out = [out] if isinstance(part, int) else {part: out}
    return out


def _statement(world: World) -> str:
    sid: str = create(world, world.canteen_a, last_month())["id"]
    return sid


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: "-".join(map(str, f.key[1:])))
def test_every_money_field_refuses_what_is_not_fen(world: World, field: MoneyField) -> None:
    api = world.api
    ids = {"canteen_id": world.canteen_a, "statement_id": _statement(world)}
    url = re.sub(r"\{(\w+)\}", lambda m: ids[m[1]], field.path)
    headers = world.ta.headers if field.path.startswith(f"{API}/sync/") else api.admin
    before = _counts(api)
    cases = [(v, "money.fen_type") for v in NOT_INTS]
    cases += [(field.minimum - 1, "money.fen_range"), (field.maximum + 1, "money.fen_range")]
    for value, code in cases:
        r = api.client.request(field.method, url, headers=headers, json=_nest(field.loc, value))
        mine = [p for p in _problems(r) if p["path"] == field_path(field.loc)]
        assert len(mine) == 1, (value, r.text)
        _says_fen(mine[0], code)
    assert _counts(api) == before


# -- explicit cases: a whole, valid request with one amount wrong; and right ------------------------------------


BAD: list[Any] = ["11.00", 11.0, True, -1]


def _menu_body(price: Any) -> dict[str, Any]:
    return {"name": "午餐套餐", "price": price, "slot": "lunch", "effective_from": "2026-01-01"}


def test_a_menu_price_is_integer_fen_within_the_configured_maximum(world: World) -> None:
    api = world.api
    url = f"{API}/canteens/{world.canteen_a}/menu-items"
    before = _counts(api)
    for value in [*BAD, api.settings.max_meal_price_fen + 1, MEAL_PRICE_CEILING + 1]:
        r = api.client.post(url, headers=api.admin, json=_menu_body(value))
        (problem,) = _problems(r)
        assert problem["path"] == "body.price"
        _says_fen(problem, "money.fen_type" if type(value) is not int else "money.fen_range")
    assert _counts(api) == before
    r = api.client.post(url, headers=api.admin, json=_menu_body(10_001))
    assert "0 至 10000 分之间（¥0.00 至 ¥100.00）" in r.json()["detail"]["zh"]
    assert "0 to 10000 fen (¥0.00 to ¥100.00)" in r.json()["detail"]["en"]
    for price in (1100, 10_000, 0):
        item = api.ok("POST", url, api.admin, 201, json=_menu_body(price))
        assert api.ok("GET", f"{API}/menu-items/{item['id']}", api.admin)["price"] == price


def test_the_maximum_meal_price_is_a_setting(world: World) -> None:
    api = world.api
    url = f"{API}/canteens/{world.canteen_a}/menu-items"
    with serve(make_settings(api.settings.database_url or "", max_meal_price_fen=500), api.engine, api._tokens) as low:
        r = low.client.post(url, headers=low.admin, json=_menu_body(501))
        assert _problems(r)[0]["code"] == "money.fen_range"
        assert low.ok("POST", url, low.admin, 201, json=_menu_body(500))["price"] == 500


@pytest.mark.parametrize("kind", ["construction-lines", "corrections"])
def test_bureau_lines_are_signed_integer_fen(world: World, kind: str) -> None:
    api = world.api
    sid = _statement(world)
    url = f"{S}/{sid}/{kind}"
    earlier = Month.of(last_month().first_day - timedelta(days=1))
    extra = {"origin_month": str(earlier)} if kind == "corrections" else {}
    before = _counts(api)
    for value in ["5.00", "500", 500.0, True, BUREAU_LINE_MAX + 1, -BUREAU_LINE_MAX - 1]:
        r = api.client.post(url, headers=api.operator, json={"amount": value, "note": "改造", **extra})
        (problem,) = _problems(r)
        assert problem["path"] == "body.amount"
        _says_fen(problem, "money.fen_type" if type(value) is not int else "money.fen_range")
    assert _counts(api) == before
    line = api.ok("POST", url, api.operator, 201, json={"amount": -150, "note": "收回", **extra})
    assert line["amount"] == -150
    lines = api.ok("GET", f"{S}/{sid}", api.auditor)["bureau_lines"]
    assert [x["amount"] for x in lines] == [-150]


def _z_body(world: World, **over: Any) -> dict[str, Any]:
    day = last_month().last_day
    base = {
        "protocol": 1,
        "terminal_id": world.ta.id,
        "canteen_id": world.ta.canteen_id,
        "day": day.isoformat(),
        "made_at": at(day, 21).isoformat(),
        "meals": 0,
        "voids": 0,
        "price_total": 0,
        "subsidy_total": 0,
        "elder_pays_total": 0,
    }
    return base | over


@pytest.mark.parametrize("field", ["price_total", "subsidy_total", "elder_pays_total"])
def test_z_report_totals_are_integer_fen(world: World, field: str) -> None:
    api = world.api
    before = _counts(api)
    for value in [*BAD, INT4 + 1]:
        r = api.client.post(Z, headers=world.ta.headers, json=_z_body(world, **{field: value}))
        mine = [p for p in _problems(r) if p["path"] == f"body.{field}"]
        _says_fen(mine[0], "money.fen_type" if type(value) is not int else "money.fen_range")
    assert _counts(api) == before
    r = api.client.post(Z, headers=world.ta.headers, json=_z_body(world))
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "stored"


@pytest.mark.parametrize("field", ["price", "subsidy", "elder_pays", "operating_subsidy"])
def test_a_pushed_quote_with_an_amount_that_is_not_an_int_is_refused(world: World, field: str) -> None:
    """A terminal sending a float is a bug: the batch is refused, never rounded into fen."""
    api = world.api
    record = world.chain(world.ta).sale(elder=world.elders[0])
    good: dict[str, Any] = {
        "protocol": 1,
        "terminal_clock": now_utc().isoformat(),
        "snapshot_created_at": (now_utc() - timedelta(hours=1)).isoformat(),
        "records": [record.model_dump(mode="json")],
    }
    before = _counts(api)
    for value in [*BAD, float(record.quote.model_dump()[field])]:
        body = copy.deepcopy(good)
        body["records"][0]["quote"][field] = value
        r = api.client.post(PUSH, headers=world.ta.headers, json=body)
        mine = [p for p in _problems(r) if p["path"] == f"body.records[0].quote.{field}"]
        _says_fen(mine[0], "money.fen_type" if type(value) is not int else "money.fen_range")
    assert _counts(api) == before
    r = api.client.post(PUSH, headers=world.ta.headers, json=good)
    assert r.status_code == 200, r.text
    assert [x["outcome"] for x in r.json()["results"]] == ["stored"]
