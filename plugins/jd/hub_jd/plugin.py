"""The JD plugin: declares the platform. The work is done by :class:`JdClient`, which the
core calls directly; the sandbox is imported only when one is built."""

from __future__ import annotations

from datetime import timedelta

from hub import hookimpl
from hub.platform import Capabilities, OrderWindowRule, PlatformInfo, PlatformRegistry, RateLimit
from hub_jd import PLATFORM
from hub_jd.client import JdClient
from hub_jd.settings import JdSettings

INFO = PlatformInfo(
    code=PLATFORM,
    title="JD (京东 JOS)",
    settings_model=JdSettings,
    client_class=JdClient,
    capabilities=Capabilities(
        delta_stock=False,  # updateSkuStock sets stockNum absolutely
        idempotent_stock=False,  # no idempotency key; an absolute set is safe to resend anyway
        stock_batch_size=10,  # one SKU per call; the client runs a few calls side by side
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
    sandbox="hub_jd.sandbox:JdSandbox",
)


@hookimpl
def hub_register_platforms(registry: PlatformRegistry) -> None:
    """Register JD."""
    registry.add(INFO)
