"""The Douyin shop plugin: declares the platform. The work is done by :class:`DouyinClient`,
which the core calls directly; the sandbox is imported only when one is built."""

from __future__ import annotations

from datetime import timedelta

from hub import hookimpl
from hub.platform import Capabilities, OrderWindowRule, PlatformInfo, PlatformRegistry, RateLimit
from hub_douyin import PLATFORM
from hub_douyin.client import DouyinClient
from hub_douyin.settings import DouyinSettings

INFO = PlatformInfo(
    code=PLATFORM,
    title="Douyin shop (抖店)",
    settings_model=DouyinSettings,
    client_class=DouyinClient,
    capabilities=Capabilities(
        delta_stock=True,  # sku.syncStock is incremental ...
        idempotent_stock=True,  # ... with an idempotent_id the platform de-duplicates
        stock_batch_size=20,
        price_batch_size=20,
        native_promotions=frozenset(),  # no promotion API was researched: price changes instead
        shipment=True,
    ),
    rate_limit=RateLimit(qps=10, concurrency=4),  # UNCONFIRMED; shops may override
    order_window=OrderWindowRule(
        max_span=timedelta(days=1),  # UNCONFIRMED limit
        max_history=None,
        lookback=timedelta(minutes=5),
        initial_history=timedelta(days=30),
    ),
    sandbox="hub_douyin.sandbox:DouyinSandbox",
)


@hookimpl
def hub_register_platforms(registry: PlatformRegistry) -> None:
    """Register Douyin shop; the README explains every figure above."""
    registry.add(INFO)
