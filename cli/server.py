"""``ruyi server --host H --port P``: serve the central API (refuses an unmigrated database)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import uvicorn
from pydantic import ValidationError

from server.app import create_app
from server.config import Settings
from server.db import DatabaseNotMigrated, check_migrated, make_engine


def register(sub: Any) -> None:
    p = sub.add_parser("server", help="serve the central API / 启动中心服务")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"✗ 配置错误 / bad settings:\n{exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings.resolved_database_url, pool_size=settings.db_pool_size)
    try:
        check_migrated(engine)
    except DatabaseNotMigrated as exc:
        engine.dispose()
        print(f"✗ {exc}", file=sys.stderr)
        return 1
    uvicorn.run(create_app(settings, engine=engine), host=args.host, port=args.port)
    return 0
