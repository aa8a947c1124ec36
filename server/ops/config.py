"""Operations settings (environment, prefix ``RUYI_``), apart from the server's own so that this area can be
switched on without touching the rest."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class OpsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUYI_", env_file=None, extra="ignore")

    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line (for journald / a log shipper); ``text``: the usual lines."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    metrics: bool = True
    """Serve ``GET /metrics`` (Prometheus text format). Keep it off the public side of the proxy."""
