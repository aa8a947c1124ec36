"""Fixtures for the sync tests: a real server process (SQLite, one per module; tests that kill it get their own),
a canteen + terminal registered on it per test, the terminal side, and what the server stored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from terminal.ledger import Ledger
from tests.server.pgcluster import PgCluster, throwaway_cluster
from tests.terminal.sync.live import ServerProcess, Site, TerminalSide, register_site


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    with throwaway_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server per module and database: the sync tests run against SQLite and PostgreSQL alike."""
    database_url = None
    if request.param == "postgresql":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        name = f"sync_{uuid.uuid4().hex[:12]}"
        with cluster.admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        database_url = cluster.url(name)
    proc = ServerProcess(tmp_path_factory.mktemp("server"), database_url)
    proc.migrate()
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def site(server: ServerProcess, tmp_path: Path) -> Site:
    return register_site(server, tmp_path, code=f"c{uuid.uuid4().hex[:8]}")


@pytest.fixture
def terminal(site: Site, tmp_path: Path) -> Iterator[TerminalSide]:
    side = TerminalSide(site, tmp_path / "terminal", site.server.url)
    yield side
    side.close()


@dataclass(frozen=True)
class Tally:
    """Meals of one terminal: how many rows, distinct ids and seqs, and the fen sums."""

    rows: int
    ids: frozenset[uuid.UUID]
    seqs: int
    price: int
    subsidy: int
    elder_pays: int


def server_tally(server: ServerProcess, terminal_id: str) -> Tally:
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as conn:
            query = sa.text(
                "SELECT meal_id, seq, price, subsidy, elder_pays FROM meals WHERE terminal_id = :t"
            ).bindparams(sa.bindparam("t", type_=sa.Uuid()))
            rows = conn.execute(query.columns(meal_id=sa.Uuid()), {"t": uuid.UUID(terminal_id)}).all()
    finally:
        engine.dispose()
    return Tally(
        rows=len(rows),
        ids=frozenset(uuid.UUID(str(r[0])) for r in rows),
        seqs=len({r[1] for r in rows}),
        price=sum(r[2] for r in rows),
        subsidy=sum(r[3] for r in rows),
        elder_pays=sum(r[4] for r in rows),
    )


def ledger_tally(ledger: Ledger) -> Tally:
    records = ledger.records()
    return Tally(
        rows=len(records),
        ids=frozenset(r.meal_id for r in records),
        seqs=len({r.seq for r in records}),
        price=sum(r.quote.price for r in records),
        subsidy=sum(r.quote.subsidy for r in records),
        elder_pays=sum(r.quote.elder_pays for r in records),
    )


def assert_exactly_once(server: ServerProcess, ledger: Ledger) -> Tally:
    """Every ledger record on the server once: lost 0, unexpected 0, duplicates 0, the same fen sums."""
    mine, theirs = ledger_tally(ledger), server_tally(server, ledger.terminal_id)
    lost, unexpected = mine.ids - theirs.ids, theirs.ids - mine.ids
    assert (len(lost), len(unexpected), theirs.rows - len(theirs.ids)) == (0, 0, 0)
    assert theirs == mine
    assert ledger.synced_up_to() == mine.rows
    return theirs
