"""``GET /api/v1/ready`` (readiness: the database answers and is at the newest migration) and ``GET /metrics``."""

from __future__ import annotations

import logging
import time
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.db import migration_state
from server.ops import metrics
from server.ops.config import OpsSettings

log = logging.getLogger("ruyi.request")


class ReadyOut(BaseModel):
    status: str
    database: str
    revision: str | None


def _not_ready(code: str, zh: str, en: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": {"zh": zh, "en": en}}, status_code=503)


def install(app: FastAPI, engine: sa.Engine, *, api_prefix: str, settings: OpsSettings | None = None) -> None:
    """Add the readiness route, ``/metrics`` and the request timing middleware to ``app``."""
    settings = settings or OpsSettings()
    router = APIRouter(prefix=api_prefix, tags=["health"])

    # Out of the OpenAPI document, like /metrics: probes for the proxy and the operator, not API operations.
    @router.get("/ready", response_model=ReadyOut, include_in_schema=False)
    def ready() -> Any:
        """Readiness (no authentication): the database answers a query and its schema is at the newest migration.
        A load balancer sends traffic only to a process that answers 200 here."""
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            revision, head = migration_state(engine)
        except sa.exc.SQLAlchemyError:
            return _not_ready("database_unreachable", "数据库无法连接", "the database is unreachable")
        if revision != head:
            return _not_ready(
                "database_not_migrated", "数据库未升级到最新版本", "the database is not at the newest migration"
            )
        return ReadyOut(status="ready", database=engine.dialect.name, revision=revision)

    app.include_router(router)
    if settings.metrics:

        @app.get("/metrics", include_in_schema=False)
        def prometheus() -> PlainTextResponse:
            return PlainTextResponse(metrics.render(engine), media_type="text/plain; version=0.0.4; charset=utf-8")

    app.add_middleware(RequestTiming)


class RequestTiming:
    """Times every request into the latency histogram and logs one line per request with the route template
    (never the concrete path, the query string or the client's address)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording)
        finally:
            elapsed = time.perf_counter() - start
            route = _route_template(scope)
            method = str(scope.get("method", ""))
            metrics.REQUEST_LATENCY.observe((method, route, str(status)), elapsed)
            log.info(
                "%s %s %d",
                method,
                route,
                status,
                extra={"method": method, "route": route, "status": status, "ms": round(elapsed * 1000, 2)},
            )


def _route_template(scope: Scope) -> str:
    """The matched route's full path template (``/api/v1/elders/{elder_id}``). Older FastAPI copies included
    routes with their full path into ``scope["route"]``; newer FastAPI (0.165 here) matches included routers
    lazily, leaves the path relative to its router there and keeps the full one on the effective route context."""
    effective = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(effective, "path", None) or getattr(scope.get("route"), "path", None)
    return str(path) if path else "(unmatched)"
