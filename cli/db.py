"""``ruyi db upgrade`` / ``ruyi db current``: the server database schema, through Alembic."""

from __future__ import annotations

import argparse
from typing import Any

from server.config import Settings
from server.db import make_engine, migration_state, upgrade


def register(sub: Any) -> None:
    db = sub.add_parser("db", help="server database / 服务器数据库")
    dsub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    up = dsub.add_parser("upgrade", help="apply the migrations / 升级数据库结构")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(handler=run_upgrade)
    cur = dsub.add_parser("current", help="show the schema revision / 显示当前版本")
    cur.set_defaults(handler=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    settings = Settings()
    upgrade(settings, args.revision)
    print(f"✓ 数据库已升级到 {args.revision} / database upgraded ({_where(settings)})")
    return 0


def run_current(_args: argparse.Namespace) -> int:
    settings = Settings()
    engine = make_engine(settings.resolved_database_url)
    try:
        current, head = migration_state(engine)
    finally:
        engine.dispose()
    print(f"{_where(settings)}: {current or '-'} (head {head})")
    return 0 if current == head else 1


def _where(settings: Settings) -> str:
    url = settings.resolved_database_url
    return url.split("@", 1)[-1] if "@" in url else url
