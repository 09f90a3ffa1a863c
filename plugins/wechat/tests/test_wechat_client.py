"""The plugin's operations against the sandbox, beyond the contract: delta stock edge
cases, per-update failures, price grouping, order windows and paging, shipments and
limited-time discounts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from hub.errors import PermissionDenied, QuotaExhausted
from hub.models import (
    ListingRef,
    OrderStatus,
    PriceUpdate,
    Promotion,
    PromotionItem,
    PromotionKind,
    PromotionPush,
    Shipment,
    StockUpdate,
    TimeWindow,
)
from hub.plugins import PluginHost
from hub.simulator.transport import SandboxTransport
from hub.testing import FakeClock, make_shop
from hub_wechat.sandbox import WechatSandbox

from .conftest import sku_of

pytestmark = pytest.mark.anyio

FLASH, PERCENT, SPEND_SAVE = (
    PromotionKind.FLASH_PRICE,
    PromotionKind.PERCENT_DISCOUNT,
    PromotionKind.SPEND_SAVE,
)


def ref(sku: Any) -> ListingRef:
    return ListingRef(platform_item_id=sku.item_id, platform_sku_id=sku.sku_id, master_code=sku.code)


def stock(sku: Any, quantity: int, delta: int | None = None, key: str = "k") -> StockUpdate:
    return StockUpdate(ref=ref(sku), quantity=quantity, delta=delta, idempotency_key=key)


# --- stock ----------------------------------------------------------------------------------------


async def test_a_subtraction_beyond_the_stock_takes_what_is_left(
    host: PluginHost, shop: Any, sandbox: WechatSandbox
) -> None:
    sku = sku_of(sandbox, "CUP-500")
    sandbox.state.set_quantity(sku.sku_id, 2)  # buyers took units since the hub read 10
    [result] = await shop.client.push_stock([stock(sku, 0, delta=-10)])
    assert result.ok and sandbox.state.sku(sku.sku_id).quantity == 0


async def test_taking_what_is_left_is_in_doubt_when_its_answer_is_lost(
    host: PluginHost, shop: Any, sandbox: WechatSandbox
) -> None:
    sku = sku_of(sandbox, "CUP-500")
    sandbox.state.set_quantity(sku.sku_id, 2)
    sandbox.faults.inject("lost_response", when='"num":2}')  # the write of the 2 units left
    [result] = await shop.client.push_stock([stock(sku, 0, delta=-10)])
    # The subtraction was applied (nothing is left) but its answer was lost: not resent,
    # and in doubt, so the engine re-reads rather than trusting or repeating it.
    assert not result.ok and result.in_doubt and not result.retryable
    assert sandbox.state.sku(sku.sku_id).quantity == 0


async def test_taking_what_is_left_with_no_answer_is_in_doubt(
    host: PluginHost, shop: Any, sandbox: WechatSandbox
) -> None:
    sku = sku_of(sandbox, "CUP-500")
    sandbox.state.set_quantity(sku.sku_id, 2)
    sandbox.faults.inject("timeout", when='"num":2')  # the second subtraction gets no answer
    [result] = await shop.client.push_stock([stock(sku, 0, delta=-10)])
    assert not result.ok and result.in_doubt and not result.retryable  # re-read, never resent
    assert sandbox.faults.injected["timeout"] == 1


async def test_a_refused_subtraction_whose_stock_read_fails_is_tried_again(
    host: PluginHost, shop: Any, sandbox: WechatSandbox
) -> None:
    sku = sku_of(sandbox, "CUP-500")
    sandbox.state.set_quantity(sku.sku_id, 2)
    sandbox.faults.inject("server_error", times=10, when="stock/get")
    [result] = await shop.client.push_stock([stock(sku, 0, delta=-10)])
    assert not result.ok and result.retryable and not result.in_doubt  # refused: nothing applied
    assert "could not be read" in (result.error or "")
    assert sandbox.state.sku(sku.sku_id).quantity == 2


async def test_a_zero_delta_sends_nothing(host: PluginHost, shop: Any, sandbox: WechatSandbox) -> None:
    [result] = await shop.client.push_stock([stock(sku_of(sandbox, "CUP-500"), 15, delta=0)])
    assert result.ok and sandbox.calls["product/stock/update"] == 0


async def test_one_bad_update_does_not_fail_the_batch(
    host: PluginHost, shop: Any, sandbox: WechatSandbox
) -> None:
    good = sku_of(sandbox, "CABLE-1M")
    ghost = ListingRef(platform_item_id=good.item_id, platform_sku_id="999999999")
    updates = [StockUpdate(ref=ghost, quantity=1, idempotency_key="ghost"), stock(good, 9, key="good")]
    results = {r.idempotency_key: r for r in await shop.client.push_stock(updates)}
    assert not results["ghost"].ok and not results["ghost"].retryable and "10020052" in results["ghost"].error
    assert results["good"].ok and results["good"].quantity_after == 9
    assert sandbox.state.sku(good.sku_id).quantity == 9


async def test_stock_of_different_skus_is_written_concurrently_and_of_one_sku_in_turn(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.latency = 0.02  # on the fake clock: a call in flight lets the others go on
    flight: list[int] = [0]
    most, order = [0], []
    answer = SandboxTransport.handle_async_request

    async def counted(transport: SandboxTransport, request: httpx.Request) -> httpx.Response:
        writes = request.url.path.endswith("product/stock/update")
        if writes:
            flight[0] += 1
            most[0] = max(most[0], flight[0])
            order.append(json.loads(request.content)["sku_id"])
        try:
            return await answer(transport, request)
        finally:
            flight[0] -= writes

    monkeypatch.setattr(SandboxTransport, "handle_async_request", counted)
    one, two, three = (sku_of(sandbox, code) for code in ("CABLE-1M", "CABLE-2M", "CUP-500"))
    updates = [
        stock(one, 5, key="1a"),
        stock(two, 6, key="2"),
        stock(one, 7, key="1b"),
        stock(three, 8, key="3"),
    ]
    results = await shop.client.push_stock(updates)
    assert [r.idempotency_key for r in results] == ["1a", "2", "1b", "3"] and all(r.ok for r in results)
    assert most[0] >= 2  # SKUs at once (paced by the rate limiter), never one SKU twice at once
    assert [sku for sku in order if sku == one.sku_id] == [one.sku_id] * 2
    assert sandbox.state.sku(one.sku_id).quantity == 7  # its second update landed last


async def test_stock_refused_under_audit(host: PluginHost, shop: Any, sandbox: WechatSandbox) -> None:
    sku = sku_of(sandbox, "CUP-500")
    sandbox.set_edit_status(sku.item_id, 2)
    [result] = await shop.client.push_stock([stock(sku, 3)])
    assert not result.ok and "10020049" in (result.error or "")


async def test_a_lost_delta_answer_is_not_resent(host: PluginHost, shop: Any, sandbox: WechatSandbox) -> None:
    sku = sku_of(sandbox, "CUP-500")
    sandbox.faults.inject("lost_response")
    [result] = await shop.client.push_stock([stock(sku, 20, delta=5)])
    assert not result.ok and not result.retryable and result.in_doubt
    assert "outcome unknown" in (result.error or "")
    assert sandbox.state.sku(sku.sku_id).quantity == 20  # applied exactly once
    assert sandbox.calls["product/stock/update"] == 1


async def test_a_lost_absolute_answer_is_resent(host: PluginHost, shop: Any, sandbox: WechatSandbox) -> None:
    sku = sku_of(sandbox, "CUP-500")
    sandbox.faults.inject("lost_response")
    [result] = await shop.client.push_stock([stock(sku, 4)])
    assert result.ok and sandbox.state.sku(sku.sku_id).quantity == 4
    assert sandbox.calls["product/stock/update"] == 2


async def test_daily_quota_stops_the_batch(host: PluginHost, shop: Any, sandbox: WechatSandbox) -> None:
    sandbox.daily_quota = 1
    skus = [sku_of(sandbox, "CABLE-1M"), sku_of(sandbox, "CABLE-2M")]
    with pytest.raises(QuotaExhausted):
        await shop.client.push_stock([stock(s, 1, key=s.sku_id) for s in skus])
    assert sandbox.calls["product/stock/update"] == 2  # not retried


async def test_sku_update_frequency_is_retried_then_reported(
    info: Any, sandbox: WechatSandbox, clock: FakeClock, host: PluginHost
) -> None:
    hits = []

    def answer(request: httpx.Request) -> httpx.Response:
        hits.append(request.url.path)
        return httpx.Response(200, json={"errcode": 10020112, "errmsg": "sku update too frequently rid: a-b"})

    shop = make_shop(info, sandbox, clock=clock, transport=httpx.MockTransport(answer))
    [result] = await shop.client.push_stock([stock(sku_of(sandbox, "CUP-500"), 1, delta=-1)])
    await shop.client.aclose()
    assert not result.ok and result.retryable and len(hits) == 5  # RateLimited: resent, never applied


async def test_fetch_stock_leaves_out_unknown_skus(
    host: PluginHost, shop: Any, sandbox: WechatSandbox
) -> None:
    known = sku_of(sandbox, "CUP-500")
    ghost = ListingRef(platform_item_id=known.item_id, platform_sku_id="999999999")
    levels = await shop.client.fetch_stock([ghost, ref(known)])
    assert [(x.platform_sku_id, x.quantity) for x in levels] == [(known.sku_id, 15)]


# --- prices -------------------------------------------------------------------------------------


async def test_prices_go_one_call_per_product(host: PluginHost, shop: Any, sandbox: WechatSandbox) -> None:
    codes = ["TSHIRT-RED-M", "TSHIRT-RED-L", "CABLE-1M"]
    updates = [
        PriceUpdate(ref=ref(sku_of(sandbox, c)), price=1000 + i, idempotency_key=c)
        for i, c in enumerate(codes)
    ]
    results = await shop.client.push_prices(updates)
    assert [r.ok for r in results] == [True] * 3 and [r.idempotency_key for r in results] == codes
    assert sandbox.calls["product/auditfree"] == 2
    assert [sku_of(sandbox, c).price for c in codes] == [1000, 1001, 1002]


async def test_a_refused_price_fails_its_product_only(
    host: PluginHost, shop: Any, sandbox: WechatSandbox
) -> None:
    good = sku_of(sandbox, "CABLE-1M")
    ghost = ListingRef(platform_item_id="10000000000000", platform_sku_id="1")
    results = await shop.client.push_prices(
        [
            PriceUpdate(ref=ghost, price=100, idempotency_key="ghost"),
            PriceUpdate(ref=ref(good), price=2990, idempotency_key="good"),
        ]
    )
    assert [(r.idempotency_key, r.ok) for r in results] == [("ghost", False), ("good", True)]
    assert sandbox.state.sku(good.sku_id).price == 2990


# --- listings -------------------------------------------------------------------------------------


async def test_listings_page_and_show_off_sale_items(
    host: PluginHost, shop_factory: Any, sandbox: WechatSandbox
) -> None:
    cup = sku_of(sandbox, "CUP-500")
    sandbox.state.items[cup.item_id].on_sale = False
    shop = shop_factory(product_page_size=1)
    got = [x async for x in shop.client.iter_listings()]
    assert len(got) == 6 and sandbox.calls["product/list/get"] >= 3
    assert {x.status.value for x in got if x.platform_item_id == cup.item_id} == {"off_sale"}


async def test_the_master_code_source_is_a_setting(host: PluginHost, shop_factory: Any) -> None:
    by_sku_code = [x.master_code async for x in shop_factory().client.iter_listings()]
    assert sum(code is None for code in by_sku_code) == 1  # the SKU without a code stays None
    # The sandbox's merchant filled no out_sku_id: read from there, nothing matches.
    by_out_id = [
        x.master_code async for x in shop_factory(master_code_source="out_sku_id").client.iter_listings()
    ]
    assert by_out_id == [None] * 6


# --- orders ---------------------------------------------------------------------------------------


async def order_ids(host: PluginHost, shop: Any, start: datetime, end: datetime) -> list[str]:
    return [o.platform_order_id async for o in shop.client.iter_orders(TimeWindow(start=start, end=end))]


async def test_windows_longer_than_seven_days_are_split(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    sku = sku_of(sandbox, "CABLE-1M")
    start = clock.now() - timedelta(days=20)
    placed = [
        sandbox.state.place_order([(sku.sku_id, 1)], at=start + timedelta(days=d, hours=3)).order_id
        for d in range(20)
    ]
    orders = [o async for o in shop.client.iter_orders(TimeWindow(start=start, end=clock.now()))]
    assert sorted(o.platform_order_id for o in orders) == sorted(placed)
    assert sandbox.calls["order/list/get"] == 3  # 7 + 7 + 6 days


async def test_a_read_of_new_orders_fetches_only_the_orders_not_held(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    sku = sku_of(sandbox, "CABLE-1M")
    start = clock.now()
    placed = [sandbox.state.place_order([(sku.sku_id, 1)]).order_id for _ in range(5)]
    clock.advance(1)
    window = TimeWindow(start=start, end=clock.now())
    new = [o.platform_order_id async for o in shop.client.iter_new_orders(window, set(placed[:3]))]
    assert new == placed[3:]
    # One list call, and order/get for the two new orders only (not for the held three).
    assert sandbox.calls["order/list/get"] == 1 and sandbox.calls["order/get"] == 2


async def test_adjacent_windows_share_no_order(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    sku = sku_of(sandbox, "CABLE-1M")
    start = clock.now()
    clock.advance(60)
    boundary = clock.now()
    on_the_line = sandbox.state.place_order([(sku.sku_id, 1)])  # modified exactly at the boundary
    clock.advance(60)
    first = await order_ids(host, shop, start, boundary)
    second = await order_ids(host, shop, boundary, clock.now())
    assert first == [] and second == [on_the_line.order_id]


async def test_order_pages_follow_has_more(
    host: PluginHost, shop_factory: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    sku = sku_of(sandbox, "CABLE-1M")
    start = clock.now()
    placed = []
    for _ in range(5):
        clock.advance(1)
        placed.append(sandbox.state.place_order([(sku.sku_id, 1)]).order_id)
    clock.advance(1)
    shop = shop_factory(order_page_size=2)
    got = await order_ids(host, shop, start, clock.now())
    assert got == placed and sandbox.calls["order/list/get"] == 3


async def test_order_lines_and_paid_time(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    start = clock.now()
    cup, cable = sku_of(sandbox, "CUP-500"), sku_of(sandbox, "CABLE-1M")
    placed = sandbox.state.place_order([(cup.sku_id, 1), (cable.sku_id, 2)])
    clock.advance(30)
    sandbox.state.set_status(placed.order_id, OrderStatus.REFUNDED)
    clock.advance(30)
    [order] = [o async for o in shop.client.iter_orders(TimeWindow(start=start, end=clock.now()))]
    assert order.status is OrderStatus.REFUNDED and order.platform_status == "200"
    assert order.paid_at == placed.paid_at and order.total == 12900 + 2 * 1990
    assert [(ln.line_id, ln.master_code, ln.refunded) for ln in order.lines] == [
        (cup.sku_id, "CUP-500", True),
        (cable.sku_id, "CABLE-1M", True),
    ]


# --- shipments ------------------------------------------------------------------------------------


def shipment(order_id: str, tracking: str, lines: tuple[str, ...] = (), carrier: str = "SF") -> Shipment:
    return Shipment(
        platform_order_id=order_id,
        carrier=carrier,
        tracking_number=tracking,
        line_ids=lines,
        idempotency_key=f"ship-{tracking}",
    )


async def test_partial_then_full_shipment(host: PluginHost, shop: Any, sandbox: WechatSandbox) -> None:
    cup, cable = sku_of(sandbox, "CUP-500"), sku_of(sandbox, "CABLE-1M")
    order = sandbox.state.place_order([(cup.sku_id, 1), (cable.sku_id, 2)])
    first = await shop.client.ship(shipment(order.order_id, "SF1", (cup.sku_id,)))
    assert first.ok and sandbox.state.order(order.order_id).status is OrderStatus.PARTLY_SHIPPED
    rest = await shop.client.ship(shipment(order.order_id, "SF2"))
    assert rest.ok and sandbox.state.order(order.order_id).status is OrderStatus.SHIPPED
    assert [d["waybill_id"] for d in sandbox.deliveries[order.order_id]] == ["SF1", "SF2"]
    assert sandbox.deliveries[order.order_id][1]["product_infos"] == [
        {"product_id": cable.item_id, "sku_id": cable.sku_id, "product_cnt": 2}
    ]


async def test_repeating_a_shipment_is_success_without_resending(
    host: PluginHost, shop: Any, sandbox: WechatSandbox
) -> None:
    order = sandbox.state.place_order([(sku_of(sandbox, "CUP-500").sku_id, 1)])
    assert (await shop.client.ship(shipment(order.order_id, "SF9"))).ok
    again = await shop.client.ship(shipment(order.order_id, "SF9"))
    assert again.ok and sandbox.calls["order/delivery/send"] == 1


async def test_a_lost_shipment_answer_is_checked_on_the_order(
    host: PluginHost, shop: Any, sandbox: WechatSandbox
) -> None:
    order = sandbox.state.place_order([(sku_of(sandbox, "CUP-500").sku_id, 1)])
    sandbox.faults.inject("lost_response")
    result = await shop.client.ship(shipment(order.order_id, "SF7"))
    assert result.ok and sandbox.calls["order/delivery/send"] == 1
    assert sandbox.state.order(order.order_id).tracking_number == "SF7"


async def test_refused_shipments(host: PluginHost, shop: Any, sandbox: WechatSandbox) -> None:
    sku = sku_of(sandbox, "CUP-500")
    unpaid = sandbox.state.place_order([(sku.sku_id, 1)], paid=False)
    refused = await shop.client.ship(shipment(unpaid.order_id, "SF3"))
    assert not refused.ok and "does not allow delivery" in (refused.error or "")
    paid = sandbox.state.place_order([(sku.sku_id, 1)])
    unknown_line = await shop.client.ship(shipment(paid.order_id, "SF4", ("nope",)))
    assert not unknown_line.ok and "no line 'nope'" in (unknown_line.error or "")
    missing = await shop.client.ship(shipment("3712984209000000000", "SF5"))
    assert not missing.ok


async def test_carrier_codes_are_mapped(host: PluginHost, shop_factory: Any, sandbox: WechatSandbox) -> None:
    shop = shop_factory(carrier_codes={"shunfeng": "SF"})
    order = sandbox.state.place_order([(sku_of(sandbox, "CUP-500").sku_id, 1)])
    assert (await shop.client.ship(shipment(order.order_id, "SF8", carrier="shunfeng"))).ok
    assert sandbox.state.order(order.order_id).carrier == "SF"


# --- limited-time discounts -----------------------------------------------------------------------


def push(
    sandbox: WechatSandbox,
    clock: FakeClock,
    codes: tuple[str, ...],
    *,
    kind: PromotionKind,
    hours: float = 2,
    starts_in: float = 3600,
    **numbers: Any,
) -> PromotionPush:
    promotion = Promotion(
        name="p",
        kind=kind,
        skus=codes,
        shops=("shop1",),
        starts_at=clock.now() + timedelta(seconds=starts_in),
        ends_at=clock.now() + timedelta(seconds=starts_in + hours * 3600),
        **numbers,
    )
    items = tuple(
        PromotionItem(
            ref=ref(sku_of(sandbox, c)),
            regular_price=sku_of(sandbox, c).price,
            promotion_price=promotion.price_for(sku_of(sandbox, c).price),
        )
        for c in codes
    )
    return PromotionPush(promotion_id=1, promotion=promotion, items=items, idempotency_key="promo")


def task_bodies(sandbox: WechatSandbox) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(t.skus)) for t in sandbox.tasks.values()]


async def test_flash_price_offers_every_unit(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    started = await shop.client.start_promotion(
        push(sandbox, clock, ("CUP-500",), kind=FLASH, flash_price=9900)
    )
    assert started.ok and started.platform_ref in sandbox.tasks
    cup = sku_of(sandbox, "CUP-500")
    assert task_bodies(sandbox) == [[{"sku_id": cup.sku_id, "sale_price": 9900, "sale_stock": 15}]]


async def test_a_refused_task_is_ok_false_and_leaves_nothing_running(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    # 20 % off: TSHIRT (59.90 -> 47.92, 11.98 yuan off) is accepted; CABLE-2M (25.90 -> 20.72)
    # is only 5.18 yuan off: refused, so the TSHIRT task must be stopped again.
    codes = ("TSHIRT-RED-M", "CABLE-2M")
    started = await shop.client.start_promotion(push(sandbox, clock, codes, kind=PERCENT, percent_off=20))
    assert not started.ok and "refused" in (started.error or "") and "10 yuan off" in (started.error or "")
    assert not any(p.active for p in sandbox.state.promotions.values())  # the first task was stopped


async def test_longer_than_a_day_is_refused(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    started = await shop.client.start_promotion(
        push(sandbox, clock, ("CUP-500",), hours=30, kind=FLASH, flash_price=9900)
    )
    assert not started.ok and "24 hours" in (started.error or "")


async def test_spend_save_is_not_native(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    started = await shop.client.start_promotion(
        push(sandbox, clock, ("CUP-500",), kind=SPEND_SAVE, spend_threshold=20000, spend_discount=2000)
    )
    assert not started.ok and sandbox.calls["product/limiteddiscounttask/add"] == 0


async def test_a_promotion_that_already_started_begins_now(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    started = await shop.client.start_promotion(
        push(sandbox, clock, ("CUP-500",), starts_in=-1800, kind=FLASH, flash_price=9900)
    )
    assert started.ok
    cup = sku_of(sandbox, "CUP-500")
    assert sandbox.state.effective_price(cup.sku_id) == 9900


async def test_ending_twice_or_after_the_end_is_success(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    the_push = push(sandbox, clock, ("CUP-500",), kind=FLASH, flash_price=9900, hours=1)
    started = await shop.client.start_promotion(the_push)
    assert (await shop.client.end_promotion(the_push, started.platform_ref or "")).ok
    assert (await shop.client.end_promotion(the_push, started.platform_ref or "")).ok
    assert sandbox.errors[10020303] == 1  # the platform refused the second stop; we checked the task

    other = push(sandbox, clock, ("CABLE-1M",), kind=FLASH, flash_price=990, hours=1)
    started = await shop.client.start_promotion(other)
    assert started.ok, started.error
    clock.advance(3 * 3600)  # ended on its own
    assert (await shop.client.end_promotion(other, started.platform_ref or "")).ok


async def test_ending_a_task_the_platform_does_not_know_is_success(
    host: PluginHost, shop: Any, sandbox: WechatSandbox, clock: FakeClock
) -> None:
    the_push = push(sandbox, clock, ("CUP-500",), kind=FLASH, flash_price=9900)
    ended = await shop.client.end_promotion(the_push, "123")
    assert ended.ok  # not on the platform at all: nothing is running
    assert sandbox.calls["product/limiteddiscounttask/list/get"] == 1


async def test_rate_limited_start_is_reported_retryable(
    info: Any, sandbox: WechatSandbox, clock: FakeClock, host: PluginHost
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("stock/get"):
            return httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "data": {"normal_stock_num": 3}})
        return httpx.Response(200, json={"errcode": 45011, "errmsg": "api minute-quota reach limit"})

    shop = make_shop(info, sandbox, clock=clock, transport=httpx.MockTransport(answer))
    result = await shop.client.start_promotion(
        push(sandbox, clock, ("CUP-500",), kind=FLASH, flash_price=9900)
    )
    await shop.client.aclose()
    assert not result.ok and result.retryable


def answering(errcode: int) -> httpx.MockTransport:
    return httpx.MockTransport(
        lambda request: httpx.Response(200, json={"errcode": errcode, "errmsg": f"code {errcode} rid: 1-2-3"})
    )


async def test_unclassified_codes_fail_the_update_not_the_batch(
    info: Any, sandbox: WechatSandbox, clock: FakeClock, host: PluginHost
) -> None:
    shop = make_shop(info, sandbox, clock=clock, transport=answering(99999))
    sku = sku_of(sandbox, "CUP-500")
    results = await shop.client.push_stock([stock(sku, 1, key="a"), stock(sku, 2, key="b")])
    prices = await shop.client.push_prices([PriceUpdate(ref=ref(sku), price=100, idempotency_key="p")])
    await shop.client.aclose()
    assert [(r.ok, r.retryable) for r in results + prices] == [(False, False)] * 3
    assert "unclassified" in (results[0].error or "")


@pytest.mark.parametrize("errcode", [48001, 45035])
async def test_permission_problems_stop_every_write(
    info: Any, sandbox: WechatSandbox, clock: FakeClock, host: PluginHost, errcode: int
) -> None:
    shop = make_shop(info, sandbox, clock=clock, transport=answering(errcode))
    sku = sku_of(sandbox, "CUP-500")
    with pytest.raises(PermissionDenied):
        await shop.client.push_stock([stock(sku, 1)])
    with pytest.raises(PermissionDenied):
        await shop.client.push_prices([PriceUpdate(ref=ref(sku), price=100, idempotency_key="p")])
    await shop.client.aclose()
