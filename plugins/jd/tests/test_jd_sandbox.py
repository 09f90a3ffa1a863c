"""The JD sandbox speaks JD's wire protocol to ANY correct client: every request here is
built and signed by hand (hashlib, in conftest.py), not by the plugin's client."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from hub.models import OrderStatus
from hub.simulator import SandboxConfig, serve_in_thread
from hub.testing import FakeClock
from hub.testing.contract import contract_seed
from hub_jd.sandbox import JdSandbox

from .documented import documented_order_states

SKUS = "jingdong.sku.read.searchSkuList"
SEARCH = "jingdong.pop.order.search"
ALL_STATES = (
    "WAIT_SELLER_STOCK_OUT,WAIT_SELLER_DELIVERY,PAUSE,POP_ORDER_PAUSE,LOCKED,WAIT_SEND_CODE,"
    "WAIT_GOODS_RECEIVE_CONFIRM,FINISHED_L,TRADE_CANCELED"
)
FIELDS = "orderId,orderState,orderStartTime,modified,paymentConfirmTime,orderTotalPrice,itemInfoList"


def gateway_code(answer: dict[str, Any]) -> str:
    assert set(answer) == {"error_response"}, answer
    error = answer["error_response"]
    assert isinstance(error["code"], str) and error["zh_desc"] and error["en_desc"]
    return error["code"]


def result(answer: dict[str, Any], method: str) -> dict[str, Any]:
    key = method.replace(".", "_") + "_responce"
    assert set(answer) == {key}, answer
    assert answer[key]["code"] == "0"
    return answer[key]


def api_result(answer: dict[str, Any], method: str = SEARCH) -> dict[str, Any]:
    return result(answer, method)["searchorderinfo_result"]["apiResult"]


def cn(dt: datetime) -> str:
    return (dt + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")


def search(start: datetime, end: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "start_date": cn(start),
        "end_date": cn(end),
        "order_state": ALL_STATES,
        "optional_fields": FIELDS,
        "page": "1",
        "page_size": "100",
        **extra,
    }


# --- gateway checks -----------------------------------------------------------------------


def test_a_hand_signed_request_is_answered(build, ask, sandbox: JdSandbox) -> None:  # type: ignore[no-untyped-def]
    page = result(ask(build(SKUS, {"pageNo": 1, "pageSize": 50})), SKUS)["page"]
    assert page["totalItem"] == 6 and len(page["data"]) == 6
    row = page["data"][0]
    sku = sandbox.state.sku(row["skuId"])
    assert row["jdPrice"] == f"{sku.price // 100}.{sku.price % 100:02d}"  # yuan string
    assert row["skuId"].isdigit() and len(row["skuId"]) == 11
    assert row["wareId"].isdigit() and len(row["wareId"]) == 11
    assert row["outerId"] == sku.code and row["stockNum"] == sku.quantity and row["status"] == 1
    assert sandbox.calls[SKUS] == 1


def test_sku_search_filters_and_pages_in_id_order(build, ask, sandbox: JdSandbox) -> None:  # type: ignore[no-untyped-def]
    def page(**params: Any) -> dict[str, Any]:
        return result(ask(build(SKUS, params)), SKUS)["page"]

    every = sorted(sandbox.state.skus, key=int)
    first, second = page(pageNo=1, pageSize=4), page(pageNo=2, pageSize=4)
    assert [r["skuId"] for r in first["data"] + second["data"]] == every
    assert first["totalItem"] == second["totalItem"] == len(every)
    one = sandbox.state.sku(every[-1])
    sandbox.state.items[one.item_id].on_sale = False
    off = page(pageNo=1, pageSize=50, skuStatuValue=[2])
    assert {r["skuId"] for r in off["data"]} == set(sandbox.state.items[one.item_id].skus)
    on = page(pageNo=1, pageSize=50, skuStatuValue=[1])
    assert on["totalItem"] == len(every) - off["totalItem"]
    asked = page(pageNo=1, pageSize=50, skuId=[every[2], every[0], "99999999999"])
    assert [r["skuId"] for r in asked["data"]] == [every[0], every[2]]
    ware = page(pageNo=1, pageSize=50, wareId=[one.item_id])
    assert {r["skuId"] for r in ware["data"]} == set(sandbox.state.items[one.item_id].skus)
    item = sandbox.state.items[one.item_id]
    added = sandbox.state.add_sku(item, code="NEW-CODE", spec="new", price=100, quantity=1)
    assert page(pageNo=1, pageSize=50)["data"][-1]["skuId"] == added.sku_id  # a later SKU is seen


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"sign": "0" * 32}, "12"),
        ({"secret": "wrong-secret"}, "12"),
        ({"sign": ""}, "11"),
        ({"app_key": None}, "20"),
        ({"app_key": "NOT-OUR-KEY"}, "21"),
        ({"v": None}, "4"),
        ({"v": "1.0"}, "5"),
        ({"timestamp": None}, "7"),
        ({"timestamp": "yesterday"}, "8"),
        ({"method": None}, "14"),
        ({"method": "jingdong.no.such.method"}, "15"),
        ({"access_token": None}, "18"),
        ({"access_token": "not-a-token"}, "19"),
        ({"sign_method": "hmacsha256"}, "12"),
    ],
)
def test_gateway_rejections(build, ask, sandbox: JdSandbox, changes: dict[str, Any], code: str) -> None:  # type: ignore[no-untyped-def]
    assert gateway_code(ask(build(SKUS, {"pageNo": 1}, **changes))) == code
    assert sandbox.calls[SKUS] == 0


def test_lowercase_signature_is_invalid(build, ask) -> None:  # type: ignore[no-untyped-def]
    good = build(SKUS, {"pageNo": 1})
    lower = str(good.url).replace(good.url.params["sign"], good.url.params["sign"].lower())
    request = httpx.Request("POST", lower, content=good.content, headers=good.headers)
    assert gateway_code(ask(request)) == "12"


def test_a_tampered_body_breaks_the_signature(build, ask) -> None:  # type: ignore[no-untyped-def]
    good = build(SKUS, {"pageNo": 1})
    request = httpx.Request(
        "POST",
        good.url,
        content=good.content.replace(b"1", b"2"),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert gateway_code(ask(request)) == "12"


@pytest.mark.parametrize(("minutes", "code"), [(-7, "8"), (7, "8"), (-5, None), (5, None)])
def test_timestamp_skew_limit_is_six_minutes(
    build,
    ask,
    clock: FakeClock,
    minutes: int,  # type: ignore[no-untyped-def]
    code: str | None,
) -> None:
    sent = clock.now() + timedelta(minutes=minutes)
    stamp = (sent + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S") + ".000+0800"
    answer = ask(build(SKUS, {"pageNo": 1}, timestamp=stamp))
    if code is None:
        result(answer, SKUS)
    else:
        assert gateway_code(answer) == code


def test_plain_timestamp_and_format_parameter_are_accepted(build, ask, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    stamp = (clock.now() + timedelta(hours=8)).strftime("%Y-%m-%d %H:%M:%S")
    result(ask(build(SKUS, {"pageNo": 1}, timestamp=stamp, format="json")), SKUS)


def test_expired_token_is_code_19(build, ask, sandbox: JdSandbox) -> None:  # type: ignore[no-untyped-def]
    result(ask(build(SKUS, {"pageNo": 1})), SKUS)
    sandbox.expire_tokens()
    assert gateway_code(ask(build(SKUS, {"pageNo": 1}))) == "19"


def test_param_json_in_the_query_and_system_params_in_the_body(build, ask) -> None:  # type: ignore[no-untyped-def]
    assert result(ask(build(SKUS, {"pageNo": 1}, json_in="query")), SKUS)["page"]["totalItem"] == 6
    assert result(ask(build(SKUS, {"pageNo": 1}, system_in="body")), SKUS)["page"]["totalItem"] == 6


def test_the_query_string_wins_over_the_body(build, ask) -> None:  # type: ignore[no-untyped-def]
    good = build(SKUS, {"pageNo": 1})
    # A stray form field of the same name does not override the signed query parameter.
    request = httpx.Request(
        "POST",
        good.url,
        content=good.content + b"&method=jingdong.other",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    result(ask(request), SKUS)


def test_throttled_answer_is_code_2(build, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    app = JdSandbox(
        SandboxConfig(
            clock=clock,
            seed=contract_seed(),
            qps=1,
            app_key="4F2B9C1D7E",
            app_secret="jd-test-app-secret-0001",
            access_token="jd-test-access-token-0001",
        )
    )
    first = app.dispatch(build(SKUS, {"pageNo": 1})).json()
    second = app.dispatch(build(SKUS, {"pageNo": 1})).json()
    assert "error_response" not in first
    assert second == {
        "error_response": {"code": "2", "zh_desc": "限制时间内调用失败次数", "en_desc": "App Call Limited"}
    }


def test_wrong_path_is_404(build, sandbox: JdSandbox) -> None:  # type: ignore[no-untyped-def]
    request = build(SKUS, {"pageNo": 1}, origin="http://sandbox.test/api")
    assert sandbox.dispatch(request).status_code == 404


def test_param_json_must_be_an_object(build, ask) -> None:  # type: ignore[no-untyped-def]
    failure = result(ask(build(SKUS, "[1,2")), SKUS)
    assert failure["success"] is False and "360buy_param_json" in failure["englishErrCode"]


# --- SKUs, stock, prices --------------------------------------------------------------------


def test_sku_page_size_limit(build, ask) -> None:  # type: ignore[no-untyped-def]
    failure = result(ask(build(SKUS, {"pageNo": 1, "pageSize": JdSandbox.sku_page_max + 1})), SKUS)
    assert failure["success"] is False and "pageSize" in failure["englishErrCode"]
    assert failure["chineseErrCode"] and isinstance(failure["numberCode"], int)


def test_sku_paging_and_filters(build, ask, sandbox: JdSandbox) -> None:  # type: ignore[no-untyped-def]
    pages = [result(ask(build(SKUS, {"pageNo": n, "pageSize": 4})), SKUS)["page"] for n in (1, 2, 3)]
    assert [len(p["data"]) for p in pages] == [4, 2, 0]
    assert len({r["skuId"] for p in pages for r in p["data"]}) == 6
    cup = sandbox.state.skus_by_code("CUP-500")[0]
    by_outer = result(ask(build(SKUS, {"outId": ["CUP-500"]})), SKUS)["page"]["data"]
    assert [r["skuId"] for r in by_outer] == [cup.sku_id]
    next(iter(sandbox.state.items.values())).on_sale = False
    off = result(ask(build(SKUS, {"skuStatuValue": [2]})), SKUS)["page"]["data"]
    assert len(off) == 2 and {r["status"] for r in off} == {2}


def test_stock_read_and_absolute_write(build, ask, sandbox: JdSandbox) -> None:  # type: ignore[no-untyped-def]
    sku = sandbox.state.skus_by_code("CABLE-1M")[0]
    write = "jingdong.stock.write.updateSkuStock"
    assert result(ask(build(write, {"skuId": int(sku.sku_id), "stockNum": 7})), write)["success"] is True
    assert sandbox.state.sku(sku.sku_id).quantity == 7
    # JD's Java side takes "7" for a Long as well.
    result(ask(build(write, {"skuId": sku.sku_id, "stockNum": "9"})), write)
    read = "jingdong.stock.read.findSkuStock"
    stocks = result(ask(build(read, {"skuId": int(sku.sku_id)})), read)["skuStocks"]
    assert stocks == [{"skuId": sku.sku_id, "stockNum": 9, "storeId": 0}]


def test_stock_write_failures(build, ask) -> None:  # type: ignore[no-untyped-def]
    write = "jingdong.stock.write.updateSkuStock"
    missing = result(ask(build(write, {"skuId": 99999999999, "stockNum": 1})), write)
    assert missing["success"] is False and "not exist" in missing["englishErrCode"]
    negative = result(ask(build(write, {"skuId": 10020000001, "stockNum": -1})), write)
    assert negative["success"] is False and "stockNum" in negative["englishErrCode"]


@pytest.mark.parametrize(("price", "fen"), [("49.90", 4990), (49.9, 4990), (50, 5000)])
def test_price_write_takes_yuan(build, ask, sandbox: JdSandbox, price: Any, fen: int) -> None:  # type: ignore[no-untyped-def]
    method = "jingdong.price.write.updateSkuJdPrice"
    sku = sandbox.state.skus_by_code("TSHIRT-RED-M")[0]
    assert result(ask(build(method, {"skuId": int(sku.sku_id), "jdPrice": price})), method)["success"]
    assert sandbox.state.sku(sku.sku_id).price == fen


@pytest.mark.parametrize("price", ["49.999", "0", "-1", "abc"])
def test_price_write_refuses_bad_amounts(build, ask, sandbox: JdSandbox, price: str) -> None:  # type: ignore[no-untyped-def]
    method = "jingdong.price.write.updateSkuJdPrice"
    sku = sandbox.state.skus_by_code("TSHIRT-RED-M")[0]
    failure = result(ask(build(method, {"skuId": int(sku.sku_id), "jdPrice": price})), method)
    assert failure["success"] is False and "jdPrice" in failure["englishErrCode"]
    assert sandbox.state.sku(sku.sku_id).price == 5990


# --- orders --------------------------------------------------------------------------------


@pytest.fixture
def orders(sandbox: JdSandbox, clock: FakeClock) -> dict[OrderStatus, str]:
    """One order per canonical status, a minute apart."""
    sku = sandbox.state.skus_by_code("CABLE-1M")[0]
    placed = {}
    for status in OrderStatus:
        clock.advance(60)
        unpaid = status in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED)
        order = sandbox.state.place_order([(sku.sku_id, 1)], paid=not unpaid)
        if status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED, OrderStatus.PARTLY_SHIPPED):
            sandbox.state.ship(order.order_id, "467", f"SF{order.order_id}")
        if order.status is not status:
            sandbox.state.set_status(order.order_id, status)
        placed[status] = order.order_id
    clock.advance(60)
    return placed


def test_order_states_and_shapes(build, ask, clock: FakeClock, orders: dict[OrderStatus, str]) -> None:  # type: ignore[no-untyped-def]
    answer = result(ask(build(SEARCH, search(clock.now() - timedelta(hours=1), clock.now()))), SEARCH)
    block = answer["searchorderinfo_result"]
    assert block["apiResult"]["success"] is True
    by_id = {o["orderId"]: o for o in block["orderInfoList"]}
    assert block["orderTotal"] == len(by_id) == len(OrderStatus) - 1
    assert orders[OrderStatus.PENDING_PAYMENT] not in by_id  # JD lists no unpaid orders
    states = {status: by_id[oid]["orderState"] for status, oid in orders.items() if oid in by_id}
    documented = documented_order_states()  # the README's table, not a copy of the sandbox's
    assert set(states) == set(OrderStatus) - {OrderStatus.PENDING_PAYMENT}
    # "JD ships whole orders and has no partly-shipped state" (README): such an order is
    # still awaiting shipment on JD.
    shown = {s: OrderStatus.AWAITING_SHIPMENT if s is OrderStatus.PARTLY_SHIPPED else s for s in states}
    for status, state in states.items():
        assert shown[status].value in documented.get(state, set()), (
            f"{status}: {state} is not documented as it"
        )
    assert by_id[orders[OrderStatus.CANCELLED]]["paymentConfirmTime"] == ""
    assert by_id[orders[OrderStatus.REFUNDED]]["paymentConfirmTime"] != ""
    info = by_id[orders[OrderStatus.AWAITING_SHIPMENT]]
    assert set(info) == set(FIELDS.split(","))  # only the optional_fields asked for
    assert info["orderTotalPrice"] == "19.90" and len(info["orderId"]) == 12
    assert info["itemInfoList"][0]["jdPrice"] == "19.90" and info["itemInfoList"][0]["itemTotal"] == "1"
    assert datetime.strptime(info["modified"], "%Y-%m-%d %H:%M:%S")  # plain CN time


def test_order_state_filter(build, ask, clock: FakeClock, orders: dict[OrderStatus, str]) -> None:  # type: ignore[no-untyped-def]
    params = search(clock.now() - timedelta(hours=1), clock.now(), order_state="FINISHED_L")
    infos = result(ask(build(SEARCH, params)), SEARCH)["searchorderinfo_result"]["orderInfoList"]
    assert [o["orderId"] for o in infos] == [orders[OrderStatus.COMPLETED]]


def test_dates_are_inclusive_seconds(build, ask, sandbox: JdSandbox, orders: dict[OrderStatus, str]) -> None:  # type: ignore[no-untyped-def]
    order = sandbox.state.order(orders[OrderStatus.AWAITING_SHIPMENT])
    at = order.modified
    infos = result(ask(build(SEARCH, search(at, at))), SEARCH)["searchorderinfo_result"]["orderInfoList"]
    assert [o["orderId"] for o in infos] == [order.order_id]


def test_sort_type_and_date_type(
    build, ask, clock: FakeClock, sandbox: JdSandbox, orders: dict[OrderStatus, str]
) -> None:  # type: ignore[no-untyped-def]
    window = (clock.now() - timedelta(hours=1), clock.now())
    ascending = [
        o["orderId"]
        for o in result(ask(build(SEARCH, search(*window))), SEARCH)["searchorderinfo_result"][
            "orderInfoList"
        ]
    ]
    descending = [
        o["orderId"]
        for o in result(ask(build(SEARCH, search(*window, sortType=1))), SEARCH)["searchorderinfo_result"][
            "orderInfoList"
        ]
    ]
    assert descending == list(reversed(ascending))
    # The awaiting-shipment order (placed second) is shipped ten minutes later: a window
    # around its creation finds it by creation time, and no longer by modified time.
    second_created = clock.now() - timedelta(seconds=60 * (len(OrderStatus) - 1))
    clock.advance(600)
    sandbox.state.ship(orders[OrderStatus.AWAITING_SHIPMENT], "467", "SF-LATE")
    around = (second_created - timedelta(seconds=30), second_created + timedelta(seconds=30))
    by_created = result(ask(build(SEARCH, search(*around, dateType=1))), SEARCH)
    assert [o["orderId"] for o in by_created["searchorderinfo_result"]["orderInfoList"]] == [
        orders[OrderStatus.AWAITING_SHIPMENT]
    ]
    by_modified = result(ask(build(SEARCH, search(*around))), SEARCH)
    assert by_modified["searchorderinfo_result"]["orderInfoList"] == []


def test_window_longer_than_a_month_is_refused(build, ask) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 10, 10, 16, 0, tzinfo=UTC)  # 2026-10-11 00:00 in Beijing
    ok = api_result(ask(build(SEARCH, search(start, datetime(2026, 11, 10, 16, 0, tzinfo=UTC)))))
    assert ok["success"] is True
    failure = api_result(ask(build(SEARCH, search(start, datetime(2026, 11, 10, 16, 0, 1, tzinfo=UTC)))))
    assert failure["success"] is False and "one month" in failure["englishErrCode"]
    assert "一个月" in failure["chineseErrCode"]


@pytest.mark.parametrize(
    ("start", "end", "ok"),
    [
        ("2026-12-31 00:00:00", "2027-01-31 00:00:00", True),
        ("2026-12-31 00:00:00", "2027-01-31 00:00:01", False),
        ("2027-01-31 10:00:00", "2027-02-28 10:00:00", True),  # the month's end is clamped
        ("2027-01-31 10:00:00", "2027-02-28 10:00:01", False),
        ("2027-01-02 00:00:00", "2027-01-01 00:00:00", False),  # end before start
    ],
)
def test_one_calendar_month_in_beijing_time(build, ask, start: str, end: str, ok: bool) -> None:  # type: ignore[no-untyped-def]
    params = {
        "start_date": start,
        "end_date": end,
        "order_state": "FINISHED_L",
        "optional_fields": "orderId",
        "page": "1",
        "page_size": "10",
    }
    assert api_result(ask(build(SEARCH, params)))["success"] is ok


def test_page_size_over_100_is_refused(build, ask, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    window = (clock.now() - timedelta(days=1), clock.now())
    assert api_result(ask(build(SEARCH, search(*window, page_size="100"))))["success"] is True
    failure = api_result(ask(build(SEARCH, search(*window, page_size="101"))))
    assert failure["success"] is False and "page_size" in failure["englishErrCode"]


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"order_state": ""}, "order_state"),
        ({"order_state": "WAIT_PAY"}, "order_state"),
        ({"optional_fields": ""}, "optional_fields"),
        ({"start_date": ""}, "start_date"),
        ({"end_date": "2026/11/11"}, "end_date"),
        ({"page": "0"}, "page"),
    ],
)
def test_order_search_parameter_errors(
    build,
    ask,
    clock: FakeClock,
    change: dict[str, Any],  # type: ignore[no-untyped-def]
    word: str,
) -> None:
    params = {**search(clock.now() - timedelta(days=1), clock.now()), **change}
    failure = api_result(ask(build(SEARCH, params)))
    assert failure["success"] is False and word in failure["englishErrCode"]


def test_stock_out_orders_may_omit_the_dates(build, ask, orders: dict[OrderStatus, str]) -> None:  # type: ignore[no-untyped-def]
    params = {
        "order_state": "WAIT_SELLER_STOCK_OUT",
        "optional_fields": "orderId",
        "page": "1",
        "page_size": "10",
    }
    infos = result(ask(build(SEARCH, params)), SEARCH)["searchorderinfo_result"]["orderInfoList"]
    assert {o["orderId"] for o in infos} == {
        orders[OrderStatus.AWAITING_SHIPMENT],
        orders[OrderStatus.PARTLY_SHIPPED],
    }


def test_en_search_is_served_too(build, ask, clock: FakeClock, orders: dict[OrderStatus, str]) -> None:  # type: ignore[no-untyped-def]
    method = "jingdong.pop.order.enSearch"
    block = result(ask(build(method, search(clock.now() - timedelta(hours=1), clock.now()))), method)
    assert block["searchorderinfo_result"]["orderTotal"] == len(OrderStatus) - 1


def test_order_get(build, ask, orders: dict[OrderStatus, str]) -> None:  # type: ignore[no-untyped-def]
    method = "jingdong.pop.order.get"
    oid = orders[OrderStatus.SHIPPED]
    detail = result(
        ask(build(method, {"order_id": oid, "optional_fields": "orderId,orderState,waybill"})), method
    )["orderDetailInfo"]
    assert detail["orderInfo"] == {
        "orderId": oid,
        "orderState": "WAIT_GOODS_RECEIVE_CONFIRM",
        "waybill": f"SF{oid}",
    }
    unpaid = result(ask(build(method, {"order_id": orders[OrderStatus.PENDING_PAYMENT]})), method)
    assert unpaid["orderDetailInfo"]["apiResult"]["success"] is False


def test_shipment_and_its_repeat(build, ask, sandbox: JdSandbox, orders: dict[OrderStatus, str]) -> None:  # type: ignore[no-untyped-def]
    method = "jingdong.pop.order.shipment"
    oid = orders[OrderStatus.AWAITING_SHIPMENT]
    params = {"order_id": oid, "logiCoprId": "467", "logiNo": "SF1234567890"}
    for _ in range(2):  # the repeat of the same shipment is a success too
        outcome = result(ask(build(method, params)), method)["sopjosshipment_result"]
        assert outcome["success"] is True
    order = sandbox.state.order(oid)
    assert order.status is OrderStatus.SHIPPED and order.tracking_number == "SF1234567890"
    other = result(ask(build(method, {**params, "logiNo": "YT0000"})), method)["sopjosshipment_result"]
    assert other["success"] is False and "state" in other["englishErrCode"]
    gone = result(ask(build(method, {**params, "order_id": orders[OrderStatus.PENDING_PAYMENT]})), method)[
        "sopjosshipment_result"
    ]
    assert gone["success"] is False and "not exist" in gone["englishErrCode"]


# --- over real HTTP ---------------------------------------------------------------------------


def test_served_sandbox_answers_a_hand_signed_request(build, sandbox: JdSandbox) -> None:  # type: ignore[no-untyped-def]
    with serve_in_thread(sandbox) as served, httpx.Client() as http:
        origin = served.url.removesuffix("/routerjson")
        good = http.send(build(SKUS, {"pageNo": 1, "pageSize": 10}, origin=origin)).json()
        bad = http.send(build(SKUS, {"pageNo": 1}, origin=origin, sign="F" * 32)).json()
    assert result(good, SKUS)["page"]["totalItem"] == 6
    assert gateway_code(bad) == "12"


def test_find_ware_by_id(build, ask, sandbox: JdSandbox) -> None:  # type: ignore[no-untyped-def]
    method = "jingdong.ware.read.findWareById"
    sku = sandbox.state.skus_by_code("CABLE-1M")[0]
    item = sandbox.state.items[sku.item_id]
    ware = result(ask(build(method, {"wareId": int(item.item_id)})), method)["ware"]
    assert (ware["wareId"], ware["title"], ware["wareStatus"]) == (item.item_id, item.title, 8)
    assert {s["skuId"] for s in ware["skus"]} == set(item.skus)
    assert ware["stockNum"] == sum(s.quantity for s in item.skus.values())
    narrowed = result(ask(build(method, {"wareId": item.item_id, "field": "title,wareStatus"})), method)
    assert narrowed["ware"] == {"wareId": item.item_id, "title": item.title, "wareStatus": 8}
    item.on_sale = False
    assert result(ask(build(method, {"wareId": item.item_id})), method)["ware"]["wareStatus"] == 2
    missing = result(ask(build(method, {"wareId": 99999999999})), method)
    assert missing["success"] is False and "not exist" in missing["englishErrCode"]
