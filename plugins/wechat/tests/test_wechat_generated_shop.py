"""A generated shop: every listing and every order comes back exactly once when the
order history is read in windows of at most ``order_window.max_span``."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from hub.models import TimeWindow
from hub.platform import PlatformInfo
from hub.plugins import PluginHost
from hub.simulator import SandboxConfig, generate_seed
from hub.testing import FakeClock, make_shop
from hub_wechat.sandbox import WechatSandbox

pytestmark = pytest.mark.anyio

START = datetime(2026, 10, 20, 3, 17, 41, tzinfo=UTC)
END = START + timedelta(days=16, hours=5)  # several days, not a multiple of the span


@pytest.mark.parametrize(
    ("items", "orders"),
    [
        (50, 1000),  # 200 SKUs: about a second
        pytest.param(250, 5000, marks=pytest.mark.slow),  # 1,000 SKUs, 5,000 orders: about 5 s
    ],
)
async def test_generated_shop_reads_back_exactly_once(
    host: PluginHost, info: PlatformInfo, items: int, orders: int
) -> None:
    clock = FakeClock(END + timedelta(minutes=1))
    seed = generate_seed(items=items, skus_per_item=4, orders=orders, start=START, end=END)
    sandbox = WechatSandbox(SandboxConfig(clock=clock, seed=seed))
    shop = make_shop(info, sandbox, clock=clock)
    try:
        listings = [x async for x in shop.client.iter_listings()]
        assert len(listings) == len({x.platform_sku_id for x in listings}) == items * 4
        assert {x.master_code for x in listings} == {s.code for s in sandbox.state.iter_skus()}

        seen: Counter[str] = Counter()
        start = START
        windows = 0
        while start < END:
            end = min(END, start + info.order_window.max_span)
            windows += 1
            async for order in shop.client.iter_orders(TimeWindow(start=start, end=end)):
                assert start <= order.modified_at < end
                seen[order.platform_order_id] += 1
            start = end
    finally:
        await shop.client.aclose()
    assert windows == 3
    assert set(seen) == set(sandbox.state.orders) and len(seen) == orders
    assert max(seen.values()) == 1, "an order came back twice"
    # Every window was one legal query series: nothing was refused.
    assert not sandbox.errors
    assert sandbox.calls["order/get"] == orders and sandbox.calls["order/list/get"] >= orders // 100
