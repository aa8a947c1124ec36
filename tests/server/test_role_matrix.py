"""The role matrix: every operation of the OpenAPI document x every role, including cross-canteen attempts.

The list of operations comes from ``app.openapi()``: an endpoint without a matrix entry (or an entry for an endpoint
that no longer exists) fails the test. Each entry says which roles may call it and builds a fresh, valid request
(objects are made anew for every call, so state-changing calls do not depend on each other).

The canteen manager and the terminal belong to canteen A. Entries marked ``scoped`` act on objects of one canteen
and run twice: on A's objects (the allowed roles succeed) and on B's objects, where a canteen-bound role that may
do this on its own canteen gets exactly 404 with none of B's data, and every other refused role gets 403.
Allowed calls must answer 2xx; refused ones answer exactly 403 (wrong role) or 404 (foreign canteen)."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import yaml

from ruyi.idnum import Sex, make_resident_id
from ruyi.meal import UNSEALED, MealRecord, genesis_hash, seal, uuid7
from ruyi.pricing import MealRequest, quote
from ruyi.rules import parse_rulebook
from server.auth.principal import Role
from tests.server.conftest import Api
from tests.server.helpers import CITY_RULES, upload_city_rules

ADMIN, OPER, AUDIT, MGR, TERM = "admin", "operator", "auditor", "manager", "terminal"
EVERY = frozenset({ADMIN, OPER, AUDIT, MGR, TERM})
STAFF = frozenset({ADMIN, OPER, AUDIT, MGR})
BUREAU = frozenset({ADMIN, OPER, AUDIT})
CANTEEN_BOUND = frozenset({MGR, TERM})
ROLES = {ADMIN: Role.BUREAU_ADMIN, OPER: Role.BUREAU_OPERATOR, AUDIT: Role.BUREAU_AUDITOR, MGR: Role.CANTEEN_MANAGER}
NAMES = {"A": ("甲食堂", "张三丰"), "B": ("乙食堂", "李四光")}
_serial = itertools.count(1)


@dataclass
class Req:
    path: str
    json: Any = None
    params: dict[str, str] | None = None
    files: dict[str, Any] | None = None


@dataclass
class World:
    """Two canteens (A: the canteen-bound callers' own, B: a foreign one), a rule book, and credentials."""

    api: Api
    canteens: dict[str, dict[str, Any]] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    login: dict[str, str] = field(default_factory=dict)
    last_meal: str | None = None

    def cid(self, t: str) -> str:
        return str(self.canteens[t]["id"])

    def elder(self, t: str) -> dict[str, Any]:
        n = next(_serial)
        number = make_resident_id("320102", date(1940, 1, 1) + timedelta(days=n), n % 100, Sex.FEMALE)
        body = {
            "name": NAMES[t][1],
            "id_number": number,
            "community": "湖南路社区",
            "canteen_id": self.cid(t),
            "enrolled_on": "2026-01-01",
        }
        result: dict[str, Any] = self.api.ok("POST", "/api/v1/elders", self.api.admin, 201, json=body)
        return result

    def menu_item(self, t: str) -> dict[str, Any]:
        body = {"name": f"{NAMES[t][0]}套餐", "price": 900, "slot": "lunch", "effective_from": "2026-01-01"}
        result: dict[str, Any] = self.api.ok(
            "POST", f"/api/v1/canteens/{self.cid(t)}/menu-items", self.api.admin, 201, json=body
        )
        return result

    def terminal(self, t: str) -> dict[str, Any]:
        result: dict[str, Any] = self.api.ok(
            "POST", f"/api/v1/canteens/{self.cid(t)}/terminals", self.api.admin, 201, json={"name": f"t{t}"}
        )
        return result

    def card(self, t: str) -> dict[str, Any]:
        e = self.elder(t)
        body = {"kind": "uid", "serial": f"C{t}{next(_serial):07d}", "bound_on": "2026-01-01"}
        result: dict[str, Any] = self.api.ok("POST", f"/api/v1/elders/{e['id']}/cards", self.api.admin, 201, json=body)
        return result

    def fresh_headers(self, who: str) -> dict[str, str]:
        """A credential of its own, for calls that end the credential they are made with."""
        if who == TERM:
            return {"Authorization": f"Bearer {self.terminal('A')['credential']}"}
        canteen = uuid.UUID(self.cid("A")) if who == MGR else None
        token = self.api.token(ROLES[who], canteen, name=f"{who}-{uuid.uuid4().hex[:8]}")
        return {"Authorization": f"Bearer {token}"}


Builder = Callable[[World, str, str], Req]
"""(world, who is calling, whose canteen's objects: "A" or "B") -> the request."""


@dataclass(frozen=True)
class Entry:
    allowed: frozenset[str]
    build: Builder
    scoped: bool = False
    """Acts on one canteen's objects: also tried on canteen B's objects by canteen A's manager and terminal."""
    fresh_credential: bool = False


def _p(path: str) -> Builder:
    return lambda w, who, t: Req(path)


def _token_to_revoke(w: World, who: str, t: str) -> Req:
    headers = w.api.admin if who == TERM else w.headers[who]
    role = ROLES.get(who, Role.BUREAU_ADMIN).value
    made = w.api.ok("POST", "/api/v1/auth/tokens", headers, 201, json={"name": "x", "roles": [role]})
    return Req(f"/api/v1/auth/tokens/{made['info']['id']}/revoke")


def _staff_to_deactivate(w: World, who: str, t: str) -> Req:
    body = {"username": f"s-{uuid.uuid4().hex[:8]}", "role": "bureau_operator"}
    made = w.api.ok("POST", "/api/v1/staff", w.api.admin, 201, json=body)
    return Req(f"/api/v1/staff/{made['staff']['id']}/deactivate")


def _cashier_pin(w: World, who: str, t: str) -> Req:
    body = {"username": f"c-{uuid.uuid4().hex[:8]}", "role": "cashier", "canteen_id": w.cid(t)}
    made = w.api.ok("POST", "/api/v1/staff", w.api.admin, 201, json=body)
    return Req(f"/api/v1/staff/{made['staff']['id']}/cashier-pin", json={"number": "1", "pin": "2468"})


def _elder_path(suffix: str = "", body: Any = None) -> Builder:
    return lambda w, who, t: Req(f"/api/v1/elders/{w.elder(t)['id']}{suffix}", json=body)


def _category_end(w: World, who: str, t: str) -> Req:
    e = w.elder(t)
    span = w.api.ok(
        "POST",
        f"/api/v1/elders/{e['id']}/categories",
        w.api.admin,
        201,
        json={"code": "dibao", "valid_from": "2026-01-01"},
    )
    return Req(f"/api/v1/elders/{e['id']}/categories/{span['id']}/end", json={"valid_to": "2026-03-31"})


def _csv(w: World, who: str, t: str) -> Req:
    n = next(_serial)
    number = make_resident_id("320104", date(1941, 1, 1) + timedelta(days=n), n % 100, Sex.MALE)
    data = f"姓名,身份证号,社区\n王五,{number},湖南路社区\n".encode()
    return Req("", files={"file": ("elders.csv", data, "text/csv")})


def _import(path: str) -> Builder:
    return lambda w, who, t: Req(path, files=_csv(w, who, t).files)


def _new_version(w: World, who: str, t: str) -> Req:
    book: dict[str, Any] = yaml.safe_load(CITY_RULES)
    version = book["versions"][-1]
    version["id"], version["effective_from"] = f"2099.{next(_serial)}", f"2099-{next(_serial) % 12 + 1:02d}-01"
    version = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in version.items()}
    return Req("/api/v1/rulebooks/ruyi-city/versions", json=version)


