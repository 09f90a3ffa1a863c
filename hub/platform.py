"""What a platform plugin declares and what the core builds from it.

A plugin registers one :class:`PlatformInfo` per platform through the
``hub_register_platforms`` hook: its settings model, its client class (a
:class:`~hub.client.ShopClient`), its capabilities and limits, and where its sandbox is.
The core builds a :class:`ShopContext` per configured shop (validated settings, a ready
client, the clock) and calls the operations of ``shop.client``.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from hub.client import ShopClient
from hub.core.ratelimit import RateLimit
from hub.credentials import SECRET_FIELDS, ShopSettings, TokenSet, TokenStore
from hub.errors import PluginError, UnknownPlatform
from hub.models import PromotionKind

if TYPE_CHECKING:
    from hub.core.clock import Clock

__all__ = [
    "SECRET_FIELDS",
    "Capabilities",
    "OrderWindowRule",
    "PlatformInfo",
    "PlatformRegistry",
    "PromotionLimits",
    "RateLimit",
    "ShopClient",
    "ShopContext",
    "ShopSettings",
    "TokenSet",
    "TokenStore",
]


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
    the engine hands to one ``push_stock``/``push_prices`` call. ``native_promotions``: promotion kinds the
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
class PlatformInfo:
    """A platform, as a plugin registers it.

    ``client_class(settings, http)`` builds the client of one shop from its validated
    settings and the core's :class:`~hub.core.http.HttpOptions` (rate limit, clock,
    transport, retry policy, token store). ``sandbox`` is the import path
    (``"package.module:Class"``) of the platform's sandbox, a
    :class:`hub.simulator.SandboxApp`; it is imported only when
    :meth:`make_sandbox` is called (``hub sandbox serve``, the demo, tests), so production
    runs never load it.
    """

    code: str
    title: str
    settings_model: type[ShopSettings]
    client_class: type[ShopClient]
    capabilities: Capabilities
    rate_limit: RateLimit
    order_window: OrderWindowRule
    sandbox: str | None = None
    plugin: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.code):
            raise PluginError(f"platform code {self.code!r} must be lowercase letters/digits/_")
        if not (isinstance(self.client_class, type) and issubclass(self.client_class, ShopClient)):
            raise PluginError(f"platform {self.code!r}: client_class must subclass hub.client.ShopClient")
        if self.sandbox is not None and not (
            isinstance(self.sandbox, str) and re.fullmatch(r"[\w.]+:\w+", self.sandbox)
        ):
            raise PluginError(f"platform {self.code!r}: sandbox must be an import path 'module:Class'")

    def make_sandbox(self, config: Any) -> Any:
        """The platform's sandbox built from a :class:`hub.simulator.SandboxConfig`
        (its module is imported now)."""
        if self.sandbox is None:
            raise PluginError(f"platform {self.code!r} ships no sandbox")
        module, _, name = self.sandbox.partition(":")
        return getattr(importlib.import_module(module), name)(config)


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
    """One configured shop: its settings and the client the core calls.

    ``client`` is the platform's ``client_class`` built for this shop; the core calls its
    operations (``shop.client.push_stock(...)``) and nothing else talks to the platform.
    """

    name: str
    platform: str
    settings: ShopSettings
    client: ShopClient
    clock: Clock
    info: PlatformInfo
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("hub.shop"))
