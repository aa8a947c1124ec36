from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter

from server.auth.dependencies import (
    CanteenReader,
    CanteenWriter,
    CurrentTerminal,
    MenuWriter,
    SettingsDep,
    TerminalReader,
    TerminalWriter,
)
from server.canteens import service
from server.canteens.schemas import (
    CanteenCreate,
    CanteenOut,
    CanteenUpdate,
    MenuItemCreate,
    MenuItemEnd,
    MenuItemOut,
    TerminalCreate,
    TerminalCreated,
    TerminalOut,
    TerminalRevoke,
)
from server.canteens.tables import Canteen, MenuItem, Terminal
from server.db import SessionDep
from server.errors import responses

router = APIRouter(tags=["canteens"])


def canteen_out(c: Canteen) -> CanteenOut:
    return CanteenOut.model_validate(c, from_attributes=True)


def menu_out(m: MenuItem) -> MenuItemOut:
    return MenuItemOut.model_validate(m, from_attributes=True)


def terminal_out(t: Terminal) -> TerminalOut:
    return TerminalOut.model_validate(t, from_attributes=True)


@router.post("/canteens", response_model=CanteenOut, status_code=201, responses=responses(401, 403, 409, 422))
def create_canteen(body: CanteenCreate, actor: CanteenWriter, session: SessionDep) -> CanteenOut:
    canteen = service.create_canteen(session, actor=actor, **body.model_dump())
    session.commit()
    return canteen_out(canteen)


@router.get("/canteens", response_model=list[CanteenOut], responses=responses(401, 403))
def list_canteens(actor: CanteenReader, session: SessionDep) -> list[CanteenOut]:
    return [canteen_out(c) for c in service.list_canteens(session, actor=actor)]


@router.get("/canteens/{canteen_id}", response_model=CanteenOut, responses=responses(401, 403, 404))
def get_canteen(canteen_id: uuid.UUID, actor: CanteenReader, session: SessionDep) -> CanteenOut:
    return canteen_out(service.get_canteen(session, actor=actor, canteen_id=canteen_id))


@router.patch("/canteens/{canteen_id}", response_model=CanteenOut, responses=responses(401, 403, 404, 422))
def update_canteen(canteen_id: uuid.UUID, body: CanteenUpdate, actor: CanteenWriter, session: SessionDep) -> CanteenOut:
    changes = body.changes()
    canteen = service.update_canteen(session, actor=actor, canteen_id=canteen_id, changes=changes)
    session.commit()
    return canteen_out(canteen)


@router.post(
    "/canteens/{canteen_id}/menu-items",
    response_model=MenuItemOut,
    status_code=201,
    responses=responses(401, 403, 404, 422),
)
def create_menu_item(
    canteen_id: uuid.UUID, body: MenuItemCreate, actor: MenuWriter, session: SessionDep, settings: SettingsDep
) -> MenuItemOut:
    """A new item; its ``price`` is integer fen (¥11.00 is 1100), at most ``RUYI_MAX_MEAL_PRICE_FEN``."""
    item = service.create_menu_item(
        session, actor=actor, canteen_id=canteen_id, max_price=settings.max_meal_price_fen, **body.model_dump()
    )
    session.commit()
    return menu_out(item)


@router.get("/canteens/{canteen_id}/menu-items", response_model=list[MenuItemOut], responses=responses(401, 403, 404))
def list_menu_items(
    canteen_id: uuid.UUID, actor: CanteenReader, session: SessionDep, on: date | None = None
) -> list[MenuItemOut]:
    """The canteen's menu; with ``on``, only the items offered on that date."""
    return [menu_out(m) for m in service.list_menu_items(session, actor=actor, canteen_id=canteen_id, on=on)]


@router.get("/menu-items/{item_id}", response_model=MenuItemOut, responses=responses(401, 403, 404))
def get_menu_item(item_id: uuid.UUID, actor: CanteenReader, session: SessionDep) -> MenuItemOut:
    return menu_out(service.get_menu_item(session, actor=actor, item_id=item_id))


@router.post("/menu-items/{item_id}/end", response_model=MenuItemOut, responses=responses(401, 403, 404, 422))
def end_menu_item(item_id: uuid.UUID, body: MenuItemEnd, actor: MenuWriter, session: SessionDep) -> MenuItemOut:
    item = service.end_menu_item(session, actor=actor, item_id=item_id, effective_to=body.effective_to)
    session.commit()
    return menu_out(item)


@router.post(
    "/canteens/{canteen_id}/terminals",
    response_model=TerminalCreated,
    status_code=201,
    responses=responses(401, 403, 404, 422),
)
def create_terminal(
    canteen_id: uuid.UUID, body: TerminalCreate, actor: TerminalWriter, session: SessionDep, settings: SettingsDep
) -> TerminalCreated:
    terminal, credential = service.create_terminal(
        session, actor=actor, canteen_id=canteen_id, name=body.name, pepper=settings.secret_key
    )
    session.commit()
    return TerminalCreated(terminal=terminal_out(terminal), credential=credential)


@router.get("/canteens/{canteen_id}/terminals", response_model=list[TerminalOut], responses=responses(401, 403, 404))
def list_terminals(canteen_id: uuid.UUID, actor: TerminalReader, session: SessionDep) -> list[TerminalOut]:
    return [terminal_out(t) for t in service.list_terminals(session, actor=actor, canteen_id=canteen_id)]


@router.get("/terminals/{terminal_id}", response_model=TerminalOut, responses=responses(401, 403, 404))
def get_terminal(terminal_id: uuid.UUID, actor: TerminalReader, session: SessionDep) -> TerminalOut:
    return terminal_out(service.get_terminal(session, actor=actor, terminal_id=terminal_id))


@router.post(
    "/terminals/{terminal_id}/revoke", response_model=TerminalOut, responses=responses(401, 403, 404, 409, 422)
)
def revoke_terminal(
    terminal_id: uuid.UUID, body: TerminalRevoke, actor: TerminalWriter, session: SessionDep
) -> TerminalOut:
    terminal = service.revoke_terminal(session, actor=actor, terminal_id=terminal_id, reason=body.reason)
    session.commit()
    return terminal_out(terminal)


@router.get("/terminal/me", response_model=TerminalOut, responses=responses(401, 403))
def terminal_me(actor: CurrentTerminal, session: SessionDep) -> TerminalOut:
    """The calling terminal itself (machine credential only)."""
    assert actor.id is not None
    return terminal_out(service.get_terminal(session, actor=actor, terminal_id=actor.id))
