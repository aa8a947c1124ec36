"""``ruyi`` with subcommands. Each area adds its own parser in a ``register`` function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import admin, db, rules, server, terminal


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ruyi", description="如意食堂 助餐收银与结算 / Ruyi canteen POS")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    rules.register(sub)
    for area in (db, server, admin):
        area.register(sub)
    terminal.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
