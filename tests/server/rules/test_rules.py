from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from tests.server.conftest import Api
from tests.server.helpers import CITY_RULES, upload_city_rules


def _book() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(CITY_RULES)
    return data


def _future_version(start: date, vid: str = "2099.1") -> dict[str, Any]:
    v: dict[str, Any] = json.loads(json.dumps(_book()["versions"][-1], default=str))
    v["id"], v["effective_from"], v["note"] = vid, start.isoformat(), "future"
    return v


def test_upload_list_and_in_force(api: Api) -> None:
    result = upload_city_rules(api)
    assert result["changed"] and result["added"] == ["2026.1", "2026.7"]
    book = api.ok("GET", "/api/v1/rulebooks/ruyi-city", api.auditor)
    assert [v["id"] for v in book["versions"]] == ["2026.1", "2026.7"]
    assert book["versions"][0]["ends_on"] == "2026-06-30"
    assert api.ok("GET", "/api/v1/rulebooks/ruyi-city/in-force?on=2026-03-01", api.auditor)["id"] == "2026.1"
    assert api.ok("GET", "/api/v1/rulebooks/ruyi-city/in-force?on=2026-08-01", api.auditor)["id"] == "2026.7"
    assert api.client.get("/api/v1/rulebooks/ruyi-city/in-force?on=2025-12-31", headers=api.auditor).status_code == 404
    again = upload_city_rules(api)
    assert not again["changed"]
    codes = [c["code"] for c in api.ok("GET", "/api/v1/categories", api.operator)]
    assert "dibao" in codes and "tekun" in codes


def test_invalid_rule_book_lists_problems(api: Api) -> None:
    bad = CITY_RULES.replace('fixed: "2.00"}', "fixed: 2.5}", 1)
    r = api.client.post("/api/v1/rulebooks", headers=api.admin, json={"source": bad})
    assert r.status_code == 422
    problem = r.json()["detail"]["problems"][0]
    assert problem["path"].startswith("versions[0].tiers[0].subsidy.fixed") and problem["zh"]
    r = api.client.post("/api/v1/rulebooks", headers=api.admin, json={"source": "a: [unclosed"})
    assert r.status_code == 422 and r.json()["error"] == "yaml_syntax"


def test_versions_in_force_are_never_edited(api: Api) -> None:
    upload_city_rules(api)
    edited = CITY_RULES.replace("note: 首个版本", "note: 改过")
    r = api.client.post("/api/v1/rulebooks", headers=api.admin, json={"source": edited})
    assert r.status_code == 409 and r.json()["error"] == "rules.version_frozen"
    assert r.json()["detail"]["version"] == "2026.1"
    # Nothing changed.
    assert api.ok("GET", "/api/v1/rulebooks/ruyi-city", api.auditor)["versions"][0]["note"] == "首个版本"


def test_new_version_must_start_after_today(api: Api) -> None:
    upload_city_rules(api)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    r = api.client.post("/api/v1/rulebooks/ruyi-city/versions", headers=api.admin, json=_future_version(today))
    assert r.status_code == 422
    assert r.json()["detail"]["problems"][0]["code"] == "rules.starts_too_early"
    start = today + timedelta(days=30)
    ok = api.ok("POST", "/api/v1/rulebooks/ruyi-city/versions", api.admin, json=_future_version(start))
    assert ok["added"] == ["2099.1"]
    assert ok["book"]["versions"][-1]["state"] == "future"
    assert ok["book"]["versions"][-2]["ends_on"] == (start - timedelta(days=1)).isoformat()
    # A future version may still be replaced; overlapping ones are refused by ruyi.
    v = _future_version(start)
    v["note"] = "改期前"
    book = _book()
    book["versions"] = [*json.loads(json.dumps(book["versions"], default=str)), v]
    replaced = api.ok("POST", "/api/v1/rulebooks", api.admin, json={"source": json.dumps(book)})
    assert replaced["replaced"] == ["2099.1"]
    r = api.client.post("/api/v1/rulebooks/ruyi-city/versions", headers=api.admin, json=_future_version(start, "dup"))
    assert r.status_code == 422
    assert api.client.post("/api/v1/rulebooks", headers=api.operator, json={"source": CITY_RULES}).status_code == 403
