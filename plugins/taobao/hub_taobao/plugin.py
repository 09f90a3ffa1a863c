"""Hook implementations for Taobao/Tmall: thin functions that hand the work to the client.

Each data hook is a plain ``def`` that returns None for shops of other platforms and
otherwise the client's awaitable or async iterator (see :mod:`hub.hookspecs`).
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
from hub_taobao import PLATFORM
from hub_taobao.client import ENGINE_ORDER_SPAN, TaobaoClient, make_client
from hub_taobao.sandbox import TaobaoSandbox
from hub_taobao.settings import TaobaoSettings

INFO = PlatformInfo(
    code=PLATFORM,
    title="Taobao/Tmall (TOP)",
    settings_model=TaobaoSettings,
    make_client=make_client,
    capabilities=Capabilities(
        delta_stock=True,  # skus.quantity.update / item.quantity.update type=2
        idempotent_stock=False,  # TOP takes no idempotency key: a delta in doubt is not re-sent
        stock_batch_size=20,
        price_batch_size=20,
        native_promotions=frozenset(),  # UMP needs its content builder; prices are used instead
        shipment=True,
    ),
    # The app's real quota is per app category (UNCONFIRMED); shops override qps/concurrency.
    rate_limit=RateLimit(qps=10, concurrency=4),
    order_window=OrderWindowRule(
        max_span=ENGINE_ORDER_SPAN,  # TOP's 1 day, less the rounding out to whole seconds
        # "the last 3 months": 89 days is the shortest three calendar months can be
        max_history=timedelta(days=89),
        lookback=timedelta(minutes=5),
        initial_history=timedelta(days=30),
    ),
    make_sandbox=TaobaoSandbox,
)


def _client(shop: ShopContext) -> TaobaoClient | None:
    return shop.client if shop.platform == PLATFORM else None


@hookimpl
def hub_register_platforms(registry: PlatformRegistry) -> None:
    """Register Taobao/Tmall."""
    registry.add(INFO)


@hookimpl
def hub_fetch_listings(shop: ShopContext) -> AsyncIterator[Listing] | None:
    """Every SKU, on and off sale."""
    return client.iter_listings() if (client := _client(shop)) else None


@hookimpl
def hub_fetch_stock(shop: ShopContext, refs: Sequence[ListingRef]) -> Awaitable[Sequence[StockLevel]] | None:
    """Current platform quantities."""
    return client.fetch_stock(refs) if (client := _client(shop)) else None


@hookimpl
def hub_push_stock(shop: ShopContext,
                   updates: Sequence[StockUpdate]) -> Awaitable[Sequence[PushResult]] | None:
    """Stock writes (delta when the update has one)."""
    return client.push_stock(updates) if (client := _client(shop)) else None


@hookimpl
def hub_push_prices(shop: ShopContext,
                    updates: Sequence[PriceUpdate]) -> Awaitable[Sequence[PushResult]] | None:
    """SKU price writes."""
    return client.push_prices(updates) if (client := _client(shop)) else None


@hookimpl
def hub_fetch_orders(shop: ShopContext, window: TimeWindow) -> AsyncIterator[Order] | None:
    """Trades modified within ``window``."""
    return client.iter_orders(window) if (client := _client(shop)) else None


@hookimpl
def hub_ship_order(shop: ShopContext, shipment: Shipment) -> Awaitable[PushResult] | None:
    """Shipment write-back (logistics.offline.send)."""
    return client.ship(shipment) if (client := _client(shop)) else None


@hookimpl
def hub_check_shop(shop: ShopContext) -> Awaitable[str] | None:
    """One cheap authenticated call (`hub shops check`)."""
    return client.check() if (client := _client(shop)) else None
