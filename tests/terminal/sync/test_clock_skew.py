"""The terminal's clock through sync: a skewed clock never moves a meal to another day or month on the server
(the stored local service date is the terminal's), and skew beyond the server's tolerance is flagged."""

from __future__ import annotations

import calendar
import uuid
from datetime import datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from tests.terminal.sync.live import API, ZONE, ServerProcess, Site, TerminalSide

SKEWS = {
    "plus_10_min": timedelta(minutes=10),
    "minus_10_min": timedelta(minutes=-10),
    "plus_1_day": timedelta(days=1),
    "minus_1_year": timedelta(days=-365),
}


def _last_second_of_month(now: datetime) -> datetime:
    last = calendar.monthrange(now.year, now.month)[1]
    return datetime(now.year, now.month, last, 23, 59, 59, tzinfo=ZONE)


def stored_dates(server: ServerProcess, ids: list[uuid.UUID]) -> dict[uuid.UUID, object]:
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT meal_id, service_date FROM meals WHERE meal_id IN :ids").bindparams(
                sa.bindparam("ids", type_=sa.Uuid(), expanding=True)
            )
            rows = conn.execute(query.columns(meal_id=sa.Uuid(), service_date=sa.Date()), {"ids": ids}).all()
    finally:
        engine.dispose()
    return {uuid.UUID(str(r[0])): r[1] for r in rows}


def flags_of(site: Site, meal_id: uuid.UUID) -> set[str]:
    r = httpx.get(f"{site.server.url}{API}/meal-flags", headers=site.admin, params={"canteen_id": site.canteen_id})
    assert r.status_code == 200, r.text
    body = r.json()
    items = body["items"] if isinstance(body, dict) else body
    return {f["code"] for f in items if f["meal_id"] == str(meal_id)}


@pytest.mark.parametrize("case", [*SKEWS, "month_end_235959"])
def test_skewed_clock_keeps_the_local_service_date(terminal: TerminalSide, case: str) -> None:
    if case == "month_end_235959":
        terminal.clock.fixed = _last_second_of_month(datetime.now(ZONE))
    else:
        terminal.clock.offset = SKEWS[case]
    (record,) = terminal.sell(1)
    assert terminal.worker.sync_once(pull=False)
    local_day = record.service_time.astimezone(ZONE).date()
    assert stored_dates(terminal.site.server, [record.meal_id]) == {record.meal_id: local_day}
    skew = record.service_time - datetime.now(ZONE)
    if abs(skew) > timedelta(minutes=6):  # the server flags beyond 5 minutes (RUYI_SYNC_CLOCK_SKEW_SECONDS)
        assert "clock_skew" in flags_of(terminal.site, record.meal_id)
