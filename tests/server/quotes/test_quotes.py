from __future__ import annotations

from typing import Any

from tests.server.conftest import Api
from tests.server.helpers import canteen, elder, upload_city_rules


def _setup(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    upload_city_rules(api)
    c = canteen(api)
    item = api.ok(
        "POST",
        f"/api/v1/canteens/{c['id']}/menu-items",
        api.admin,
        201,
        json={"name": "午餐套餐", "price": 1100, "slot": "lunch", "effective_from": "2026-01-01"},
    )
    return c, item


def test_quote_preview_explains_itself(api: Api) -> None:
    c, item = _setup(api)
    e = elder(api, enrolled_on="2026-01-01")  # born 1950-03-01: 76 on 2026-03-02
    body = {"elder_id": e["id"], "canteen_id": c["id"], "menu_item_id": item["id"], "on": "2026-03-02"}
    q = api.ok("POST", "/api/v1/quotes/preview", api.operator, json=body)
    assert (q["price"], q["subsidy"], q["elder_pays"]) == (1100, 300, 800)
    assert q["rule_version"] == "2026.1" and q["tiers"] == ["age70"] and q["age"] == 76
    assert q["reasons"][0] == {"code": "subsidised", "zh": "享受助餐补贴", "en": "subsidised meal"}
    # July's version raises the band by ¥1.
    q = api.ok("POST", "/api/v1/quotes/preview", api.operator, json={**body, "on": "2026-07-02"})
    assert (q["subsidy"], q["rule_version"]) == (400, "2026.7")


def test_quote_after_cancellation_is_full_price(api: Api) -> None:
    c, item = _setup(api)
    e = elder(api, enrolled_on="2026-01-01")
    api.ok(
        "POST",
        f"/api/v1/elders/{e['id']}/status",
        api.operator,
        201,
        json={"status": "cancelled", "effective_from": "2026-03-01", "reason": "迁出"},
    )
    body = {"elder_id": e["id"], "canteen_id": c["id"], "menu_item_id": item["id"], "on": "2026-03-02"}
    q = api.ok("POST", "/api/v1/quotes/preview", api.operator, json=body)
    assert (q["subsidy"], q["elder_pays"], q["subsidised"]) == (0, 1100, False)
    assert q["reasons"][0]["code"] == "cancelled"
    walk_in = api.ok("POST", "/api/v1/quotes/preview", api.auditor, json={**body, "elder_id": None})
    assert walk_in["reasons"][0]["code"] == "walk_in"


def test_quote_checks_menu_and_scope(api: Api) -> None:
    c, item = _setup(api)
    other = canteen(api, "ry-02")
    e = elder(api)
    body = {"elder_id": e["id"], "canteen_id": other["id"], "menu_item_id": item["id"], "on": "2026-03-02"}
    assert api.client.post("/api/v1/quotes/preview", headers=api.operator, json=body).status_code == 404
    body = {**body, "canteen_id": c["id"], "on": "2025-12-31"}
    r = api.client.post("/api/v1/quotes/preview", headers=api.operator, json=body)
    assert r.status_code == 422 and r.json()["detail"]["problems"][0]["code"] == "menu.not_offered"
    assert api.client.post("/api/v1/quotes/preview", headers=api.manager(c["id"]), json=body).status_code == 403
