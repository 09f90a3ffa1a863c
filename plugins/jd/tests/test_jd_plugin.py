"""Registration, hook dispatch and settings of the JD plugin."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from hub.models import ListingRef, PriceUpdate, Shipment, StockUpdate, TimeWindow
from hub.platform import ShopContext
from hub.plugins import PluginHost
from hub.testing import FakeClock
from hub.testing.sandbox import SandboxConfig
from hub_jd import PLATFORM, plugin
from hub_jd.sandbox import JdSandbox
from hub_jd.settings import ALL_ORDER_STATES, JdSettings


def test_registered_through_the_entry_point() -> None:
    host = PluginHost(autoload=True, blocked=[])
    info = host.platform("jd")
    assert info.code == PLATFORM == "jd" and info.plugin == "jd"
    caps = info.capabilities
    assert not caps.delta_stock and not caps.idempotent_stock and caps.shipment
    assert caps.native_promotions == frozenset()  # JD marketing APIs are not researched
    assert 1 <= caps.stock_batch_size <= 20
    assert info.order_window.max_span <= timedelta(days=28)  # under JD's one-month limit
    assert info.rate_limit.qps == 10 and info.rate_limit.concurrency == 4
    assert info.settings_model is JdSettings
    assert JdSettings.model_fields["base_url"].default == "https://api.jd.com/routerjson"


def test_make_sandbox_builds_the_jd_sandbox() -> None:
    clock = FakeClock()
    app = plugin.INFO.make_sandbox(SandboxConfig(clock=clock))  # type: ignore[misc]
    assert isinstance(app, JdSandbox) and app.base_url() == "http://sandbox.test/routerjson"


def test_hooks_ignore_other_platforms() -> None:
    other: Any = ShopContext(name="t", platform="taobao", settings=None, client=None,  # type: ignore[arg-type]
                             clock=FakeClock(), info=None)  # type: ignore[arg-type]
    ref = ListingRef(platform_item_id="1", platform_sku_id="2")
    window = TimeWindow(start=FakeClock().now() - timedelta(hours=1), end=FakeClock().now())
    assert plugin.hub_fetch_listings(shop=other) is None
    assert plugin.hub_fetch_stock(shop=other, refs=[ref]) is None
    stock = StockUpdate(ref=ref, quantity=1, idempotency_key="k")
    assert plugin.hub_push_stock(shop=other, updates=[stock]) is None
    price = PriceUpdate(ref=ref, price=1, idempotency_key="k")
    assert plugin.hub_push_prices(shop=other, updates=[price]) is None
    assert plugin.hub_fetch_orders(shop=other, window=window) is None
    assert plugin.hub_ship_order(shop=other, shipment=Shipment(
        platform_order_id="1", carrier="SF", tracking_number="1", idempotency_key="k")) is None


@pytest.mark.anyio
async def test_hooks_hand_a_jd_shop_to_its_client(shop: ShopContext) -> None:
    iterator = plugin.hub_fetch_listings(shop=shop)
    assert iterator is not None and hasattr(iterator, "__aiter__")
    assert len([x async for x in iterator]) == 6


def test_settings_defaults_and_validation() -> None:
    base = {"app_key": "k", "app_secret": "s"}
    settings = JdSettings(**base)
    assert settings.timestamp_format == "millis" and settings.sku_page_size == 50
    assert settings.order_page_size == 100 and settings.order_states == ALL_ORDER_STATES
    assert settings.order_search_method == "jingdong.pop.order.search"
    with pytest.raises(ValidationError, match="WAIT_PAY"):
        JdSettings(**base, order_states=("WAIT_PAY",))
    with pytest.raises(ValidationError):
        JdSettings(**base, order_page_size=101)
    with pytest.raises(ValidationError):
        JdSettings(**base, timestamp_format="unix")
    assert "very-secret" not in repr(JdSettings(**{**base, "app_secret": "very-secret"}))
