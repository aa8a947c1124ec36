"""Fixtures for the server tests: a fresh database per test on SQLite and on a real PostgreSQL cluster that
the session starts itself (tests/server/pgcluster.py) and stops. Each PostgreSQL test gets its own database,
created from a migrated template."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from server.app import create_app
from server.auth.principal import SYSTEM, Role
from server.auth.service import create_api_token, create_staff, staff_principal
from server.config import Settings
from server.db import make_engine, open_session, upgrade
from tests.server.pgcluster import PgCluster, pg_bindir, throwaway_cluster

SECRET = "test-secret-key-0123456789"
CARD_SECRET = "test-card-key-secret-0123456789"
CATEGORY_KEY = "test-category-key-0123456789"
TEMPLATE = "ruyi_template"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    if pg_bindir() is None:
        pytest.fail("PostgreSQL binaries not found (install the postgresql package: scripts/system-packages.txt)")
    with throwaway_cluster() as cluster:
        with cluster.admin() as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        upgrade(make_settings(cluster.url(TEMPLATE)))
        yield cluster


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(make_settings(f"sqlite:///{path}"))
    return path


class NewDatabase(Protocol):
    def __call__(self, like: str | None = None) -> str:
        """The URL of a fresh, migrated database; ``like``: a copy of that database (made by this fixture, and
        with no connection open to it)."""


@dataclass(frozen=True)
class Databases:
    """What the ``databases`` fixture gives: its kind (``sqlite`` or ``postgresql``) and a maker of databases."""

    kind: str
    new: NewDatabase


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    """As many databases as the test needs (one per test, or one per hypothesis example), dropped afterwards."""
    made: dict[str, str] = {}
    """URL -> SQLite file or PostgreSQL database name."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")

        def new(like: str | None = None) -> str:
            path = tmp_path / f"ruyi-{len(made)}.sqlite3"
            shutil.copyfile(made[like] if like else template, path)
            made[f"sqlite:///{path}"] = str(path)
            return f"sqlite:///{path}"

        yield Databases("sqlite", new)
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")

    def new_pg(like: str | None = None) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        with cluster.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {made[like] if like else TEMPLATE}")
        made[cluster.url(name)] = name
        return cluster.url(name)

    yield Databases("postgresql", new_pg)
    with cluster.admin() as conn:
        for name in made.values():
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def db_url(databases: Databases) -> str:
    """A fresh, migrated database for this test alone."""
    return databases.new()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Test settings (fixed secrets) for ``database_url``; ``overrides`` change any other setting."""
    return Settings(
        environment="test",
        secret_key=SECRET,
        card_key_secret=CARD_SECRET,
        category_key=CATEGORY_KEY,
        database_url=database_url,
        **overrides,
    )


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    engine = make_engine(settings.resolved_database_url)
    yield engine
    engine.dispose()


@dataclass
class Api:
    """A test client plus ready-made credentials: ``api.as_(role)`` gives headers for a member of staff."""

    client: TestClient
    engine: sa.Engine
    settings: Settings
    _tokens: dict[str, str] = field(default_factory=dict)

    def token(self, role: Role, canteen_id: uuid.UUID | None = None, *, name: str | None = None) -> str:
        key = f"{role.value}:{canteen_id}:{name}"
        if key not in self._tokens:
            with open_session(self.engine, write=True) as session:
                staff, _ = create_staff(
                    session,
                    actor=SYSTEM,
                    username=name or f"{role.value}-{uuid.uuid4().hex[:8]}",
                    role=role,
                    canteen_id=canteen_id,
                    password="test-password-1",
                )
                actor = staff_principal(staff, frozenset({role}), None)
                token, _row = create_api_token(
                    session, actor=actor, name="tests", roles=[role], expires_at=None, pepper=SECRET
                )
                session.commit()
            self._tokens[key] = token
        return self._tokens[key]

    def as_(self, role: Role, canteen_id: uuid.UUID | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, canteen_id)}"}

    @property
    def admin(self) -> dict[str, str]:
        return self.as_(Role.BUREAU_ADMIN)

    @property
    def operator(self) -> dict[str, str]:
        return self.as_(Role.BUREAU_OPERATOR)

    @property
    def auditor(self) -> dict[str, str]:
        return self.as_(Role.BUREAU_AUDITOR)

    @property
    def auditor2(self) -> dict[str, str]:
        """A second auditor, another person than ``auditor`` (four eyes: one reviews, the other closes)."""
        return {"Authorization": f"Bearer {self.token(Role.BUREAU_AUDITOR, name='auditor-2')}"}

    def manager(self, canteen_id: str | uuid.UUID) -> dict[str, str]:
        return self.as_(Role.CANTEEN_MANAGER, uuid.UUID(str(canteen_id)))

    def ok(self, method: str, url: str, headers: dict[str, str], status: int = 200, **kw: Any) -> Any:
        r = self.client.request(method, url, headers=headers, **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None


@contextmanager
def serve(settings: Settings, engine: sa.Engine, tokens: dict[str, str] | None = None) -> Iterator[Api]:
    """The app on ``engine`` behind a test client (lifespan run); ``tokens``: credentials of an earlier ``Api`` on
    the same database, kept (as a restarted server keeps its staff)."""
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        yield Api(client=client, engine=engine, settings=settings, _tokens=tokens if tokens is not None else {})


@pytest.fixture
def api(settings: Settings, engine: sa.Engine) -> Iterator[Api]:
    with serve(settings, engine) as api:
        yield api
