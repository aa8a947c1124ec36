"""Settings from the environment (prefix ``RUYI_``). Every setting is documented in server/README-section.md."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "changethis", "secret", "placeholder", "dev"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RUYI_", env_file=None, extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./data")
    database_url: str | None = None
    """SQLAlchemy URL. Empty: an SQLite file ``ruyi.sqlite3`` in ``data_dir``. PostgreSQL:
    ``postgresql+psycopg://user:password@host:5432/ruyi``."""
    secret_key: str = "changeme"
    """Mixed into token hashes (a pepper). Must be changed outside development."""
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    """Largest JSON request body; more answers 413."""
    max_upload_bytes: int = Field(default=50_000_000, ge=1024)
    """Largest elder import file; more answers 413."""
    max_import_rows: int = Field(default=300_000, ge=1)
    """Most data rows in one import file; more answers 413."""
    db_pool_size: int = Field(default=10, ge=1)

    card_key_secret: str = "changeme"
    """The programme's card-key secret: roster card keys are ``HMAC-SHA256(secret, "kind:serial")``
    (:func:`ruyi.sync.card_key_digest`); every terminal's reader holds the same secret. Changing it makes
    every card unknown until terminals get the new secret and a full roster."""
    category_key: str = "changeme"
    """Key of the tokens that replace category codes in what terminals receive (:mod:`ruyi.redact`)."""
    sync_clock_skew_seconds: int = Field(default=300, ge=1)
    """A terminal clock further than this from the server's (at push) is flagged ``clock_skew``; a service
    time further than this in the future is flagged ``future_service_time``."""
    sync_far_past_days: int = Field(default=40, ge=1)
    """A meal whose service time is older than this at intake is flagged ``far_past_service_time``."""
    sync_offline_hours: int = Field(default=24, ge=1)
    """Offline policy sent to terminals: hours without a successful sync before subsidies stop; a roster
    older than this at a meal's service time is flagged ``stale_roster``."""
    sync_warn_minutes: int = Field(default=60, ge=0)
    """Offline policy: how long before that limit the cashier screen counts down."""
    sync_roster_page: int = Field(default=2000, ge=1, le=20000)
    """Roster entries per pull page."""

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment == "development":
            return self
        for env, value in (
            ("RUYI_SECRET_KEY", self.secret_key),
            ("RUYI_CARD_KEY_SECRET", self.card_key_secret),
            ("RUYI_CATEGORY_KEY", self.category_key),
        ):
            if value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < 16:
                raise ValueError(
                    f"{env} 仍是占位值或过短（至少16个字符）；非开发环境拒绝启动 / "
                    f"{env} is a placeholder or shorter than 16 characters: refusing to run outside development"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'ruyi.sqlite3').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
