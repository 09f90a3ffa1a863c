"""JD after-sale service orders (jingdong.asc.query.list, UNCONFIRMED) as hub cases."""

from __future__ import annotations

import pytest

from hub.core.http import RetryPolicy
from hub.errors import MalformedResponse
from hub.models import AfterSaleStatus, AfterSaleType, TimeWindow
from hub.platform import ShopContext
from hub.testing import FakeClock, make_shop
from hub.testing.aftersales_contract import after_sales_scenario
from hub_jd.aftersales import case_from_service
from hub_jd.plugin import INFO
from hub_jd.sandbox import JdSandbox

pytestmark = pytest.mark.anyio

RECEIVED = ("33", "34", "40", "50")
SERVICE = {
    "serviceId": 1001,
    "orderId": 2002,
    "customerExpect": 10,
    "serviceStep": 32,
    "applyTime": "2026-11-11 10:00:00",
    "updateTime": "2026-11-11 11:00:00",
    "wareId": 3003,
    "skuId": 4004,
    "serviceCount": "2",
    "refundAmount": "19.90",
}


def test_a_service_order_maps_to_a_case() -> None:
    case = case_from_service(SERVICE, RECEIVED)
    assert case is not None
    assert (case.platform_case_id, case.platform_order_id, case.type, case.status) == (
        "1001",
        "2002",
        AfterSaleType.RETURN_REFUND,
        AfterSaleStatus.RETURNING,
    )
    assert case.refund_amount == 1990 and case.created_at.isoformat() == "2026-11-11T02:00:00+00:00"
    [line] = case.lines
    assert (line.platform_sku_id, line.line_id, line.quantity) == ("4004", "4004", 2)
    assert not case.received
    assert case_from_service({**SERVICE, "serviceStep": 34}, RECEIVED).received
    assert not case_from_service({**SERVICE, "serviceStep": 34}, ("50",)).received  # the steps are a setting
    exchange = case_from_service({**SERVICE, "customerExpect": 20, "serviceStep": 50}, RECEIVED)
    assert exchange.type is AfterSaleType.EXCHANGE and exchange.status is AfterSaleStatus.RECEIVED
    assert case_from_service({**SERVICE, "customerExpect": 30}, RECEIVED) is None  # a repair


async def test_service_orders_are_read_page_by_page(sandbox: JdSandbox, clock: FakeClock) -> None:
    shop = make_shop(
        INFO, sandbox, clock=clock, retry=RetryPolicy(initial_wait=0, jitter=0), aftersale_page_size=2
    )
    try:
        await after_sales_scenario(
            shop, sandbox, clock, "CABLE-1M", kinds=(AfterSaleType.RETURN_REFUND, AfterSaleType.EXCHANGE)
        )
    finally:
        await shop.client.aclose()


async def test_an_unknown_step_is_malformed(
    shop: ShopContext, sandbox: JdSandbox, clock: FakeClock, monkeypatch
) -> None:
    from hub_jd import aftersales

    start = clock.now()
    cable = sandbox.state.skus_by_code("CABLE-1M")[0]
    order = sandbox.state.place_order([(cable.sku_id, 1)]).order_id
    sandbox.state.ship(order, "SF", "SF1")
    sandbox.state.after_sales.open(order, AfterSaleType.RETURN_REFUND)
    clock.advance(5)
    monkeypatch.delitem(aftersales.STEPS, "32")
    with pytest.raises(MalformedResponse, match="unknown step '32'"):
        [c async for c in shop.client.iter_after_sales(TimeWindow(start=start, end=clock.now()))]
