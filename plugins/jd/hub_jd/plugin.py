"""The JD plugin's hooks: thin functions that hand a JD shop's work to its client.

Every data hook returns None for shops of other platforms (the dispatch rule of
:mod:`hub.hookspecs`) and otherwise an awaitable or async iterator from
:class:`hub_jd.client.JdClient`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import timedelta
from typing import Any

from hub import hookimpl
from hub.core.http import HttpOptions
from hub.core.ratelimit import RateLimit
from hub.models import (
    Listing,
    ListingRef,
    Order,
    PriceUpdate,
    PushResult,
    Shipment,
    StockLevel,
    StockUpdate,
    TimeWindow,
)
from hub.platform import Capabilities, OrderWindowRule, PlatformInfo, PlatformRegistry, ShopContext
from hub_jd import PLATFORM
from hub_jd.client import JdClient
from hub_jd.settings import JdSettings


def make_client(settings: JdSettings, http: HttpOptions) -> JdClient:
    """A client for one JD shop."""
    return JdClient(settings, http)


def make_sandbox(config: Any) -> Any:
    """A JD sandbox from a :class:`hub.testing.sandbox.SandboxConfig` (imported lazily so
    production use does not load the testing kit)."""
    from hub_jd.sandbox import JdSandbox

    return JdSandbox(config)


INFO = PlatformInfo(
    code=PLATFORM,
    title="JD (京东 JOS)",
    settings_model=JdSettings,
    make_client=make_client,
    capabilities=Capabilities(
        delta_stock=False,  # updateSkuStock sets stockNum absolutely
        idempotent_stock=False,  # no idempotency key; an absolute set is safe to resend anyway
        stock_batch_size=10,  # one SKU per call; the hook runs a few calls side by side
        price_batch_size=10,
        native_promotions=frozenset(),  # JD marketing APIs not researched: price changes instead
        shipment=True,
    ),
    rate_limit=RateLimit(qps=10, concurrency=4),  # JD's per-app quota is UNCONFIRMED
    order_window=OrderWindowRule(
        max_span=timedelta(days=7),  # JD allows one month; smaller windows page less deeply
        max_history=None,  # how far back the POP search serves is UNCONFIRMED
        lookback=timedelta(minutes=5),
        initial_history=timedelta(days=30),
    ),
    make_sandbox=make_sandbox,
)


def _client(shop: ShopContext) -> JdClient | None:
    return shop.client if shop.platform == PLATFORM else None


@hookimpl
def hub_register_platforms(registry: PlatformRegistry) -> None:
    registry.add(INFO)


@hookimpl
def hub_fetch_listings(shop: ShopContext) -> AsyncIterator[Listing] | None:
    client = _client(shop)
    return client.iter_listings() if client else None


@hookimpl
def hub_fetch_stock(shop: ShopContext, refs: Sequence[ListingRef]) -> Awaitable[list[StockLevel]] | None:
    client = _client(shop)
    return client.fetch_stock(refs) if client else None


@hookimpl
def hub_push_stock(shop: ShopContext, updates: Sequence[StockUpdate]) -> Awaitable[list[PushResult]] | None:
    client = _client(shop)
    return client.push_stock(updates) if client else None


@hookimpl
def hub_push_prices(shop: ShopContext, updates: Sequence[PriceUpdate]) -> Awaitable[list[PushResult]] | None:
    client = _client(shop)
    return client.push_prices(updates) if client else None


@hookimpl
def hub_fetch_orders(shop: ShopContext, window: TimeWindow) -> AsyncIterator[Order] | None:
    client = _client(shop)
    return client.iter_orders(window) if client else None


@hookimpl
def hub_ship_order(shop: ShopContext, shipment: Shipment) -> Awaitable[PushResult] | None:
    client = _client(shop)
    return client.ship(shipment) if client else None


@hookimpl
def hub_check_shop(shop: ShopContext) -> Awaitable[str] | None:
    """One cheap authenticated call (`hub shops check`)."""
    return client.check() if (client := _client(shop)) else None
