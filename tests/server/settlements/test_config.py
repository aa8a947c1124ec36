"""The settlement's edit-check thresholds are settings (``RUYI_SETTLEMENT_*``): ratios as exact text, never
floats, the defaults the settlement's own, and a setting changes what a check finds."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import ValidationError

from ruyi.settlement import Ratio
from server.app import create_app
from server.config import Settings
from server.settlements.service import DEFAULT_CONFIG
from tests.server.settlements.helpers import S, at, create, last_month
from tests.server.sync.helpers import World


def test_defaults_are_the_settlements() -> None:
    assert Settings().settlement_config() == DEFAULT_CONFIG


def test_thresholds_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUYI_SETTLEMENT_ATTENDANCE_FACTOR", "1.2")
    monkeypatch.setenv("RUYI_SETTLEMENT_VOID_SHARE_MAX", "3/50")
    monkeypatch.setenv("RUYI_SETTLEMENT_IMPLAUSIBLE_INTERVAL_MINUTES", "30")
    monkeypatch.setenv("RUYI_SETTLEMENT_UPWARD_WINDOW_MONTHS", "none")
    monkeypatch.setenv("RUYI_SETTLEMENT_INFO_FLAGS", "manual_identification, stale_roster")
    config = Settings().settlement_config()
    assert config.attendance_factor == Ratio(12, 10) and config.void_share_max == Ratio(3, 50)
    assert config.implausible_interval_minutes == 30 and config.upward_window_months is None
    assert config.info_flags == {"manual_identification", "stale_roster"}
    monkeypatch.setenv("RUYI_SETTLEMENT_SPIKE_FACTOR", "1,5")
    with pytest.raises(ValidationError, match="a ratio is text like"):
        Settings()


def test_the_attendance_factor_setting_changes_the_check(world: World, settings: Settings, engine: sa.Engine) -> None:
    """Canteen A's two home elders both eat there one day: within enrolment x 1, over enrolment x 0.5."""
    e0, _e1, e2, _e3 = world.elders
    m = last_month()
    a = world.chain(world.ta)
    a.sale(elder=e0, when=at(m.last_day, 11))
    a.sale(elder=e2, when=at(m.last_day, 11, 5))
    world.push(world.ta, a.records)
    sid = create(world, world.canteen_a, m)["id"]

    def checks(app_settings: Settings) -> set[str]:
        with TestClient(create_app(app_settings, engine=engine)) as client:
            r = client.get(f"{S}/{sid}", headers=world.api.auditor)
            assert r.status_code == 200, r.text
            return {c["code"] for c in r.json()["checks"]}

    assert "attendance_exceeded" not in checks(settings)
    assert "attendance_exceeded" in checks(settings.model_copy(update={"settlement_attendance_factor": "0.5"}))
