"""Hub-wide settings, from ``HUB_*`` environment variables (command-line flags win)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hub import validation
from hub.errors import ConfigError

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
        description="SKUs whose sellable stock falls below this are partitioned, instead of the automatic "
        "rule (a SKU's own setting wins; 0: never)",
    )
    sales_window_minutes: float = Field(
        60, gt=0, description="recent sales that steer partitioned units toward selling shops"
    )
    stock_full_pass_minutes: float = Field(
        60,
        ge=0,
        description="between full reads of the stock picture a process re-reads only what changed; "
        "0: every cycle reads everything",
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
    workers: bool = Field(
        False,
        description="`hub worker` processes run the syncs (PostgreSQL): a stored push (`hub serve`) or "
        "`hub stock set` enqueues its job in the same transaction",
    )
    worker_interval_seconds: float = Field(
        60,
        gt=0,
        description="with `hub worker`: how often each shop's orders, stock, prices and promotions are "
        "synced (listings: HUB_LISTINGS_INTERVAL_MINUTES)",
    )
    aftersales_interval_minutes: float = Field(
        10, ge=0, description="read after-sale cases when the last read is older than this (0: every cycle)"
    )
    returns_warehouse: str = Field(
        "main", min_length=1, description="warehouse that returns the platform marks received go back into"
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
    alert_cover_days: float = Field(
        3, ge=0, description="stock alert when sellable ÷ daily sales falls below this many days"
    )
    alert_sales_days: float = Field(
        7, gt=0, description="days of sales behind the daily rate of stock alerts"
    )
    alert_stuck_days: float = Field(
        3, gt=0, description="stock alert when an open order older than this many days still holds units"
    )

    @field_validator("price_change_limit", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> float:
        return validation.percent_limit(value)


# Settings whose value may hold a password: an error about them never repeats the value.
_SENSITIVE = ("database_url",)


def load_settings(**values: Any) -> HubSettings:
    """Settings from the environment (``values`` win). A bad value raises :class:`ConfigError`
    naming the variable, e.g. ``HUB_SAFETY_STOCK=-3: Input should be greater than or equal to 0``."""
    try:
        return HubSettings(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            name = f"HUB_{field.upper()}" if field else "HUB_* settings"
            shown = "" if field in _SENSITIVE or "input" not in err else f"={err['input']}"
            message = err["msg"].removeprefix("Value error, ")
            # A field rule's own message already names the variable and its value.
            problems.append(message if name in message else f"{name}{shown}: {message}")
        raise ConfigError("invalid setting " + "; ".join(problems)) from None
