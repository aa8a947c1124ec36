"""Fixtures for ledger tests: each test gets its own fresh ledger file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.ledger import Ledger
from tests.terminal.ledger.builders import open_ledger


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.sqlite3"


@pytest.fixture
def ledger(ledger_path: Path) -> Iterator[Ledger]:
    with open_ledger(ledger_path) as opened:
        yield opened
