"""The Taobao/Tmall plugin: declares the platform. The work is done by :class:`TaobaoClient`,
which the core calls directly; the sandbox is imported only when one is built."""

from __future__ import annotations

from datetime import timedelta

from hub import hookimpl
from hub.platform import Capabilities, OrderWindowRule, PlatformInfo, PlatformRegistry, RateLimit
from hub_taobao import PLATFORM
from hub_taobao.client import ENGINE_ORDER_SPAN, TaobaoClient
from hub_taobao.settings import TaobaoSettings

INFO = PlatformInfo(
    code=PLATFORM,
    title="Taobao/Tmall (TOP)",
    settings_model=TaobaoSettings,
    client_class=TaobaoClient,
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
    sandbox="hub_taobao.sandbox:TaobaoSandbox",
)


@hookimpl
def hub_register_platforms(registry: PlatformRegistry) -> None:
    """Register Taobao/Tmall."""
    registry.add(INFO)
