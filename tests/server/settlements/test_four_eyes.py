"""Four eyes (DESIGN §4.9): the reviewer of a statement cannot close it, the person who decided every flagged meal
cannot review it; both refusals are 403 in zh and en and audited with who tried what. ``RUYI_SETTLEMENT_FOUR_EYES
=false`` lifts the rule for a single-person site, and every step it would have refused is audited as waived."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from server.config import Settings
from tests.server.conftest import Api, serve
from tests.server.settlements.helpers import S, at, create, last_month, note_all_warnings
from tests.server.sync.helpers import World


def _audit(api: Api, action: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = api.ok("GET", "/api/v1/audit", api.admin, params={"action": action})
    return result


def _me(api: Api, headers: dict[str, str]) -> str:
    name: str = api.ok("GET", "/api/v1/auth/me", headers)["name"]
    return name


def _held_month(world: World, n: int) -> tuple[str, list[str]]:
    """Canteen A's last month with ``n`` meals held (a roster older than the offline policy: ``stale_roster``)."""
    m = last_month()
    chain = world.chain(world.ta)
    meals = [chain.sale(elder=world.elders[(2 * i) % 4], when=at(m.last_day, 12, i)) for i in range(n)]
    world.push(world.ta, chain.records, snapshot=at(m.last_day, 12, 0) - timedelta(days=3))
    sid = create(world, world.canteen_a, m)["id"]
    return sid, [str(x.meal_id) for x in meals]


def _decide(api: Api, sid: str, meal_id: str, headers: dict[str, str]) -> None:
    body = {"meal_id": meal_id, "decision": "accepted", "note": "网络故障期间"}
    api.ok("POST", f"{S}/{sid}/decisions", headers, 201, json=body)


def test_the_reviewer_cannot_close_and_the_refusal_is_audited(world: World) -> None:
    api = world.api
    m = last_month()
    chain = world.chain(world.ta)
    chain.sale(elder=world.elders[0], when=at(m.last_day, 12, 0))
    world.push(world.ta, chain.records)
    sid = create(world, world.canteen_a, m)["id"]
    note_all_warnings(world, sid)
    assert api.ok("POST", f"{S}/{sid}/review", api.auditor)["reviewed_by"] == _me(api, api.auditor)
    r = api.client.post(f"{S}/{sid}/close", headers=api.auditor)
    assert r.status_code == 403 and r.json()["error"] == "settlement.four_eyes_close"
    detail = r.json()["detail"]
    assert "复核人不能关账" in detail["zh"] and "reviewer of a statement cannot close it" in detail["en"]
    [entry] = _audit(api, "settlement.four_eyes_refused")
    assert entry["actor_name"] == _me(api, api.auditor) and entry["object_id"] == sid
    assert entry["after"]["step"] == "close" and entry["after"]["rule"] == "settlement.four_eyes_close"
    assert api.ok("GET", f"{S}/{sid}", api.auditor)["state"] == "reviewed"  # nothing else happened
    closed = api.ok("POST", f"{S}/{sid}/close", api.auditor2)
    assert closed["state"] == "closed" and closed["closed_by"] == _me(api, api.auditor2)
    assert closed["reviewed_by"] == _me(api, api.auditor)


def test_who_decided_every_flagged_meal_cannot_be_the_only_reviewer(world: World) -> None:
    """The admin (who may decide and review) decides one of two held meals: they may not review while theirs are
    the only decisions; once an operator decided the other, they may, and someone else closes."""
    api = world.api
    sid, meals = _held_month(world, 2)
    _decide(api, sid, meals[0], api.admin)
    note_all_warnings(world, sid)
    r = api.client.post(f"{S}/{sid}/review", headers=api.admin)
    assert r.status_code == 403 and r.json()["error"] == "settlement.four_eyes_review"
    assert "另一位审核人复核" in r.json()["detail"]["zh"] and "another person must review" in r.json()["detail"]["en"]
    [entry] = _audit(api, "settlement.four_eyes_refused")
    assert entry["actor_name"] == _me(api, api.admin)
    assert entry["after"]["step"] == "review" and entry["after"]["decided_by"] == [_me(api, api.admin)]
    _decide(api, sid, meals[1], api.operator)
    note_all_warnings(world, sid)
    assert api.ok("POST", f"{S}/{sid}/review", api.admin)["state"] == "reviewed"
    r = api.client.post(f"{S}/{sid}/close", headers=api.admin)
    assert r.status_code == 403 and r.json()["error"] == "settlement.four_eyes_close"
    assert api.ok("POST", f"{S}/{sid}/close", api.auditor)["state"] == "closed"


def test_the_same_person_through_another_token_is_the_same_person(world: World) -> None:
    """Four eyes counts people, not credentials: the reviewer's second token cannot close either."""
    api = world.api
    m = last_month()
    sid = create(world, world.canteen_a, m)["id"]
    api.ok("POST", f"{S}/{sid}/review", api.auditor)
    made = api.ok("POST", "/api/v1/auth/tokens", api.auditor, 201, json={"name": "x", "roles": ["bureau_auditor"]})
    other = {"Authorization": f"Bearer {made['token']}"}
    r = api.client.post(f"{S}/{sid}/close", headers=other)
    assert r.status_code == 403 and r.json()["error"] == "settlement.four_eyes_close"


def test_a_single_person_site_lifts_the_rule_only_by_the_setting_and_it_is_audited(
    world: World, settings: Settings, engine: sa.Engine
) -> None:
    api = world.api
    sid, meals = _held_month(world, 1)
    with serve(settings.model_copy(update={"settlement_four_eyes": False}), engine, api._tokens) as solo:
        _decide(solo, sid, meals[0], solo.admin)
        solo.ok("POST", f"{S}/{sid}/notes", solo.admin, json={"code": "zreport_missing", "note": "一人站点"})
        assert solo.ok("POST", f"{S}/{sid}/review", solo.admin)["state"] == "reviewed"
        assert solo.ok("POST", f"{S}/{sid}/close", solo.admin)["state"] == "closed"
    waived = _audit(api, "settlement.four_eyes_waived")
    assert [(e["after"]["step"], e["actor_name"]) for e in waived] == [
        ("close", _me(api, api.admin)),
        ("review", _me(api, api.admin)),
    ]
    assert _audit(api, "settlement.four_eyes_refused") == []


def test_the_setting_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().settlement_four_eyes is True
    monkeypatch.setenv("RUYI_SETTLEMENT_FOUR_EYES", "false")
    assert Settings().settlement_four_eyes is False
