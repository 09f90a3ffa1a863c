"""The sandbox speaks TOP's protocol: checked with requests signed by hand (conftest.hand_sign),
never only through our own client."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from hub.models import OrderStatus
from hub.simulator import serve_in_thread
from hub.testing import FakeClock
from hub.units import format_cn_time
from hub_taobao.sandbox import TaobaoSandbox

Call = Callable[..., dict[str, Any]]
ONSALE = "taobao.items.onsale.get"
INCREMENT = "taobao.trades.sold.increment.get"
ITEM_FIELDS = {"fields": "num_iid,title,num,price,outer_id,approve_status"}


def err(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"error_response"}, body
    error = body["error_response"]
    assert isinstance(error["code"], int) and error["msg"] and error["request_id"]
    return error


def trade_window(clock: FakeClock, hours: float = 1) -> dict[str, str]:
    return {
        "fields": "tid,status,modified",
        "start_modified": format_cn_time(clock.now() - timedelta(hours=hours)),
        "end_modified": format_cn_time(clock.now()),
    }


# --- system parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
def test_a_correctly_signed_call_gets_the_nested_envelope(top_call: Call, sign_method: str) -> None:
    body = top_call(ONSALE, ITEM_FIELDS, sign_method=sign_method)
    payload = body["items_onsale_get_response"]
    assert payload["total_results"] == 3 and payload["request_id"]
    item = payload["items"]["item"][0]
    assert isinstance(item["num_iid"], int) and len(str(item["num_iid"])) == 12
    assert item["approve_status"] == "onsale" and item["price"] == "59.90"
    assert set(item) == {"num_iid", "title", "num", "price", "outer_id", "approve_status"}


@pytest.mark.parametrize("sign_method", ["md5", "hmac", "hmac-sha256"])
def test_a_wrong_signature_is_code_25(top_call: Call, sign_method: str) -> None:
    error = err(top_call(ONSALE, ITEM_FIELDS, sign_method=sign_method, secret="not-the-secret"))
    assert (error["code"], error["msg"]) == (25, "Invalid Signature")


def test_a_tampered_parameter_breaks_the_signature(
    sandbox: TaobaoSandbox, top_params: Callable[..., Any]
) -> None:
    params = top_params(ONSALE, ITEM_FIELDS)
    params["page_size"] = "5"  # sent but not signed
    request = httpx.Request("POST", sandbox.base_url(), data=params)
    assert sandbox.dispatch(request).json()["error_response"]["code"] == 25


@pytest.mark.parametrize(
    ("options", "code", "msg"),
    [
        ({"drop": ("method",)}, 21, "Missing Method"),
        ({"drop": ("app_key",)}, 28, "Missing App Key"),
        ({"app_key": "87654321"}, 29, "Invalid App Key"),
        ({"drop": ("timestamp",)}, 30, "Missing Timestamp"),
        ({"timestamp": "1447200000000"}, 31, "Invalid Timestamp"),
        ({"drop": ("v",)}, 32, "Missing Version"),
        ({"v": "two"}, 33, "Invalid Version"),
        ({"v": "1.0"}, 34, "Unsupported Version"),
        ({"format": "xml"}, 23, "Invalid Format"),
        ({"drop": ("sign",)}, 24, "Missing Signature"),
        ({"sign_method": "sha1"}, 25, "Invalid Signature"),
        ({"drop": ("session",)}, 26, "Missing Session"),
    ],
)
def test_system_parameter_checks(top_call: Call, options: dict[str, Any], code: int, msg: str) -> None:
    error = err(top_call(ONSALE, ITEM_FIELDS, **options))
    assert (error["code"], error["msg"]) == (code, msg)


def test_the_timestamp_may_be_epoch_milliseconds(top_call: Call, clock: FakeClock) -> None:
    """The console-generated Python SDK sends str(int(time.time() * 1000))."""
    millis = int(clock.now().timestamp() * 1000)
    assert "items_onsale_get_response" in top_call(ONSALE, ITEM_FIELDS, timestamp=str(millis))
    stale = str(millis - 11 * 60 * 1000)
    assert err(top_call(ONSALE, ITEM_FIELDS, timestamp=stale))["code"] == 31
    assert err(top_call(ONSALE, ITEM_FIELDS, timestamp=str(millis // 1000)))["code"] == 31  # seconds: no


@pytest.mark.parametrize("timestamp", ["1447200000000", "yesterday", None])
def test_the_signature_is_checked_before_the_timestamp(top_call: Call, timestamp: str | None) -> None:
    """A wrong secret is 25 whatever the timestamp says (stale, unreadable or missing)."""
    options: dict[str, Any] = {"drop": ("timestamp",)} if timestamp is None else {"timestamp": timestamp}
    error = err(top_call(ONSALE, ITEM_FIELDS, secret="not-the-secret", **options))
    assert (error["code"], error["msg"]) == (25, "Invalid Signature")


def test_sign_method_defaults_to_md5(top_call: Call) -> None:
    """Older TOP docs make sign_method optional with md5 as the default."""
    assert "items_onsale_get_response" in top_call(ONSALE, ITEM_FIELDS, drop=("sign_method",))
    assert err(top_call(ONSALE, ITEM_FIELDS, sign_method="hmac", drop=("sign_method",)))["code"] == 25


def test_an_unknown_method_is_code_22(top_call: Call) -> None:
    error = err(top_call("taobao.nothing.here.get", ITEM_FIELDS))
    assert (error["code"], error["msg"]) == (22, "Invalid Method")


@pytest.mark.parametrize("minutes", [11, -11])
def test_a_skewed_timestamp_is_code_31(top_call: Call, clock: FakeClock, minutes: int) -> None:
    stamp = format_cn_time(clock.now() + timedelta(minutes=minutes))
    assert err(top_call(ONSALE, ITEM_FIELDS, timestamp=stamp))["code"] == 31
    near = format_cn_time(clock.now() + timedelta(minutes=9 if minutes > 0 else -9))
    assert "items_onsale_get_response" in top_call(ONSALE, ITEM_FIELDS, timestamp=near)


def test_the_timestamp_is_read_as_shanghai_time(top_call: Call, clock: FakeClock) -> None:
    utc_wall_clock = clock.now().strftime("%Y-%m-%d %H:%M:%S")  # 8 hours off
    assert err(top_call(ONSALE, ITEM_FIELDS, timestamp=utc_wall_clock))["code"] == 31


def test_an_unknown_session_is_code_27_invalid_sessionkey(top_call: Call) -> None:
    error = err(top_call(ONSALE, ITEM_FIELDS, session="not-a-session"))
    assert (error["code"], error["msg"], error["sub_code"]) == (27, "Invalid session", "invalid-sessionkey")


def test_an_expired_session_is_code_27_session_expired(top_call: Call, sandbox: TaobaoSandbox) -> None:
    sandbox.expire_tokens()
    error = err(top_call(ONSALE, ITEM_FIELDS))
    assert (error["code"], error["msg"], error["sub_code"]) == (
        27,
        "Invalid session:session-expired",
        "session-expired",
    )


def test_throttling_answers_code_7_with_the_ban(top_call: Call, sandbox: TaobaoSandbox) -> None:
    sandbox.faults.inject("throttle")
    error = err(top_call(ONSALE, ITEM_FIELDS))
    assert error == {
        "code": 7,
        "msg": "App Call Limited",
        "sub_code": "accesscontrol.limited-by-api-access-count",
        "sub_msg": "This ban will last for 1 more seconds",
        "request_id": error["request_id"],
    }


def test_get_and_split_query_body_requests_are_understood(
    sandbox: TaobaoSandbox, top_params: Callable[..., Any]
) -> None:
    params = top_params(ONSALE, ITEM_FIELDS, sign_method="hmac")
    got = sandbox.dispatch(httpx.Request("GET", sandbox.base_url(), params=params)).json()
    assert got["items_onsale_get_response"]["total_results"] == 3
    # System parameters in the URL and business parameters in the body, as the official SDKs send them.
    system = {k: v for k, v in params.items() if k != "fields"}
    request = httpx.Request(
        "POST",
        sandbox.base_url(),
        params=system,
        content=urlencode(ITEM_FIELDS).encode(),
        headers={"content-type": "application/x-www-form-urlencoded;charset=utf-8"},
    )
    assert sandbox.dispatch(request).json()["items_onsale_get_response"]["total_results"] == 3
    put = sandbox.dispatch(httpx.Request("PUT", sandbox.base_url(), params=params)).json()
    assert put["error_response"]["code"] == 9


def test_simplify_gives_flat_lists(top_call: Call) -> None:
    body = top_call(ONSALE, {**ITEM_FIELDS, "simplify": "true"})
    assert body["total_results"] == 3 and isinstance(body["items"], list)


def test_calls_are_counted_per_method(top_call: Call, sandbox: TaobaoSandbox) -> None:
    top_call(ONSALE, ITEM_FIELDS)
    top_call(ONSALE, ITEM_FIELDS, secret="wrong")
    assert sandbox.calls[ONSALE] == 2


# --- paging and window rules --------------------------------------------------------------------------


def test_item_page_size_is_at_most_200(top_call: Call) -> None:
    error = err(top_call(ONSALE, {**ITEM_FIELDS, "page_size": "201"}))
    assert (error["code"], error["sub_code"]) == (41, "isv.invalid-parameter:page_size")
    assert "items_onsale_get_response" in top_call(ONSALE, {**ITEM_FIELDS, "page_size": "200"})


def test_onsale_paging_stops_at_the_row_cap(top_call: Call, sandbox: TaobaoSandbox) -> None:
    sandbox.onsale_max_rows = 2
    error = err(top_call(ONSALE, {**ITEM_FIELDS, "page_size": "1", "page_no": "3"}))
    assert (error["code"], error["sub_code"]) == (15, "isv.invalid-parameter:page_no")


def test_inventory_page_no_is_at_most_101(top_call: Call) -> None:
    error = err(top_call("taobao.items.inventory.get", {**ITEM_FIELDS, "page_no": "102"}))
    assert (error["code"], error["sub_code"]) == (41, "isv.invalid-parameter:page_no")


def test_business_fields_are_required(top_call: Call) -> None:
    error = err(top_call(ONSALE, {}))
    assert (error["code"], error["msg"], error["sub_code"]) == (
        40,
        "Missing Required Arguments:fields",
        "isv.missing-parameter:fields",
    )


def test_trade_page_size_is_at_most_100(top_call: Call, clock: FakeClock) -> None:
    error = err(top_call(INCREMENT, {**trade_window(clock), "page_size": "101"}))
    assert (error["code"], error["sub_code"]) == (41, "isv.invalid-parameter:page_size")


def test_trade_window_is_at_most_one_day(top_call: Call, clock: FakeClock) -> None:
    error = err(top_call(INCREMENT, trade_window(clock, hours=24.01)))
    assert (error["code"], error["sub_code"]) == (15, "isv.invalid-parameter:end_modified")
    assert "trades_sold_increment_get_response" in top_call(INCREMENT, trade_window(clock, hours=24))


def test_trades_older_than_three_months_are_refused(top_call: Call, clock: FakeClock) -> None:
    old = clock.now() - timedelta(days=91)
    window = {
        "fields": "tid",
        "start_modified": format_cn_time(old),
        "end_modified": format_cn_time(old + timedelta(hours=1)),
    }
    error = err(top_call(INCREMENT, window))
    assert (error["code"], error["sub_code"]) == (15, "isv.invalid-parameter:start_modified")


def test_trade_window_needs_both_ends(top_call: Call, clock: FakeClock) -> None:
    window = trade_window(clock)
    del window["end_modified"]
    assert err(top_call(INCREMENT, window))["sub_code"] == "isv.missing-parameter:end_modified"


def test_trades_come_newest_first_with_shapes_and_statuses(
    top_call: Call, sandbox: TaobaoSandbox, clock: FakeClock
) -> None:
    sku = sandbox.state.skus_by_code("CABLE-1M")[0]
    placed = []
    for paid, status in (
        (True, None),
        (False, OrderStatus.CANCELLED),
        (True, OrderStatus.CANCELLED),
        (True, OrderStatus.REFUNDED),
        (False, None),
    ):
        clock.advance(30)
        order = sandbox.state.place_order([(sku.sku_id, 1)], paid=paid)
        if status is not None:
            sandbox.state.set_status(order.order_id, status)
        placed.append(order.order_id)
    clock.advance(30)
    window = {**trade_window(clock), "fields": "tid,status,modified,total_fee,orders"}
    payload = top_call(INCREMENT, window)["trades_sold_increment_get_response"]
    trades = payload["trades"]["trade"]
    assert payload["total_results"] == 5
    assert [str(t["tid"]) for t in trades] == placed[::-1]
    assert all(len(str(t["tid"])) == 19 for t in trades)
    assert [t["status"] for t in trades[::-1]] == [
        "WAIT_SELLER_SEND_GOODS",
        "TRADE_CLOSED_BY_TAOBAO",
        "TRADE_CLOSED",
        "TRADE_CLOSED",
        "WAIT_BUYER_PAY",
    ]
    line = trades[-1]["orders"]["order"][0]
    assert line["price"] == "19.90" and trades[-1]["total_fee"] == "19.90" and len(str(line["oid"])) == 19
    assert line["outer_sku_id"] == "CABLE-1M" and line["outer_iid"] == "CABLE"
    assert trades[1]["orders"]["order"][0]["refund_status"] == "SUCCESS"
    has_next = top_call(INCREMENT, {**window, "page_size": "2", "use_has_next": "true"})
    assert has_next["trades_sold_increment_get_response"]["has_next"] is True
    assert "total_results" not in has_next["trades_sold_increment_get_response"]


def test_trade_fields_are_honoured(top_call: Call, sandbox: TaobaoSandbox, clock: FakeClock) -> None:
    sandbox.state.order_code("CUP-500")
    clock.advance(1)
    window = {**trade_window(clock), "fields": "tid,orders.oid,orders.num"}
    trade = top_call(INCREMENT, window)["trades_sold_increment_get_response"]["trades"]["trade"][0]
    assert set(trade) == {"tid", "orders"} and set(trade["orders"]["order"][0]) == {"oid", "num"}


# --- business rules -------------------------------------------------------------------------------------


def test_item_skus_get_takes_at_most_40_items(top_call: Call) -> None:
    ids = ",".join(str(600000000001 + i) for i in range(41))
    error = err(top_call("taobao.item.skus.get", {"fields": "sku_id", "num_iids": ids}))
    assert (error["code"], error["sub_code"]) == (41, "isv.invalid-parameter:num_iids")


def test_sku_stock_full_and_delta(top_call: Call, sandbox: TaobaoSandbox) -> None:
    red_m, red_l = sandbox.state.items[sandbox.state.skus_by_code("TSHIRT-RED-M")[0].item_id].skus.values()
    num_iid = red_m.item_id
    body = top_call(
        "taobao.skus.quantity.update",
        {"num_iid": num_iid, "skuid_quantities": f"{red_m.sku_id}:7;{red_l.sku_id}:9", "type": "1"},
    )
    item = body["skus_quantity_update_response"]["item"]
    assert item["num"] == 16 and {s["quantity"] for s in item["skus"]["sku"]} == {7, 9}
    top_call(
        "taobao.skus.quantity.update",
        {"num_iid": num_iid, "skuid_quantities": f"{red_m.sku_id}:-10;{red_l.sku_id}:1", "type": "2"},
    )
    assert (red_m.quantity, red_l.quantity) == (0, 10)  # a delta clamps at 0


def test_sku_stock_rules(top_call: Call, sandbox: TaobaoSandbox) -> None:
    red_m = sandbox.state.skus_by_code("TSHIRT-RED-M")[0]
    pairs = ";".join(f"{int(red_m.sku_id) + i}:1" for i in range(21))
    error = err(
        top_call("taobao.skus.quantity.update", {"num_iid": red_m.item_id, "skuid_quantities": pairs})
    )
    assert (error["code"], error["sub_code"]) == (41, "isv.invalid-parameter:skuid_quantities")
    error = err(
        top_call(
            "taobao.skus.quantity.update",
            {"num_iid": red_m.item_id, "skuid_quantities": f"{red_m.sku_id}:-1", "type": "1"},
        )
    )
    assert error["code"] == 41
    # All or nothing: one unknown SKU and nothing changes.
    error = err(
        top_call(
            "taobao.skus.quantity.update",
            {"num_iid": red_m.item_id, "skuid_quantities": f"{red_m.sku_id}:1;999:1"},
        )
    )
    assert (error["code"], error["sub_code"]) == (15, "isv.sku-not-exist:invalid-skuId")
    assert red_m.quantity == 40


def test_item_quantity_update_needs_the_sku_of_an_item_with_skus(
    top_call: Call, sandbox: TaobaoSandbox
) -> None:
    cup = sandbox.state.skus_by_code("CUP-500")[0]
    error = err(top_call("taobao.item.quantity.update", {"num_iid": cup.item_id, "quantity": "3"}))
    assert error["sub_code"] == "isv.invalid-parameter:sku_id"
    top_call("taobao.item.quantity.update", {"num_iid": cup.item_id, "outer_id": "CUP-500", "quantity": "3"})
    assert cup.quantity == 3


def test_sku_price_is_found_by_properties_and_kept_in_range(top_call: Call, sandbox: TaobaoSandbox) -> None:
    red_m, red_l = sandbox.state.items[sandbox.state.skus_by_code("TSHIRT-RED-M")[0].item_id].skus.values()
    answer = top_call(
        "taobao.item.skus.get", {"fields": "sku_id,properties,properties_name", "num_iids": red_m.item_id}
    )
    sku_rows = answer["item_skus_get_response"]["skus"]["sku"]
    props = {str(s["sku_id"]): s["properties"] for s in sku_rows}
    size_pair = props[red_m.sku_id].split(";")[1]
    assert sku_rows[0]["properties_name"].endswith(f":颜色:红;{size_pair}:尺码:M")
    # Raising both SKUs above the item price (59.90) needs item_price on the last one.
    top_call(
        "taobao.item.sku.price.update",
        {"num_iid": red_m.item_id, "properties": props[red_m.sku_id], "price": "69.90"},
    )
    error = err(
        top_call(
            "taobao.item.sku.price.update",
            {"num_iid": red_m.item_id, "properties": props[red_l.sku_id], "price": "69.90"},
        )
    )
    assert error["sub_code"] == "isv.item-price-out-of-sku-range" and red_l.price == 5990
    top_call(
        "taobao.item.sku.price.update",
        {
            "num_iid": red_m.item_id,
            "properties": props[red_l.sku_id],
            "price": "69.90",
            "item_price": "69.90",
        },
    )
    assert (red_m.price, red_l.price) == (6990, 6990)
    error = err(
        top_call(
            "taobao.item.sku.price.update",
            {"num_iid": red_m.item_id, "properties": props[red_l.sku_id], "price": "1.999"},
        )
    )
    assert error["sub_code"] == "isv.invalid-parameter:price"


def test_offline_send_ships_and_a_repeat_succeeds(top_call: Call, sandbox: TaobaoSandbox) -> None:
    skus = [sandbox.state.skus_by_code(c)[0].sku_id for c in ("CABLE-1M", "CABLE-2M")]
    order = sandbox.state.place_order([(s, 1) for s in skus])
    first, second = (line.line_id for line in order.lines)
    send = {"tid": order.order_id, "out_sid": "SF100", "company_code": "SF", "sub_tid": first}
    body = top_call("taobao.logistics.offline.send", send)
    assert body["logistics_offline_send_response"]["shipping"] == {"is_success": True}
    assert order.status is OrderStatus.PARTLY_SHIPPED
    assert "logistics_offline_send_response" in top_call("taobao.logistics.offline.send", send)  # repeat
    error = err(top_call("taobao.logistics.offline.send", {**send, "out_sid": "YTO1", "company_code": "YTO"}))
    assert error["sub_code"] == "isv.logistics-offline-service-error"
    top_call("taobao.logistics.offline.send", {**send, "sub_tid": second, "out_sid": "SF101"})
    assert order.status is OrderStatus.SHIPPED
    detail = top_call("taobao.trade.fullinfo.get", {"tid": order.order_id, "fields": "tid,status,orders"})
    lines = detail["trade_fullinfo_get_response"]["trade"]["orders"]["order"]
    assert [line["invoice_no"] for line in lines] == ["SF100", "SF101"]


def test_offline_send_refuses_an_unpaid_trade(top_call: Call, sandbox: TaobaoSandbox) -> None:
    order = sandbox.state.order_code("CUP-500", paid=False)
    error = err(
        top_call(
            "taobao.logistics.offline.send", {"tid": order.order_id, "out_sid": "SF1", "company_code": "SF"}
        )
    )
    assert error["code"] == 15 and "WAIT_BUYER_PAY" in error["sub_msg"]
    error = err(top_call("taobao.trade.fullinfo.get", {"tid": "1", "fields": "tid"}))
    assert error["sub_code"] == "isv.trade-not-exist:invalid-tid"


# --- over real HTTP ---------------------------------------------------------------------------------------


def test_served_over_http(sandbox: TaobaoSandbox, top_params: Callable[..., Any]) -> None:
    with serve_in_thread(sandbox) as served, httpx.Client(timeout=10) as http:
        good = http.post(served.url, data=top_params(ONSALE, ITEM_FIELDS, sign_method="hmac-sha256"))
        bad = http.post(
            served.url, data=top_params(ONSALE, ITEM_FIELDS, sign_method="hmac-sha256", secret="wrong-secret")
        )
    assert good.status_code == 200 and good.json()["items_onsale_get_response"]["total_results"] == 3
    assert bad.json()["error_response"]["code"] == 25


# --- methods SDK users call -----------------------------------------------------------------------


def test_trades_sold_get_searches_by_creation_time(
    top_call: Call, sandbox: TaobaoSandbox, clock: FakeClock
) -> None:
    sku = sandbox.state.skus_by_code("CABLE-1M")[0]
    old = sandbox.state.place_order([(sku.sku_id, 1)])
    clock.advance(3600)
    new = sandbox.state.place_order([(sku.sku_id, 1)], paid=False)
    sandbox.state.set_status(old.order_id, OrderStatus.SHIPPED)  # modified now, created an hour ago
    every = top_call("taobao.trades.sold.get", {"fields": "tid,status"})["trades_sold_get_response"]
    assert [str(t["tid"]) for t in every["trades"]["trade"]] == [new.order_id, old.order_id]
    recent = top_call(
        "taobao.trades.sold.get",
        {
            "fields": "tid",
            "start_created": format_cn_time(clock.now() - timedelta(minutes=30)),
            "end_created": format_cn_time(clock.now()),
        },
    )["trades_sold_get_response"]
    assert recent == {
        "total_results": 1,
        "trades": {"trade": [{"tid": int(new.order_id)}]},
        "request_id": recent["request_id"],
    }
    unpaid = top_call(
        "taobao.trades.sold.get",
        {"fields": "tid", "status": "WAIT_BUYER_PAY", "page_size": "1", "use_has_next": "true"},
    )
    unpaid = unpaid["trades_sold_get_response"]
    assert unpaid["has_next"] is False and len(unpaid["trades"]["trade"]) == 1
    backwards = {
        "fields": "tid",
        "start_created": format_cn_time(clock.now()),
        "end_created": format_cn_time(clock.now() - timedelta(hours=2)),
    }
    refused = err(top_call("taobao.trades.sold.get", backwards))
    assert refused["sub_code"] == "isv.invalid-parameter:end_created"
    assert err(top_call("taobao.trades.sold.get", {}))["sub_code"] == "isv.missing-parameter:fields"


def test_item_sku_get_reads_one_sku(top_call: Call, sandbox: TaobaoSandbox) -> None:
    sku = sandbox.state.skus_by_code("CABLE-1M")[0]
    answer = top_call("taobao.item.sku.get", {"sku_id": sku.sku_id, "fields": "sku_id,quantity,outer_id"})
    assert answer["item_sku_get_response"]["sku"] == {
        "sku_id": int(sku.sku_id),
        "quantity": sku.quantity,
        "outer_id": "CABLE-1M",
    }
    wrong_item = top_call("taobao.item.sku.get", {"sku_id": sku.sku_id, "num_iid": "1", "fields": "sku_id"})
    assert err(wrong_item)["sub_code"] == "isv.sku-not-exist:invalid-skuId"


def test_token_refresh_needs_no_session_and_uses_the_refresh_token_up(
    top_call: Call, sandbox: TaobaoSandbox
) -> None:
    method = "taobao.top.auth.token.refresh"
    answer = top_call(method, {"refresh_token": sandbox.refresh_token}, drop=("session",))
    token = json.loads(answer["top_auth_token_refresh_response"]["token_result"])
    assert sandbox.credentials.check(token["access_token"]) == "ok"
    assert sandbox.credentials.check(sandbox.access_token) == "ok"  # the old session lives on
    listed = top_call(ONSALE, ITEM_FIELDS, session=token["access_token"])
    assert "items_onsale_get_response" in listed
    again = err(top_call(method, {"refresh_token": sandbox.refresh_token}, drop=("session",)))
    assert (again["code"], again["sub_code"]) == (15, "isv.refresh-token-invalid")
    assert err(top_call(method, {}, drop=("session",)))["sub_code"] == "isv.missing-parameter:refresh_token"
    newer = top_call(method, {"refresh_token": token["refresh_token"]}, drop=("session",))
    assert "top_auth_token_refresh_response" in newer


def test_token_create_exchanges_a_code_once(top_call: Call, sandbox: TaobaoSandbox, clock: FakeClock) -> None:
    method = "taobao.top.auth.token.create"
    code = sandbox.authorization_code()
    answer = top_call(method, {"code": code}, drop=("session",))
    token = json.loads(answer["top_auth_token_create_response"]["token_result"])
    assert sandbox.credentials.check(token["access_token"]) == "ok"
    assert token["refresh_token"] in sandbox.credentials.refresh_tokens
    assert err(top_call(method, {"code": code}, drop=("session",)))["sub_code"] == "isv.code-invalid"
    late = sandbox.authorization_code()
    clock.advance(sandbox.auth_code_ttl.total_seconds())
    assert err(top_call(method, {"code": late}, drop=("session",)))["sub_code"] == "isv.code-invalid"
