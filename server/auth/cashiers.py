"""Cashiers: a personal number and a PIN per cashier, for signing in at the canteen's terminals.

A staff admin sets both (:func:`set_cashier_pin`); only scrypt of the PIN with a fresh salt is stored
(:func:`ruyi.cashier.hash_pin`), and the audit log records that a PIN was set, never the PIN or its hash.
Terminals receive the canteen's active cashiers with their PIN hashes on every pull (:func:`cashiers_of`)
and check a PIN offline.
"""

from __future__ import annotations

import secrets
import uuid

from sqlmodel import Session, col, select

from ruyi.cashier import CASHIER_NO_RE, CashierEntry, hash_pin, valid_pin
from server import sql
from server.audit import service as audit
from server.auth.principal import CANTEEN_ROLES, Principal, Role
from server.auth.tables import Staff
from server.errors import Conflict, Invalid, NotFound

_NAME_MAX = 20


def _cashier_snapshot(staff: Staff) -> dict[str, object]:
    return {
        "username": staff.username,
        "canteen_id": str(staff.canteen_id) if staff.canteen_id else None,
        "cashier_no": staff.cashier_no,
        "pin_set": staff.pin_hash is not None,
    }


def set_cashier_pin(session: Session, *, actor: Principal, staff_id: uuid.UUID, number: str, pin: str) -> Staff:
    """Give a cashier (or a canteen manager who also sells) their personal number and a new PIN (4-8 digits)."""
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("工作人员", "staff member")
    if Role(staff.role) not in CANTEEN_ROLES or staff.canteen_id is None:
        raise Invalid.field(
            "staff_id", "cashier.no_canteen", "只有食堂的收银员或管理员可设收银密码", "only a canteen's staff sell"
        )
    if not CASHIER_NO_RE.match(number):
        raise Invalid.field("number", "cashier.number", "工号为 1–8 位数字", "the number is 1 to 8 digits")
    if not valid_pin(pin):
        raise Invalid.field("pin", "cashier.pin", "密码为 4–8 位数字", "the PIN is 4 to 8 digits")
    taken = Conflict(
        f"工号 {number} 在本食堂已被使用", f"number {number} is taken at this canteen", code="cashier.taken"
    )
    holder = session.exec(
        select(Staff.id).where(
            col(Staff.canteen_id) == staff.canteen_id, col(Staff.cashier_no) == number, col(Staff.id) != staff.id
        )
    ).first()
    if holder is not None:
        raise taken
    before = _cashier_snapshot(staff)
    staff.cashier_no = number
    staff.pin_hash = hash_pin(pin, secrets.token_bytes(16))
    session.add(staff)
    sql.flush_unique(session, taken)
    audit.record(
        session,
        actor=actor,
        action="staff.cashier_pin",
        object_type="staff",
        object_id=staff.id,
        before=before,
        after=_cashier_snapshot(staff),
    )
    return staff


def cashiers_of(session: Session, canteen_id: uuid.UUID) -> tuple[CashierEntry, ...]:
    """The canteen's active staff with a number and PIN, as a terminal may hold them (PIN hashes only)."""
    rows = session.exec(
        select(Staff)
        .where(
            col(Staff.canteen_id) == canteen_id,
            col(Staff.active).is_(True),
            col(Staff.cashier_no).is_not(None),
            col(Staff.pin_hash).is_not(None),
        )
        .order_by(col(Staff.cashier_no))
    )
    return tuple(
        CashierEntry(
            id=str(s.id),
            number=s.cashier_no or "",
            name=(s.display_name or s.username)[:_NAME_MAX],
            pin_hash=s.pin_hash or "",
        )
        for s in rows
    )
