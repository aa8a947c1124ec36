"""One error base for the service and one handler: every error answers ``{"error": code, "detail": {...}}``.

``detail`` always has ``zh`` and ``en`` messages; 422 answers add ``problems`` (field path, code, zh, en).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ruyi.errors import Problem, RuyiError
from ruyi.i18n import problem_from


class ServerError(Exception):
    status: int = 500
    code: str = "internal"

    def __init__(self, zh: str, en: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en
        if code is not None:
            self.code = code
        self.extra = extra

    def detail(self) -> dict[str, Any]:
        return {"zh": self.zh, "en": self.en, **self.extra}


class Unauthorized(ServerError):
    status, code = 401, "auth.unauthenticated"


class Forbidden(ServerError):
    status, code = 403, "auth.forbidden"


class NotFound(ServerError):
    status, code = 404, "not_found"

    def __init__(self, what: str = "对象", what_en: str = "object", *, message: tuple[str, str] | None = None) -> None:
        zh, en = message or (f"{what}不存在", f"{what_en} not found")
        super().__init__(zh, en)


class Conflict(ServerError):
    status, code = 409, "conflict"


class PayloadTooLarge(ServerError):
    status, code = 413, "payload_too_large"


class Invalid(ServerError):
    """422 with field-level problems."""

    status, code = 422, "validation_failed"

    def __init__(self, problems: Sequence[Problem], *, code: str | None = None, **extra: Any) -> None:
        first = problems[0]
        super().__init__(first.message("zh"), first.message("en"), code=code, **extra)
        self.problems = list(problems)

    def detail(self) -> dict[str, Any]:
        return {**super().detail(), "problems": [problem_dict(p) for p in self.problems]}

    @classmethod
    def field(cls, path: str, code: str, zh: str, en: str) -> Invalid:
        return cls([Problem(path=path, code=code, zh=zh, en=en)])


def problem_dict(p: Problem) -> dict[str, str]:
    return {"path": p.path, "code": p.code, "zh": p.zh, "en": p.en}


class ProblemOut(BaseModel):
    path: str
    code: str
    zh: str
    en: str


class ErrorDetail(BaseModel):
    zh: str
    en: str
    problems: list[ProblemOut] | None = None


class ErrorOut(BaseModel):
    """The body of every error answer."""

    error: str
    detail: ErrorDetail


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of an endpoint: the errors it lists, all in the one error shape."""
    return {s: {"model": ErrorOut} for s in statuses}


def _json(status: int, code: str, detail: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


_HTTP_TEXT = {
    404: ("找不到该地址", "no such path"),
    405: ("不支持该请求方法", "method not allowed"),
    413: ("请求内容过大", "request body too large"),
}


def install(app: FastAPI) -> None:
    @app.exception_handler(ServerError)
    async def _server_error(_request: Request, exc: ServerError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _json(exc.status, exc.code, exc.detail(), headers)

    @app.exception_handler(RuyiError)
    async def _ruyi_error(_request: Request, exc: RuyiError) -> JSONResponse:
        return _json(422, exc.code, Invalid(exc.problems, code=exc.code).detail())

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [problem_from(e) for e in exc.errors()]
        if not problems:
            problems = [Problem(path="", code="invalid", zh="请求无效", en="invalid request")]
        return _json(422, "validation_failed", Invalid(problems).detail())

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, ServerError):  # FastAPI wraps errors raised while reading the body
            cause = exc.__cause__
            return _json(cause.status, cause.code, cause.detail())
        zh, en = _HTTP_TEXT.get(exc.status_code, (str(exc.detail), str(exc.detail)))
        return _json(exc.status_code, f"http_{exc.status_code}", {"zh": zh, "en": en}, getattr(exc, "headers", None))
