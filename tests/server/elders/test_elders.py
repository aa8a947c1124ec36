from __future__ import annotations

from datetime import date

from tests.server.conftest import Api
from tests.server.helpers import canteen, elder, id_number, upload_city_rules


def test_register_and_duplicate_points_at_existing(api: Api) -> None:
    e = elder(api)
    assert e["id_number"] == id_number()  # the operator may read the full number
    assert e["birth_date"] == "1950-03-01"
    assert e["status"] == "enrolled"
    r = api.client.post("/api/v1/elders", headers=api.operator, json={"name": "李四", "id_number": id_number().lower()})
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "elder.duplicate_id"
    assert body["detail"]["existing_id"] == e["id"]
    assert body["detail"]["existing_href"] == f"/api/v1/elders/{e['id']}"


def test_bad_id_number_gives_ruyi_code(api: Api) -> None:
    good = id_number()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    r = api.client.post("/api/v1/elders", headers=api.operator, json={"name": "王五", "id_number": bad})
    assert r.status_code == 422
    problem = r.json()["detail"]["problems"][0]
    assert (problem["path"], problem["code"]) == ("id_number", "id.check_char")
    assert problem["zh"] and problem["en"]


def test_masking_by_role(api: Api) -> None:
    upload_city_rules(api)
    c = canteen(api)
    e = elder(api, canteen_id=c["id"], categories=[{"code": "dibao", "valid_from": "2026-01-01"}])
    full = id_number()
    masked = full[:4] + "*" * 10 + full[-4:]
    auditor_view = api.ok("GET", f"/api/v1/elders/{e['id']}", api.auditor)
    assert auditor_view["id_number"] == masked and auditor_view["id_number_masked"]
    assert auditor_view["birth_date"] is None
    assert auditor_view["name"] == "张三丰"
    assert [x["code"] for x in auditor_view["categories"]] == ["dibao"]
    mgr = api.ok("GET", f"/api/v1/elders/{e['id']}", api.manager(c["id"]))
    assert mgr["id_number"] == masked
    assert mgr["name"] == "张*丰"
    assert mgr["categories"] is None  # no category reaches a canteen-scoped caller
    page = api.ok("GET", "/api/v1/elders", api.manager(c["id"]))
    assert full not in str(page) and "dibao" not in str(page)
    other = canteen(api, "ry-02")
    assert api.client.get(f"/api/v1/elders/{e['id']}", headers=api.manager(other["id"])).status_code == 404
    assert api.ok("GET", "/api/v1/elders", api.manager(other["id"]))["total"] == 0


def test_search_by_name_tail_card_community(api: Api) -> None:
    a = elder(api, 1)
    b_number = id_number(2, born=date(1940, 5, 6))
    b = api.ok(
        "POST",
        "/api/v1/elders",
        api.operator,
        201,
        json={"name": "李秀英", "id_number": b_number, "community": "宁海路社区"},
    )
    api.ok("POST", f"/api/v1/elders/{b['id']}/cards", api.operator, 201, json={"kind": "uid", "serial": "04A1B2C3"})

    def found(query: str) -> list[str]:
        return [x["id"] for x in api.ok("GET", f"/api/v1/elders?{query}", api.auditor)["items"]]

    assert found("name=秀英") == [b["id"]]
    assert found(f"id_tail={id_number(1)[-4:]}") == [a["id"]]
    assert found(f"id_tail={b_number[:4]}**********{b_number[-4:]}") == [b["id"]]
    assert found(f"id_tail=1100**********{b_number[-4:]}") == []
    assert found("card_serial=04:a1:b2:c3") == [b["id"]]
    assert found("community=宁海") == [b["id"]]
    assert sorted(found("")) == sorted([a["id"], b["id"]])
    assert found("name=%") == []


def test_status_history_suspend_resume_cancel(api: Api) -> None:
    e = elder(api, enrolled_on="2026-01-01")
    url = f"/api/v1/elders/{e['id']}/status"
    r = api.client.post(url, headers=api.operator, json={"status": "suspended", "effective_from": "2026-02-01"})
    assert r.status_code == 422  # a reason is required
    api.ok(
        "POST", url, api.operator, 201, json={"status": "suspended", "effective_from": "2026-02-01", "reason": "住院"}
    )
    r = api.client.post(url, headers=api.operator, json={"status": "enrolled", "effective_from": "2026-01-15"})
    assert r.status_code == 422  # before the latest change
    api.ok("POST", url, api.operator, 201, json={"status": "enrolled", "effective_from": "2026-03-01"})
    api.ok(
        "POST", url, api.operator, 201, json={"status": "cancelled", "effective_from": "2026-04-01", "reason": "迁出"}
    )
    r = api.client.post(url, headers=api.operator, json={"status": "enrolled", "effective_from": "2026-05-01"})
    assert r.status_code == 409 and r.json()["error"] == "elder.closed"
    view = api.ok("GET", f"/api/v1/elders/{e['id']}", api.operator)
    assert [s["status"] for s in view["statuses"]] == ["enrolled", "suspended", "enrolled", "cancelled"]
    assert view["status"] == "cancelled"
    assert api.client.post(url, headers=api.auditor, json={}).status_code == 403
    actions = [x["action"] for x in api.ok("GET", f"/api/v1/audit?object_id={e['id']}", api.admin)]
    assert actions[0] == "elder.status.cancelled" and actions[-1] == "elder.register"


def test_categories_must_be_declared_by_a_rule_book(api: Api) -> None:
    r = api.client.post(
        "/api/v1/elders",
        headers=api.operator,
        json={"name": "赵六", "id_number": id_number(), "categories": [{"code": "dibao", "valid_from": "2026-01-01"}]},
    )
    assert r.status_code == 422 and r.json()["detail"]["problems"][0]["code"] == "category.unknown"
    upload_city_rules(api)
    e = elder(api, categories=[{"code": "dibao", "valid_from": "2026-01-01"}])
    span = api.ok(
        "POST",
        f"/api/v1/elders/{e['id']}/categories",
        api.operator,
        201,
        json={"code": "shidu", "valid_from": "2026-02-01"},
    )
    ended = api.ok(
        "POST", f"/api/v1/elders/{e['id']}/categories/{span['id']}/end", api.operator, json={"valid_to": "2026-03-31"}
    )
    assert ended["valid_to"] == "2026-03-31"
    r = api.client.post(
        f"/api/v1/elders/{e['id']}/categories", headers=api.operator, json={"code": "vip", "valid_from": "2026-01-01"}
    )
    assert r.status_code == 422


def test_update_elder_is_audited(api: Api) -> None:
    e = elder(api)
    updated = api.ok("PATCH", f"/api/v1/elders/{e['id']}", api.operator, json={"community": "新社区"})
    assert updated["community"] == "新社区"
    entry = api.ok("GET", f"/api/v1/audit?action=elder.update&object_id={e['id']}", api.admin)[0]
    assert entry["before"]["community"] == "湖南路社区" and entry["after"]["community"] == "新社区"
