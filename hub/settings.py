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
    lease_seconds: float = Field(
        300,
        gt=0,
        description="a sync's leases expire this long after its last heartbeat (sent every third of it); "
        "a holder on the same machine whose process is gone is passed over at once",
    )
    breaker_failures: int = Field(
        5, ge=1, description="connection failures in a row before a shop's calls fail fast (open circuit)"
    )
    breaker_cooldown_seconds: float = Field(
        30, gt=0, description="how long a shop's circuit stays open before a probe call (doubles, up to 10x)"
    )
    clock_margin_seconds: float = Field(
        2,
        ge=0,
        description="how far a platform's clock may be ahead of what its Date headers say: order windows "
        "reach this far past the stock reads, so partitioned stock never relies on a fresh header",
    )
    http_timeout: float = Field(30, gt=0, description="seconds before a platform call times out")
    actor: str | None = Field(None, description="who the audit log names (default: OS user)")
