"""What a platform plugin declares and what it is handed.

A plugin registers one :class:`PlatformInfo` per platform through the
``hub_register_platforms`` hook. The core builds a :class:`ShopContext` per configured
shop (validated settings, a ready client, the clock) and passes it to every data hook.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.core.ratelimit import RateLimit
from hub.errors import PluginError, UnknownPlatform
from hub.models import PromotionKind, UTCDateTime

if TYPE_CHECKING:
    from hub.core.clock import Clock
    from hub.core.http import HttpOptions

__all__ = [
    "Capabilities",
    "OrderWindowRule",
    "PlatformInfo",
    "PlatformRegistry",
    "PromotionLimits",
    "RateLimit",
    "ShopContext",
    "ShopSettings",
    "TokenSet",
    "TokenStore",
]

SECRET_FIELDS = ("app_secret", "access_token", "refresh_token")


class ShopSettings(BaseModel):
    """Settings every shop has. A plugin subclasses this and adds its own fields (with
    defaults, e.g. a signing method), and sets ``base_url`` to its production gateway."""

    model_config = ConfigDict(extra="forbid")

    app_key: str = Field(min_length=1, description="the app's key on the platform")
    app_secret: SecretStr = Field(description="the app's secret; never shown")
    access_token: SecretStr | None = Field(default=None, description="the shop's token")
    refresh_token: SecretStr | None = None
    token_expires_at: UTCDateTime | None = None
    base_url: str = Field(description="API gateway; point it at a sandbox for tests")
    qps: float | None = Field(default=None, gt=0, description="override the platform QPS")
    concurrency: int | None = Field(default=None, ge=1, description="override in-flight cap")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value.rstrip("/")

    def secret_values(self) -> list[str]:
        """Every secret in these settings, for log masking."""
        out = []
        for name in SECRET_FIELDS:
            value = getattr(self, name, None)
            if value is not None and value.get_secret_value():
                out.append(value.get_secret_value())
        return out


@dataclass(frozen=True)
class PromotionLimits:
    """What a platform's native promotion API accepts (``None``: no limit). Amounts are
    in fen, shares of the regular price 0..1. `hub promo create` applies a promotion
    outside these limits on that shop as price changes, and says so, instead of sending a
    native start the platform would refuse."""

    max_duration: timedelta | None = None
    min_regular_price: int | None = None  # the regular price must be above this
    min_price_share: float | None = None  # the promotion price at least this share of the regular
    max_price_share: float | None = None  # … and at most this share
    min_saving: int | None = None  # at least this much off the regular price

    def refusals(self, *, duration: timedelta, regular: int, price: int | None) -> list[str]:
        """Why a native promotion of ``duration`` at ``price`` (None: no unit price, e.g.
        spend-X-save-Y) on a SKU of ``regular`` price would be refused; empty if it fits."""
        out = []
        if self.max_duration is not None and duration > self.max_duration:
            out.append(f"lasts longer than {self.max_duration.total_seconds() / 3600:g} h")
        if price is None or regular <= 0:
            return out
        shown, of = f"{price / 100:.2f}", f"of the regular {regular / 100:.2f}"
        if self.min_regular_price is not None and regular <= self.min_regular_price:
            out.append(f"the regular price {regular / 100:.2f} is not above {self.min_regular_price / 100:g}")
        share = price / regular
        if self.min_price_share is not None and share < self.min_price_share:
            out.append(f"{shown} is under {self.min_price_share:.0%} {of}")
        if self.max_price_share is not None and share > self.max_price_share:
            out.append(f"{shown} is over {self.max_price_share:.0%} {of}")
        if self.min_saving is not None and regular - price < self.min_saving:
            out.append(f"saves less than {self.min_saving / 100:.2f}")
        return out


@dataclass(frozen=True)
class Capabilities:
    """What a platform can do, so the engine picks the right strategy.

    ``delta_stock``: stock writes can be relative, so a concurrent sale is never
    overwritten. ``idempotent_stock``: the platform de-duplicates stock writes by our
    idempotency key, so a write in doubt can be re-sent. ``*_batch_size``: most updates
    the engine hands to one ``hub_push_*`` call. ``native_promotions``: promotion kinds the
    plugin starts and ends through platform promotion APIs; other kinds fall back to price
    changes; ``promotion_limits``: what those native APIs accept (outside them, price
    changes too). ``shipment``: shipments can be written back.
    """

    delta_stock: bool = False
    idempotent_stock: bool = False
    stock_batch_size: int = 20
    price_batch_size: int = 20
    native_promotions: frozenset[PromotionKind] = frozenset()
    promotion_limits: PromotionLimits = PromotionLimits()
    shipment: bool = True


@dataclass(frozen=True)
class OrderWindowRule:
    """How a platform lets us read orders incrementally.

    ``max_span``: the longest modified-time window one query may cover. ``max_history``:
    how far back the platform serves (None: no limit). ``lookback``: how much of the
    previous window each run re-reads, for records the platform indexed late.
    """

    max_span: timedelta
    max_history: timedelta | None = None
    lookback: timedelta = timedelta(minutes=5)
    initial_history: timedelta = timedelta(days=30)


@dataclass(frozen=True)
class TokenSet:
    """Fresh credentials a plugin obtained by refreshing; the core persists them."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None


