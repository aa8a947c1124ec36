from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from server.auth import service
from server.auth.cashiers import set_cashier_pin
from server.auth.dependencies import CurrentPrincipal, CurrentStaff, SettingsDep, StaffManager
from server.auth.principal import Role
from server.auth.schemas import (
    CashierPinIn,
    LoginIn,
    MeOut,
    SessionOut,
    StaffCreate,
    StaffCreated,
    StaffOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
)
from server.auth.tables import AuthToken, Staff
from server.db import SessionDep
from server.errors import responses

router = APIRouter(tags=["auth"])


def staff_out(staff: Staff) -> StaffOut:
    return StaffOut(
        id=staff.id,
        username=staff.username,
        display_name=staff.display_name,
        role=Role(staff.role),
        canteen_id=staff.canteen_id,
        active=staff.active,
        created_at=staff.created_at,
        cashier_no=staff.cashier_no,
        pin_set=staff.pin_hash is not None,
    )


def token_out(row: AuthToken) -> TokenOut:
    return TokenOut(
        id=row.id,
        kind=row.kind,
        name=row.name,
        roles=[Role(r) for r in row.roles.split(",") if r],
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


@router.post("/auth/login", response_model=SessionOut, responses=responses(401, 422))
def login(body: LoginIn, session: SessionDep, settings: SettingsDep) -> SessionOut:
    token, row, staff = service.login(
        session,
        username=body.username,
        password=body.password,
        pepper=settings.secret_key,
        hours=settings.session_hours,
    )
    session.commit()
    assert row.expires_at is not None
    return SessionOut(token=token, expires_at=row.expires_at, staff=staff_out(staff))


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=responses(401, 403))
def logout(actor: CurrentStaff, session: SessionDep) -> None:
    service.logout(session, actor=actor)
    session.commit()


@router.get("/auth/me", response_model=MeOut, responses=responses(401))
def me(actor: CurrentPrincipal) -> MeOut:
    return MeOut(
        kind=actor.kind,
        id=actor.id,
        name=actor.name,
        roles=sorted(actor.roles),
        canteen_id=actor.canteen_id,
        permissions=sorted(p.value for p in actor.perms),
    )


@router.post("/auth/tokens", response_model=TokenCreated, status_code=201, responses=responses(401, 403, 422))
def create_token(body: TokenCreate, actor: CurrentStaff, session: SessionDep, settings: SettingsDep) -> TokenCreated:
    token, row = service.create_api_token(
        session, actor=actor, name=body.name, roles=body.roles, expires_at=body.expires_at, pepper=settings.secret_key
    )
    session.commit()
    return TokenCreated(token=token, info=token_out(row))


@router.get("/auth/tokens", response_model=list[TokenOut], responses=responses(401, 403))
def list_tokens(actor: CurrentStaff, session: SessionDep) -> list[TokenOut]:
    return [token_out(t) for t in service.list_tokens(session, actor=actor)]


@router.post("/auth/tokens/{token_id}/revoke", response_model=TokenOut, responses=responses(401, 403, 404))
def revoke_token(token_id: uuid.UUID, actor: CurrentStaff, session: SessionDep) -> TokenOut:
    row = service.revoke_token(session, actor=actor, token_id=token_id)
    session.commit()
    return token_out(row)


@router.post("/staff", response_model=StaffCreated, status_code=201, responses=responses(401, 403, 409, 422))
def create_staff(body: StaffCreate, actor: StaffManager, session: SessionDep) -> StaffCreated:
    staff, password = service.create_staff(
        session,
        actor=actor,
        username=body.username,
        role=body.role,
        display_name=body.display_name,
        canteen_id=body.canteen_id,
    )
    session.commit()
    return StaffCreated(staff=staff_out(staff), password=password)


@router.get("/staff", response_model=list[StaffOut], responses=responses(401, 403))
def list_staff(_actor: StaffManager, session: SessionDep) -> list[StaffOut]:
    return [staff_out(s) for s in service.list_staff(session)]


@router.post("/staff/{staff_id}/deactivate", response_model=StaffOut, responses=responses(401, 403, 404))
def deactivate_staff(staff_id: uuid.UUID, actor: StaffManager, session: SessionDep) -> StaffOut:
    staff = service.set_staff_active(session, actor=actor, staff_id=staff_id, active=False)
    session.commit()
    return staff_out(staff)


@router.post("/staff/{staff_id}/cashier-pin", response_model=StaffOut, responses=responses(401, 403, 404, 409, 422))
def cashier_pin(staff_id: uuid.UUID, body: CashierPinIn, actor: StaffManager, session: SessionDep) -> StaffOut:
    """Set a cashier's personal number and PIN (audited; the PIN is stored only as a salted scrypt hash and
    reaches the canteen's terminals as that hash with their next pull)."""
    staff = set_cashier_pin(session, actor=actor, staff_id=staff_id, number=body.number, pin=body.pin)
    session.commit()
    return staff_out(staff)
