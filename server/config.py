"""Settings from the environment (prefix ``RUYI_``). Every setting is documented in server/README-section.md."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ruyi.money import MEAL_PRICE_CEILING
from ruyi.settlement import INFO_FLAGS, Ratio, SettlementConfig

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
    max_meal_price_fen: int = Field(default=10_000, ge=1, le=MEAL_PRICE_CEILING)
    """The dearest menu item a canteen may enter, integer fen (10000 = ¥100.00); a dearer price answers 422."""

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

    # Settlement edit checks (:class:`ruyi.settlement.SettlementConfig`). Ratios are text, read exactly by
    # :meth:`ruyi.settlement.Ratio.parse` ("1.2", "6/5", "2"): never a float.
    settlement_attendance_factor: str = "1"
    """Subsidised meals on a day above enrolled eligible elders x this warn ``attendance_exceeded``."""
    settlement_manual_share_max: str = "1/5"
    """A cashier's share of manual identifications above this warns ``manual_share`` …"""
    settlement_manual_min_meals: int = Field(default=20, ge=0)
    """… once the cashier identified at least this many meals in the month."""
    settlement_void_share_max: str = "1/20"
    """A cashier's voids per sale above this warn ``void_share`` …"""
    settlement_void_min_sales: int = Field(default=20, ge=0)
    """… once the cashier made at least this many sales in the month."""
    settlement_spike_factor: str = "2"
    """A day with more meals than this x the rolling daily mean warns ``volume_spike`` …"""
    settlement_baseline_days: int = Field(default=28, ge=1)
    """… the mean of the days with meals among this many calendar days before …"""
    settlement_baseline_min_days: int = Field(default=5, ge=1)
    """… when there are at least this many."""
    settlement_implausible_interval_minutes: int = Field(default=60, ge=0)
    """One elder subsidised at two canteens within this many minutes is the error ``two_canteens``."""
    settlement_upward_window_months: int | None = Field(default=3, ge=0)
    """Late meals and upward corrections are paid for months at most this many months back (``none``: no limit);
    downward ones always."""
    settlement_info_flags: str = ",".join(sorted(INFO_FLAGS))
    """Intake flags that are listed but do not hold a meal (comma-separated); every other flag holds it until a
    reviewer decides."""

    settlement_four_eyes: bool = True
    """Four eyes on statements: whoever reviews a statement may not close it, and whoever decided all its flagged
    meals may not review it. ``false`` only for a single-person site: every step it would refuse is then allowed and
    audited as ``settlement.four_eyes_waived``."""

    @field_validator(
        "settlement_attendance_factor", "settlement_manual_share_max", "settlement_void_share_max",
        "settlement_spike_factor",
    )  # fmt: skip
    @classmethod
    def _ratio(cls, value: str) -> str:
        try:
            Ratio.parse(value)
        except ValueError:
            raise ValueError(
                f"比例应写作 1.2、6/5 或 2 这样的文字，而不是 {value!r} / a ratio is text like 1.2, 6/5 or 2, "
                f"not {value!r}"
            ) from None
        return value

    @field_validator("settlement_upward_window_months", mode="before")
    @classmethod
    def _no_limit(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() in {"", "none"} else value

    def settlement_config(self) -> SettlementConfig:
        """The settlement's edit-check thresholds from these settings."""
        return SettlementConfig(
            attendance_factor=Ratio.parse(self.settlement_attendance_factor),
            manual_share_max=Ratio.parse(self.settlement_manual_share_max),
            manual_min_meals=self.settlement_manual_min_meals,
            void_share_max=Ratio.parse(self.settlement_void_share_max),
            void_min_sales=self.settlement_void_min_sales,
            spike_factor=Ratio.parse(self.settlement_spike_factor),
            baseline_days=self.settlement_baseline_days,
            baseline_min_days=self.settlement_baseline_min_days,
            implausible_interval_minutes=self.settlement_implausible_interval_minutes,
            upward_window_months=self.settlement_upward_window_months,
            info_flags=frozenset(f.strip() for f in self.settlement_info_flags.split(",") if f.strip()),
        )

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