TokenStore = Callable[[TokenSet], Awaitable[None]]
"""Persists refreshed tokens for the shop (the core writes them to the database)."""


@dataclass(frozen=True)
class PlatformInfo:
    """A platform, as a plugin registers it.

    ``make_client(settings, http)`` builds the plugin's client for one shop from its
    validated settings and the core's :class:`~hub.core.http.HttpOptions` (rate limit,
    clock, transport, retry policy, token store). ``make_sandbox(config)`` builds the
    platform's sandbox (a :class:`hub.testing.sandbox.SandboxApp`) from a
    :class:`hub.testing.sandbox.SandboxConfig`, for ``hub sandbox serve`` and the demo.
    """

    code: str
    title: str
    settings_model: type[ShopSettings]
    make_client: Callable[[Any, HttpOptions], Any]
    capabilities: Capabilities
    rate_limit: RateLimit
    order_window: OrderWindowRule
    make_sandbox: Callable[[Any], Any] | None = None
    plugin: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.code):
            raise PluginError(f"platform code {self.code!r} must be lowercase letters/digits/_")


class PlatformRegistry:
    """The platforms plugins registered, by code."""

    def __init__(self) -> None:
        self._platforms: dict[str, PlatformInfo] = {}
        self.current_plugin = ""  # set by the host while a plugin registers

    def add(self, info: PlatformInfo) -> None:
        """Register a platform; a second plugin claiming the same code is an error."""
        if info.code in self._platforms:
            other = self._platforms[info.code].plugin
            raise PluginError(
                f"platform {info.code!r} is registered twice ({other} and "
                f"{self.current_plugin or 'another plugin'})"
            )
        if not info.plugin and self.current_plugin:
            info = PlatformInfo(**{**info.__dict__, "plugin": self.current_plugin})
        self._platforms[info.code] = info

    def get(self, code: str) -> PlatformInfo:
        """The platform ``code``, or :class:`~hub.errors.UnknownPlatform` naming the installed ones."""
        try:
            return self._platforms[code]
        except KeyError:
            raise UnknownPlatform(code, list(self._platforms)) from None

    def codes(self) -> list[str]:
        return sorted(self._platforms)

    def __iter__(self) -> Iterator[PlatformInfo]:
        return iter(self._platforms[c] for c in self.codes())

    def __contains__(self, code: object) -> bool:
        return code in self._platforms


@dataclass
class ShopContext:
    """One configured shop, as every data hook receives it.

    ``client`` is what the platform's ``make_client`` built; hooks use it and nothing
    else to talk to the platform. A hook whose platform is not ``platform`` returns None.
    """

    name: str
    platform: str
    settings: ShopSettings
    client: Any
    clock: Clock
    info: PlatformInfo
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("hub.shop"))
