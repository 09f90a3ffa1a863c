"""Douyin after-sale orders (/afterSale/List, UNCONFIRMED shape) as hub cases."""

from __future__ import annotations

import pytest

from hub.errors import PlatformError
from hub.models import AfterSaleStatus, AfterSaleType, TimeWindow
from hub.testing.aftersales_contract import after_sales_scenario
from hub_douyin import aftersales
from hub_douyin.aftersales import case_from_item
from hub_douyin.mappers import DataError

pytestmark = pytest.mark.anyio

ITEM = {
    "aftersale_info": {
        "aftersale_id": "7100000000000000001",
        "aftersale_type": 0,
        "aftersale_status": 7,
        "apply_time": 1762826400,
        "update_time": 1762830000,
        "refund_amount": 12900,
        "reason": "不想要了",
    },
    "order_info": {
        "shop_order_id": "6921000000000000001",
        "related_order_info": [
            {
                "sku_order_id": "6921000000000000002",
                "product_id": "3580000000000000001",
                "sku_id": 1737000000000001,
                "shop_sku_code": "CUP-500",
                "aftersale_item_num": 2,
            }
        ],
    },
}


def test_an_after_sale_item_maps_to_a_case_in_fen() -> None:
    case = case_from_item(ITEM)
    assert case is not None
    assert (case.platform_case_id, case.platform_order_id, case.type, case.status) == (
        "7100000000000000001",
        "6921000000000000001",
        AfterSaleType.RETURN_REFUND,
        AfterSaleStatus.RETURNING,
    )
    assert case.refund_amount == 12900 and case.modified_at.isoformat() == "2025-11-11T03:00:00+00:00"
    [line] = case.lines
    assert (line.line_id, line.platform_sku_id, line.master_code, line.quantity) == (
        "6921000000000000002",
        "1737000000000001",
        "CUP-500",
        2,
    )
    success = case_from_item({**ITEM, "aftersale_info": {**ITEM["aftersale_info"], "aftersale_status": 12}})
    assert success.received
    price_protection = {**ITEM, "aftersale_info": {**ITEM["aftersale_info"], "aftersale_type": 6}}
    assert case_from_item(price_protection) is None
    with pytest.raises(DataError, match="unknown aftersale_status 99"):
        case_from_item({**ITEM, "aftersale_info": {**ITEM["aftersale_info"], "aftersale_status": 99}})


async def test_after_sales_are_read_page_by_page(shop_factory, sandbox, clock) -> None:
    await after_sales_scenario(shop_factory(page_size=2), sandbox, clock, "CABLE-1M")


async def test_an_unknown_status_is_a_platform_error(shop, sandbox, clock, monkeypatch) -> None:
    start = clock.now()
    cable = sandbox.state.skus_by_code("CABLE-1M")[0]
    order = sandbox.state.place_order([(cable.sku_id, 1)]).order_id
    sandbox.state.after_sales.open(order, AfterSaleType.REFUND_ONLY)
    clock.advance(5)
    monkeypatch.delitem(aftersales.STATUSES, 12)
    with pytest.raises(PlatformError, match="unknown aftersale_status 12"):
        [c async for c in shop.client.iter_after_sales(TimeWindow(start=start, end=clock.now()))]
