"""A small settlement world on top of the sync tests' world: meals pushed by real terminal credentials through
POST /sync/push, statements driven through the API."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ruyi.settlement import Month
from server.base import local_today
from tests.server.sync.helpers import World

ZONE = ZoneInfo("Asia/Shanghai")
S = "/api/v1/settlements"


def last_month() -> Month:
    """The month before this one: over (it may close), and its last days are recent enough for intake."""
    return Month.of(local_today().replace(day=1) - timedelta(days=1))


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE)


def create(world: World, canteen_id: str, month: Month | str) -> dict[str, Any]:
    api = world.api
    result: dict[str, Any] = api.ok("POST", S, api.operator, 201, json={"canteen_id": canteen_id, "month": str(month)})
    return result


def note_all_warnings(world: World, sid: str, note: str = "已核实") -> None:
    api = world.api
    body = api.ok("GET", f"{S}/{sid}", api.auditor)
    for code in sorted({c["code"] for c in body["checks"] if c["severity"] == "warning" and not c["note"]}):
        api.ok("POST", f"{S}/{sid}/notes", api.auditor, json={"code": code, "note": note})


def close(world: World, sid: str) -> dict[str, Any]:
    """Note every warning, review (one auditor) and close (another: four eyes)."""
    api = world.api
    note_all_warnings(world, sid)
    api.ok("POST", f"{S}/{sid}/review", api.auditor)
    result: dict[str, Any] = api.ok("POST", f"{S}/{sid}/close", api.auditor2)
    return result
