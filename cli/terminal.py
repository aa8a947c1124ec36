"""``ruyi terminal --config FILE``: run a canteen terminal (card reader, ledger, receipts)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ruyi.errors import RuyiError
from ruyi.i18n import render


def register(sub: Any) -> None:
    parser = sub.add_parser("terminal", help="run a canteen terminal / 运行食堂终端")
    parser.add_argument("--config", type=Path, required=True, help="the terminal's TOML config file")
    parser.add_argument(
        "--reprint-pending", action="store_true", help="print receipts committed but never printed, at start-up"
    )
    parser.add_argument(
        "--host", default=None, help="serve the screens on this address (default 127.0.0.1, or screen.toml's)"
    )
    parser.add_argument("--port", type=int, default=None, help="screens' port (default 8600, or screen.toml's)")
    parser.add_argument("--no-screen", action="store_true", help="do not serve the cashier and elder screens")
    parser.set_defaults(handler=run)


def _screen(args: argparse.Namespace) -> Any:
    """The screen settings (``screen.toml`` beside the config, then --host/--port), or None with --no-screen."""
    if args.no_screen:
        return None
    from terminal.web.settings import screen_settings_for  # noqa: PLC0415  (needs FastAPI: the server extra)

    settings = screen_settings_for(args.config)
    changes = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    return settings.model_copy(update=changes) if changes else settings


def run(args: argparse.Namespace) -> int:
    from terminal.app import run_from_file  # noqa: PLC0415  (the terminal extra: pyscard, python-escpos)

    try:
        return run_from_file(args.config, reprint_pending=args.reprint_pending, screen=_screen(args))
    except RuyiError as exc:
        print(f"✗ {args.config}")
        print(render(exc.problems, "zh"))
        print(render(exc.problems, "en"))
        return 2
