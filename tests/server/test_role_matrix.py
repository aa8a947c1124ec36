"""Every role against the main endpoints, including a canteen manager and a terminal of another canteen.
Allowed calls must not answer 401/403/404; refused ones answer exactly 403 (wrong role) or 404 (foreign canteen)."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import Api
from tests.server.helpers import canteen, elder, upload_city_rules

ADMIN, OPER, AUDIT, MGR, TERM = "admin", "operator", "auditor", "manager", "terminal"
EVERY = {ADMIN, OPER, AUDIT, MGR, TERM}


def test_role_matrix(api: Api) -> None:
    upload_city_rules(api)
    own, foreign = canteen(api, "ry-01"), canteen(api, "ry-02")
    e = elder(api, 1, canteen_id=foreign["id"])
    item = api.ok(
        "POST",
        f"/api/v1/canteens/{foreign['id']}/menu-items",
        api.admin,
        201,
        json={"name": "套餐", "price": 900, "slot": "lunch", "effective_from": "2026-01-01"},
    )
    term = api.ok("POST", f"/api/v1/canteens/{foreign['id']}/terminals", api.admin, 201, json={"name": "t"})
    own_term = api.ok("POST", f"/api/v1/canteens/{own['id']}/terminals", api.admin, 201, json={"name": "o"})
    headers = {
        ADMIN: api.admin,
        OPER: api.operator,
        AUDIT: api.auditor,
        MGR: api.manager(own["id"]),
        TERM: {"Authorization": f"Bearer {own_term['credential']}"},
    }
    fid, eid = foreign["id"], e["id"]
    # (method, path, body, roles allowed, roles that get 404 because the object belongs to another canteen)
    cases: list[tuple[str, str, Any, set[str], set[str]]] = [
        ("GET", "/api/v1/elders", None, {ADMIN, OPER, AUDIT, MGR}, set()),
        ("GET", f"/api/v1/elders/{eid}", None, {ADMIN, OPER, AUDIT}, {MGR}),
        ("PATCH", f"/api/v1/elders/{eid}", {"community": "x"}, {ADMIN, OPER}, set()),
        ("GET", f"/api/v1/elders/{eid}/cards", None, {ADMIN, OPER, AUDIT}, set()),
        ("GET", "/api/v1/canteens", None, EVERY, set()),
        ("GET", f"/api/v1/canteens/{fid}", None, {ADMIN, OPER, AUDIT}, {MGR, TERM}),
        ("GET", f"/api/v1/canteens/{fid}/menu-items", None, {ADMIN, OPER, AUDIT}, {MGR, TERM}),
        ("GET", f"/api/v1/menu-items/{item['id']}", None, {ADMIN, OPER, AUDIT}, {MGR, TERM}),
        (
            "POST",
            f"/api/v1/canteens/{fid}/menu-items",
            {"name": "x", "price": 1, "slot": "lunch", "effective_from": "2026-01-01"},
            {ADMIN},
            {MGR},
        ),
        ("GET", f"/api/v1/canteens/{fid}/terminals", None, {ADMIN, OPER, AUDIT}, {MGR}),
        ("GET", f"/api/v1/terminals/{term['terminal']['id']}", None, {ADMIN, OPER, AUDIT}, {MGR}),
        ("POST", "/api/v1/canteens", {"code": "new-1", "name": "n", "programme": "ruyi-city"}, {ADMIN}, set()),
        ("GET", "/api/v1/rulebooks", None, EVERY, set()),
        ("GET", "/api/v1/audit", None, {ADMIN, AUDIT}, set()),
        ("GET", "/api/v1/staff", None, {ADMIN}, set()),
        (
            "POST",
            "/api/v1/quotes/preview",
            {"elder_id": eid, "canteen_id": fid, "menu_item_id": item["id"], "on": "2026-03-02"},
            {ADMIN, OPER, AUDIT},
            set(),
        ),
        ("GET", "/api/v1/terminal/me", None, {TERM}, set()),
    ]
    for method, path, body, allowed, foreign_404 in cases:
        for who, h in headers.items():
            r = api.client.request(method, path, headers=h, json=body)
            where = f"{who} {method} {path}: {r.status_code} {r.text[:200]}"
            if who in allowed:
                assert r.status_code < 400, where
            elif who in foreign_404:
                assert r.status_code == 404, where
                assert "套餐" not in r.text and "张三丰" not in r.text, where
            else:
                assert r.status_code == 403, where
