"""The sync worker's HTTP: each request bounded by an overall deadline, gzip answers, the status check.

httpx's timeouts bound each socket operation, so a link that trickles bytes could hold the worker for ever without
the deadline. The credential is read from a file only its owner may read (``chmod 600``), sent as a bearer token
and never logged; an error answer is logged by its ``error`` code only (its detail may hold data).
"""

from __future__ import annotations

import gzip
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ruyi.sync import SYNC_PROTOCOL

PUSH_PATH = "/api/v1/sync/push"
PULL_PATH = "/api/v1/sync/pull"
Z_REPORTS_PATH = "/api/v1/sync/z-reports"
ME_PATH = "/api/v1/terminal/me"


class SyncFailure(Exception):
    """One sync attempt failed; ``code`` says why (shown on the status, logged)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


def read_credential(path: Path) -> str:
    """The bearer credential in ``path``; refused when others than its owner may read it, or when empty."""
    try:
        st = path.stat()
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SyncFailure("sync.credential_exposed", f"{path} must be readable by its owner only (chmod 600)")
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SyncFailure("sync.credential_unreadable", f"{path}: {exc.strerror}") from None
    if not token or any(c.isspace() for c in token):
        raise SyncFailure("sync.credential_invalid", f"{path} holds no single credential")
    return token


class SyncHttp:
    """The worker's client of the server. ``on_answer`` is called whenever a response passes :meth:`check`."""

    def __init__(
        self,
        *,
        server_url: str,
        timeout_s: float,
        transport: httpx.BaseTransport | None,
        on_answer: Callable[[], None],
    ) -> None:
        self._timeout_s = timeout_s
        self._on_answer = on_answer
        t = timeout_s
        self._client = httpx.Client(
            base_url=server_url.rstrip("/"),
            timeout=httpx.Timeout(t, connect=t, read=t, write=t, pool=t),
            transport=transport or httpx.HTTPTransport(retries=0),
            headers={"User-Agent": f"ruyi-terminal/{SYNC_PROTOCOL}"},
        )

    def request(self, method: str, path: str, token: str, **kw: Any) -> httpx.Response:
        """One request with an overall deadline; network failures become :class:`SyncFailure`."""
        deadline = time.monotonic() + self._timeout_s * 3
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        try:
            with self._client.stream(method, path, headers=headers, **kw) as response:
                chunks = []
                for chunk in response.iter_raw():
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise SyncFailure("sync.timeout", "the answer took too long")
                content = b"".join(chunks)
                encoding = response.headers.get("content-encoding", "")
                if encoding == "gzip":
                    content = gzip.decompress(content)
                elif encoding not in ("", "identity"):
                    raise SyncFailure("sync.bad_response", f"content-encoding {encoding}")
                return httpx.Response(response.status_code, headers=response.headers, content=content)
        except httpx.TimeoutException:
            raise SyncFailure("sync.timeout") from None
        except httpx.ConnectError:
            raise SyncFailure("sync.connect") from None
        except (httpx.TransportError, OSError, EOFError) as exc:
            raise SyncFailure("sync.network", type(exc).__name__) from None

    def check(self, response: httpx.Response, ok: tuple[int, ...]) -> None:
        """Pass an answer whose status is in ``ok``; raise the :class:`SyncFailure` of any other."""
        code = response.status_code
        if code in ok:
            self._on_answer()
            return
        if code == 426:
            raise SyncFailure("sync.upgrade_required", _error_code(response))
        if code in (401, 403):
            raise SyncFailure("sync.unauthorized", _error_code(response))
        raise SyncFailure(f"sync.http_{code}", _error_code(response))

    def close(self) -> None:
        self._client.close()


def _error_code(response: httpx.Response) -> str:
    """The ``error`` code of an error body (``{"error": ..., "detail": ...}``), never the detail (it may hold data)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error", "")) if isinstance(body, dict) else ""
