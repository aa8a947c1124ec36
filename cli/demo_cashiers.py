"""The demo's cashiers: one per canteen (number 1001) and a second at canteen 1 (1002), each with a random 6-digit
PIN that is printed once, like the staff passwords, and kept in ``cashier-pins.json`` (mode 0600) in the demo's
data directory so that ``ruyi demo tap`` can sign the first cashier in when nobody is (a convenience of the demo
only: a real site keeps PINs in the cashiers' heads)."""

from __future__ import annotations

import json
import secrets
import uuid
from pathlib import Path
from typing import Any

import httpx


def _pin() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def seed_cashiers(session: Any, canteens: dict[str, uuid.UUID]) -> list[tuple[str, str, str, str]]:
    """Cashiers missing from ``canteens`` (code -> id): (canteen code, number, username, PIN) of each one made."""
    from sqlmodel import col, select  # noqa: PLC0415

    from server.auth.cashiers import set_cashier_pin  # noqa: PLC0415
    from server.auth.principal import SYSTEM, Role  # noqa: PLC0415
    from server.auth.service import create_staff  # noqa: PLC0415
    from server.auth.tables import Staff  # noqa: PLC0415

    made: list[tuple[str, str, str, str]] = []
    first = min(canteens) if canteens else None
    for code, canteen_id in sorted(canteens.items()):
        for number, name in (("1001", "收银员甲"), ("1002", "收银员乙"))[: 2 if code == first else 1]:
            username = f"cashier-{code}-{number}"
            if session.exec(select(Staff).where(col(Staff.username) == username)).first() is not None:
                continue
            staff, _ = create_staff(
                session, actor=SYSTEM, username=username, role=Role.CASHIER, display_name=name, canteen_id=canteen_id
            )
            pin = _pin()
            set_cashier_pin(session, actor=SYSTEM, staff_id=staff.id, number=number, pin=pin)
            made.append((code, number, username, pin))
    return made


def remember_pins(pins_file: Path, made: list[tuple[str, str, str, str]]) -> dict[str, dict[str, str]]:
    """Add the new cashiers' PINs to the demo's PIN file; answer everything it holds (code -> number -> PIN)."""
    try:
        known: dict[str, dict[str, str]] = json.loads(pins_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    for code, number, _username, pin in made:
        known.setdefault(code, {})[number] = pin
    return known


def sign_in_if_needed(screen: str, pins_file: Path, canteen_code: str) -> str | None:
    """Sign demo cashier 1001 in at the running terminal when nobody is; answer what happened, None if nothing."""
    state = httpx.get(f"{screen}/api/state", timeout=5).json()
    if not state.get("cashier", {}).get("signed_out"):
        return None
    try:
        pin = json.loads(pins_file.read_text(encoding="utf-8"))[canteen_code]["1001"]
    except (OSError, ValueError, KeyError):
        return "✗ 没有演示收银员的密码：请在收银屏按 K 签到 / no demo cashier PIN here: press K on the cashier screen"
    r = httpx.post(f"{screen}/api/cashier/sign-in", json={"number": "1001", "pin": pin}, timeout=10)
    if r.status_code != 200:
        return f"✗ 签到失败 / sign-in refused: {r.text}"
    return "✓ 演示收银员 1001 已签到 / demo cashier 1001 signed in"
