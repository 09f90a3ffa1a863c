"""The WeChat store's hook implementations: thin dispatch to :class:`WechatClient`.

Every data hook is a plain ``def`` that returns None for other platforms' shops and an
awaitable or async iterator from the shop's client for WeChat shops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import timedelta
from typing import Any

from hub import hookimpl
from hub.core.http import HttpOptions
from hub.models import (
    Listing,
    ListingRef,
    Order,
    PriceUpdate,
    PromotionPush,
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
    PromotionLimits,
    RateLimit,
    ShopContext,
)
from hub_wechat import PLATFORM
from hub_wechat.client import MAX_ORDER_SPAN, NATIVE_PROMOTIONS, WechatClient
from hub_wechat.settings import WechatSettings


def make_client(settings: WechatSettings, http: HttpOptions) -> WechatClient:
    """The client of one WeChat store."""
    return WechatClient(settings, http)


def make_sandbox(config: Any) -> Any:
    """The WeChat sandbox (imported on demand: production runs never need it)."""
    from hub_wechat.sandbox import WechatSandbox

    return WechatSandbox(config)


INFO = PlatformInfo(
    code=PLATFORM,
    title="WeChat store (微信小店)",
    settings_model=WechatSettings,
    make_client=make_client,
    capabilities=Capabilities(
        delta_stock=True,  # stock/update diff_type 1/2
        idempotent_stock=False,  # no idempotency key: a delta sent twice counts twice
        stock_batch_size=10,  # one SKU per call; the hook loops
        price_batch_size=20,  # grouped per product into product/auditfree calls
        native_promotions=NATIVE_PROMOTIONS,  # limited-time discount tasks (限时抢购)
        # limiteddiscounttask/add: at most 24 h; original above 10 yuan; 10-85 % of it, 10 yuan off
        promotion_limits=PromotionLimits(max_duration=timedelta(hours=24), min_regular_price=1000,
                                         min_price_share=0.10, max_price_share=0.85, min_saving=1000),
        shipment=True,
    ),
    rate_limit=RateLimit(qps=10, concurrency=4),  # UNCONFIRMED default; per-shop override
    order_window=OrderWindowRule(max_span=MAX_ORDER_SPAN, max_history=None,
                                 lookback=timedelta(minutes=5), initial_history=timedelta(days=30)),
    make_sandbox=make_sandbox,
)


def _client(shop: ShopContext) -> WechatClient | None:
    return shop.client if shop.platform == PLATFORM else None


@hookimpl
def hub_register_platforms(registry: PlatformRegistry) -> None:
    registry.add(INFO)


@hookimpl
def hub_fetch_listings(shop: ShopContext) -> AsyncIterator[Listing] | None:
    return client.iter_listings() if (client := _client(shop)) else None


@hookimpl
def hub_fetch_stock(shop: ShopContext, refs: Sequence[ListingRef]) -> Awaitable[list[StockLevel]] | None:
    return client.fetch_stock(refs) if (client := _client(shop)) else None


@hookimpl
def hub_push_stock(shop: ShopContext, updates: Sequence[StockUpdate]) -> Awaitable[list[PushResult]] | None:
    return client.push_stock(updates) if (client := _client(shop)) else None


@hookimpl
def hub_push_prices(shop: ShopContext, updates: Sequence[PriceUpdate]) -> Awaitable[list[PushResult]] | None:
    return client.push_prices(updates) if (client := _client(shop)) else None


@hookimpl
def hub_fetch_orders(shop: ShopContext, window: TimeWindow) -> AsyncIterator[Order] | None:
    return client.iter_orders(window) if (client := _client(shop)) else None


@hookimpl
def hub_ship_order(shop: ShopContext, shipment: Shipment) -> Awaitable[PushResult] | None:
    return client.ship(shipment) if (client := _client(shop)) else None


@hookimpl
def hub_start_promotion(shop: ShopContext, push: PromotionPush) -> Awaitable[PushResult] | None:
    return client.start_promotion(push) if (client := _client(shop)) else None


@hookimpl
def hub_end_promotion(shop: ShopContext, push: PromotionPush,
                      platform_ref: str) -> Awaitable[PushResult] | None:
    return client.end_promotion(push, platform_ref) if (client := _client(shop)) else None


@hookimpl
def hub_check_shop(shop: ShopContext) -> Awaitable[str] | None:
    """One cheap authenticated call (`hub shops check`)."""
    return client.check() if (client := _client(shop)) else None