def _quote(w: World, who: str, t: str) -> Req:
    body = {
        "elder_id": w.elder(t)["id"],
        "canteen_id": w.cid(t),
        "menu_item_id": w.menu_item(t)["id"],
        "on": "2026-03-02",
    }
    return Req("/api/v1/quotes/preview", json=body)


def _card_lookup(w: World, who: str, t: str) -> Req:
    c = w.card(t)
    return Req("/api/v1/cards/lookup", params={"kind": c["kind"], "serial": c["serial"]})


def _push(w: World, who: str, t: str) -> Req:
    """A valid one-record push by canteen A's terminal (other callers are refused before the body matters)."""
    me = w.api.ok("GET", "/api/v1/terminal/me", w.headers[TERM]) if who == TERM else {"id": "T-1", "canteen_id": "c1"}
    when = datetime.now(UTC)
    meal = MealRequest(canteen_id=str(me["canteen_id"]), slot="lunch", price=900, service_time=when)
    record = seal(
        MealRecord(
            meal_id=uuid7(int(when.timestamp() * 1000), os.urandom(10)),
            terminal_id=str(me["id"]),
            canteen_id=str(me["canteen_id"]),
            seq=next(_serial),
            kind="sale",
            service_time=when,
            identified_by="walk_in",
            menu_item_id="walk-in",
            slot="lunch",
            payment_method="cash",
            quote=quote(None, meal, [], parse_rulebook(CITY_RULES)),
            cashier="c1",
            prev_hash=genesis_hash(str(me["id"])),
            hash=UNSEALED,
        )
    )
    body = {"terminal_clock": when.isoformat(), "records": [record.model_dump(mode="json")]}
    return Req("/api/v1/sync/push", json=body)


