"""The screens' web app (FastAPI) and the thread that serves it (uvicorn) inside the terminal process.

Pages: ``/`` the cashier screen, ``/display`` the elder display (``?lang=en`` to force a language). Live state:
``GET /api/events?view=cashier|display`` (server-sent events, one ``state`` event with the whole view per change).
Actions are small JSON POSTs under ``/api``; each answers ``{"ok": true, "state": ...}`` or, refused,
``{"error": code, "detail": {"text": ..., "level": ...}}`` with status 409/422. The access log is off: the manual
lookup's body (ID tail, surname) is never written anywhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import uvicorn
from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from terminal.web.messages import Lang, catalogue
from terminal.web.station import Station, StationError, View
from terminal.web.views import CashierView, DisplayView, RecordsView

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
KEEPALIVE_S = 15.0


class ItemBody(BaseModel):
    item_id: str = Field(min_length=1, max_length=64)


class MethodBody(BaseModel):
    method: str = Field(min_length=1, max_length=16)


class ConfirmBody(BaseModel):
    method: str | None = Field(default=None, max_length=16)


class FindBody(BaseModel):
    tail: str = Field(max_length=8)
    name: str = Field(default="", max_length=20)


class ManualBody(BaseModel):
    ref: str = Field(min_length=1, max_length=64)
    reason: str = Field(default="", max_length=200)


class VoidBody(BaseModel):
    meal_id: UUID | None = None
    """None: the last sale of today."""
    reason: str = Field(default="", max_length=200)


class ReprintBody(BaseModel):
    meal_id: UUID | None = None
    """None: the last receipt of today."""


class SignInBody(BaseModel):
    number: str = Field(default="", max_length=16)
    pin: str = Field(default="", max_length=16)


class LangBody(BaseModel):
    lang: Lang


def create_app(station: Station) -> FastAPI:
    app = FastAPI(title="Ruyi terminal screens", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(StationError)
    async def refused(_request: Request, exc: StationError) -> JSONResponse:
        n = exc.notice
        return JSONResponse(
            {"error": n.code, "detail": n.view(station.lang)}, status_code=422 if n.level == "warn" else 409
        )

    _pages(app, station)
    _sale_actions(app, station)
    _sign_in_actions(app, station)
    _record_actions(app, station)
    return app


def _pages(app: FastAPI, station: Station) -> None:
    @app.get("/", include_in_schema=False)
    async def cashier_page() -> FileResponse:
        return FileResponse(STATIC / "cashier.html", headers={"Cache-Control": "no-store"})

    @app.get("/display", include_in_schema=False)
    async def display_page() -> FileResponse:
        return FileResponse(STATIC / "display.html", headers={"Cache-Control": "no-store"})

    @app.get("/api/catalogue")
    async def get_catalogue(lang: Lang = "zh") -> dict[str, str]:
        return catalogue(lang)

    @app.get("/api/state", response_model=None)
    def get_state(view: View = "cashier") -> CashierView | DisplayView:
        return station.view(view)

    @app.get("/api/events")
    async def events(view: Annotated[Literal["cashier", "display"], Query()] = "cashier") -> StreamingResponse:
        loop = asyncio.get_running_loop()
        sub = station.subscribe(view, loop)
        first = await run_in_threadpool(station.view, view)

        async def stream() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n\n"
                yield f"event: state\ndata: {json.dumps(first, ensure_ascii=False, separators=(',', ':'))}\n\n"
                while True:
                    try:
                        item = await asyncio.wait_for(sub.queue.get(), timeout=KEEPALIVE_S)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if item is None:
                        return
                    yield f"event: state\ndata: {item}\n\n"
            finally:
                station.unsubscribe(sub)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def _answer(station: Station, **extra: Any) -> dict[str, Any]:
    return {"ok": True, "state": station.view("cashier"), **extra}


def _sale_actions(app: FastAPI, station: Station) -> None:
    @app.post("/api/sale/item")
    def choose_item(body: ItemBody) -> dict[str, Any]:
        station.choose_item(body.item_id)
        return _answer(station)

    @app.post("/api/sale/method")
    def choose_method(body: MethodBody) -> dict[str, Any]:
        station.choose_method(body.method)
        return _answer(station)

    @app.post("/api/sale/confirm")
    def confirm(body: ConfirmBody) -> dict[str, Any]:
        result = station.confirm(body.method)
        return _answer(station, committed=result.committed, printed=result.printed)

    @app.post("/api/sale/cancel")
    def cancel() -> dict[str, Any]:
        station.cancel()
        return _answer(station)

    @app.post("/api/sale/replace")
    def replace() -> dict[str, Any]:
        station.replace()
        return _answer(station)

    @app.post("/api/walk-in")
    def walk_in() -> dict[str, Any]:
        station.walk_in()
        return _answer(station)

    @app.post("/api/manual/find")
    def find(body: FindBody) -> dict[str, Any]:
        return {"ok": True, "found": station.find(body.tail, body.name)}

    @app.post("/api/manual/open")
    def manual(body: ManualBody) -> dict[str, Any]:
        station.manual(body.ref, body.reason)
        return _answer(station)


def _sign_in_actions(app: FastAPI, station: Station) -> None:
    @app.post("/api/cashier/sign-in")
    def sign_in(body: SignInBody) -> dict[str, Any]:
        station.sign_in(body.number, body.pin)
        return _answer(station)

    @app.post("/api/cashier/sign-out")
    def sign_out() -> dict[str, Any]:
        station.sign_out()
        return _answer(station)


def _record_actions(app: FastAPI, station: Station) -> None:
    @app.get("/api/records", response_model=None)
    def records() -> RecordsView:
        return station.today_records()

    @app.post("/api/void")
    def void(body: VoidBody) -> dict[str, Any]:
        result = station.void(body.meal_id, body.reason)
        return _answer(station, done=result.record is not None, printed=result.printed)

    @app.post("/api/reprint")
    def reprint(body: ReprintBody) -> dict[str, Any]:
        result = station.reprint(body.meal_id)
        return _answer(station, printed=bool(result and result.printed))

    @app.post("/api/reprint-all")
    def reprint_all() -> dict[str, Any]:
        results = station.reprint_all()
        return _answer(station, printed=sum(1 for r in results if r.printed))

    @app.post("/api/end-of-day")
    def end_of_day() -> dict[str, Any]:
        return _answer(station, z=station.end_of_day())

    @app.post("/api/printer/check")
    def check_printer() -> dict[str, Any]:
        station.check_printer()
        return _answer(station)

    @app.post("/api/lang")
    def set_lang(body: LangBody) -> dict[str, Any]:
        station.set_lang(body.lang)
        return _answer(station)


class WebServer:
    """uvicorn in a thread of the terminal process; ``port`` 0 picks a free port (read :attr:`port` after start)."""

    def __init__(self, station: Station, *, host: str = "127.0.0.1", port: int = 8600) -> None:
        self.station = station
        self.host = host
        self._sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        config = uvicorn.Config(
            create_app(station),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="screen-web", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _serve(self) -> None:
        self._server.run(sockets=[self._sock])

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self._server.started and waited < timeout and self._thread.is_alive():
            deadline.wait(0.02)
            waited += 0.02
        if not self._server.started:
            raise RuntimeError(f"the screen server did not start on {self.url}")
        log.info("screens on %s (cashier) and %s/display (elder display)", self.url, self.url)

    def stop(self, timeout: float = 5.0) -> None:
        self.station.close()
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()


class Ticker:
    """Refreshes the status bar once a second and asks the printer every ``printer_poll_s``."""

    def __init__(self, station: Station, *, printer_poll_s: float = 10.0, tick_s: float = 1.0) -> None:
        self.station = station
        self.printer_poll_s = printer_poll_s
        self.tick_s = tick_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="screen-ticker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        since_poll = self.printer_poll_s  # ask at once
        while not self._stop.is_set():
            try:
                if since_poll >= self.printer_poll_s:
                    since_poll = 0.0
                    self.station.check_printer()
                self.station.tick()
            except (sqlite3.Error, OSError) as exc:  # the next tick tries again; the counter is unaffected
                log.warning("screen status refresh failed: %s", type(exc).__name__)
            self._stop.wait(self.tick_s)
            since_poll += self.tick_s

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
