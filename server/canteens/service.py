"""Canteens, their menus and their terminals. Canteen-scoped callers reach only their own canteen."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ruyi.money import MEAL_PRICE_CEILING, fen_range_text
from server import sql
from server.audit import service as audit
from server.auth.principal import Principal
from server.auth.service import TERMINAL_PREFIX, new_secret, token_hash
from server.base import utcnow
from server.canteens.tables import Canteen, MenuItem, Terminal
from server.errors import Conflict, Invalid, NotFound


def canteen_snapshot(c: Canteen) -> dict[str, Any]:
    return {
        "code": c.code,
        "name": c.name,
        "programme": c.programme,
        "address": c.address,
        "active": c.active,
        "offline_hours": c.offline_hours,
        "offline_warn_minutes": c.offline_warn_minutes,
    }


def get_canteen(session: Session, *, actor: Principal, canteen_id: uuid.UUID) -> Canteen:
    canteen = session.get(Canteen, canteen_id)
    if canteen is None or not actor.reaches(canteen.id):
        raise NotFound("食堂", "canteen")
    return canteen


def list_canteens(session: Session, *, actor: Principal) -> list[Canteen]:
    stmt = select(Canteen)
    if actor.canteen_id is not None:
        stmt = stmt.where(col(Canteen.id) == actor.canteen_id)
    return list(session.exec(stmt.order_by(col(Canteen.code))))


def create_canteen(
    session: Session,
    *,
    actor: Principal,
    code: str,
    name: str,
    programme: str,
    address: str,
    offline_hours: int | None = None,
    offline_warn_minutes: int | None = None,
) -> Canteen:
    taken = Conflict(f"食堂编号 {code} 已存在", f"canteen code {code} is taken", code="canteen.code_taken")
    if session.exec(select(Canteen).where(col(Canteen.code) == code)).first() is not None:
        raise taken
    canteen = Canteen(
        code=code,
        name=name,
        programme=programme,
        address=address,
        offline_hours=offline_hours,
        offline_warn_minutes=offline_warn_minutes,
    )
    session.add(canteen)
    sql.flush_unique(session, taken)
    audit.record(
        session,
        actor=actor,
        action="canteen.create",
        object_type="canteen",
        object_id=canteen.id,
        canteen_id=canteen.id,
        after=canteen_snapshot(canteen),
    )
    return canteen


def update_canteen(session: Session, *, actor: Principal, canteen_id: uuid.UUID, changes: dict[str, Any]) -> Canteen:
    """Change the given fields (a new offline policy reaches the canteen's terminals with their next pull)."""
    canteen = get_canteen(session, actor=actor, canteen_id=canteen_id)
    before = canteen_snapshot(canteen)
    for key, value in changes.items():
        setattr(canteen, key, value)
    session.add(canteen)
    audit.record(
        session,
        actor=actor,
        action="canteen.update",
        object_type="canteen",
        object_id=canteen.id,
        canteen_id=canteen.id,
        before=before,
        after=canteen_snapshot(canteen),
    )
    return canteen


# -- menus ---------------------------------------------------------------------------------------------------


def menu_snapshot(m: MenuItem) -> dict[str, Any]:
    return {
        "name": m.name,
        "price": m.price,
        "slot": m.slot,
        "effective_from": m.effective_from.isoformat(),
        "effective_to": m.effective_to.isoformat() if m.effective_to else None,
    }


def _check_dates(start: date, end: date | None) -> None:
    if end is not None and end < start:
        raise Invalid.field("effective_to", "dates_reversed", "结束日期早于开始日期", "ends before it starts")


def create_menu_item(
    session: Session,
    *,
    actor: Principal,
    canteen_id: uuid.UUID,
    name: str,
    price: int,
    slot: str,
    effective_from: date,
    effective_to: date | None,
    max_price: int = MEAL_PRICE_CEILING,
) -> MenuItem:
    canteen = get_canteen(session, actor=actor, canteen_id=canteen_id)
    _check_dates(effective_from, effective_to)
    if not 0 <= price <= max_price:
        raise Invalid.field("body.price", "money.fen_range", *fen_range_text(0, max_price))
    item = MenuItem(
        canteen_id=canteen.id,
        name=name,
        price=price,
        slot=slot,
        effective_from=effective_from,
        effective_to=effective_to,
    )
    session.add(item)
    audit.record(
        session,
        actor=actor,
        action="menu_item.create",
        object_type="menu_item",
        object_id=item.id,
        canteen_id=canteen.id,
        after=menu_snapshot(item),
    )
    return item


def list_menu_items(session: Session, *, actor: Principal, canteen_id: uuid.UUID, on: date | None) -> list[MenuItem]:
    canteen = get_canteen(session, actor=actor, canteen_id=canteen_id)
    stmt = select(MenuItem).where(col(MenuItem.canteen_id) == canteen.id)
    if on is not None:
        stmt = stmt.where(
            col(MenuItem.effective_from) <= on,
            sa.or_(col(MenuItem.effective_to).is_(None), col(MenuItem.effective_to) >= on),
        )
    return list(session.exec(stmt.order_by(col(MenuItem.slot), col(MenuItem.name), col(MenuItem.effective_from))))


def get_menu_item(session: Session, *, actor: Principal, item_id: uuid.UUID) -> MenuItem:
    item = session.get(MenuItem, item_id)
    if item is None or not actor.reaches(item.canteen_id):
        raise NotFound("菜品", "menu item")
    return item


def end_menu_item(session: Session, *, actor: Principal, item_id: uuid.UUID, effective_to: date) -> MenuItem:
    """Close an item's date range (prices are never edited: a new price is a new item)."""
    item = get_menu_item(session, actor=actor, item_id=item_id)
    _check_dates(item.effective_from, effective_to)
    if item.effective_to is not None and effective_to > item.effective_to:
        raise Invalid.field(
            "effective_to", "menu.extend", "只能提前结束，不能延长", "an item can be ended earlier, not extended"
        )
    before = menu_snapshot(item)
    item.effective_to = effective_to
    session.add(item)
    audit.record(
        session,
        actor=actor,
        action="menu_item.end",
        object_type="menu_item",
        object_id=item.id,
        canteen_id=item.canteen_id,
        before=before,
        after=menu_snapshot(item),
    )
    return item


# -- terminals -----------------------------------------------------------------------------------------------


def create_terminal(
    session: Session, *, actor: Principal, canteen_id: uuid.UUID, name: str, pepper: str
) -> tuple[Terminal, str]:
    canteen = get_canteen(session, actor=actor, canteen_id=canteen_id)
    # The canteen's row lock orders concurrent registrations at one canteen (the unique index backs it up).
    session.exec(sql.for_update(select(Canteen.id).where(col(Canteen.id) == canteen.id), session)).one()
    last = session.exec(select(sa.func.max(Terminal.number)).where(col(Terminal.canteen_id) == canteen.id)).one()
    number = (last or 0) + 1
    credential = new_secret(TERMINAL_PREFIX)
    terminal = Terminal(
        canteen_id=canteen.id,
        name=name,
        number=number,
        code=terminal_code(canteen.code, number),
        credential_hash=token_hash(credential, pepper=pepper),
    )
    session.add(terminal)
    audit.record(
        session,
        actor=actor,
        action="terminal.create",
        object_type="terminal",
        object_id=terminal.id,
        canteen_id=canteen.id,
        after={"name": name, "code": terminal.code},
    )
    return terminal, credential


def terminal_code(canteen_code: str, number: int) -> str:
    """A terminal's short code: its canteen's code in capitals and its number there (``RY01-2``)."""
    return f"{canteen_code.upper()}-{number}"


def list_terminals(session: Session, *, actor: Principal, canteen_id: uuid.UUID) -> list[Terminal]:
    canteen = get_canteen(session, actor=actor, canteen_id=canteen_id)
    stmt = select(Terminal).where(col(Terminal.canteen_id) == canteen.id).order_by(col(Terminal.created_at))
    return list(session.exec(stmt))


def get_terminal(session: Session, *, actor: Principal, terminal_id: uuid.UUID) -> Terminal:
    terminal = session.get(Terminal, terminal_id)
    if terminal is None or not actor.reaches(terminal.canteen_id):
        raise NotFound("终端", "terminal")
    return terminal


def revoke_terminal(session: Session, *, actor: Principal, terminal_id: uuid.UUID, reason: str) -> Terminal:
    terminal = get_terminal(session, actor=actor, terminal_id=terminal_id)
    if terminal.revoked_at is not None:
        raise Conflict("终端已停用", "terminal already revoked", code="terminal.revoked")
    terminal.revoked_at = utcnow()
    terminal.revoke_reason = reason
    session.add(terminal)
    audit.record(
        session,
        actor=actor,
        action="terminal.revoke",
        object_type="terminal",
        object_id=terminal.id,
        canteen_id=terminal.canteen_id,
        before={"revoked": False},
        after={"revoked": True, "reason": reason},
    )
    return terminal
