"""``ruyi admin create-staff --username U --role R``: bootstrap staff (prints the generated password once).

``ruyi admin set-cashier-pin --username U --number N``: a cashier's personal number and a new PIN (generated and
printed once; ``--pin-stdin`` reads one instead), audited; only its salted scrypt hash is stored.

``ruyi admin register-terminal --canteen CODE --name NAME --out FILE``: provision a terminal; its credential is
written once to FILE (mode 0600) and shown nowhere else; its id, its canteen's and its short code (``terminal_code``,
the start of its receipt numbers) are printed as lines for its config file.

``ruyi admin rollups [--month YYYY-MM] [--rebuild]``: compare the daily rollups intake keeps with the sums of the
meals (exit 1 and the differing rows when they disagree), or replace them by those sums."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from sqlmodel import Session, col, select

from ruyi.settlement import Month
from server.auth.cashiers import set_cashier_pin
from server.auth.principal import STAFF_ROLES, SYSTEM, Role
from server.auth.service import create_staff
from server.auth.tables import Staff
from server.canteens.service import create_terminal
from server.canteens.tables import Canteen
from server.config import Settings
from server.db import DatabaseNotMigrated, check_migrated, make_engine, open_session
from server.errors import NotFound, ServerError
from server.meals import rollups

_T = TypeVar("_T")


def register(sub: Any) -> None:
    admin = sub.add_parser("admin", help="administration / 管理")
    asub = admin.add_subparsers(dest="admin_command", required=True, metavar="COMMAND")
    cs = asub.add_parser("create-staff", help="create a staff account / 创建工作人员账号")
    cs.add_argument("--username", required=True)
    cs.add_argument("--role", required=True, choices=[r.value for r in STAFF_ROLES])
    cs.add_argument("--display-name", default="")
    cs.add_argument("--canteen-id", type=uuid.UUID, help="required for canteen_manager")
    cs.set_defaults(handler=run_create_staff)
    cp = asub.add_parser("set-cashier-pin", help="set a cashier's number and PIN / 设置收银员工号和密码")
    cp.add_argument("--username", required=True)
    cp.add_argument("--number", required=True, help="personal number typed at the terminal (1-8 digits)")
    cp.add_argument("--pin-stdin", action="store_true", help="read the PIN (4-8 digits) from stdin")
    cp.set_defaults(handler=run_set_cashier_pin)
    rt = asub.add_parser("register-terminal", help="register a terminal, write its credential once / 登记终端")
    rt.add_argument("--canteen", required=True, help="the canteen's code (e.g. ry-01)")
    rt.add_argument("--name", required=True, help="the terminal's name (收银台1)")
    rt.add_argument("--out", required=True, type=Path, help="credential file to create (mode 0600)")
    rt.add_argument("--force", action="store_true", help="replace an existing credential file")
    rt.set_defaults(handler=run_register_terminal)
    ro = asub.add_parser("rollups", help="check the daily rollups against the meals / 核对日汇总与餐次记录")
    ro.add_argument("--month", help="one month, YYYY-MM (default: all)")
    ro.add_argument("--rebuild", action="store_true", help="replace them by the meals' sums (stop intake meanwhile)")
    ro.set_defaults(handler=run_rollups)


def _in_database(work: Callable[[Session], _T]) -> _T | None:
    """``work`` in a write session of the configured database (which must be migrated), committed; None, with the
    reason on stderr, when the database or the work refuses."""
    engine = make_engine(Settings().resolved_database_url)
    try:
        check_migrated(engine)
        with open_session(engine, write=True) as session:
            out = work(session)
            session.commit()
            return out
    except DatabaseNotMigrated as exc:
        print(f"✗ {exc}", file=sys.stderr)
    except ServerError as exc:
        print(f"✗ {exc.zh} / {exc.en}", file=sys.stderr)
    finally:
        engine.dispose()
    return None


def run_create_staff(args: argparse.Namespace) -> int:
    made = _in_database(
        lambda session: create_staff(
            session,
            actor=SYSTEM,
            username=args.username,
            role=Role(args.role),
            display_name=args.display_name,
            canteen_id=args.canteen_id,
        )
    )
    if made is None:
        return 1
    staff, password = made
    print(f"✓ 已创建 {staff.username}（{staff.role}）/ created {staff.username} ({staff.role})")
    print(f"初始密码（只显示这一次）/ initial password (shown once): {password}")
    return 0


def run_set_cashier_pin(args: argparse.Namespace) -> int:
    pin = sys.stdin.readline().strip() if args.pin_stdin else f"{secrets.randbelow(1_000_000):06d}"

    def work(session: Session) -> Staff:
        staff = session.exec(select(Staff).where(col(Staff.username) == args.username)).first()
        if staff is None:
            raise NotFound("工作人员", "staff member")
        return set_cashier_pin(session, actor=SYSTEM, staff_id=staff.id, number=args.number, pin=pin)

    if _in_database(work) is None:
        return 1
    print(f"✓ 收银员 {args.username} 工号 {args.number} / cashier {args.username} number {args.number}")
    if not args.pin_stdin:
        print(f"密码（只显示这一次）/ PIN (shown once): {pin}")
    print("终端下次同步后生效 / in force at the canteen's terminals after their next sync")
    return 0


class Registered(NamedTuple):
    terminal_id: str
    canteen_id: str
    code: str
    """The terminal's short code (``RY01-2``): the terminal config's ``terminal_code``, the start of its receipt
    numbers."""


def register_terminal(*, canteen_code: str, name: str, out: Path, replace: bool = False) -> Registered:
    """Register a terminal of the canteen with code ``canteen_code`` and write its credential to ``out`` (mode
    0600 from creation: never readable by anyone else). Answers its id, the canteen's and its code. The credential
    exists only in that file: the server keeps a keyed hash of it."""
    settings = Settings()
    if out.exists() and not replace:
        raise FileExistsError(out)
    engine = make_engine(settings.resolved_database_url)
    try:
        check_migrated(engine)
        with open_session(engine, write=True) as session:
            canteen = session.exec(select(Canteen).where(col(Canteen.code) == canteen_code)).first()
            if canteen is None:
                raise NotFound("食堂", "canteen")
            terminal, credential = create_terminal(
                session, actor=SYSTEM, canteen_id=canteen.id, name=name, pepper=settings.secret_key
            )
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f".{out.name}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(credential + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, out)
            session.commit()  # after the file is safely written: no registered terminal without its credential
            return Registered(str(terminal.id), str(canteen.id), terminal.code or "")
    finally:
        engine.dispose()


def run_register_terminal(args: argparse.Namespace) -> int:
    try:
        registered = register_terminal(canteen_code=args.canteen, name=args.name, out=args.out, replace=args.force)
    except FileExistsError:
        print(f"✗ {args.out} 已存在（--force 覆盖）/ already exists (--force to replace it)", file=sys.stderr)
        return 1
    except DatabaseNotMigrated as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 1
    except ServerError as exc:
        print(f"✗ {exc.zh} / {exc.en}", file=sys.stderr)
        return 1
    print(f"✓ 已登记终端 / terminal registered: {args.name}")
    print("终端配置（terminal.toml）/ for the terminal's config:")
    print(f'terminal_id = "{registered.terminal_id}"')
    print(f'canteen_id = "{registered.canteen_id}"')
    print(f'terminal_code = "{registered.code}"   # 小票号前缀 / receipt numbers: {registered.code}-000001')
    print(f"凭据已写入（仅此一次，权限 0600）/ credential written once (mode 0600): {args.out}")
    return 0


def run_rollups(args: argparse.Namespace) -> int:
    month = Month.parse(args.month) if args.month else None
    where = f" {month}" if month else ""
    engine = make_engine(Settings().resolved_database_url)
    try:
        check_migrated(engine)
        with open_session(engine, write=args.rebuild) as session:
            if args.rebuild:
                written = rollups.rebuild(session, month=month)
                session.commit()
                print(f"✓ 日汇总已按餐次重算{where} / rollups rebuilt from the meals{where}: {written} rows")
                return 0
            found = rollups.differences(session, month=month)
    except DatabaseNotMigrated as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if not found:
        print(f"✓ 日汇总与餐次记录一致{where} / the rollups equal the meals' sums{where}")
        return 0
    names = ", ".join(rollups.AMOUNTS)
    print(f"✗ {len(found)} 行日汇总与餐次记录不符 / rollup rows differ from the meals ({names}: stored != meals):")
    for d in found:
        canteen, day, elder, terminal = d.key
        print(f"  {canteen} {day} {elder or '(walk-in ' + str(terminal) + ')'}: {d.stored} != {d.expected}")
    return 1
