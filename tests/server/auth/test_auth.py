from __future__ import annotations

import uuid

import sqlalchemy as sa

from server.auth.principal import Role
from server.db import open_session
from tests.server.conftest import Api
from tests.server.helpers import canteen, elder, id_number


def test_login_me_logout(api: Api) -> None:
    api.token(Role.BUREAU_OPERATOR, name="wang")
    r = api.client.post("/api/v1/auth/login", json={"username": "wang", "password": "test-password-1"})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert r.json()["staff"]["role"] == "bureau_operator"
    headers = {"Authorization": f"Bearer {token}"}
    me = api.ok("GET", "/api/v1/auth/me", headers)
    assert me["roles"] == ["bureau_operator"]
    assert "elders.read_full" in me["permissions"]
    api.ok("POST", "/api/v1/auth/logout", headers, 204)
    r = api.client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == "auth.bad_token"


def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    api.token(Role.BUREAU_OPERATOR, name="li")
    bad_pw = api.client.post("/api/v1/auth/login", json={"username": "li", "password": "nope"})
    no_user = api.client.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope"})
    assert bad_pw.status_code == no_user.status_code == 401
    assert bad_pw.json() == no_user.json()


def test_no_token_is_401_and_garbage_token_is_401(api: Api) -> None:
    assert api.client.get("/api/v1/elders").status_code == 401
    r = api.client.get("/api/v1/elders", headers={"Authorization": "Bearer rs_garbage"})
    assert r.status_code == 401


def test_passwords_and_tokens_are_stored_hashed(api: Api) -> None:
    token = api.token(Role.BUREAU_ADMIN, name="boss")
    with open_session(api.engine, write=False) as s:
        hashes = [row[0] for row in s.execute(sa.text("SELECT token_hash FROM auth_tokens"))]
        pw = s.execute(sa.text("SELECT password_hash FROM staff WHERE username = 'boss'")).scalar_one()
    assert token not in hashes and all(len(h) == 64 for h in hashes)
    assert pw.startswith("$argon2") and "test-password-1" not in pw


def test_api_token_role_subset_and_revocation(api: Api) -> None:
    admin = api.admin
    # An admin may mint an auditor-only token: it can read the audit log but not write.
    created = api.ok("POST", "/api/v1/auth/tokens", admin, 201, json={"name": "settle", "roles": ["bureau_auditor"]})
    auditor = {"Authorization": f"Bearer {created['token']}"}
    api.ok("GET", "/api/v1/audit", auditor)
    r = api.client.post("/api/v1/canteens", headers=auditor, json={"code": "x1", "name": "x", "programme": "p"})
    assert r.status_code == 403
    # An operator may not mint an admin token.
    r = api.client.post("/api/v1/auth/tokens", headers=api.operator, json={"name": "up", "roles": ["bureau_admin"]})
    assert r.status_code == 422
    assert r.json()["detail"]["problems"][0]["code"] == "role.not_grantable"
    # A token minted by an auditor-only token cannot climb back to admin.
    r = api.client.post("/api/v1/auth/tokens", headers=auditor, json={"name": "up", "roles": ["bureau_admin"]})
    assert r.status_code == 422
    api.ok("POST", f"/api/v1/auth/tokens/{created['info']['id']}/revoke", admin)
    assert api.client.get("/api/v1/audit", headers=auditor).status_code == 401


def test_deactivated_staff_tokens_stop_working(api: Api) -> None:
    headers = api.operator
    api.ok("GET", "/api/v1/elders", headers)
    staff = api.ok("GET", "/api/v1/staff", api.admin)
    operator = next(s for s in staff if s["role"] == "bureau_operator")
    api.ok("POST", f"/api/v1/staff/{operator['id']}/deactivate", api.admin)
    assert api.client.get("/api/v1/elders", headers=headers).status_code == 401


def test_create_staff_shows_password_once_and_checks_canteen(api: Api) -> None:
    c = canteen(api)
    made = api.ok(
        "POST",
        "/api/v1/staff",
        api.admin,
        201,
        json={"username": "mgr1", "role": "canteen_manager", "canteen_id": c["id"]},
    )
    assert len(made["password"]) >= 12
    login = api.ok("POST", "/api/v1/auth/login", {}, json={"username": "mgr1", "password": made["password"]})
    assert login["staff"]["canteen_id"] == c["id"]
    r = api.client.post("/api/v1/staff", headers=api.admin, json={"username": "mgr2", "role": "canteen_manager"})
    assert r.status_code == 422
    r = api.client.post(
        "/api/v1/staff",
        headers=api.admin,
        json={"username": "mgr3", "role": "canteen_manager", "canteen_id": str(uuid.uuid4())},
    )
    assert r.status_code == 422
    r = api.client.post("/api/v1/staff", headers=api.admin, json={"username": "mgr1", "role": "bureau_operator"})
    assert r.status_code == 409
    assert api.client.post("/api/v1/staff", headers=api.operator, json={}).status_code == 403


def test_audit_records_writes_with_masked_ids_and_is_for_auditors(api: Api) -> None:
    e = elder(api)
    entries = api.ok("GET", f"/api/v1/audit?object_type=elder&object_id={e['id']}", api.auditor)
    assert [x["action"] for x in entries] == ["elder.register"]
    assert entries[0]["after"]["id_number"] == "3201**********" + id_number()[-4:]
    assert id_number() not in str(entries)
    assert entries[0]["actor_name"].startswith("bureau_operator")
    assert api.client.get("/api/v1/audit", headers=api.operator).status_code == 403
    c = canteen(api)
    assert api.client.get("/api/v1/audit", headers=api.manager(c["id"])).status_code == 403
