"""WeChat store after-sale orders (getaftersalelist + getaftersaleorder) as hub cases."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hub.errors import InvalidRequest, MalformedResponse
from hub.models import AfterSaleStatus, AfterSaleType, TimeWindow
from hub.platform import ShopContext
from hub.testing import FakeClock
from hub.testing.aftersales_contract import after_sales_scenario
from hub_wechat.aftersales import case_from_wire
from hub_wechat.sandbox import WechatSandbox

pytestmark = pytest.mark.anyio

#: the documented getaftersaleorder after_sale_order shape (fen, Unix seconds)
WIRE = {
    "after_sale_order_id": "1934164653012121",
    "status": "USER_WAIT_RETURN",
    "order_id": "3704612354127646464",
    "type": "RETURN",
    "product_info": {"product_id": "10000029995861", "sku_id": "1380518272", "count": 2},
    "refund_info": {"amount": 1180},
    "create_time": 1762826400,
    "update_time": 1762830000,
}


def test_an_after_sale_order_maps_to_a_case() -> None:
    case = case_from_wire(WIRE)
    assert (case.platform_case_id, case.platform_order_id, case.type, case.status) == (
        "1934164653012121",
        "3704612354127646464",
        AfterSaleType.RETURN_REFUND,
        AfterSaleStatus.RETURNING,
    )
    assert case.refund_amount == 1180
    [line] = case.lines
    assert (line.platform_sku_id, line.line_id, line.quantity) == ("1380518272", "1380518272", 2)
    # a return's refund starts once the merchant confirmed the goods; a refund's does not
    assert case_from_wire({**WIRE, "status": "PLATFORM_REFUNDING"}).received
    refund = case_from_wire({**WIRE, "type": "REFUND", "status": "PLATFORM_REFUNDING"})
    assert refund.status is AfterSaleStatus.APPROVED and not refund.received
    with pytest.raises(ValueError, match="unknown status 'SOMETHING_NEW'"):
        case_from_wire({**WIRE, "status": "SOMETHING_NEW"})


async def test_after_sales_are_read_by_next_key_then_one_by_one(
    shop: ShopContext, sandbox: WechatSandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "aftersale_page_size", 2)
    await after_sales_scenario(shop, sandbox, clock, "CABLE-1M")
    assert sandbox.calls["aftersale/getaftersalelist"] >= 4  # several pages


async def test_the_create_time_pair_is_a_setting_and_24_hours_is_the_limit(
    shop_factory: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    sent: list[dict[str, Any]] = []
    original = sandbox.handle

    def spy(request):  # type: ignore[no-untyped-def]
        if "aftersale" in request.url.path:
            sent.append(json.loads(request.content))
        return original(request)

    sandbox.handle = spy  # type: ignore[method-assign]
    shop = shop_factory(aftersale_time_field="create")
    start = clock.now()
    clock.advance(30 * 3600)
    assert [c async for c in shop.client.iter_after_sales(TimeWindow(start=start, end=clock.now()))] == []
    slices = {tuple(sorted(b.items())) for b in sent}  # a call retried after a token refresh counts once
    assert len(slices) == 2 and {frozenset(b) for b in sent} == {
        frozenset({"begin_create_time", "end_create_time"})
    }
    assert all(b["end_create_time"] - b["begin_create_time"] <= 24 * 3600 for b in sent)
    with pytest.raises(InvalidRequest):
        await shop.client.request(
            "aftersale/getaftersalelist", {"begin_update_time": 0, "end_update_time": 90000}
        )


async def test_an_unknown_status_is_malformed(
    shop: ShopContext, sandbox: WechatSandbox, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub_wechat import aftersales

    start = clock.now()
    cable = sandbox.state.skus_by_code("CABLE-1M")[0]
    order = sandbox.state.place_order([(cable.sku_id, 1)]).order_id
    sandbox.state.after_sales.open(order, AfterSaleType.REFUND_ONLY)
    clock.advance(5)
    monkeypatch.delitem(aftersales.STATUSES, "MERCHANT_REFUND_SUCCESS")
    with pytest.raises(MalformedResponse, match="unknown status"):
        [c async for c in shop.client.iter_after_sales(TimeWindow(start=start, end=clock.now()))]
