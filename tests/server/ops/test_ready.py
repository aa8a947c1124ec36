"""``GET /api/v1/ready``: 200 on a database at the newest migration; 503 with a code when the database does not
answer (never there, or gone while the process runs) or is not migrated (empty, or one migration behind)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.db import alembic_config, make_engine, upgrade
from tests.server.conftest import CARD_SECRET, CATEGORY_KEY, SECRET, TEMPLATE, Api
from tests.server.pgcluster import PgCluster, free_port

READY = "/api/v1/ready"


def _settings(url: str) -> Settings:
    return Settings(
        environment="test",
        secret_key=SECRET,
        card_key_secret=CARD_SECRET,
        category_key=CATEGORY_KEY,
        database_url=url,
    )


@contextmanager
def _client(url: str) -> Iterator[TestClient]:
    """A client without the lifespan (which refuses to start on an unmigrated database): the probe is what is
    tested, as a load balancer would see a process whose database went wrong after it started."""
    engine = make_engine(url)
    try:
        yield TestClient(create_app(_settings(url), engine=engine))
    finally:
        engine.dispose()


def test_ready_on_a_migrated_database(api: Api) -> None:
    r = api.client.get(READY)
    assert r.status_code == 200, r.text
    body = r.json()
    head = ScriptDirectory.from_config(alembic_config(str(api.engine.url))).get_current_head()
    assert body == {"status": "ready", "database": api.engine.dialect.name, "revision": head}
    assert READY not in api.client.get("/openapi.json").text  # a probe, not an API operation


def test_not_ready_when_the_database_does_not_answer() -> None:
    with _client(f"postgresql+psycopg://ruyi@127.0.0.1:{free_port()}/nothing_listens_here") as client:
        r = client.get(READY)
    assert r.status_code == 503
    assert r.json()["error"] == "database_unreachable"


def test_not_ready_once_the_database_is_gone(pg_cluster: PgCluster) -> None:
    name = f"ready_{uuid.uuid4().hex[:12]}"
    with pg_cluster.admin() as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    with _client(pg_cluster.url(name)) as client:
        assert client.get(READY).status_code == 200
        with pg_cluster.admin() as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")  # its connections are cut too
        r = client.get(READY)
    assert r.status_code == 503
    assert r.json()["error"] == "database_unreachable"
    assert "detail" in r.json() and r.json()["detail"]["en"]


def test_not_ready_on_an_empty_database(tmp_path: Path) -> None:
    with _client(f"sqlite:///{tmp_path / 'empty.sqlite3'}") as client:
        r = client.get(READY)
    assert r.status_code == 503
    assert r.json()["error"] == "database_not_migrated"


def test_not_ready_one_migration_behind(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.sqlite3'}"
    script = ScriptDirectory.from_config(alembic_config(url))
    head_id = script.get_current_head()
    assert head_id is not None
    head = script.get_revision(head_id)
    assert head is not None and isinstance(head.down_revision, str)
    upgrade(_settings(url), revision=head.down_revision)
    with _client(url) as client:
        r = client.get(READY)
        assert r.status_code == 503
        assert r.json()["error"] == "database_not_migrated"
        upgrade(_settings(url))  # what deploy/postgres/upgrade.sh does; then the same process is ready
        assert client.get(READY).status_code == 200
