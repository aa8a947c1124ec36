"""``ruyi admin create-staff --role cashier`` and ``ruyi admin set-cashier-pin``: the PIN is printed once, stored
only as a salted scrypt hash, and the change is in the audit log without it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from sqlmodel import col, select

from cli.main import main
from ruyi.cashier import verify_pin
from server.audit.tables import AuditEntry
from server.auth.tables import Staff
from server.canteens.tables import Canteen
from server.config import Settings
from server.db import make_engine, open_session, upgrade


def test_set_cashier_pin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'ruyi.sqlite3'}"
    monkeypatch.setenv("RUYI_DATABASE_URL", url)
    upgrade(Settings())
    engine = make_engine(url)
    with open_session(engine, write=True) as session:
        canteen = Canteen(code="ry-01", name="一号店", programme="ruyi-city")
        session.add(canteen)
        session.commit()
        canteen_id = str(canteen.id)
    args = ["admin", "create-staff", "--username", "wangfang", "--role", "cashier", "--canteen-id", canteen_id]
    assert main(args) == 0
    assert main(["admin", "set-cashier-pin", "--username", "wangfang", "--number", "1001"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"PIN \(shown once\): (\d{6})", out)
    assert found is not None
    pin = found[1]
    monkeypatch.setattr("sys.stdin", io.StringIO("24680\n"))
    assert main(["admin", "set-cashier-pin", "--username", "wangfang", "--number", "1001", "--pin-stdin"]) == 0
    assert "24680" not in capsys.readouterr().out
    assert main(["admin", "set-cashier-pin", "--username", "nobody", "--number", "1"]) == 1
    with open_session(engine, write=False) as session:
        staff = session.exec(select(Staff).where(col(Staff.username) == "wangfang")).one()
        assert staff.cashier_no == "1001" and staff.pin_hash is not None
        assert verify_pin("24680", staff.pin_hash) and not verify_pin(pin, staff.pin_hash)
        audit = session.exec(select(AuditEntry).where(col(AuditEntry.action) == "staff.cashier_pin")).all()
        assert len(audit) == 2 and "24680" not in str([(a.before, a.after) for a in audit])
    engine.dispose()
