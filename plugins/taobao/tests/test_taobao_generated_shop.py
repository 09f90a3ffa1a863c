"""A generated shop of 1,000 SKUs and 5,000 orders over five days: reading every listing, and
every order through windows no longer than the platform allows, returns each exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from hub.models import OrderStatus, TimeWindow
from hub.plugins import PluginHost
from hub.simulator import SandboxConfig, generate_seed
from hub.testing import FakeClock, make_shop
from hub_taobao.sandbox import TaobaoSandbox

pytestmark = pytest.mark.anyio


async def test_every_listing_and_order_exactly_once() -> None:
    clock = FakeClock()
    end = clock.now()
    start = end - timedelta(days=5)
    seed = generate_seed(items=250, skus_per_item=4, orders=5000, start=start, end=end)
    sandbox = TaobaoSandbox(SandboxConfig(clock=clock, seed=seed))
    host = PluginHost(autoload=True, blocked=[])
    info = host.platform("taobao")
    shop = make_shop(info, sandbox, clock=clock, trade_page_size=100)
    try:
        listings = [x async for x in shop.client.iter_listings()]
        assert len(listings) == 1000
        assert len({x.platform_sku_id for x in listings}) == 1000
        assert {x.master_code for x in listings} == {s.code for s in sandbox.state.iter_skus()}
        for listing in listings[:50]:
            assert listing.quantity == sandbox.state.sku(listing.platform_sku_id).quantity

        seen: list[str] = []
        statuses: Counter[OrderStatus] = Counter()
        cursor = start
        windows = 0
        while cursor < end:
            stop = min(end, cursor + info.order_window.max_span)
            async for order in shop.client.iter_orders(TimeWindow(start=cursor, end=stop)):
                seen.append(order.platform_order_id)
                statuses[order.status] += 1
                assert order.total == sandbox.state.order(order.platform_order_id).total
            cursor = stop
            windows += 1
    finally:
        await shop.client.aclose()
    assert windows == 6  # five days in windows just under one day
    assert len(seen) == 5000 and set(seen) == set(sandbox.state.orders)
    # The generator cancels some orders after payment: on Taobao that is TRADE_CLOSED (refunded).
    assert statuses[OrderStatus.CANCELLED] == 0 and statuses[OrderStatus.REFUNDED] > 0
    assert statuses[OrderStatus.AWAITING_SHIPMENT] > statuses[OrderStatus.SHIPPED] > 0
