"""Cashiers on the server: a staff admin sets a cashier's number and PIN (audited, never the PIN), and the
canteen's terminals receive the cashiers with salted scrypt hashes of their PINs on the first page of every pull;
never a PIN, never another canteen's cashiers. On SQLite and PostgreSQL (the ``api`` fixture)."""

from __future__ import annotations

from typing import Any

from ruyi.cashier import PIN_HASH_RE, verify_pin
from tests.server.conftest import Api
from tests.server.sync.helpers import World
from tests.server.sync.test_pull import pull


def _cashier(api: Api, canteen_id: str, username: str, display_name: str) -> dict[str, Any]:
    body = {"username": username, "display_name": display_name, "role": "cashier", "canteen_id": canteen_id}
    created: dict[str, Any] = api.ok("POST", "/api/v1/staff", api.admin, 201, json=body)["staff"]
    return created


def _set_pin(api: Api, staff_id: str, number: str, pin: str, status: int = 200) -> Any:
    return api.ok(
        "POST", f"/api/v1/staff/{staff_id}/cashier-pin", api.admin, status, json={"number": number, "pin": pin}
    )


def test_pin_set_audited_and_pulled_as_hash_only(api: Api, world: World) -> None:
    wang = _cashier(api, world.canteen_a, "wangfang", "王芳")
    li = _cashier(api, world.canteen_b, "lilei", "李雷")
    out = _set_pin(api, wang["id"], "1001", "482913")
    assert (out["cashier_no"], out["pin_set"]) == ("1001", True)
    _set_pin(api, li["id"], "1001", "777111")  # the same number at another canteen is another cashier

    full = pull(world, world.ta)
    assert [(c["id"], c["number"], c["name"]) for c in full["cashiers"]] == [(wang["id"], "1001", "王芳")]
    stored = full["cashiers"][0]["pin_hash"]
    assert PIN_HASH_RE.match(stored)
    assert verify_pin("482913", stored) and not verify_pin("482914", stored)
    assert "482913" not in str(full) and "777111" not in str(full)
    assert [c["name"] for c in pull(world, world.tb)["cashiers"]] == ["李雷"]

    # A new PIN gets a new salt; the terminal's next pull (a delta) carries the new hash.
    _set_pin(api, wang["id"], "1001", "482913")
    delta = pull(world, world.ta, full["cursor"])
    assert delta["cashiers"][0]["pin_hash"] != stored

    entries = api.ok("GET", "/api/v1/audit", api.auditor, params={"action": "staff.cashier_pin"})
    assert {e["object_id"] for e in entries} == {wang["id"], li["id"]}
    assert entries[0]["after"] == {
        "username": "wangfang",
        "canteen_id": world.canteen_a,
        "cashier_no": "1001",
        "pin_set": True,
    }
    everything = str(api.ok("GET", "/api/v1/audit", api.auditor, params={"limit": 1000}))
    assert "482913" not in everything and "scrypt$" not in everything

    # Deactivated staff no longer reach the terminals.
    api.ok("POST", f"/api/v1/staff/{wang['id']}/deactivate", api.admin)
    assert pull(world, world.ta, delta["cursor"])["cashiers"] == []


def test_pin_rules(api: Api, world: World) -> None:
    wang = _cashier(api, world.canteen_a, "wangfang", "王芳")
    zhao = _cashier(api, world.canteen_a, "zhaoli", "赵丽")
    _set_pin(api, wang["id"], "1001", "4829")
    assert _set_pin(api, zhao["id"], "1001", "5555", 409)["error"] == "cashier.taken"
    _set_pin(api, zhao["id"], "1002", "12", 422)  # too short
    _set_pin(api, zhao["id"], "1002", "12ab", 422)
    # A bureau operator is no staff admin; a canteen manager neither.
    r = api.client.post(
        f"/api/v1/staff/{zhao['id']}/cashier-pin", headers=api.operator, json={"number": "1002", "pin": "5555"}
    )
    assert r.status_code == 403
    r = api.client.post(
        f"/api/v1/staff/{zhao['id']}/cashier-pin",
        headers=api.manager(world.canteen_a),
        json={"number": "1002", "pin": "5555"},
    )
    assert r.status_code == 403
    # A bureau member of staff belongs to no canteen: no cashier PIN.
    admin_row = api.ok("POST", "/api/v1/staff", api.admin, 201, json={"username": "boss", "role": "bureau_admin"})
    assert _set_pin(api, admin_row["staff"]["id"], "9", "5555", 422)["error"] == "validation_failed"
    # A cashier belongs to a canteen.
    body = {"username": "nocanteen", "role": "cashier"}
    assert api.client.post("/api/v1/staff", headers=api.admin, json=body).status_code == 422
