"""``ruyi admin rollups``: says whether the daily rollups equal the meals' sums, lists the rows that do not, and
rebuilds them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from cli.main import main
from server.canteens.tables import Canteen
from server.config import Settings
from server.db import make_engine, open_session, upgrade
from server.meals.rollups import NIL
from server.meals.tables import MealElderDay


def test_check_lists_a_row_the_meals_do_not_give_and_rebuild_repairs_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ruyi.sqlite3'}"
    monkeypatch.setenv("RUYI_DATABASE_URL", url)
    upgrade(Settings())
    assert main(["admin", "rollups"]) == 0
    assert "rollups equal the meals" in capsys.readouterr().out
    engine = make_engine(url)
    with open_session(engine, write=True) as session:
        canteen = Canteen(code="ry-01", name="一号店", programme="ruyi-city")
        session.add(canteen)
        session.flush()
        day = date(2026, 6, 1)
        amounts = {"sales": 1, "subsidised": 1, "price": 1200, "subsidy": 300, "elder_pays": 900}
        session.add(MealElderDay(canteen_id=canteen.id, service_date=day, elder_key="e1", terminal_id=NIL, **amounts))
        session.commit()
    engine.dispose()
    assert main(["admin", "rollups", "--month", "2026-06"]) == 1
    out = capsys.readouterr().out
    assert "1 行日汇总与餐次记录不符" in out and "2026-06-01 e1: (1, 1, 1200, 300, 900) != None" in out
    assert main(["admin", "rollups", "--month", "2026-05"]) == 0  # another month is fine
    assert main(["admin", "rollups", "--rebuild"]) == 0
    assert main(["admin", "rollups"]) == 0
