"""The FastAPI application factory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ruyi.sync import MAX_BATCH_BYTES
from server import errors
from server.audit.routes import router as audit_router
from server.auth.routes import router as auth_router
from server.canteens.routes import router as canteens_router
from server.cards.routes import router as cards_router
from server.config import Settings
from server.db import check_migrated, make_engine, migration_state
from server.elders.routes import router as elders_router
from server.meals.routes import router as meals_router
from server.ops.routes import install as install_ops
from server.quotes.routes import router as quotes_router
from server.rules.routes import router as rules_router
from server.settlements.routes import router as settlements_router
from server.sync.routes import router as sync_router

API_PREFIX = "/api/v1"
UPLOAD_PATH_SUFFIXES = ("/elder-imports", "/elder-imports/dry-run")
SYNC_PUSH_PATH = f"{API_PREFIX}/sync/push"


class HealthOut(BaseModel):
    status: str
    database: str
    revision: str | None


def create_app(settings: Settings, *, engine: sa.Engine | None = None) -> FastAPI:
    """Build the app. The engine is made from ``settings`` unless given. Refuses to start (at lifespan start)
    on a database that is not migrated to the head revision."""
    engine = engine or make_engine(settings.resolved_database_url, pool_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        check_migrated(engine)
        yield
        engine.dispose()

    app = FastAPI(
        title="如意食堂 Ruyi canteen POS — central service",
        version="1",
        lifespan=lifespan,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.settlement_config = settings.settlement_config()
    errors.install(app)
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        uploads=settings.max_upload_bytes,
        sync=max(settings.max_body_bytes, MAX_BATCH_BYTES),
    )

    api = APIRouter(prefix=API_PREFIX)

    @api.get("/health", response_model=HealthOut, tags=["health"], responses=errors.responses(503))
    def health() -> Any:
        """Liveness and database reachability (no authentication)."""
        try:
            revision, _head = migration_state(engine)
        except sa.exc.SQLAlchemyError:
            body = {
                "error": "database_unreachable",
                "detail": {"zh": "数据库无法连接", "en": "the database is unreachable"},
            }
            return JSONResponse(body, status_code=503)
        return HealthOut(status="ok", database=engine.dialect.name, revision=revision)

    for router in (auth_router, audit_router, canteens_router, elders_router, cards_router, rules_router):
        api.include_router(router)
    api.include_router(quotes_router)
    api.include_router(sync_router)
    api.include_router(meals_router)
    api.include_router(settlements_router)
    app.include_router(api)
    install_ops(app, engine, api_prefix=API_PREFIX)  # /api/v1/ready, /metrics, request timing
    return app


class BodyLimit:
    """Answer 413 for request bodies over the limit: at once when Content-Length says so, else while reading."""

    def __init__(self, app: ASGIApp, *, default: int, uploads: int, sync: int) -> None:
        self.app, self.default, self.uploads, self.sync = app, default, uploads, sync

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        if path.endswith(UPLOAD_PATH_SUFFIXES):
            limit = self.uploads
        elif path == SYNC_PUSH_PATH:
            limit = self.sync  # a push batch may hold up to ruyi.sync.MAX_BATCH_BYTES of JSON
        else:
            limit = self.default
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > limit
                except ValueError:
                    too_big = False
                if too_big:
                    await _send_413(send, limit)
                    return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise errors.PayloadTooLarge(*_too_large_text(limit))
            return message

        await self.app(scope, limited, send)


def _too_large_text(limit: int) -> tuple[str, str]:
    return f"请求内容超过上限 {limit} 字节", f"request body larger than {limit} bytes"


async def _send_413(send: Send, limit: int) -> None:
    zh, en = _too_large_text(limit)
    body = json.dumps({"error": "payload_too_large", "detail": {"zh": zh, "en": en}}, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
