"""The JD client's behaviour against the sandbox (and, for answers the sandbox never
gives, against hand-written JD answers)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from hub.core.http import RetryPolicy
from hub.errors import AuthError, InvalidRequest, MalformedResponse, NotFound
from hub.models import (
    ListingRef,
    ListingStatus,
    OrderStatus,
    PriceUpdate,
    Shipment,
    StockUpdate,
    TimeWindow,
)
from hub.platform import ShopContext
from hub.simulator import SandboxTransport
from hub.testing import FakeClock, make_shop
from hub_jd.client import MAX_QUERY_SPAN, JdClient
from hub_jd.plugin import INFO
from hub_jd.sandbox import JdSandbox

pytestmark = pytest.mark.anyio

SEARCH = "jingdong.pop.order.search"
NO_WAIT = RetryPolicy(initial_wait=0, max_wait=0, jitter=0)


class Recorder(httpx.AsyncBaseTransport):
    """Forwards to the sandbox and keeps (method, business params) of every request."""

    def __init__(self, sandbox: JdSandbox):
        self.inner = SandboxTransport(sandbox)
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl((await request.aread()).decode()))
        self.sent.append((request.url.params["method"], json.loads(form["360buy_param_json"])))
        return await self.inner.handle_async_request(request)


def scripted(answers: Callable[[str, dict[str, Any]], Any]) -> httpx.MockTransport:
    """A transport answering ``answers(method, business_params)`` as JSON."""

    def handler(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        body = answers(request.url.params["method"], json.loads(form["360buy_param_json"]))
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handler)


def shop_with(sandbox: JdSandbox, clock: FakeClock, **kw: Any) -> ShopContext:
    return make_shop(INFO, sandbox, clock=clock, retry=NO_WAIT, **kw)


def ref(sandbox: JdSandbox, code: str) -> ListingRef:
    sku = sandbox.state.skus_by_code(code)[0]
    return ListingRef(platform_item_id=sku.item_id, platform_sku_id=sku.sku_id, master_code=code)


# --- listings -------------------------------------------------------------------------------


async def test_listings_page_through_the_shop(sandbox: JdSandbox, clock: FakeClock) -> None:
    recorder = Recorder(sandbox)
    shop = shop_with(sandbox, clock, transport=recorder, sku_page_size=4)
    listings = [x async for x in shop.client.iter_listings()]
    assert len(listings) == 6
    assert [p["pageNo"] for _, p in recorder.sent] == [1, 2]
    assert recorder.sent[0][1] == {"pageNo": 1, "pageSize": 4, "skuStatuValue": [1, 2]}
    next(iter(sandbox.state.items.values())).on_sale = False
    statuses = [x.status async for x in shop.client.iter_listings()]
    assert statuses.count(ListingStatus.OFF_SALE) == 2


async def test_listings_skip_deleted_and_duplicate_rows(clock: FakeClock, sandbox: JdSandbox) -> None:
    row = {"skuId": 11, "wareId": 10, "outerId": "A", "jdPrice": 1.5, "stockNum": 1, "status": 1}
    pages = {1: [row, {**row, "skuId": 12, "status": 4}], 2: [row, {**row, "skuId": 13}]}

    def answers(method: str, params: dict[str, Any]) -> Any:
        data = pages.get(params["pageNo"], [])
        return {
            "jingdong_sku_read_searchSkuList_responce": {
                "code": "0",
                "page": {"data": data, "pageNo": params["pageNo"], "totalItem": 4},
            }
        }

    shop = shop_with(sandbox, clock, transport=scripted(answers), sku_page_size=2)
    listings = [x async for x in shop.client.iter_listings()]
    assert [x.platform_sku_id for x in listings] == ["11", "13"] and listings[0].price == 150


async def test_unreadable_listing_names_the_sku(clock: FakeClock, sandbox: JdSandbox) -> None:
    def answers(method: str, params: dict[str, Any]) -> Any:
        return {
            "jingdong_sku_read_searchSkuList_responce": {
                "code": "0",
                "page": {
                    "data": [{"skuId": 77, "wareId": 1, "jdPrice": "1.234", "stockNum": 1, "status": 1}]
                },
            }
        }

    shop = shop_with(sandbox, clock, transport=scripted(answers))
    with pytest.raises(MalformedResponse, match=r"skuId 77.*jdPrice"):
        _ = [x async for x in shop.client.iter_listings()]


async def test_a_listing_answer_without_a_page_is_malformed(clock: FakeClock, sandbox: JdSandbox) -> None:
    def answers(method: str, params: dict[str, Any]) -> Any:
        return {"jingdong_sku_read_searchSkuList_responce": {"code": "0"}}

    shop = shop_with(sandbox, clock, transport=scripted(answers))
    with pytest.raises(MalformedResponse, match="no page"):
        _ = [x async for x in shop.client.iter_listings()]


# --- stock and prices ---------------------------------------------------------------------------


async def test_stock_writes_are_absolute_and_reported_one_by_one(
    sandbox: JdSandbox, clock: FakeClock
) -> None:
    recorder = Recorder(sandbox)
    shop = shop_with(sandbox, clock, transport=recorder, stock_store_id=3)
    good = ref(sandbox, "CABLE-1M")
    missing = ListingRef(platform_item_id="1", platform_sku_id="99999999999")
    not_jd = ListingRef(platform_item_id="1", platform_sku_id="SKU-X")
    results = await shop.client.push_stock(
        [
            StockUpdate(ref=good, quantity=15, delta=5, idempotency_key="a"),
            StockUpdate(ref=missing, quantity=1, idempotency_key="b"),
            StockUpdate(ref=not_jd, quantity=1, idempotency_key="c"),
        ]
    )
    assert [(r.idempotency_key, r.ok) for r in results] == [("a", True), ("b", False), ("c", False)]
    assert results[0].quantity_after == 15 and sandbox.state.sku(good.platform_sku_id).quantity == 15
    assert "not exist" in (results[1].error or "") and not results[1].retryable
    assert "digits" in (results[2].error or "")
    sent = [p for m, p in recorder.sent if m == "jingdong.stock.write.updateSkuStock"]
    assert {"skuId": int(good.platform_sku_id), "stockNum": 15, "storeId": 3} in sent
    assert len(sent) == 2  # the non-JD id never left the hub


async def test_a_lost_stock_answer_is_resent(shop: ShopContext, sandbox: JdSandbox) -> None:
    sandbox.faults.inject("lost_response", 1)
    cup = ref(sandbox, "CUP-500")
    results = await shop.client.push_stock([StockUpdate(ref=cup, quantity=4, idempotency_key="k")])
    assert results[0].ok and sandbox.state.sku(cup.platform_sku_id).quantity == 4
    assert shop.client.stats.retries == 1


async def test_bad_credentials_raise_instead_of_failing_each_update(
    sandbox: JdSandbox, clock: FakeClock
) -> None:
    shop = shop_with(sandbox, clock, access_token="not-a-token")
    with pytest.raises(AuthError) as caught:
        await shop.client.push_stock(
            [StockUpdate(ref=ref(sandbox, "CUP-500"), quantity=1, idempotency_key="k")]
        )
    assert caught.value.code == "19" and not caught.value.refreshable


async def test_prices_are_sent_in_yuan(sandbox: JdSandbox, clock: FakeClock) -> None:
    recorder = Recorder(sandbox)
    shop = shop_with(sandbox, clock, transport=recorder)
    tee = ref(sandbox, "TSHIRT-RED-M")
    results = await shop.client.push_prices(
        [
            PriceUpdate(ref=tee, price=4990, idempotency_key="p1"),
            PriceUpdate(
                ref=ListingRef(platform_item_id="1", platform_sku_id="99999999999"),
                price=100,
                idempotency_key="p2",
            ),
        ]
    )
    assert [r.ok for r in results] == [True, False]
    assert (
        "jingdong.price.write.updateSkuJdPrice",
        {"skuId": int(tee.platform_sku_id), "jdPrice": "49.90"},
    ) in recorder.sent
    assert sandbox.state.sku(tee.platform_sku_id).price == 4990


async def test_fetch_stock_reads_each_sku(shop: ShopContext, sandbox: JdSandbox) -> None:
    levels = await shop.client.fetch_stock([ref(sandbox, "CUP-500"), ref(sandbox, "CABLE-2M")])
    assert [level.quantity for level in levels] == [15, 200]
    with pytest.raises(NotFound):
        await shop.client.fetch_stock([ListingRef(platform_item_id="1", platform_sku_id="99999999999")])


# --- orders --------------------------------------------------------------------------------


async def test_long_windows_are_split_under_a_month(sandbox: JdSandbox, clock: FakeClock) -> None:
    recorder = Recorder(sandbox)
    shop = shop_with(sandbox, clock, transport=recorder)
    start = clock.now() - timedelta(days=70)
    sku = sandbox.state.skus_by_code("CABLE-1M")[0]
    placed = [
        sandbox.state.place_order([(sku.sku_id, 1)], at=start + timedelta(days=d)).order_id
        for d in (0, 27.9, 28, 56.5, 69.9)
    ]
    orders = [o async for o in shop.client.iter_orders(TimeWindow(start=start, end=clock.now()))]
    assert [o.platform_order_id for o in orders] == placed
    searches = [p for m, p in recorder.sent if m == SEARCH]
    assert len(searches) == 3  # 70 days in spans of at most 28
    assert searches[0]["page_size"] == "100" and searches[0]["sortType"] == 0
    assert searches[0]["dateType"] == 0 and "WAIT_SELLER_STOCK_OUT" in searches[0]["order_state"]
    assert timedelta(days=28) >= MAX_QUERY_SPAN


async def test_window_edges_are_half_open_on_whole_seconds(
    shop: ShopContext, sandbox: JdSandbox, clock: FakeClock
) -> None:
    sku = sandbox.state.skus_by_code("CABLE-1M")[0]
    t0 = clock.now()
    inside = sandbox.state.place_order([(sku.sku_id, 1)], at=t0 + timedelta(seconds=9.5)).order_id
    at_end = sandbox.state.place_order([(sku.sku_id, 1)], at=t0 + timedelta(seconds=10)).order_id
    clock.advance(60)
    windows = [
        TimeWindow(start=t0, end=t0 + timedelta(seconds=9.7)),
        TimeWindow(start=t0 + timedelta(seconds=9.7), end=t0 + timedelta(seconds=10)),
        TimeWindow(start=t0 + timedelta(seconds=10), end=t0 + timedelta(seconds=20)),
    ]
    seen = [[o.platform_order_id async for o in shop.client.iter_orders(w)] for w in windows]
    # JD reports whole seconds: the order at 9.5 s shows as 9 s, inside the first window only.
    assert seen == [[inside], [], [at_end]]


@pytest.fixture
def five_orders(sandbox: JdSandbox, clock: FakeClock) -> list[str]:
    sku = sandbox.state.skus_by_code("CABLE-1M")[0]
    placed = []
    for _ in range(5):
        clock.advance(10)
        placed.append(sandbox.state.place_order([(sku.sku_id, 1)]).order_id)
    clock.advance(10)
    return placed


async def test_an_order_leaving_the_window_while_paging_skips_no_other(
    sandbox: JdSandbox, clock: FakeClock, five_orders: list[str]
) -> None:
    shop = shop_with(sandbox, clock, order_page_size=2)
    window = TimeWindow(start=clock.now() - timedelta(seconds=60), end=clock.now())
    got = []
    async for order in shop.client.iter_orders(window):
        got.append(order.platform_order_id)
        if len(got) == 2:  # the first order ships while we page: it leaves the window
            clock.advance(10)
            sandbox.state.ship(five_orders[0], "467", "SF1")
    # With plain page numbers the third order would slide onto page 1 and be skipped.
    assert got == five_orders


async def test_an_order_moving_within_the_window_is_reported_again(
    sandbox: JdSandbox, clock: FakeClock, five_orders: list[str]
) -> None:
    shop = shop_with(sandbox, clock, order_page_size=2)
    window = TimeWindow(start=clock.now() - timedelta(seconds=60), end=clock.now() + timedelta(hours=1))
    got = []
    async for order in shop.client.iter_orders(window):
        got.append((order.platform_order_id, order.status))
        if len(got) == 2:
            clock.advance(10)
            sandbox.state.ship(five_orders[0], "467", "SF1")
    assert [oid for oid, _ in got] == [*five_orders, five_orders[0]]  # its new version too
    assert got[-1][1] is OrderStatus.SHIPPED


async def test_unsorted_answers_fall_back_to_page_numbers(
    sandbox: JdSandbox, clock: FakeClock, five_orders: list[str]
) -> None:
    recorder = Recorder(sandbox)
    shop = shop_with(sandbox, clock, transport=recorder, order_page_size=2)
    window = TimeWindow(start=clock.now() - timedelta(seconds=60), end=clock.now())
    sandbox_search = sandbox._search_orders

    def descending(method: str, params: dict[str, Any]) -> dict[str, Any]:
        return sandbox_search(method, {**params, "sortType": 1})  # a JD that ignores sortType

    sandbox._handlers = lambda: {**JdSandbox._handlers(sandbox), SEARCH: descending}  # type: ignore[method-assign]
    got = [o.platform_order_id async for o in shop.client.iter_orders(window)]
    assert got == list(reversed(five_orders))
    assert [p["page"] for m, p in recorder.sent if m == SEARCH] == ["1", "2", "3"]


async def test_en_search_setting(sandbox: JdSandbox, clock: FakeClock) -> None:
    shop = shop_with(sandbox, clock, order_search_method="jingdong.pop.order.enSearch")
    start = clock.now()
    clock.advance(5)
    sandbox.state.order_code("CUP-500")
    clock.advance(5)
    orders = [o async for o in shop.client.iter_orders(TimeWindow(start=start, end=clock.now()))]
    assert len(orders) == 1 and sandbox.calls["jingdong.pop.order.enSearch"] == 1
    assert sandbox.calls[SEARCH] == 0


async def test_order_search_failure_is_raised(sandbox: JdSandbox, clock: FakeClock) -> None:
    shop = shop_with(sandbox, clock, order_states=("WAIT_SELLER_STOCK_OUT",))
    sandbox.order_page_max = 50  # this shop's JD would take fewer orders per page
    with pytest.raises(InvalidRequest) as caught:
        _ = [
            o
            async for o in shop.client.iter_orders(
                TimeWindow(start=clock.now() - timedelta(hours=1), end=clock.now())
            )
        ]
    assert caught.value.parameter == "page_size"


async def test_unreadable_order_names_the_order(sandbox: JdSandbox, clock: FakeClock) -> None:
    def answers(method: str, params: dict[str, Any]) -> Any:
        return {
            "jingdong_pop_order_search_responce": {
                "code": "0",
                "searchorderinfo_result": {
                    "apiResult": {"success": True},
                    "orderTotal": 1,
                    "orderInfoList": [
                        {
                            "orderId": "230100000099",
                            "orderState": "NEW_STATE",
                            "modified": "2026-11-11 08:00:00",
                            "orderTotalPrice": "1.00",
                            "itemInfoList": [],
                        }
                    ],
                },
            }
        }

    shop = shop_with(sandbox, clock, transport=scripted(answers))
    with pytest.raises(MalformedResponse, match="order 230100000099"):
        _ = [
            o
            async for o in shop.client.iter_orders(
                TimeWindow(start=clock.now() - timedelta(hours=1), end=clock.now())
            )
        ]


async def test_refund_setting_reaches_the_mapping(sandbox: JdSandbox, clock: FakeClock) -> None:
    start = clock.now()
    clock.advance(5)
    order = sandbox.state.order_code("CUP-500")
    sandbox.state.set_status(order.order_id, OrderStatus.REFUNDED)
    clock.advance(5)
    window = TimeWindow(start=start, end=clock.now())
    for setting, status in ((True, OrderStatus.REFUNDED), (False, OrderStatus.CANCELLED)):
        shop = shop_with(sandbox, clock, refund_from_payment_time=setting)
        assert [o.status async for o in shop.client.iter_orders(window)] == [status]


async def test_get_order(shop: ShopContext, sandbox: JdSandbox) -> None:
    placed = sandbox.state.place_order([(sandbox.state.skus_by_code("CUP-500")[0].sku_id, 2)])
    order = await shop.client.get_order(placed.order_id)
    assert order is not None and order.status is OrderStatus.AWAITING_SHIPMENT
    assert order.lines[0].quantity == 2 and order.total == 25800
    assert await shop.client.get_order("230999999999") is None


async def test_order_get_method_setting(sandbox: JdSandbox, clock: FakeClock) -> None:
    shop = shop_with(sandbox, clock, order_get_method="jingdong.pop.order.enGet")
    placed = sandbox.state.order_code("CUP-500")
    assert (await shop.client.get_order(placed.order_id)) is not None
    assert sandbox.calls["jingdong.pop.order.enGet"] == 1 and sandbox.calls["jingdong.pop.order.get"] == 0


async def test_an_unreadable_total_is_malformed(sandbox: JdSandbox, clock: FakeClock) -> None:
    def answers(method: str, params: dict[str, Any]) -> Any:
        row = {"skuId": 1, "wareId": 2, "jdPrice": "1.00", "stockNum": 1, "status": 1}
        return {
            "jingdong_sku_read_searchSkuList_responce": {
                "code": "0",
                "page": {"data": [row], "totalItem": "many"},
            }
        }

    shop = shop_with(sandbox, clock, transport=scripted(answers), sku_page_size=1)
    with pytest.raises(MalformedResponse, match="totalItem"):
        _ = [x async for x in shop.client.iter_listings()]


async def test_version_setting_reaches_the_gateway(sandbox: JdSandbox, clock: FakeClock) -> None:
    shop = shop_with(sandbox, clock, api_version="1.0")
    with pytest.raises(InvalidRequest) as caught:
        _ = [x async for x in shop.client.iter_listings()]
    assert caught.value.code == "5" and caught.value.parameter == "v"


# --- shipments -----------------------------------------------------------------------------


def shipment(order_id: str, tracking: str = "SF1234567890", **kw: Any) -> Shipment:
    return Shipment(
        platform_order_id=order_id,
        carrier=kw.pop("carrier", "SF"),
        tracking_number=tracking,
        idempotency_key="ship-1",
        **kw,
    )


async def test_ship_maps_the_carrier_and_repeats_harmlessly(sandbox: JdSandbox, clock: FakeClock) -> None:
    shop = shop_with(sandbox, clock, carrier_ids={"SF": "467"})
    order = sandbox.state.order_code("CUP-500")
    for _ in range(2):
        assert (await shop.client.ship(shipment(order.order_id))).ok
    assert sandbox.state.order(order.order_id).carrier == "467"
    assert sandbox.calls["jingdong.pop.order.shipment"] == 2


async def test_ship_refusals_are_results(shop: ShopContext, sandbox: JdSandbox) -> None:
    sku = sandbox.state.skus_by_code("CUP-500")[0]
    unpaid = sandbox.state.place_order([(sku.sku_id, 1)], paid=False)
    result = await shop.client.ship(shipment(unpaid.order_id))
    assert not result.ok and not result.retryable and "not exist" in (result.error or "")
    shipped = sandbox.state.place_order([(sku.sku_id, 1)])
    sandbox.state.ship(shipped.order_id, "467", "OTHER-1")
    result = await shop.client.ship(shipment(shipped.order_id))
    assert not result.ok and "state" in (result.error or "")
    assert not (await shop.client.ship(shipment("SO-1"))).ok


async def test_ship_whole_orders_only(shop: ShopContext, sandbox: JdSandbox) -> None:
    a, b = (sandbox.state.skus_by_code(c)[0] for c in ("CUP-500", "CABLE-1M"))
    order = sandbox.state.place_order([(a.sku_id, 1), (b.sku_id, 1)])
    partial = await shop.client.ship(shipment(order.order_id, line_ids=(a.sku_id,)))
    assert not partial.ok and "whole orders" in (partial.error or "") and b.sku_id in (partial.error or "")
    assert sandbox.state.order(order.order_id).status is OrderStatus.AWAITING_SHIPMENT
    whole = await shop.client.ship(shipment(order.order_id, line_ids=(a.sku_id, b.sku_id)))
    assert whole.ok and sandbox.state.order(order.order_id).status is OrderStatus.SHIPPED


async def test_a_refused_repeat_of_a_recorded_shipment_is_success(
    sandbox: JdSandbox, clock: FakeClock
) -> None:
    """Should JD refuse a repeat, the order read back shows our waybill: success."""

    def answers(method: str, params: dict[str, Any]) -> Any:
        if method == "jingdong.pop.order.shipment":
            return {
                "jingdong_pop_order_shipment_responce": {
                    "code": "0",
                    "sopjosshipment_result": {
                        "success": False,
                        "chineseErrCode": "订单已出库",
                        "englishErrCode": "order already out",
                    },
                }
            }
        return {
            "jingdong_pop_order_get_responce": {
                "code": "0",
                "orderDetailInfo": {
                    "apiResult": {"success": True},
                    "orderInfo": {
                        "orderId": params["order_id"],
                        "orderState": "WAIT_GOODS_RECEIVE_CONFIRM",
                        "waybill": "YT1,SF1234567890",
                    },
                },
            }
        }

    shop = shop_with(sandbox, clock, transport=scripted(answers))
    assert (await shop.client.ship(shipment("230100000001"))).ok
    other = await shop.client.ship(shipment("230100000001", tracking="ZT999"))
    assert not other.ok and "order already out" in (other.error or "")


# --- clock, throttling, logs --------------------------------------------------------------------


async def test_a_skewed_client_clock_is_named(sandbox: JdSandbox, clock: FakeClock) -> None:
    skewed = FakeClock(clock.now() + timedelta(minutes=10))
    shop = make_shop(INFO, sandbox, clock=skewed, retry=NO_WAIT)
    with pytest.raises(InvalidRequest, match="check the clock") as caught:
        _ = [x async for x in shop.client.iter_listings()]
    assert caught.value.parameter == "timestamp" and caught.value.code == "8"


async def test_throttling_is_retried(sandbox: JdSandbox, shop: ShopContext) -> None:
    sandbox.faults.inject("throttle", 3)
    assert len([x async for x in shop.client.iter_listings()]) == 6
    assert shop.client.stats.retries == 3 and shop.client.stats.errors["RateLimited"] == 3


async def test_logs_carry_no_credentials(
    shop: ShopContext, sandbox: JdSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.faults.inject("throttle", 1)
    _ = [x async for x in shop.client.iter_listings()]
    client: JdClient = shop.client
    text = caplog.text
    assert "routerjson" in text  # the request was logged …
    assert shop.settings.app_secret.get_secret_value() not in text  # … without credentials
    assert (client.access_token or "") not in text
    signature = client.build_request("jingdong.sku.read.searchSkuList", {}).url.params["sign"]
    assert signature not in text and "sign=****" in text.replace("%2A", "*")
