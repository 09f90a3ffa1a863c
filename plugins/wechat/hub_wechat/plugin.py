"""The WeChat store plugin: declares the platform. The work is done by :class:`WechatClient`,
which the core calls directly; the sandbox is imported only when one is built."""

from __future__ import annotations

from datetime import timedelta

from hub import hookimpl
from hub.platform import (
    Capabilities,
    OrderWindowRule,
    PlatformInfo,
    PlatformRegistry,
    PromotionLimits,
    RateLimit,
)
from hub_wechat import PLATFORM
from hub_wechat.client import MAX_ORDER_SPAN, NATIVE_PROMOTIONS, WechatClient
from hub_wechat.settings import WechatSettings

INFO = PlatformInfo(
    code=PLATFORM,
    title="WeChat store (微信小店)",
    settings_model=WechatSettings,
    client_class=WechatClient,
    capabilities=Capabilities(
        delta_stock=True,  # stock/update diff_type 1/2
        idempotent_stock=False,  # no idempotency key: a delta sent twice counts twice
        stock_batch_size=10,  # one SKU per call; the client loops
        price_batch_size=20,  # grouped per product into product/auditfree calls
        native_promotions=NATIVE_PROMOTIONS,  # limited-time discount tasks (限时抢购)
        # limiteddiscounttask/add: at most 24 h; original above 10 yuan; 10-85 % of it, 10 yuan off
        promotion_limits=PromotionLimits(
            max_duration=timedelta(hours=24),
            min_regular_price=1000,
            min_price_share=0.10,
            max_price_share=0.85,
            min_saving=1000,
        ),
        shipment=True,
    ),
    rate_limit=RateLimit(qps=10, concurrency=4),  # UNCONFIRMED default; per-shop override
    order_window=OrderWindowRule(
        max_span=MAX_ORDER_SPAN,
        max_history=None,
        lookback=timedelta(minutes=5),
        initial_history=timedelta(days=30),
    ),
    sandbox="hub_wechat.sandbox:WechatSandbox",
)


@hookimpl
def hub_register_platforms(registry: PlatformRegistry) -> None:
    """Register the WeChat store."""
    registry.add(INFO)