def _z_report(w: World, who: str, t: str) -> Req:
    """An empty day's Z-report of canteen A's terminal (other callers are refused before the body matters)."""
    me = w.api.ok("GET", "/api/v1/terminal/me", w.headers[TERM]) if who == TERM else {"id": "T-1", "canteen_id": "c1"}
    now = datetime.now(UTC)
    body = {
        "terminal_id": str(me["id"]),
        "canteen_id": str(me["canteen_id"]),
        "day": now.date().isoformat(),
        "made_at": now.isoformat(),
        "meals": 0,
        "voids": 0,
        "price_total": 0,
        "subsidy_total": 0,
        "elder_pays_total": 0,
    }
    return Req("/api/v1/sync/z-reports", json=body)


_months_up = itertools.count(0)
_months_down = itertools.count(0)


def _statement(w: World, t: str, *, meal: bool = False, past: bool = False) -> str:
    """A fresh draft statement of canteen ``t`` in a month of its own: past months (descending, so no earlier open
    statement stops a close) or future ones, with one walk-in meal pushed by a fresh terminal if asked (it is
    flagged future_service_time, so it can be decided, and has no Z-report, so there is a warning to note)."""
    if past:
        n = next(_months_down)
        month = f"{1999 - n // 12}-{12 - n % 12:02d}"
    else:
        n = next(_months_up)
        month = f"{2040 + n // 12}-{n % 12 + 1:02d}"
    if meal:
        term = w.terminal(t)
        when = datetime.fromisoformat(f"{month}-10T12:00:00+08:00")
        me = {"id": term["terminal"]["id"], "canteen_id": w.cid(t)}
        record = _walk_in(me, when, seq=1)
        body = {"terminal_clock": datetime.now(UTC).isoformat(), "records": [record.model_dump(mode="json")]}
        w.api.ok("POST", "/api/v1/sync/push", {"Authorization": f"Bearer {term['credential']}"}, json=body)
    made = w.api.ok("POST", "/api/v1/settlements", w.api.admin, 201, json={"canteen_id": w.cid(t), "month": month})
    w.last_meal = made["flagged"][0]["meal_id"] if meal else None
    return str(made["id"])


def _walk_in(me: dict[str, Any], when: datetime, *, seq: int) -> MealRecord:
    meal = MealRequest(canteen_id=str(me["canteen_id"]), slot="lunch", price=900, service_time=when)
    return seal(
        MealRecord(
            meal_id=uuid7(int(when.timestamp() * 1000), os.urandom(10)),
            terminal_id=str(me["id"]),
            canteen_id=str(me["canteen_id"]),
            seq=seq,
            kind="sale",
            service_time=when,
            identified_by="walk_in",
            menu_item_id="walk-in",
            slot="lunch",
            payment_method="cash",
            quote=quote(None, meal, [], parse_rulebook(CITY_RULES)),
            cashier="c1",
            prev_hash=genesis_hash(str(me["id"])),
            hash=UNSEALED,
        )
    )


