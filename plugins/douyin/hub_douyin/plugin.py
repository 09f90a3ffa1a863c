"""Hook implementations of the Douyin plugin (entry point ``hub: douyin``).

Each data hook is a plain ``def``: for a shop of another platform it returns None, for a
Douyin shop the awaitable or async iterator of the shop's :class:`DouyinClient`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import timedelta

from hub import hookimpl
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
from hub.platform import (
    Capabilities,
    OrderWindowRule,
    PlatformInfo,
    PlatformRegistry,
    RateLimit,
    ShopContext,
)
from hub_douyin import PLATFORM
from hub_douyin.client import DouyinClient
from hub_douyin.sandbox import DouyinSandbox
from hub_douyin.settings import DouyinSettings


def _client(shop: ShopContext) -> DouyinClient | None:
    return shop.client if shop.platform == PLATFORM else None


@hookimpl
def hub_register_platforms(registry: PlatformRegistry) -> None:
    """Register Douyin shop; the README explains every figure below."""
    registry.add(PlatformInfo(
        code=PLATFORM,
        title="Douyin shop (抖店)",
        settings_model=DouyinSettings,
        make_client=DouyinClient,
        # sku.syncStock is incremental with an idempotent_id the platform de-duplicates.
        # No promotion API was researched: promotions fall back to price changes.
        capabilities=Capabilities(delta_stock=True, idempotent_stock=True, stock_batch_size=20,
                                  price_batch_size=20, native_promotions=frozenset(),
                                  shipment=True),
        rate_limit=RateLimit(qps=10, concurrency=4),  # UNCONFIRMED; shops may override
        order_window=OrderWindowRule(max_span=timedelta(days=1),  # UNCONFIRMED limit
                                     max_history=None, lookback=timedelta(minutes=5),
                                     initial_history=timedelta(days=30)),
        make_sandbox=DouyinSandbox,
    ))


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
