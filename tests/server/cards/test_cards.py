from __future__ import annotations

from tests.server.conftest import Api
from tests.server.helpers import elder


def test_one_active_binding_per_card_then_rebind_after_revoke(api: Api) -> None:
    a, b = elder(api, 1), elder(api, 2)
    card = api.ok(
        "POST",
        f"/api/v1/elders/{a['id']}/cards",
        api.operator,
        201,
        json={"kind": "social_security", "serial": "A1234567"},
    )
    r = api.client.post(
        f"/api/v1/elders/{b['id']}/cards", headers=api.operator, json={"kind": "social_security", "serial": "a1234567"}
    )
    assert r.status_code == 409
    assert r.json()["error"] == "card.already_bound" and r.json()["detail"]["existing_card_id"] == card["id"]
    # The same serial of another kind is another card.
    api.ok("POST", f"/api/v1/elders/{b['id']}/cards", api.operator, 201, json={"kind": "uid", "serial": "A1234567"})
    revoked = api.ok(
        "POST",
        f"/api/v1/cards/{card['id']}/revoke",
        api.operator,
        json={"revoked_on": card["bound_on"], "reason": "挂失"},
    )
    assert revoked["active"] is False and revoked["revoke_reason"] == "挂失"
    rebound = api.ok(
        "POST",
        f"/api/v1/elders/{b['id']}/cards",
        api.operator,
        201,
        json={"kind": "social_security", "serial": "A1234567"},
    )
    found = api.ok("GET", "/api/v1/cards/lookup?kind=social_security&serial=A1234567", api.auditor)
    assert found["id"] == rebound["id"] and found["elder_id"] == b["id"]
    history = api.ok("GET", f"/api/v1/elders/{a['id']}/cards", api.auditor)
    assert [c["active"] for c in history] == [False]
    r = api.client.post(
        f"/api/v1/cards/{card['id']}/revoke", headers=api.operator, json={"revoked_on": card["bound_on"], "reason": "x"}
    )
    assert r.status_code == 409


def test_cancelled_elder_cannot_get_a_card(api: Api) -> None:
    e = elder(api, enrolled_on="2026-01-01")
    api.ok(
        "POST",
        f"/api/v1/elders/{e['id']}/status",
        api.operator,
        201,
        json={"status": "deceased", "effective_from": "2026-05-01", "reason": "身故"},
    )
    r = api.client.post(
        f"/api/v1/elders/{e['id']}/cards", headers=api.operator, json={"kind": "uid", "serial": "DEADBEEF"}
    )
    assert r.status_code == 409
