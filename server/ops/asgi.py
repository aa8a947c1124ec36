"""The ASGI factory for a production server run by uvicorn with several worker processes:

    uvicorn server.ops.asgi:make_app --factory --workers 4 --host 127.0.0.1 --port 8000 --no-access-log

Settings come from the environment (``RUYI_*``, see server/config.py and server/ops/config.py); logging is set up
before the app is built (``RUYI_LOG_FORMAT=json`` for JSON lines). Each worker refuses to start on a database that
is not at the newest migration (``ruyi db upgrade`` first, as deploy/postgres/upgrade.sh does).
"""

from __future__ import annotations

from fastapi import FastAPI

from server.app import create_app
from server.config import Settings
from server.ops import logs
from server.ops.config import OpsSettings


def make_app() -> FastAPI:
    ops = OpsSettings()
    logs.configure(ops.log_format, ops.log_level)
    return create_app(Settings())
