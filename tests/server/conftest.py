"""Fixtures for the server tests: a fresh database per test on SQLite and on a real PostgreSQL cluster that
the session starts itself (tests/server/pgcluster.py) and stops. Each PostgreSQL test gets its own database,
created from a migrated template."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        upgrade(
            Settings(
                environment="test",
                secret_key=SECRET,
                card_key_secret=CARD_SECRET,
                category_key=CATEGORY_KEY,
                database_url=cluster.url(TEMPLATE),
            )
        )
        yield cluster


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(
        Settings(
            environment="test",
            secret_key=SECRET,
            card_key_secret=CARD_SECRET,
            category_key=CATEGORY_KEY,
            database_url=f"sqlite:///{path}",
        )
    )
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for this test alone."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ruyi.sqlite3"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = f"t_{uuid.uuid4().hex[:16]}"
    with cluster.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    yield cluster.url(name)
    with cluster.admin() as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(
        environment="test",
        secret_key=SECRET,
        card_key_secret=CARD_SECRET,
        category_key=CATEGORY_KEY,
        database_url=db_url,
    )


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

    def manager(self, canteen_id: str | uuid.UUID) -> dict[str, str]:
        return self.as_(Role.CANTEEN_MANAGER, uuid.UUID(str(canteen_id)))

    def ok(self, method: str, url: str, headers: dict[str, str], status: int = 200, **kw: Any) -> Any:
        r = self.client.request(method, url, headers=headers, **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None


@pytest.fixture
def api(settings: Settings, engine: sa.Engine) -> Iterator[Api]:
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        yield Api(client=client, engine=engine, settings=settings)