def _st(suffix: str = "", body: Any = None, **kw: Any) -> Builder:
    return lambda w, who, t: Req(f"/api/v1/settlements/{_statement(w, t, **kw)}{suffix}", json=body)


def _decision(w: World, who: str, t: str) -> Req:
    sid = _statement(w, t, meal=True)
    return Req(f"/api/v1/settlements/{sid}/decisions", json={"meal_id": w.last_meal, "decision": "accepted"})


def _to_close(w: World, who: str, t: str) -> Req:
    sid = _statement(w, t, past=True)
    w.api.ok("POST", f"/api/v1/settlements/{sid}/review", w.api.auditor2)  # four eyes: not who closes
    return Req(f"/api/v1/settlements/{sid}/close")


def _new_statement(w: World, who: str, t: str) -> Req:
    n = next(_months_up)
    return Req("/api/v1/settlements", json={"canteen_id": w.cid(t), "month": f"{2040 + n // 12}-{n % 12 + 1:02d}"})


SETTLEMENT_READERS = frozenset({ADMIN, OPER, AUDIT, MGR})
PREPARE = frozenset({ADMIN, OPER})
REVIEW = frozenset({ADMIN, AUDIT})


MENU_ITEM = {"name": "新套餐", "price": 800, "slot": "lunch", "effective_from": "2026-01-01"}

