"""Upgrades: a terminal speaking any protocol the server supports keeps syncing; one the server no longer (or not
yet) supports is answered 426 ``sync.upgrade_required``, learns it must be upgraded, and keeps selling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ruyi.sync import SUPPORTED_PROTOCOLS
from tests.terminal.sync.live import ServerProcess, TerminalSide, register_site


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("server"))
    proc.migrate()
    proc.start()
    yield proc
    proc.stop()


@pytest.mark.parametrize("protocol", sorted(SUPPORTED_PROTOCOLS))
def test_a_supported_protocol_keeps_syncing(server: ServerProcess, tmp_path: Path, protocol: int) -> None:
    site = register_site(server, tmp_path, code=f"up-ok-{protocol}")
    side = TerminalSide(site, tmp_path / "t", server.url, settings={"protocol": protocol})
    try:
        side.sell(3)
        assert side.worker.sync_once(pull=False)
        assert side.ledger.synced_up_to() == 3
        assert not side.worker.status().upgrade_required
    finally:
        side.close()


@pytest.mark.parametrize("protocol", [min(SUPPORTED_PROTOCOLS) - 1, max(SUPPORTED_PROTOCOLS) + 1])
def test_an_unsupported_protocol_is_told_to_upgrade(server: ServerProcess, tmp_path: Path, protocol: int) -> None:
    site = register_site(server, tmp_path, code=f"up-no-{protocol}")
    side = TerminalSide(site, tmp_path / "t", server.url, settings={"protocol": protocol})
    try:
        side.sell(2)
        assert not side.worker.sync_once(pull=False)
        status = side.worker.status()
        assert status.upgrade_required
        assert side.ledger.synced_up_to() == 0  # nothing acknowledged ...
        side.sell(1)  # ... and the counter goes on recording
        assert len(side.ledger.records()) == 3
    finally:
        side.close()
    r = httpx.get(
        f"{server.url}/api/v1/sync/pull",
        params={"protocol": protocol},
        headers={"Authorization": f"Bearer {site.credential_file.read_text().strip()}"},
        timeout=10,
    )
    assert r.status_code == 426 and r.json()["error"] == "sync.upgrade_required"
