"""A generated shop (1,000 SKUs, 5,000 orders over ten days): reading every listing, and
every order window by window, returns each exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hub.core.http import RetryPolicy
from hub.models import OrderStatus, TimeWindow
from hub.plugins import PluginHost
from hub.simulator import OrderState, SandboxConfig, generate_seed
from hub.testing import FakeClock, make_shop
from hub_jd.sandbox import JdSandbox

pytestmark = pytest.mark.anyio


def expected_status(order: OrderState) -> OrderStatus | None:
    """What JD can show of a canonical order: no unpaid orders, whole-order shipping,
    and TRADE_CANCELED told apart by payment."""
    if order.status is OrderStatus.PENDING_PAYMENT:
        return None
    if order.status is OrderStatus.PARTLY_SHIPPED:
        return OrderStatus.AWAITING_SHIPMENT
    if order.status.is_closed_unshipped:
        return OrderStatus.REFUNDED if order.paid_at else OrderStatus.CANCELLED
    return order.status


@pytest.mark.parametrize("span", [None, timedelta(hours=13)], ids=["max_span", "13h"])
async def test_every_listing_and_order_exactly_once(span: timedelta | None) -> None:
    clock = FakeClock()
    end = clock.now().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=10)
    seed = generate_seed(items=200, skus_per_item=5, orders=5000, start=start, end=end)
    sandbox = JdSandbox(SandboxConfig(clock=clock, seed=seed))
    host = PluginHost(autoload=True, blocked=[])
    info = host.platform("jd")
    shop = make_shop(info, sandbox, clock=clock, retry=RetryPolicy(initial_wait=0, jitter=0))
    try:
        listings = [x async for x in shop.client.iter_listings()]
        assert len(listings) == len({x.platform_sku_id for x in listings}) == 1000
        assert {x.master_code for x in listings} == {s.code for s in sandbox.state.skus.values()}
        for listing in listings[::97]:
            sku = sandbox.state.sku(listing.platform_sku_id)
            assert (listing.price, listing.quantity) == (sku.price, sku.quantity)

        step = span or info.order_window.max_span
        got = []
        cursor = start
        while cursor < end:
            window = TimeWindow(start=cursor, end=min(end, cursor + step))
            got += [o async for o in shop.client.iter_orders(window)]
            cursor = window.end
    finally:
        await shop.client.aclose()

    visible = {
        oid: expected_status(o) for oid, o in sandbox.state.orders.items() if expected_status(o) is not None
    }
    hidden = len(sandbox.state.orders) - len(visible)
    assert hidden > 0  # generated pending-payment orders: JD does not list them
    assert len(got) == len({o.platform_order_id for o in got}) == len(visible)
    assert {o.platform_order_id: o.status for o in got} == visible
    for order in got[::101]:
        source = sandbox.state.order(order.platform_order_id)
        assert order.total == source.total and order.created_at == source.created.replace(microsecond=0)
