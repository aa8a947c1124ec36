"""``ruyi admin create-staff --username U --role R``: bootstrap staff (prints the generated password once)."""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from server.auth.principal import STAFF_ROLES, SYSTEM, Role
from server.auth.service import create_staff
from server.config import Settings
from server.db import DatabaseNotMigrated, check_migrated, make_engine, open_session
from server.errors import ServerError


def register(sub: Any) -> None:
    admin = sub.add_parser("admin", help="administration / 管理")
    asub = admin.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    cs = asub.add_parser("create-staff", help="create a staff account / 创建工作人员账号")
    cs.add_argument("--username", required=True)
    cs.add_argument("--role", required=True, choices=[r.value for r in STAFF_ROLES])
    cs.add_argument("--display-name", default="")
    cs.add_argument("--canteen-id", type=uuid.UUID, help="required for canteen_manager")
    cs.set_defaults(handler=run_create_staff)


def run_create_staff(args: argparse.Namespace) -> int:
    engine = make_engine(Settings().resolved_database_url)
    try:
        check_migrated(engine)
        with open_session(engine, write=True) as session:
            staff, password = create_staff(
                session,
                actor=SYSTEM,
                username=args.username,
                role=Role(args.role),
                display_name=args.display_name,
                canteen_id=args.canteen_id,
            )
            session.commit()
    except DatabaseNotMigrated as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 1
    except ServerError as exc:
        print(f"✗ {exc.zh} / {exc.en}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"✓ 已创建 {staff.username}（{staff.role}）/ created {staff.username} ({staff.role})")
    print(f"初始密码（只显示这一次）/ initial password (shown once): {password}")
    return 0