MATRIX: dict[tuple[str, str], Entry] = {
    ("GET", "/api/v1/health"): Entry(EVERY, _p("/api/v1/health")),
    ("POST", "/api/v1/auth/login"): Entry(
        EVERY,
        lambda w, who, t: Req("/api/v1/auth/login", json=w.login),
    ),
    ("POST", "/api/v1/auth/logout"): Entry(STAFF, _p("/api/v1/auth/logout"), fresh_credential=True),
    ("GET", "/api/v1/auth/me"): Entry(EVERY, _p("/api/v1/auth/me")),
    ("GET", "/api/v1/auth/tokens"): Entry(STAFF, _p("/api/v1/auth/tokens")),
    ("POST", "/api/v1/auth/tokens"): Entry(
        STAFF,
        lambda w, who, t: Req(
            "/api/v1/auth/tokens", json={"name": "script", "roles": [ROLES.get(who, Role.BUREAU_ADMIN).value]}
        ),
    ),
    ("POST", "/api/v1/auth/tokens/{token_id}/revoke"): Entry(STAFF, _token_to_revoke),
    ("GET", "/api/v1/staff"): Entry(frozenset({ADMIN}), _p("/api/v1/staff")),
    ("POST", "/api/v1/staff"): Entry(
        frozenset({ADMIN}),
        lambda w, who, t: Req(
            "/api/v1/staff",
            json={"username": f"m-{uuid.uuid4().hex[:8]}", "role": "canteen_manager", "canteen_id": w.cid(t)},
        ),
    ),
    ("POST", "/api/v1/staff/{staff_id}/deactivate"): Entry(frozenset({ADMIN}), _staff_to_deactivate),
    ("POST", "/api/v1/staff/{staff_id}/cashier-pin"): Entry(frozenset({ADMIN}), _cashier_pin),
    ("GET", "/api/v1/audit"): Entry(frozenset({ADMIN, AUDIT}), _p("/api/v1/audit")),
    ("GET", "/api/v1/canteens"): Entry(EVERY, _p("/api/v1/canteens")),
    ("POST", "/api/v1/canteens"): Entry(
        frozenset({ADMIN}),
        lambda w, who, t: Req(
            "/api/v1/canteens", json={"code": f"ry-{next(_serial)}", "name": "新店", "programme": "ruyi-city"}
        ),
    ),
    ("GET", "/api/v1/canteens/{canteen_id}"): Entry(
        EVERY, lambda w, who, t: Req(f"/api/v1/canteens/{w.cid(t)}"), scoped=True
    ),
    ("PATCH", "/api/v1/canteens/{canteen_id}"): Entry(
        frozenset({ADMIN}),
        lambda w, who, t: Req(f"/api/v1/canteens/{w.cid(t)}", json={"address": "玄武区"}),
        scoped=True,
    ),
    ("POST", "/api/v1/canteens/{canteen_id}/menu-items"): Entry(
        frozenset({ADMIN, MGR}),
        lambda w, who, t: Req(f"/api/v1/canteens/{w.cid(t)}/menu-items", json=MENU_ITEM),
        scoped=True,
    ),
    ("GET", "/api/v1/canteens/{canteen_id}/menu-items"): Entry(
        EVERY, lambda w, who, t: Req(f"/api/v1/canteens/{w.cid(t)}/menu-items"), scoped=True
    ),
    ("GET", "/api/v1/menu-items/{item_id}"): Entry(
        EVERY, lambda w, who, t: Req(f"/api/v1/menu-items/{w.menu_item(t)['id']}"), scoped=True
    ),
    ("POST", "/api/v1/menu-items/{item_id}/end"): Entry(
        frozenset({ADMIN, MGR}),
        lambda w, who, t: Req(f"/api/v1/menu-items/{w.menu_item(t)['id']}/end", json={"effective_to": "2026-12-31"}),
        scoped=True,
    ),
    ("POST", "/api/v1/canteens/{canteen_id}/terminals"): Entry(
        frozenset({ADMIN}),
        lambda w, who, t: Req(f"/api/v1/canteens/{w.cid(t)}/terminals", json={"name": "柜台"}),
        scoped=True,
    ),
    ("GET", "/api/v1/canteens/{canteen_id}/terminals"): Entry(
        STAFF, lambda w, who, t: Req(f"/api/v1/canteens/{w.cid(t)}/terminals"), scoped=True
    ),
    ("GET", "/api/v1/terminals/{terminal_id}"): Entry(
        STAFF, lambda w, who, t: Req(f"/api/v1/terminals/{w.terminal(t)['terminal']['id']}"), scoped=True
    ),
    ("POST", "/api/v1/terminals/{terminal_id}/revoke"): Entry(
        frozenset({ADMIN}),
        lambda w, who, t: Req(f"/api/v1/terminals/{w.terminal(t)['terminal']['id']}/revoke", json={"reason": "丢失"}),
        scoped=True,
    ),
    ("GET", "/api/v1/terminal/me"): Entry(frozenset({TERM}), _p("/api/v1/terminal/me")),
    ("POST", "/api/v1/sync/push"): Entry(frozenset({TERM}), _push),
    ("GET", "/api/v1/sync/pull"): Entry(frozenset({TERM}), _p("/api/v1/sync/pull")),
    ("POST", "/api/v1/sync/z-reports"): Entry(frozenset({TERM}), _z_report),
    ("GET", "/api/v1/meal-flags"): Entry(
        STAFF, lambda w, who, t: Req("/api/v1/meal-flags", params={"canteen_id": w.cid(t)}), scoped=True
    ),
    ("POST", "/api/v1/elders"): Entry(
        frozenset({ADMIN, OPER}),
        lambda w, who, t: Req(
            "/api/v1/elders",
            json={
                "name": "赵六",
                "id_number": make_resident_id("320105", date(1942, 1, 1) + timedelta(days=next(_serial)), 7, Sex.MALE),
                "canteen_id": w.cid(t),
            },
        ),
    ),
    ("GET", "/api/v1/elders"): Entry(STAFF, _p("/api/v1/elders")),
    ("GET", "/api/v1/elders/{elder_id}"): Entry(STAFF, _elder_path(), scoped=True),
    ("PATCH", "/api/v1/elders/{elder_id}"): Entry(
        frozenset({ADMIN, OPER}), _elder_path("", {"community": "x"}), scoped=True
    ),
    ("POST", "/api/v1/elders/{elder_id}/status"): Entry(
        frozenset({ADMIN, OPER}),
        _elder_path("/status", {"status": "suspended", "effective_from": "2026-02-01", "reason": "住院"}),
        scoped=True,
    ),
    ("POST", "/api/v1/elders/{elder_id}/categories"): Entry(
        frozenset({ADMIN, OPER}),
        _elder_path("/categories", {"code": "tekun", "valid_from": "2026-01-01"}),
        scoped=True,
    ),
    ("POST", "/api/v1/elders/{elder_id}/categories/{category_id}/end"): Entry(
        frozenset({ADMIN, OPER}), _category_end, scoped=True
    ),
    ("POST", "/api/v1/elder-imports/dry-run"): Entry(
        frozenset({ADMIN, OPER}), _import("/api/v1/elder-imports/dry-run")
    ),
    ("POST", "/api/v1/elder-imports"): Entry(frozenset({ADMIN, OPER}), _import("/api/v1/elder-imports")),
    ("GET", "/api/v1/elder-imports"): Entry(frozenset({ADMIN, OPER}), _p("/api/v1/elder-imports")),
    ("POST", "/api/v1/elders/{elder_id}/cards"): Entry(
        frozenset({ADMIN, OPER}),
        lambda w, who, t: Req(
            f"/api/v1/elders/{w.elder(t)['id']}/cards",
            json={"kind": "social_security", "serial": f"S{next(_serial):08d}"},
        ),
        scoped=True,
    ),
    ("GET", "/api/v1/elders/{elder_id}/cards"): Entry(BUREAU, _elder_path("/cards"), scoped=True),
    ("GET", "/api/v1/cards/lookup"): Entry(BUREAU, _card_lookup, scoped=True),
    ("GET", "/api/v1/cards/{card_id}"): Entry(
        BUREAU, lambda w, who, t: Req(f"/api/v1/cards/{w.card(t)['id']}"), scoped=True
    ),
    ("POST", "/api/v1/cards/{card_id}/revoke"): Entry(
        frozenset({ADMIN, OPER}),
        lambda w, who, t: Req(
            f"/api/v1/cards/{w.card(t)['id']}/revoke", json={"revoked_on": "2026-03-01", "reason": "lost"}
        ),
        scoped=True,
    ),
    ("GET", "/api/v1/rulebooks"): Entry(EVERY, _p("/api/v1/rulebooks")),
    ("POST", "/api/v1/rulebooks"): Entry(
        frozenset({ADMIN}), lambda w, who, t: Req("/api/v1/rulebooks", json={"source": CITY_RULES})
    ),
    ("POST", "/api/v1/rulebooks/{programme}/versions"): Entry(frozenset({ADMIN}), _new_version),
    ("GET", "/api/v1/rulebooks/{programme}"): Entry(EVERY, _p("/api/v1/rulebooks/ruyi-city")),
    ("GET", "/api/v1/rulebooks/{programme}/in-force"): Entry(
        EVERY, lambda w, who, t: Req("/api/v1/rulebooks/ruyi-city/in-force", params={"on": "2026-03-02"})
    ),
    ("GET", "/api/v1/categories"): Entry(EVERY, _p("/api/v1/categories")),
    ("POST", "/api/v1/quotes/preview"): Entry(BUREAU, _quote, scoped=True),
    ("GET", "/api/v1/settlements"): Entry(
        SETTLEMENT_READERS, lambda w, who, t: Req("/api/v1/settlements", params={"canteen_id": w.cid(t)}), scoped=True
    ),
    ("POST", "/api/v1/settlements"): Entry(BUREAU, _new_statement),
    ("GET", "/api/v1/settlements/{statement_id}"): Entry(SETTLEMENT_READERS, _st(), scoped=True),
    ("GET", "/api/v1/settlements/{statement_id}/export"): Entry(SETTLEMENT_READERS, _st("/export"), scoped=True),
    ("POST", "/api/v1/settlements/{statement_id}/checks"): Entry(BUREAU, _st("/checks"), scoped=True),
    ("POST", "/api/v1/settlements/{statement_id}/decisions"): Entry(PREPARE, _decision, scoped=True),
    ("POST", "/api/v1/settlements/{statement_id}/decisions/bulk"): Entry(
        PREPARE,
        _st("/decisions/bulk", {"code": "future_service_time", "decision": "rejected", "note": "测试"}, meal=True),
        scoped=True,
    ),
    ("POST", "/api/v1/settlements/{statement_id}/construction-lines"): Entry(
        PREPARE, _st("/construction-lines", {"amount": 100000, "note": "建设补贴"}), scoped=True
    ),
    ("POST", "/api/v1/settlements/{statement_id}/corrections"): Entry(
        PREPARE, _st("/corrections", {"origin_month": "2039-12", "amount": -100, "note": "更正"}), scoped=True
    ),
    ("POST", "/api/v1/settlements/{statement_id}/notes"): Entry(
        BUREAU, _st("/notes", {"code": "zreport_missing", "note": "未上报"}, meal=True), scoped=True
    ),
    ("POST", "/api/v1/settlements/{statement_id}/review"): Entry(REVIEW, _st("/review"), scoped=True),
    ("POST", "/api/v1/settlements/{statement_id}/close"): Entry(REVIEW, _to_close, scoped=True),
    ("GET", "/api/v1/settlement-programme"): Entry(
        BUREAU, lambda w, who, t: Req("/api/v1/settlement-programme", params={"month": "2026-03", "format": "csv"})
    ),
    ("GET", "/api/v1/settlement-summary"): Entry(
        BUREAU,
        lambda w, who, t: Req("/api/v1/settlement-summary", params={"from_month": "2026-01", "to_month": "2026-02"}),
    ),
}


