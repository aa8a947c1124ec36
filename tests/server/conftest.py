"""Fixtures for the server tests: a fresh database per test on SQLite and on a real PostgreSQL cluster that
this file starts (initdb into a temp dir, a free port on 127.0.0.1, a socket dir of its own) and stops.

When the tests run as root, the cluster runs as the ``postgres`` system user (PostgreSQL refuses root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from server.app import create_app
from server.auth.principal import SYSTEM, Role
from server.auth.service import create_api_token, create_staff, staff_principal
from server.config import Settings
from server.db import make_engine, open_session, upgrade

SECRET = "test-secret-key-0123456789"
TEMPLATE = "ruyi_template"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PgCluster:
    port: int
    user: str = "ruyi"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres", autocommit=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    bindir = _pg_bin()
    if bindir is None:
        pytest.fail("PostgreSQL binaries not found (install the postgresql package: scripts/system-packages.txt)")
    root = Path(tempfile.mkdtemp(prefix="ruyi-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, sock, log = root / "data", root / "sock", root / "log"
    subprocess.run([*run_as, "mkdir", str(sock)], check=True)
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "ruyi", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = (
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w", "start"],
        check=True,
        capture_output=True,
    )
    cluster = PgCluster(port=port)
    try:
        with cluster.admin() as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")
        upgrade(Settings(environment="test", secret_key=SECRET, database_url=cluster.url(TEMPLATE)))
        yield cluster
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(Settings(environment="test", secret_key=SECRET, database_url=f"sqlite:///{path}"))
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
    return Settings(environment="test", secret_key=SECRET, database_url=db_url)


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
