"""One configuration file per terminal (TOML, read with the standard library's ``tomllib``).

Relative paths in the file are taken relative to the file's own directory, so a site can keep the config, the
snapshot and the secret side by side. Errors name the field and say what is wrong in Chinese and English.
"""

from __future__ import annotations

import json
import tomllib
from datetime import time
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from ruyi.errors import RuyiError
from ruyi.i18n import bilingual_error, problems_from
from ruyi.rules import Slot
from terminal.devices.cards import DEFAULT_KIND_ORDER, CardKind
from terminal.devices.escpos_printer import PrinterConfig
from terminal.devices.printing import PaperWidth

Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]

MIN_SECRET_BYTES = 16
DEFAULT_SLOT_STARTS: dict[Slot, time] = {"breakfast": time(5, 0), "lunch": time(10, 0), "dinner": time(15, 0)}


class ConfigError(RuyiError):
    """The terminal's configuration (or a file it names) cannot be used."""


class SyncConfig(BaseModel):
    """Where the central server is and how the sync worker (:mod:`terminal.sync`) talks to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server_url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$")]
    """The server's base URL (``https://ruyi.example.gov.cn``); the API is under ``/api/v1``."""
    credential_file: Path
    """The terminal's bearer credential (from ``POST /canteens/{id}/terminals``), readable only by its user."""
    push_delay_s: float = Field(default=0.5, ge=0, le=60)
    """How soon after a meal is committed it is pushed (meals committed meanwhile go in the same batch)."""
    push_interval_s: float = Field(default=30.0, gt=0, le=3600)
    """Push what is unsynced at least this often, meal or not."""
    pull_interval_s: float = Field(default=300.0, gt=0, le=86400)
    """Pull roster, rules and menu changes this often."""
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Longest wait for the server on one request (connect, each read, each write)."""
    backoff_max_s: float = Field(default=300.0, gt=0, le=3600)
    """Longest pause between attempts while the server cannot be reached (it doubles from 1 s, with jitter)."""
    max_batch_records: int = Field(default=200, ge=1, le=500)
    max_batch_bytes: int = Field(default=900_000, ge=4096, le=4 * 1024 * 1024)
    """Keep below the server's request body limit (``RUYI_MAX_BODY_BYTES``, 1,000,000 by default)."""
    gzip: bool = False
    """Send pushes gzip-compressed (only if the server, or the proxy in front of it, accepts it)."""


