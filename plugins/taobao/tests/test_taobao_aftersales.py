"""Taobao refunds (taobao.refunds.receive.get) read as hub after-sale cases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hub.errors import MalformedResponse
from hub.models import AfterSaleStatus, AfterSaleType, TimeWindow
from hub.platform import ShopContext
from hub.testing import FakeClock
from hub.testing.aftersales_contract import after_sales_scenario
from hub_taobao import aftersales as refunds
from hub_taobao.aftersales import case_from_refund
from hub_taobao.sandbox import TaobaoSandbox

pytestmark = pytest.mark.anyio

#: a refund as TOP documents its fields (yuan strings, GMT+8 times, has_good_return)
REFUND = {
    "refund_id": 2000000123,
    "tid": 3500000000000000123,
    "oid": 3600000000000000123,
    "num_iid": 600000000001,
    "sku_id": 4000000000001,
    "outer_id": "CUP-500",
    "num": 2,
    "refund_fee": "258.00",
    "status": "WAIT_BUYER_RETURN_GOODS",
    "has_good_return": "true",
    "good_status": "BUYER_RECEIVED",
    "created": "2026-11-11 10:00:00",
    "modified": "2026-11-11 10:05:00",
    "reason": "尺码不合适",
}


def test_a_refund_maps_to_a_case_in_fen_and_utc() -> None:
    case = case_from_refund(REFUND)
    assert (case.platform_case_id, case.platform_order_id) == ("2000000123", "3500000000000000123")
    assert (case.type, case.status, case.platform_status) == (
        AfterSaleType.RETURN_REFUND,
        AfterSaleStatus.RETURNING,
        "WAIT_BUYER_RETURN_GOODS",
    )
    assert case.refund_amount == 25800
    assert case.modified_at.isoformat() == "2026-11-11T02:05:00+00:00"
    [line] = case.lines
    assert (line.line_id, line.platform_sku_id, line.master_code, line.quantity) == (
        "3600000000000000123",
        "4000000000001",
        "CUP-500",
        2,
    )
    done = case_from_refund({**REFUND, "status": "SUCCESS"})
    assert done.received  # TOP refunds a return once the seller confirmed the goods
    refund_only = case_from_refund({**REFUND, "has_good_return": False, "status": "SUCCESS"})
    assert refund_only.type is AfterSaleType.REFUND_ONLY and not refund_only.received


async def test_refunds_are_read_page_by_page_and_follow_their_life_cycle(
    shop_factory: Callable[..., ShopContext], sandbox: TaobaoSandbox, clock: FakeClock
) -> None:
    shop = shop_factory(refund_page_size=2)
    kinds = (AfterSaleType.REFUND_ONLY, AfterSaleType.RETURN_REFUND)
    await after_sales_scenario(shop, sandbox, clock, "CABLE-1M", kinds=kinds)


async def test_exchanges_are_not_refunds_and_an_unknown_status_is_malformed(
    shop: ShopContext, sandbox: TaobaoSandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = clock.now()
    cable = sandbox.state.skus_by_code("CABLE-1M")[0]
    order = sandbox.state.place_order([(cable.sku_id, 1)]).order_id
    sandbox.state.ship(order, "SF", "SF1")
    sandbox.state.after_sales.open(order, AfterSaleType.EXCHANGE)
    clock.advance(5)
    window = TimeWindow(start=start, end=clock.now())
    assert [c async for c in shop.client.iter_after_sales(window)] == []
    sandbox.state.after_sales.open(order, AfterSaleType.RETURN_REFUND)
    clock.advance(5)
    monkeypatch.delitem(refunds.STATUS, "WAIT_BUYER_RETURN_GOODS")  # a status we would not know
    with pytest.raises(MalformedResponse, match="unknown status 'WAIT_BUYER_RETURN_GOODS'"):
        [c async for c in shop.client.iter_after_sales(TimeWindow(start=start, end=clock.now()))]
