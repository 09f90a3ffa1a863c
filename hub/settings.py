"""Hub-wide settings, from ``HUB_*`` environment variables (command-line flags win)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub import validation

DEFAULT_DATABASE_URL = "sqlite:///hub.db"


class HubSettings(BaseSettings):
    """Every field can be set as ``HUB_<FIELD>`` (e.g. ``HUB_DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLAlchemy URL; a SQLite file by default")
    safety_stock: int = Field(0, ge=0, description="units held back per SKU unless set per SKU")
    price_change_limit: float = Field(
        0.5,
        description="largest price change without --force: a percentage such as 50%, or the "
        "share 0.5 (a bare number above 1 is refused: 50 could mean 50% or 5000%)",
    )
    partition_below: int | None = Field(
        None,
        ge=0,
        description="SKUs whose sellable stock falls below this are partitioned (a SKU's own setting wins)",
    )
    sales_window_minutes: float = Field(
        60, gt=0, description="recent sales that steer partitioned units toward selling shops"
    )
    order_lookback_seconds: float | None = Field(
        None,
        ge=0,
        description="re-read this much of the previous order window each run (default: "
        "the platform's); shorter suits a tight --watch loop, the platform's indexing lag sets the floor",
    )
    listings_interval_minutes: float = Field(
        60, ge=0, description="re-read listings when the last read is older than this"
    )
    lease_seconds: float = Field(300, gt=0, description="a crashed sync's lease expires after this")
    http_timeout: float = Field(30, gt=0, description="seconds before a platform call times out")
    actor: str | None = Field(None, description="who the audit log names (default: OS user)")

    @field_validator("price_change_limit", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> float:
        return validation.percent_limit(value)
