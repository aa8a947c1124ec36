"""The README's first command, end to end: ``ruyi demo`` (what ``scripts/start.sh`` runs after set-up) starts the
server with demo data, a terminal with a virtual reader and a receipt printer; ``ruyi demo tap`` sells a meal;
the meal is in the terminal's ledger and, after sync, on the server; its receipt is decoded into a file; SIGINT
stops everything; a second start keeps the data and seeds nothing again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.pgcluster import free_port

RUYI = Path(sys.executable).with_name("ruyi")
REPO = Path(__file__).resolve().parents[2]


class DemoRun:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port, self.screen_port = free_port(), free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("RUYI_", "PCSCLITE_"))}
        self.env["RUYI_DATA_DIR"] = str(data_dir)
        self.out = data_dir.parent / f"demo-{time.monotonic_ns()}.out"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, *extra: str, timeout: float = 120) -> str:
        with self.out.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(RUYI), "demo", "--port", str(self.port), "--screen-port", str(self.screen_port), *extra],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while "Ctrl-C" not in self.text():
            assert self.proc.poll() is None, f"the demo exited: {self.text()}"
            assert time.monotonic() < deadline, f"the demo did not come up: {self.text()}"
            time.sleep(0.2)
        return self.text()

    def text(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def tap(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(RUYI), "demo", "tap", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def interrupt(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(60)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoRun]:
    run = DemoRun(tmp_path / "data")
    yield run
    run.kill()


def _rows(db: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(query).fetchall()


def _wait(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_demo_start_tap_sync_receipt_stop_restart(demo: DemoRun) -> None:
    first = demo.start()
    assert f"http://127.0.0.1:{demo.screen_port}/display" in first
    assert f"http://127.0.0.1:{demo.port}/docs" in first
    assert "ruyi demo tap --elder" in first
    assert first.count("(shown once)") == 4  # admin, operator, auditor, one canteen manager

    server_db = demo.data_dir / "ruyi.sqlite3"
    ledger = demo.data_dir / "demo" / "terminal-ry-01" / "ledger.sqlite3"
    assert _rows(server_db, "SELECT count(*) FROM canteens")[0][0] == 10
    assert _rows(server_db, "SELECT count(*) FROM elders")[0][0] == 300
    kinds = _rows(server_db, "SELECT kind, count(*) FROM cards WHERE revoked_at IS NULL GROUP BY kind ORDER BY kind")
    assert kinds == [("resident_id", 300), ("social_security", 300), ("uid", 300)]  # every kind the terminal reads
    assert _rows(server_db, "SELECT count(*) FROM elder_categories")[0][0] > 0
    names = {r[0] for r in _rows(server_db, "SELECT name FROM canteens")}
    assert names == {f"如意食堂{n}号店" for n in "一二三四五六七八九十"}
    secrets_file = demo.data_dir / "demo" / "secrets.env"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert (demo.data_dir / "demo" / "terminal-ry-01" / "credential").stat().st_mode & 0o777 == 0o600

    tapped = demo.tap("--elder", "1", "--confirm", "--json")
    assert tapped.returncode == 0, tapped.stdout + tapped.stderr
    state = json.loads(tapped.stdout.strip().splitlines()[-1])
    assert state["done"]["printed"] is True
    who = state["done"]["who"]
    assert "*" in who  # the masked name only

    meals = _rows(ledger, "SELECT meal_id FROM meals WHERE kind = 'sale'")
    assert len(meals) == 1
    meal_id = str(meals[0][0])
    _wait(
        lambda: (
            _rows(
                server_db, f"SELECT count(*) FROM meals WHERE replace(meal_id, '-', '') = '{meal_id.replace('-', '')}'"
            )[0][0]
            == 1
        ),
        "the meal on the server",
    )
    receipts = demo.data_dir / "demo" / "receipts"
    _wait(lambda: any(receipts.glob("*.txt")), "the decoded receipt")
    text = next(receipts.glob("*.txt")).read_text(encoding="utf-8")
    assert "如意食堂一号店" in text and who in text and f"[QR] {meal_id}" in text and "[cut]" in text
    # The receipt number is the terminal's short code from the server and the sequence.
    assert _rows(server_db, "SELECT code FROM terminals") == [("RY-01-1",)]
    assert state["done"]["receipt"] == "RY-01-1-000001" and "RY-01-1-000001" in text

    assert demo.interrupt() == 0
    assert "正在停止" in demo.text()
    assert not (demo.data_dir / "demo" / "running.json").exists()
    assert demo.tap("--elder", "2").returncode == 1  # not running: said so

    _second_run(demo, server_db, ledger)


def _second_run(demo: DemoRun, server_db: Path, ledger: Path) -> None:
    """Started again (with every hour lunch): the data is kept, the other two card kinds sell too."""
    second = demo.start("--slot", "lunch")
    assert "(shown once)" not in second and "made-up elders" not in second
    assert _rows(server_db, "SELECT count(*) FROM elders")[0][0] == 300
    assert _rows(server_db, "SELECT count(*) FROM terminals")[0][0] == 1
    assert len(_rows(ledger, "SELECT meal_id FROM meals")) == 1
    assert _rows(server_db, "SELECT count(*) FROM meals")[0][0] == 1
    # elder 11 belongs to canteen 1 too, by their social security card; with --slot lunch it is lunch at any hour
    again = demo.tap("--elder", "11", "--kind", "social_security", "--confirm", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    done = json.loads(again.stdout.strip().splitlines()[-1])["done"]
    assert done["subsidy"] != "¥0.00" and done["receipt"] == "RY-01-1-000002"
    _wait(lambda: _rows(server_db, "SELECT count(*) FROM meals")[0][0] == 2, "the second meal on the server")
    last = _rows(ledger, "SELECT record ->> '$.card_kind', record ->> '$.slot' FROM meals ORDER BY seq")[-1]
    assert last == ("social_security", "lunch")
    third = demo.tap("--elder", "21", "--kind", "resident_id", "--json")  # elder 21: canteen 1, ID card
    assert (
        third.returncode == 0 and json.loads(third.stdout.strip().splitlines()[-1])["sale"]["identified_by"] == "card"
    )
    assert demo.interrupt() == 0
