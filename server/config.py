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

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if self.environment != "development" and (
            self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < 16
        ):
            raise ValueError(
                "RUYI_SECRET_KEY 仍是占位值或过短（至少16个字符）；非开发环境拒绝启动 / "
                "RUYI_SECRET_KEY is a placeholder or shorter than 16 characters: refusing to run outside development"
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
