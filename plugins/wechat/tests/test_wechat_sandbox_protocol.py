"""The sandbox speaks the WeChat store's protocol to ANY client: every request here is
built by hand (httpx.Request + json), not by the plugin's client."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from hub.models import OrderStatus
from hub.testing import FakeClock
from hub.units import to_unix
from hub_wechat.sandbox import WechatSandbox

from .conftest import sku_of

ORIGIN = "http://sandbox.test"


def post(
    sandbox: WechatSandbox,
    path: str,
    body: Any = None,
    *,
    token: str | None = "default",
    raw: bytes | None = None,
) -> dict[str, Any]:
    params = {} if token is None else {"access_token": sandbox.access_token if token == "default" else token}
    content = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    request = httpx.Request(
        "POST",
        f"{ORIGIN}{path}",
        params=params,
        content=content,
        headers={"content-type": "application/json"},
    )
    response = sandbox.dispatch(request)
    assert response.status_code == 200  # WeChat answers errors over HTTP 200
    return response.json()


def api(sandbox: WechatSandbox, method: str, body: Any = None, **kw: Any) -> dict[str, Any]:
    return post(sandbox, f"/channels/ec/{method}", body, **kw)


def stable_token(sandbox: WechatSandbox, **overrides: Any) -> dict[str, Any]:
    body = {
        "grant_type": "client_credential",
        "appid": sandbox.credentials.app_key,
        "secret": sandbox.credentials.app_secret,
        "force_refresh": False,
        **overrides,
    }
    return post(sandbox, "/cgi-bin/stable_token", body, token=None)


def plain_token(sandbox: WechatSandbox, **overrides: Any) -> dict[str, Any]:
    params = {
        "grant_type": "client_credential",
        "appid": sandbox.credentials.app_key,
        "secret": sandbox.credentials.app_secret,
        **overrides,
    }
    return sandbox.dispatch(httpx.Request("GET", f"{ORIGIN}/cgi-bin/token", params=params)).json()


def product_of(sandbox: WechatSandbox, code: str) -> tuple[str, str]:
    sku = sku_of(sandbox, code)
    return sku.item_id, sku.sku_id


# --- tokens ------------------------------------------------------------------------------------


def test_sandbox_ids_look_like_wechat_ids(sandbox: WechatSandbox) -> None:
    assert sandbox.credentials.app_key.startswith("wx") and len(sandbox.credentials.app_key) == 18
    assert "refresh_token" not in sandbox.shop_credentials()


def test_stable_token_checks_appid_and_secret(sandbox: WechatSandbox) -> None:
    assert stable_token(sandbox, appid="wx0000000000000000")["errcode"] == 40013
    wrong = stable_token(sandbox, secret="nope")
    assert wrong["errcode"] == 40001 and wrong["errmsg"].startswith("invalid credential")
    assert stable_token(sandbox, grant_type="password")["errcode"] == 40002


def test_stable_token_returns_the_same_token_until_its_last_five_minutes(
    sandbox: WechatSandbox, clock: FakeClock
) -> None:
    first = stable_token(sandbox)
    assert first["access_token"] == sandbox.access_token and first["expires_in"] == 7200
    clock.advance(3600)
    again = stable_token(sandbox)
    assert again["access_token"] == first["access_token"] and again["expires_in"] == 3600
    clock.advance(3600 - 200)  # 200 s left: inside the renewal window
    renewed = stable_token(sandbox)
    assert renewed["access_token"] != first["access_token"] and renewed["expires_in"] == 7200
    # The old token keeps working until its own end (the 5-minute overlap)...
    assert api(sandbox, "product/list/get", {"page_size": 1}, token=first["access_token"])["errcode"] == 0
    clock.advance(200)
    # ...and then expires with the documented errmsg.
    expired = api(sandbox, "product/list/get", {"page_size": 1}, token=first["access_token"])
    assert expired["errcode"] == 42001 and expired["errmsg"].startswith("access_token expired rid: ")
    assert api(sandbox, "product/list/get", {"page_size": 1}, token=renewed["access_token"])["errcode"] == 0


def test_force_refresh_invalidates_the_old_token(sandbox: WechatSandbox) -> None:
    old = sandbox.access_token
    new = stable_token(sandbox, force_refresh=True)["access_token"]
    assert new != old
    assert api(sandbox, "product/list/get", {"page_size": 1}, token=old)["errcode"] == 40001
    assert api(sandbox, "product/list/get", {"page_size": 1}, token=new)["errcode"] == 0


def test_cgi_bin_token_issues_a_new_token_per_call(sandbox: WechatSandbox, clock: FakeClock) -> None:
    assert plain_token(sandbox, appid="wx1")["errcode"] == 40013
    assert plain_token(sandbox, secret="x")["errcode"] == 40001
    first = plain_token(sandbox)
    assert first["expires_in"] == 7200 and "errcode" not in first
    second = plain_token(sandbox)
    assert second["access_token"] != first["access_token"]
    clock.advance(299)
    assert api(sandbox, "product/list/get", {"page_size": 1}, token=first["access_token"])["errcode"] == 0
    clock.advance(1)
    assert api(sandbox, "product/list/get", {"page_size": 1}, token=first["access_token"])["errcode"] == 42001


@pytest.mark.parametrize(("token", "errcode"), [(None, 41001), ("", 41001), ("forged", 40001)])
def test_access_token_checks(sandbox: WechatSandbox, token: str | None, errcode: int) -> None:
    assert api(sandbox, "product/list/get", {"page_size": 1}, token=token)["errcode"] == errcode


def test_expired_token(sandbox: WechatSandbox) -> None:
    sandbox.expire_tokens()
    answer = api(sandbox, "order/get", {"order_id": "1"})
    assert answer["errcode"] == 42001 and "rid: " in answer["errmsg"]


# --- request shape ------------------------------------------------------------------------------


def test_request_shape_errors(sandbox: WechatSandbox) -> None:
    get = httpx.Request(
        "GET", f"{ORIGIN}/channels/ec/product/list/get", params={"access_token": sandbox.access_token}
    )
    assert sandbox.dispatch(get).json()["errcode"] == 43002
    assert api(sandbox, "product/list/get", raw=b"")["errcode"] == 44002
    assert api(sandbox, "product/list/get", raw=b"{page_size: 1")["errcode"] == 47001
    assert api(sandbox, "product/list/get", raw=b"[1]")["errcode"] == 47001
    assert api(sandbox, "no/such/api", {})["errcode"] == 40066


def test_ids_must_be_strings(sandbox: WechatSandbox) -> None:
    product_id, _ = product_of(sandbox, "CUP-500")
    assert api(sandbox, "product/get", {"product_id": int(product_id)})["errcode"] == 47001
    assert api(sandbox, "product/get", {"product_id": product_id})["errcode"] == 0


def test_throttling_answers_45011(sandbox: WechatSandbox) -> None:
    sandbox.faults.inject("throttle")
    answer = api(sandbox, "product/list/get", {"page_size": 1})
    assert answer["errcode"] == 45011 and "minute" in answer["errmsg"]


def test_daily_quota_answers_45009(sandbox: WechatSandbox, clock: FakeClock) -> None:
    sandbox.daily_quota = 2
    assert [api(sandbox, "product/list/get", {"page_size": 1})["errcode"] for _ in range(3)] == [0, 0, 45009]
    assert api(sandbox, "order/get", {"order_id": "1"})["errcode"] != 45009  # per API
    clock.advance(24 * 3600)  # a new day (and a new token: the old one expired meanwhile)
    token = stable_token(sandbox)["access_token"]
    assert api(sandbox, "product/list/get", {"page_size": 1}, token=token)["errcode"] == 0


# --- products and stock -------------------------------------------------------------------------


def test_product_pages(sandbox: WechatSandbox) -> None:
    assert api(sandbox, "product/list/get", {"page_size": 31})["errcode"] == 10020051
    assert api(sandbox, "product/list/get", {})["errcode"] == 10020051
    ids, next_key = [], ""
    while True:
        page = api(sandbox, "product/list/get", {"page_size": 2, "next_key": next_key})
        assert page["errcode"] == 0 and page["total_num"] == 3
        if not page["product_ids"]:
            break
        ids += page["product_ids"]
        next_key = page["next_key"]
    assert ids == sorted(sandbox.state.items, key=int) and all(isinstance(i, str) for i in ids)


def test_product_get_shape(sandbox: WechatSandbox) -> None:
    product_id, sku_id = product_of(sandbox, "TSHIRT-RED-M")
    product = api(sandbox, "product/get", {"product_id": product_id, "data_type": 1})["product"]
    assert product["status"] == 5 and product["edit_status"] == 4
    sku = next(s for s in product["skus"] if s["sku_id"] == sku_id)
    assert sku["sku_code"] == "TSHIRT-RED-M" and sku["sale_price"] == 5990 and sku["stock_num"] == 40
    assert sku["sku_attrs"] == [
        {"attr_key": "颜色", "attr_value": "红"},
        {"attr_key": "尺码", "attr_value": "M"},
    ]
    both = api(sandbox, "product/get", {"product_id": product_id, "data_type": 3})
    assert {"product", "edit_product"} <= set(both)
    assert api(sandbox, "product/get", {"product_id": "1"})["errcode"] == 10020052
    sandbox.state.items[product_id].on_sale = False
    assert api(sandbox, "product/get", {"product_id": product_id})["product"]["status"] == 11


def test_stock_update_diff_types(sandbox: WechatSandbox) -> None:
    product_id, sku_id = product_of(sandbox, "CUP-500")  # 15 units

    def update(diff_type: int, num: int) -> int:
        return api(
            sandbox,
            "product/stock/update",
            {"product_id": product_id, "sku_id": sku_id, "diff_type": diff_type, "num": num},
        )["errcode"]

    assert update(1, 5) == 0 and sandbox.state.sku(sku_id).quantity == 20
    assert update(2, 8) == 0 and sandbox.state.sku(sku_id).quantity == 12
    assert update(3, 4) == 0 and sandbox.state.sku(sku_id).quantity == 4
    assert update(2, 5) not in (0, -1) and sandbox.state.sku(sku_id).quantity == 4  # below 0: refused
    assert update(4, 1) == 10020051 and update(1, -1) == 10020051
    stock = api(sandbox, "product/stock/get", {"product_id": product_id, "sku_id": sku_id})["data"]
    assert stock["normal_stock_num"] == 4 and stock["total_stock_num"] == 4
    other_product, _ = product_of(sandbox, "CABLE-1M")
    wrong = api(
        sandbox,
        "product/stock/update",
        {"product_id": other_product, "sku_id": sku_id, "diff_type": 1, "num": 1},
    )
    assert wrong["errcode"] == 10020052


def test_stock_update_refused_while_under_audit(sandbox: WechatSandbox) -> None:
    product_id, sku_id = product_of(sandbox, "CUP-500")
    sandbox.set_edit_status(product_id, 2)
    answer = api(
        sandbox,
        "product/stock/update",
        {"product_id": product_id, "sku_id": sku_id, "diff_type": 1, "num": 1},
    )
    assert answer["errcode"] == 10020049 and sandbox.state.sku(sku_id).quantity == 15


def test_auditfree_price_update_is_all_or_nothing(sandbox: WechatSandbox) -> None:
    product_id, red_m = product_of(sandbox, "TSHIRT-RED-M")
    _, red_l = product_of(sandbox, "TSHIRT-RED-L")
    ok = api(
        sandbox,
        "product/auditfree",
        {"product_id": product_id, "skus": [{"sku_id": red_m, "sale_price": 4990}]},
    )
    assert ok["errcode"] == 0 and sandbox.state.sku(red_m).price == 4990
    bad = api(
        sandbox,
        "product/auditfree",
        {
            "product_id": product_id,
            "skus": [{"sku_id": red_m, "sale_price": 3990}, {"sku_id": red_l, "sale_price": 0}],
        },
    )
    assert bad["errcode"] == 10020051 and sandbox.state.sku(red_m).price == 4990
    stock = api(
        sandbox,
        "product/auditfree",
        {"product_id": product_id, "skus": [{"sku_id": red_l, "stock_info": {"diff_type": 1, "num": 2}}]},
    )
    assert stock["errcode"] == 0 and sandbox.state.sku(red_l).quantity == 2


# --- orders ---------------------------------------------------------------------------------------


def place(sandbox: WechatSandbox, clock: FakeClock, count: int) -> list[str]:
    sku = sku_of(sandbox, "CABLE-1M")
    ids = []
    for _ in range(count):
        clock.advance(60)
        ids.append(sandbox.state.place_order([(sku.sku_id, 1)]).order_id)
    return ids


def test_order_list_rules(sandbox: WechatSandbox, clock: FakeClock) -> None:
    now = to_unix(clock.now())
    week = 7 * 24 * 3600
    too_long = api(
        sandbox,
        "order/list/get",
        {"update_time_range": {"start_time": now - week - 1, "end_time": now}, "page_size": 10},
    )
    assert too_long["errcode"] >= 10_000_000 and "7 days" in too_long["errmsg"]
    too_big = api(
        sandbox,
        "order/list/get",
        {"update_time_range": {"start_time": now, "end_time": now}, "page_size": 101},
    )
    assert too_big["errcode"] >= 10_000_000 and "page_size" in too_big["errmsg"]
    assert api(sandbox, "order/list/get", {"page_size": 10})["errcode"] >= 10_000_000
    week_range = {"start_time": now - week, "end_time": now}
    exactly = api(sandbox, "order/list/get", {"create_time_range": week_range, "page_size": 100})
    assert exactly["errcode"] == 0


def test_order_pages_and_shape(sandbox: WechatSandbox, clock: FakeClock) -> None:
    start = to_unix(clock.now())
    placed = place(sandbox, clock, 5)
    body = {"update_time_range": {"start_time": start, "end_time": to_unix(clock.now())}, "page_size": 2}
    seen, next_key = [], ""
    while True:
        page = api(sandbox, "order/list/get", {**body, "next_key": next_key})
        seen += page["order_id_list"]
        if not page["has_more"]:
            break
        next_key = page["next_key"]
    assert seen == placed
    order = api(sandbox, "order/get", {"order_id": placed[0]})["order"]
    assert order["status"] == 20 and isinstance(order["order_id"], str)
    info = order["order_detail"]["product_infos"][0]
    assert info["sku_code"] == "CABLE-1M" and info["sku_cnt"] == 1 and info["sale_price"] == 1990
    assert order["order_detail"]["price_info"]["order_price"] == 1990
    assert order["create_time"] == start + 60 and order["order_detail"]["pay_info"]["pay_time"] == start + 60
    assert api(sandbox, "order/get", {"order_id": "1"})["errcode"] >= 10_000_000


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (OrderStatus.PENDING_PAYMENT, 10),
        (OrderStatus.PARTLY_SHIPPED, 21),
        (OrderStatus.SHIPPED, 30),
        (OrderStatus.COMPLETED, 100),
        (OrderStatus.CANCELLED, 250),
        (OrderStatus.REFUNDED, 200),
    ],
)
def test_order_status_codes(sandbox: WechatSandbox, status: OrderStatus, code: int) -> None:
    sku = sku_of(sandbox, "CABLE-1M")
    order = sandbox.state.place_order([(sku.sku_id, 1)], paid=status is not OrderStatus.PENDING_PAYMENT)
    if status is not OrderStatus.PENDING_PAYMENT:
        sandbox.state.set_status(order.order_id, status)
    assert api(sandbox, "order/get", {"order_id": order.order_id})["order"]["status"] == code


def test_delivery_send(sandbox: WechatSandbox) -> None:
    cup, cable = sku_of(sandbox, "CUP-500"), sku_of(sandbox, "CABLE-1M")
    order = sandbox.state.place_order([(cup.sku_id, 1), (cable.sku_id, 2)])

    def send(waybill: str, products: list[dict[str, Any]] | None) -> dict[str, Any]:
        parcel: dict[str, Any] = {"delivery_id": "SF", "waybill_id": waybill, "deliver_type": 1}
        if products is not None:
            parcel["product_infos"] = products
        return api(sandbox, "order/delivery/send", {"order_id": order.order_id, "delivery_list": [parcel]})

    mismatch = send("SF1", [{"product_id": cable.item_id, "sku_id": cable.sku_id, "product_cnt": 1}])
    assert mismatch["errcode"] >= 10_000_000
    first = send("SF1", [{"product_id": cup.item_id, "sku_id": cup.sku_id, "product_cnt": 1}])
    assert first["errcode"] == 0 and sandbox.state.order(order.order_id).status is OrderStatus.PARTLY_SHIPPED
    wire = api(sandbox, "order/get", {"order_id": order.order_id})["order"]
    assert wire["status"] == 21
    parcels = wire["order_detail"]["delivery_info"]["delivery_product_info"]
    assert [p["waybill_id"] for p in parcels] == ["SF1"]
    assert send("SF2", None)["errcode"] == 0  # the rest
    assert sandbox.state.order(order.order_id).status is OrderStatus.SHIPPED
    assert send("SF2", None)["errcode"] >= 10_000_000  # nothing left to ship


# --- limited-time discounts -------------------------------------------------------------------------


def task_body(
    sandbox: WechatSandbox,
    clock: FakeClock,
    code: str = "CUP-500",
    *,
    price: int = 9900,
    hours: float = 2,
    start_in: float = 3600,
    stock: int = 1,
) -> dict[str, Any]:
    product_id, sku_id = product_of(sandbox, code)
    start = to_unix(clock.now() + timedelta(seconds=start_in))
    return {
        "product_id": product_id,
        "start_time": start,
        "end_time": start + int(hours * 3600),
        "limited_discount_skus": [{"sku_id": sku_id, "sale_price": price, "sale_stock": stock}],
    }


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"hours": 25}, "24 hours"),
        ({"price": 11000}, "85%"),  # 85.3 % of 129.00 yuan
        ({"price": 1200}, "10%"),  # 9.3 %
        ({"start_in": -3600}, "earlier than now"),
        ({"stock": 16}, "sale_stock"),
    ],
)
def test_limited_discount_rules(
    sandbox: WechatSandbox, clock: FakeClock, change: dict[str, Any], why: str
) -> None:
    answer = api(sandbox, "product/limiteddiscounttask/add", task_body(sandbox, clock, **change))
    assert answer["errcode"] >= 10_000_000 and why in answer["errmsg"]
    assert not sandbox.state.promotions


def test_limited_discount_needs_ten_yuan_off_and_a_ten_yuan_original(
    sandbox: WechatSandbox, clock: FakeClock
) -> None:
    _, sku_id = product_of(sandbox, "CUP-500")
    sandbox.state.set_price(sku_id, 5000)
    answer = api(sandbox, "product/limiteddiscounttask/add", task_body(sandbox, clock, price=4200))
    assert "10 yuan off" in answer["errmsg"]  # 84 % but only 8 yuan off
    sandbox.state.set_price(sku_id, 1000)
    answer = api(sandbox, "product/limiteddiscounttask/add", task_body(sandbox, clock, price=500))
    assert "above 10 yuan" in answer["errmsg"]


def test_one_unfinished_task_per_product(sandbox: WechatSandbox, clock: FakeClock) -> None:
    added = api(sandbox, "product/limiteddiscounttask/add", task_body(sandbox, clock))
    assert added["errcode"] == 0 and isinstance(added["task_id"], str)
    second = api(sandbox, "product/limiteddiscounttask/add", task_body(sandbox, clock, start_in=5 * 3600))
    assert second["errcode"] >= 10_000_000 and "unfinished" in second["errmsg"]
    listed = api(sandbox, "product/limiteddiscounttask/list/get", {"page_size": 50})
    assert [(t["task_id"], t["status"]) for t in listed["limited_discount_tasks"]] == [(added["task_id"], 0)]
    assert api(sandbox, "product/limiteddiscounttask/list/get", {"page_size": 51})["errcode"] == 10020051
    clock.advance(3600)
    _, sku_id = product_of(sandbox, "CUP-500")
    assert sandbox.state.effective_price(sku_id) == 9900  # running: buyers pay the task price
    stop = {"task_id": added["task_id"]}
    assert api(sandbox, "product/limiteddiscounttask/stop", stop)["errcode"] == 0
    assert sandbox.state.effective_price(sku_id) == 12900
    assert api(sandbox, "product/limiteddiscounttask/stop", stop)["errcode"] >= 10_000_000  # already over
    assert api(sandbox, "product/limiteddiscounttask/add", task_body(sandbox, clock))["errcode"] == 0
    assert api(sandbox, "product/limiteddiscounttask/delete", stop)["errcode"] == 0
    assert api(sandbox, "product/limiteddiscounttask/stop", stop)["errcode"] >= 10_000_000  # gone