def _operations(api: Api) -> set[tuple[str, str]]:
    spec = api.client.app.openapi()  # type: ignore[attr-defined]
    return {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}


@pytest.fixture
def world(api: Api) -> World:
    upload_city_rules(api)
    w = World(api)
    for t in ("A", "B"):
        body = {"code": f"ry-{t.lower()}", "name": NAMES[t][0], "programme": "ruyi-city", "address": "鼓楼区"}
        w.canteens[t] = api.ok("POST", "/api/v1/canteens", api.admin, 201, json=body)
    made = api.ok("POST", "/api/v1/staff", api.admin, 201, json={"username": "matrix-admin", "role": "bureau_admin"})
    w.login = {"username": "matrix-admin", "password": made["password"]}
    w.headers = {
        ADMIN: api.admin,
        OPER: api.operator,
        AUDIT: api.auditor,
        MGR: api.manager(w.cid("A")),
        TERM: {"Authorization": f"Bearer {w.terminal('A')['credential']}"},
    }
    return w


def test_every_operation_has_a_matrix_entry(api: Api) -> None:
    operations = _operations(api)
    assert operations - MATRIX.keys() == set(), "operations without a role matrix entry"
    assert MATRIX.keys() - operations == set(), "matrix entries for operations that no longer exist"


def test_role_matrix(world: World) -> None:
    api = world.api
    failures: list[str] = []
    for (method, template), entry in sorted(MATRIX.items()):
        for target in ("A", "B") if entry.scoped else ("A",):
            for who in sorted(EVERY):
                req = entry.build(world, who, target)
                headers = world.fresh_headers(who) if entry.fresh_credential else world.headers[who]
                r = api.client.request(
                    method, req.path, headers=headers, json=req.json, params=req.params, files=req.files
                )
                where = f"{who} {method} {template} on canteen {target}'s objects: {r.status_code} {r.text[:160]}"
                if target == "A" or who not in CANTEEN_BOUND:
                    expected = "ok" if who in entry.allowed else 403
                else:
                    expected = 404 if who in entry.allowed else 403
                if expected == "ok":
                    if not 200 <= r.status_code < 300:
                        failures.append(where)
                elif r.status_code != expected:
                    failures.append(f"expected {expected}: {where}")
                elif target == "B" and any(name in r.text for name in NAMES["B"]):
                    failures.append(f"canteen B's data in a refusal: {where}")
    assert failures == [], "\n".join(failures)
