"""Health, the migration guard, schema drift and the append-only audit log, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

import server.tables
from server.app import create_app
from server.config import Settings
from server.db import DatabaseNotMigrated
from tests.server.conftest import CARD_SECRET, CATEGORY_KEY, SECRET, Api
from tests.server.helpers import canteen


def test_health_reports_database(api: Api) -> None:
    r = api.client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == api.engine.dialect.name

    assert body["revision"] == "0010"


def test_openapi_document_lists_api(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    assert "/api/v1/elders" in doc["paths"]
    assert "/api/v1/health" in doc["paths"]


def test_migrated_schema_equals_models(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), server.tables.metadata)
    assert diffs == []


def test_refuses_unmigrated_database(tmp_path: Path) -> None:
    settings = Settings(
        environment="test",
        secret_key=SECRET,
        card_key_secret=CARD_SECRET,
        category_key=CATEGORY_KEY,
        database_url=f"sqlite:///{tmp_path / 'empty.db'}",
    )
    with pytest.raises(DatabaseNotMigrated, match="ruyi db upgrade"), TestClient(create_app(settings)):
        pass


def test_placeholder_secret_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="RUYI_SECRET_KEY"):
        Settings(environment="production", secret_key="changeme")
    assert Settings(environment="development", secret_key="changeme").secret_key == "changeme"


def test_audit_log_is_append_only(api: Api) -> None:
    canteen(api)
    with api.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log")).scalar_one() >= 1
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), api.engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_unknown_path_and_bad_body_use_error_shape(api: Api) -> None:
    r = api.client.get("/api/v1/nope")
    assert r.status_code == 404
    assert r.json()["error"] == "http_404"
    r = api.client.post("/api/v1/canteens", headers=api.admin, json={"code": "BAD CODE", "name": ""})
    assert r.status_code == 422
    problems = r.json()["detail"]["problems"]
    paths = {p["path"] for p in problems}
    assert {"body.code", "body.name", "body.programme"} <= paths
    missing = next(p for p in problems if p["path"] == "body.programme")
    assert missing["zh"] == "缺少必填项"
    assert missing["en"]


def test_oversized_body_is_413(api: Api) -> None:
    big = {"code": "x", "name": "y" * (api.settings.max_body_bytes + 10), "programme": "p"}
    r = api.client.post("/api/v1/canteens", headers=api.admin, json=big)
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"
