"""A generated shop (1,000 SKUs, 5,000 orders over five days) read through the plugin:
every listing and every order comes back exactly once."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from hub.models import TimeWindow
from hub.platform import PlatformInfo
from hub.plugins import PluginHost
from hub.simulator import SandboxConfig, generate_seed
from hub.testing import FakeClock, make_shop
from hub_douyin.sandbox import DouyinSandbox

pytestmark = pytest.mark.anyio


async def test_a_generated_shop_is_read_completely_and_once(
    host: PluginHost, info: PlatformInfo, clock: FakeClock
) -> None:
    end = clock.now() - timedelta(days=1)
    start = end - timedelta(days=5)
    seed = generate_seed(items=200, skus_per_item=5, orders=5000, start=start, end=end, rng=random.Random(7))
    sandbox = DouyinSandbox(SandboxConfig(clock=clock, seed=seed))
    shop = make_shop(info, sandbox, clock=clock)
    try:
        listings = [x async for x in shop.client.iter_listings()]
        assert len(listings) == 1000
        assert {x.platform_sku_id for x in listings} == set(sandbox.state.skus)
        assert all(x.master_code == sandbox.state.sku(x.platform_sku_id).code for x in listings)

        span = info.order_window.max_span
        seen: Counter[str] = Counter()
        window_start = start
        while window_start < end:
            window = TimeWindow(start=window_start, end=min(end, window_start + span))
            async for order in shop.client.iter_orders(window):
                seen[order.platform_order_id] += 1
                source = sandbox.state.order(order.platform_order_id)
                assert order.status is source.status and order.total == source.total
            window_start = window.end
    finally:
        await shop.client.aclose()
    assert len(sandbox.state.orders) == 5000
    assert set(seen) == set(sandbox.state.orders) and set(seen.values()) == {1}
    assert sandbox.calls["order.searchList"] <= 5 * (1 + 50 + 1)  # 1,000 a day, 100 a page