class ReaderConfig(BaseModel):
    """The card reader (``[reader]``): which one, and the card kinds tried on each tap, in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    """Watch the first PC/SC reader whose name contains this; the first reader when absent."""
    kinds: tuple[CardKind, ...] = Field(default=DEFAULT_KIND_ORDER, min_length=1)
    """Card kinds tried in this order; the first that answers wins. Keep ``uid`` last (a contactless reader answers
    the UID query for any card); leave out a kind the site never sees, and every tap asks one question less."""

    @field_validator("kinds")
    @classmethod
    def _distinct(cls, value: tuple[CardKind, ...]) -> tuple[CardKind, ...]:
        if len(set(value)) != len(value):
            raise bilingual_error("config.card_kinds", "卡类型重复", "card kinds repeat")
        return value


# Keys of files written before ``[reader]``: still read, as the same settings.
_OLDER_READER_KEYS = {"reader_name": "name", "card_kinds": "kinds"}


class TerminalConfig(BaseModel):
    """Everything one terminal process needs to know about where it is and what it drives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    terminal_id: Code
    canteen_id: Code
    terminal_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,40}$")] | None = None
    """The terminal's short code from the server (``code`` in the registration's answer, e.g. ``RY01-2``: the
    canteen code and the terminal's number there); receipt numbers are this code and the sequence. Absent: the
    terminal id's first 8 characters."""
    canteen_name: str = Field(min_length=1, max_length=40)
    """Printed at the top of every receipt."""
    data_dir: Path
    """Holds the ledger (``ledger.sqlite3``) and python-escpos's cache; created if missing."""
    snapshot_path: Path
    """The roster/rules/menu snapshot (JSON) the terminal runs from until sync refreshes it."""
    card_key_secret_file: Path
    """A file holding the secret that hashes card numbers into card keys (at least 16 bytes)."""
    reader: ReaderConfig = Field(default_factory=ReaderConfig)
    printer: PrinterConfig
    cashier_default: Code = "cashier"
    """The cashier id recorded when ``sign_in`` is off (a terminal whose canteen has no cashiers yet)."""
    sign_in: bool = True
    """Cashiers sign in with personal number and PIN (checked offline against the snapshot's PIN hashes); no
    sale opens while nobody is signed in, and every record carries the signed-in cashier's id."""
    sign_in_max_wrong: int = Field(default=5, ge=1, le=20)
    """Wrong PINs in a row (any number) before sign-in locks at this terminal."""
    sign_in_lock_minutes: int = Field(default=5, ge=1, le=240)
    language: Literal["zh", "en"] = "zh"
    timezone: str = "Asia/Shanghai"
    """The zone a service day begins and ends in (the ledger's zone; must match the rule book's)."""
    slot_starts: dict[Slot, time] = Field(default_factory=lambda: dict(DEFAULT_SLOT_STARTS))
    """When each meal slot begins (local time); the menu item offered on a tap is one of the current slot."""
    sync: SyncConfig | None = None
    """The link to the central server; absent: the terminal works from its snapshot alone and never syncs."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise bilingual_error("config.timezone", f"未知时区 {value!r}", f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _older_reader_keys(cls, data: object) -> object:
        """Top-level ``reader_name`` and ``card_kinds`` (files from before ``[reader]``) are ``reader.name`` and
        ``reader.kinds``; both spellings of one setting at once are refused."""
        if not isinstance(data, dict) or not _OLDER_READER_KEYS.keys() & data.keys():
            return data
        data = dict(data)
        reader = data.get("reader") or {}
        if not isinstance(reader, dict):
            return data  # a ReaderConfig passed in, or a wrong type the field reports
        reader = dict(reader)
        for old, new in _OLDER_READER_KEYS.items():
            if old in data:
                if new in reader:
                    raise bilingual_error(
                        "config.reader", f"{old} 与 [reader] {new} 重复", f"{old} repeats [reader] {new}"
                    )
                reader[new] = data.pop(old)
        data["reader"] = reader
        return data

    @model_validator(mode="after")
    def _slots(self) -> Self:
        if not self.slot_starts:
            raise bilingual_error("config.slot_starts", "至少需要一个餐次", "at least one slot is needed")
        return self

    @property
    def reader_name(self) -> str | None:
        return self.reader.name

    @property
    def card_kinds(self) -> tuple[CardKind, ...]:
        return self.reader.kinds

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sync_state_path(self) -> Path:
        """The sync worker's state (pull cursor, last successful sync, offline policy)."""
        return self.data_dir / "sync-state.json"

    @property
    def ledger_path(self) -> Path:
        return self.data_dir / "ledger.sqlite3"

    @property
    def paper(self) -> PaperWidth:
        """The receipt paper width (58 or 80 mm) is the printer's: ``printer.paper``."""
        return self.printer.paper

    def card_secret(self) -> bytes:
        """The card-key secret (surrounding whitespace dropped); a missing, unreadable or short file is refused."""
        try:
            secret = self.card_key_secret_file.read_bytes().strip()
        except OSError as exc:
            raise ConfigError.one(
                "config.secret_unreadable",
                f"无法读取卡密钥文件 {self.card_key_secret_file}：{exc.strerror}",
                f"cannot read the card-key secret file {self.card_key_secret_file}: {exc.strerror}",
                path="card_key_secret_file",
            ) from None
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError.one(
                "config.secret_short",
                f"卡密钥至少需要 {MIN_SECRET_BYTES} 字节",
                f"the card-key secret must be at least {MIN_SECRET_BYTES} bytes",
                path="card_key_secret_file",
            )
        return secret


_PATH_FIELDS = ("data_dir", "snapshot_path", "card_key_secret_file")


def parse_config(text: str, *, base_dir: Path) -> TerminalConfig:
    """Read a TOML config; relative paths are resolved against ``base_dir``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError.one(
            "config.toml", f"配置文件不是有效的 TOML：{exc}", f"the config file is not valid TOML: {exc}"
        ) from None
    for name in _PATH_FIELDS:
        if isinstance(data.get(name), str):
            data[name] = str(base_dir / data[name])
    sync = data.get("sync")
    if isinstance(sync, dict) and isinstance(sync.get("credential_file"), str):
        sync["credential_file"] = str(base_dir / sync["credential_file"])
    connection = data.get("printer", {}).get("connection") if isinstance(data.get("printer"), dict) else None
    if isinstance(connection, dict) and connection.get("kind") == "file" and isinstance(connection.get("path"), str):
        connection["path"] = str(base_dir / connection["path"])
    try:
        return TerminalConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc)) from None


def load_config(path: Path) -> TerminalConfig:
    """Read the terminal's config file (see :class:`TerminalConfig` and ``deploy/terminal.example.toml``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.one(
            "config.unreadable", f"无法读取配置文件 {path}：{exc}", f"cannot read the config file {path}: {exc}"
        ) from None
    return parse_config(text, base_dir=path.resolve().parent)


def config_toml(config: TerminalConfig) -> str:
    """``config`` as a TOML file :func:`parse_config` reads back as the same config (relative paths stay relative,
    so they are taken from the file's directory again)."""
    data = config.model_dump(mode="json", exclude_none=True)
    lines = [f"{key} = {_toml(value)}" for key, value in data.items() if not isinstance(value, dict)]
    for key, value in data.items():
        if isinstance(value, dict):
            lines += ["", f"[{key}]", *(f"{k} = {_toml(v)}" for k, v in value.items())]
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    """A TOML value: JSON's strings, numbers and booleans are TOML's; lists and tables are written inline."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
