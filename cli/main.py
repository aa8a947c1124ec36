"""``ruyi`` with subcommands. Each area adds its own parser in a ``register`` function."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

# Areas in help order, with the install extra each needs beyond the core.
AREAS = {
    "rules": None,
    "db": "server",
    "server": "server",
    "admin": "server",
    "terminal": "terminal",
    "demo": "terminal",
}


def _unavailable(sub: Any, name: str, extra: str, error: ImportError) -> None:
    """A command whose extra is not installed (a server-only or terminal-only install) says so when used."""

    def explain(_: argparse.Namespace) -> int:
        print(
            f"✗ ruyi {name}: 未安装 {extra} 组件 / the {extra!r} extra is not installed ({error.name}): "
            f"pip install '.[{extra}]'",
            file=sys.stderr,
        )
        return 2

    parser = sub.add_parser(name, help=f"(needs the {extra} extra)", add_help=False)
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    parser.set_defaults(handler=explain)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ruyi", description="如意食堂 助餐收银与结算 / Ruyi canteen POS")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, extra in AREAS.items():
        try:
            module = importlib.import_module(f"cli.{name}")
        except ImportError as exc:
            if extra is None:
                raise
            _unavailable(sub, name, extra, exc)
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
