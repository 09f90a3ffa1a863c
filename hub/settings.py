"""Hub-wide settings, from ``HUB_*`` environment variables (command-line flags win)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///hub.db"


class HubSettings(BaseSettings):
    """Every field can be set as ``HUB_<FIELD>`` (e.g. ``HUB_DATABASE_URL``)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLAlchemy URL; a SQLite file by default")
    safety_stock: int = Field(0, ge=0, description="units held back per SKU unless set per SKU")
    price_change_limit: float = Field(
        0.5, gt=0, description="largest price change (share of the current price) without --force"
    )
    partition_below: int | None = Field(
        None,
        ge=0,
        description="SKUs whose sellable stock falls below this are partitioned, instead of the automatic "
        "rule (a SKU's own setting wins; 0: never)",
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
    alert_cover_days: float = Field(
        3, ge=0, description="stock alert when sellable ÷ daily sales falls below this many days"
    )
    alert_sales_days: float = Field(
        7, gt=0, description="days of sales behind the daily rate of stock alerts"
    )
    alert_stuck_days: float = Field(
        3, gt=0, description="stock alert when an open order older than this many days still holds units"
    )
