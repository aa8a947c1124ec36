"""Screen settings of one terminal: where the pages are served, which language they start in, and whether the
amount is spoken. Read from ``screen.toml`` next to the terminal's config (optional; every key has a default)::

    host = "127.0.0.1"   # loopback only, unless the counter's display is another machine
    port = 8600
    language = "zh"      # or "en"; the cashier can switch at any time (key L)
    speak = false        # spoken amount in Mandarin through espeak-ng, per canteen
    voice = "cmn"
    # wav_dir = "speech" # write WAV files instead of playing them
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ruyi.errors import RuyiError
from ruyi.i18n import problems_from

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8600
SCREEN_FILE = "screen.toml"


class ScreenSettingsError(RuyiError):
    """The screen settings cannot be used."""


class ScreenSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    """0 picks a free port (tests)."""
    language: Literal["zh", "en"] = "zh"
    speak: bool = False
    voice: str = Field(default="cmn", pattern=r"^[A-Za-z0-9_+-]{1,32}$")
    wav_dir: Path | None = None
    printer_poll_s: float = Field(default=10.0, gt=0)
    """How often the status bar asks the printer how it is (also after every print)."""
    show_done_s: float = Field(default=6.0, ge=0)
    """How long the elder display thanks the elder after a sale before it greets the next one."""


def load_screen_settings(path: Path) -> ScreenSettings:
    """Read ``path`` (TOML); relative ``wav_dir`` is taken relative to the file's directory."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScreenSettingsError.one(
            "screen.unreadable", f"无法读取屏幕配置 {path}：{exc}", f"cannot read the screen settings {path}: {exc}"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScreenSettingsError.one(
            "screen.toml", f"屏幕配置不是有效的 TOML：{exc}", f"the screen settings are not valid TOML: {exc}"
        ) from None
    if isinstance(data.get("wav_dir"), str):
        data["wav_dir"] = str(path.resolve().parent / data["wav_dir"])
    try:
        return ScreenSettings.model_validate(data)
    except ValidationError as exc:
        raise ScreenSettingsError(problems_from(exc)) from None


def screen_settings_for(config_path: Path) -> ScreenSettings:
    """The settings in ``screen.toml`` beside the terminal's config file, or the defaults when there is none."""
    path = config_path.resolve().parent / SCREEN_FILE
    return load_screen_settings(path) if path.is_file() else ScreenSettings()
