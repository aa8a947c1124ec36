from __future__ import annotations

from alembic import command

from server.db import alembic_config
from tests.server.conftest import Api
from tests.server.helpers import canteen


def test_canteen_crud_and_code_conflict(api: Api) -> None:
    c = canteen(api)
    assert api.ok("GET", f"/api/v1/canteens/{c['id']}", api.operator)["code"] == "ry-01"
    r = api.client.post(
        "/api/v1/canteens", headers=api.admin, json={"code": "ry-01", "name": "x", "programme": "ruyi-city"}
    )
    assert r.status_code == 409 and r.json()["error"] == "canteen.code_taken"
    updated = api.ok("PATCH", f"/api/v1/canteens/{c['id']}", api.admin, json={"name": "新名字"})
    assert updated["name"] == "新名字"
    assert api.client.post("/api/v1/canteens", headers=api.operator, json={}).status_code == 403


def test_a_canteen_can_have_its_own_offline_policy(api: Api) -> None:
    c = canteen(api)
    assert (c["offline_hours"], c["offline_warn_minutes"]) == (None, None)  # the server's defaults
    url = f"/api/v1/canteens/{c['id']}"
    own = api.ok("PATCH", url, api.admin, json={"offline_hours": 72, "offline_warn_minutes": 120})
    assert (own["offline_hours"], own["offline_warn_minutes"]) == (72, 120)
    renamed = api.ok("PATCH", url, api.admin, json={"name": "改名"})  # other fields leave the policy alone
    assert (renamed["offline_hours"], renamed["offline_warn_minutes"]) == (72, 120)
    for bad in ({"offline_hours": 0}, {"offline_hours": 721}, {"offline_warn_minutes": -1}):
        r = api.client.patch(url, headers=api.admin, json=bad)
        assert r.status_code == 422, bad
    assert api.ok("GET", url, api.operator)["offline_hours"] == 72
    back = api.ok("PATCH", url, api.admin, json={"offline_hours": None})
    assert (back["offline_hours"], back["offline_warn_minutes"]) == (None, 120)
    log = api.ok("GET", "/api/v1/audit", api.auditor, params={"object_id": c["id"]})
    assert any(e["after"].get("offline_hours") == 72 for e in log)


def test_menu_items_with_dates_and_manager_scope(api: Api) -> None:
    a, b = canteen(api, "ry-01"), canteen(api, "ry-02")
    mgr_a = api.manager(a["id"])
    item = api.ok(
        "POST",
        f"/api/v1/canteens/{a['id']}/menu-items",
        mgr_a,
        201,
        json={"name": "午餐套餐A", "price": 1100, "slot": "lunch", "effective_from": "2026-01-01"},
    )
    assert item["price"] == 1100
    # Another canteen's manager sees nothing of it: 404, never its data.
    mgr_b = api.manager(b["id"])
    r = api.client.get(f"/api/v1/menu-items/{item['id']}", headers=mgr_b)
    assert r.status_code == 404 and "午餐" not in r.text
    assert api.client.get(f"/api/v1/canteens/{a['id']}/menu-items", headers=mgr_b).status_code == 404
    r = api.client.post(
        f"/api/v1/canteens/{a['id']}/menu-items",
        headers=mgr_b,
        json={"name": "x", "price": 1, "slot": "lunch", "effective_from": "2026-01-01"},
    )
    assert r.status_code == 404
    assert [c["code"] for c in api.ok("GET", "/api/v1/canteens", mgr_b)] == ["ry-02"]
    # Prices are integer fen; floats and negative prices are refused.
    for price in (11.5, -1):
        r = api.client.post(
            f"/api/v1/canteens/{a['id']}/menu-items",
            headers=mgr_a,
            json={"name": "x", "price": price, "slot": "lunch", "effective_from": "2026-01-01"},
        )
        assert r.status_code == 422
    ended = api.ok("POST", f"/api/v1/menu-items/{item['id']}/end", mgr_a, json={"effective_to": "2026-06-30"})
    assert ended["effective_to"] == "2026-06-30"
    assert api.ok("GET", f"/api/v1/canteens/{a['id']}/menu-items?on=2026-07-01", mgr_a) == []
    assert len(api.ok("GET", f"/api/v1/canteens/{a['id']}/menu-items?on=2026-06-30", mgr_a)) == 1


def test_terminal_credential_shown_once_and_revocable(api: Api) -> None:
    a, b = canteen(api, "ry-01"), canteen(api, "ry-02")
    made = api.ok("POST", f"/api/v1/canteens/{a['id']}/terminals", api.admin, 201, json={"name": "收银台1"})
    cred = {"Authorization": f"Bearer {made['credential']}"}
    me = api.ok("GET", "/api/v1/terminal/me", cred)
    assert me["canteen_id"] == a["id"]
    listed = api.ok("GET", f"/api/v1/canteens/{a['id']}/terminals", api.manager(a["id"]))
    assert "credential" not in listed[0]
    # A terminal reaches its own canteen only, and is not staff.
    assert api.client.get(f"/api/v1/canteens/{b['id']}", headers=cred).status_code == 404
    api.ok("GET", f"/api/v1/canteens/{a['id']}", cred)
    assert api.client.get("/api/v1/elders", headers=cred).status_code == 403
    assert api.client.get("/api/v1/terminal/me", headers=api.admin).status_code == 403
    api.ok("POST", f"/api/v1/terminals/{made['terminal']['id']}/revoke", api.admin, json={"reason": "丢失"})
    assert api.client.get("/api/v1/terminal/me", headers=cred).status_code == 401
    r = api.client.post(f"/api/v1/terminals/{made['terminal']['id']}/revoke", headers=api.admin, json={"reason": "x"})
    assert r.status_code == 409


def test_terminals_get_short_codes_numbered_per_canteen(api: Api) -> None:
    a, b = canteen(api, "ry01"), canteen(api, "ry02")
    made = [
        api.ok("POST", f"/api/v1/canteens/{c['id']}/terminals", api.admin, 201, json={"name": f"收银台{n}"})
        for c, n in ((a, 1), (a, 2), (b, 1))
    ]
    assert [(m["terminal"]["number"], m["terminal"]["code"]) for m in made] == [
        (1, "RY01-1"),
        (2, "RY01-2"),
        (1, "RY02-1"),
    ]
    listed = api.ok("GET", f"/api/v1/canteens/{a['id']}/terminals", api.admin)
    assert [t["code"] for t in listed] == ["RY01-1", "RY01-2"]


def test_the_migration_numbers_terminals_registered_before(api: Api) -> None:
    a, b = canteen(api, "ry01"), canteen(api, "ry02")
    for c in (a, a, b, a):
        api.ok("POST", f"/api/v1/canteens/{c['id']}/terminals", api.admin, 201, json={"name": "收银台"})
    before = {
        t["id"]: t["code"] for c in (a, b) for t in api.ok("GET", f"/api/v1/canteens/{c['id']}/terminals", api.admin)
    }
    engine = api.engine
    with engine.begin() as conn:
        cfg = alembic_config(str(engine.url))
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
        command.upgrade(cfg, "head")
    after = {
        t["id"]: t["code"] for c in (a, b) for t in api.ok("GET", f"/api/v1/canteens/{c['id']}/terminals", api.admin)
    }
    assert after == before and sorted(after.values()) == ["RY01-1", "RY01-2", "RY01-3", "RY02-1"]
