"""The sandbox speaks Douyin's protocol to any client: every request here is built by hand
(see ``raw`` in conftest), never by the plugin's client."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from hub.models import OrderStatus
from hub.testing import FakeClock
from hub.units import format_cn_time

from .wire import APP_KEY, APP_SECRET, RawCall, hand_sign

SUCCESS = 10000


def first_product(raw: RawCall) -> dict:
    return raw("/product/listV2", {"page": 1, "size": 10, "status": 0})["data"]["data"][0]


def first_sku(raw: RawCall) -> dict:
    return raw("/sku/list", {"product_id": first_product(raw)["product_id"]})["data"][0]


def assert_error(answer: dict, code: int, sub_code: str) -> None:
    assert (answer["code"], answer["sub_code"]) == (code, sub_code), answer
    assert answer["msg"] and answer["sub_msg"] and answer["log_id"] and "data" not in answer


# --- authentication -------------------------------------------------------------------------


def test_a_correct_request_gets_the_success_envelope(raw: RawCall) -> None:
    answer = raw("/product/listV2", {"page": 1, "size": 10})
    assert answer["code"] == SUCCESS and answer["msg"] == "success"
    assert answer["sub_code"] == "" and answer["sub_msg"] == "" and answer["log_id"]
    assert answer["data"]["total"] == 3 and len(answer["data"]["data"]) == 3


def test_md5_is_the_default_when_sign_method_is_absent(raw: RawCall) -> None:
    assert raw("/product/listV2", {"page": 1, "size": 10}, sign_method=None)["code"] == SUCCESS
    assert raw("/product/listV2", {"page": 1, "size": 10}, sign_method="md5")["code"] == SUCCESS


def test_an_hmac_signature_sent_as_md5_is_rejected(raw: RawCall) -> None:
    body = '{"page":1,"size":10}'
    answer = raw(
        "/product/listV2",
        body=body,
        sign_method=None,
        timestamp="1794355200",
        sign=hand_sign(APP_SECRET, APP_KEY, "product.listV2", body, "1794355200", "hmac-sha256"),
    )
    assert_error(answer, 40003, "isv.signature-invalid")


def test_bad_signature(raw: RawCall) -> None:
    params = {"page": 1, "size": 10}
    assert_error(raw("/product/listV2", params, secret="wrong"), 40003, "isv.signature-invalid")
    assert_error(raw("/product/listV2", params, sign="0" * 64), 40003, "isv.signature-invalid")


def test_the_signature_covers_the_body_exactly(raw: RawCall) -> None:
    # Signed over one serialisation, sent with another: Douyin signs the body as sent.
    ts = "1794355200"
    sign = hand_sign(APP_SECRET, APP_KEY, "product.listV2", '{"page":1,"size":10}', ts, "hmac-sha256")
    answer = raw("/product/listV2", body='{"size":10,"page":1}', timestamp=ts, sign=sign)
    assert_error(answer, 40003, "isv.signature-invalid")


def test_access_token_is_not_signed(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    # The same signature is valid whatever access_token travels with it.
    assert raw("/product/listV2", {"page": 1, "size": 10}, token=sandbox.access_token)["code"] == SUCCESS


def test_bad_and_missing_app_key(raw: RawCall) -> None:
    assert_error(raw("/product/listV2", {}, app_key="123"), 40003, "isv.app-id-invalid")
    assert_error(raw("/product/listV2", {}, drop=["app_key"]), 40001, "isv.app-id-missing")


def test_missing_signature(raw: RawCall) -> None:
    assert_error(raw("/product/listV2", {}, drop=["sign"]), 40001, "isv.signature-missing")


def test_method_must_match_the_path(raw: RawCall) -> None:
    assert_error(raw("/product/listV2", {}, method="sku.list"), 40003, "isv.parameter-format-invalid")


def test_a_double_slash_path_is_accepted(raw: RawCall) -> None:
    # The official Go SDK joins base + "/" + "/product/listV2".
    assert raw("//product/listV2", {"page": 1, "size": 10}, method="product.listV2")["code"] == SUCCESS


def test_unknown_api(raw: RawCall) -> None:
    assert_error(raw("/product/nope", {}), 70000, "isp.api-service-off")


@pytest.mark.parametrize("token", [None, "", "not-a-token"])
def test_missing_or_unknown_token(raw: RawCall, token: str | None) -> None:
    answer = raw("/product/listV2", {"page": 1, "size": 10}, token=token)
    assert_error(answer, 40003, "isv.access-token-expired")
    assert answer["msg"] == "非法的参数" and answer["sub_msg"] == "access_token已过期"


def test_expired_token(raw: RawCall, sandbox, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    clock.advance(7 * 86400)
    assert_error(raw("/product/listV2", {"page": 1, "size": 10}), 40003, "isv.access-token-expired")


@pytest.mark.parametrize("offset", [-601, 601])
def test_skewed_timestamp(raw: RawCall, clock: FakeClock, offset: int) -> None:
    ts = str(int(clock.now().timestamp()) + offset)
    assert_error(raw("/product/listV2", {}, timestamp=ts), 40003, "isv.timestamp-invalid")


def test_timestamp_within_ten_minutes_and_datetime_format(raw: RawCall, clock: FakeClock) -> None:
    ok = str(int(clock.now().timestamp()) + 599)
    assert raw("/product/listV2", {"page": 1, "size": 10}, timestamp=ok)["code"] == SUCCESS
    cn = format_cn_time(clock.now())  # "yyyy-MM-dd HH:mm:ss" GMT+8
    assert raw("/product/listV2", {"page": 1, "size": 10}, timestamp=cn)["code"] == SUCCESS
    skewed = format_cn_time(clock.now() + timedelta(minutes=11))
    assert_error(raw("/product/listV2", {}, timestamp=skewed), 40003, "isv.timestamp-invalid")
    assert_error(raw("/product/listV2", {}, timestamp="yesterday"), 40003, "isv.timestamp-format-error")


def test_param_json_must_be_a_json_object(raw: RawCall) -> None:
    assert_error(raw("/product/listV2", body="[1]"), 40003, "isv.parameter-format-invalid")
    assert_error(raw("/product/listV2", body="{nope"), 40003, "isv.parameter-format-invalid")


# --- page and window limits ---------------------------------------------------------------


@pytest.mark.parametrize(
    "params,named",
    [
        ({"page": 1, "size": 101}, "size"),
        ({"page": 0, "size": 10}, "page"),
        ({"page": 101, "size": 10}, "page"),
        ({"page": 100, "size": 100}, None),
    ],
)
def test_product_page_limits(raw: RawCall, params: dict, named: str | None) -> None:
    answer = raw("/product/listV2", params)
    if named is None:
        assert answer["code"] == SUCCESS  # page*size == 10000 is still allowed
    else:
        assert_error(answer, 40004, "isv.parameter-invalid")
        assert answer["sub_msg"].startswith(named)


def test_product_page_times_size_limit(raw: RawCall, sandbox, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(type(sandbox), "max_product_rows", 50)
    assert_error(raw("/product/listV2", {"page": 2, "size": 30}), 40004, "isv.parameter-invalid")
    assert raw("/product/listV2", {"page": 2, "size": 25})["code"] == SUCCESS


def test_product_status_filter_and_shape(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    item = next(iter(sandbox.state.items.values()))
    item.on_sale = False
    online = raw("/product/listV2", {"page": 1, "size": 10, "status": 0})["data"]
    offline = raw("/product/listV2", {"page": 1, "size": 10, "status": 1})["data"]
    assert (online["total"], offline["total"]) == (2, 1)
    row = offline["data"][0]
    assert row["product_id"] == int(item.item_id) and len(str(row["product_id"])) == 19
    assert row["status"] == 1 and row["name"] == item.title


def test_sku_list_shape(raw: RawCall) -> None:
    product = first_product(raw)
    skus = raw("/sku/list", {"product_id": product["product_id"]})["data"]
    assert isinstance(skus, list) and len(skus) == 2
    sku = skus[0]
    assert isinstance(sku["id"], int) and len(str(sku["id"])) == 16
    assert sku["product_id"] == product["product_id"]
    assert {"code", "price", "stock_num", "spec_detail_name1"} <= set(sku)
    assert isinstance(sku["price"], int)
    # numeric strings are accepted for ids as well
    assert raw("/sku/list", {"product_id": str(product["product_id"])})["code"] == SUCCESS


def test_sku_list_needs_a_known_product(raw: RawCall) -> None:
    assert_error(raw("/sku/list", {}), 40002, "isv.parameter-missing")
    answer = raw("/sku/list", {"product_id": 1})
    assert answer["code"] == 50002 and "不存在" in answer["sub_msg"]


def test_order_window_too_long(raw: RawCall, clock: FakeClock) -> None:
    end = int(clock.now().timestamp())
    answer = raw(
        "/order/searchList", {"update_time_start": end - 86401, "update_time_end": end, "page": 0, "size": 10}
    )
    assert_error(answer, 40004, "isv.parameter-invalid")
    assert answer["sub_msg"].startswith("update_time_end")
    ok = raw(
        "/order/searchList", {"update_time_start": end - 86400, "update_time_end": end, "page": 0, "size": 10}
    )
    assert ok["code"] == SUCCESS


def test_order_window_start_alone_is_measured_to_now(raw: RawCall, clock: FakeClock) -> None:
    start = int(clock.now().timestamp()) - 2 * 86400
    assert_error(
        raw("/order/searchList", {"update_time_start": start, "page": 0, "size": 10}),
        40004,
        "isv.parameter-invalid",
    )


def test_order_page_size_too_large(raw: RawCall) -> None:
    assert_error(raw("/order/searchList", {"page": 0, "size": 101}), 40004, "isv.parameter-invalid")


def test_order_search_shape_status_codes_and_inclusive_bounds(  # type: ignore[no-untyped-def]
    raw: RawCall, sandbox, clock: FakeClock
) -> None:
    sku = next(iter(sandbox.state.iter_skus()))
    paid = sandbox.state.place_order([(sku.sku_id, 1)])
    clock.advance(1)
    unpaid = sandbox.state.place_order([(sku.sku_id, 1)], paid=False)
    t = int(paid.created.timestamp())
    data = raw(
        "/order/searchList",
        {
            "update_time_start": t,
            "update_time_end": t + 1,
            "page": 0,
            "size": 10,
            "order_by": "update_time",
            "order_asc": True,
        },
    )["data"]
    assert (data["page"], data["size"], data["total"]) == (0, 10, 2)
    first, second = data["shop_order_list"]
    assert (first["order_id"], first["order_status"]) == (paid.order_id, 2)
    assert (second["order_id"], second["order_status"], second["pay_time"]) == (unpaid.order_id, 1, 0)
    line = first["sku_order_list"][0]
    assert line["sku_id"] == int(sku.sku_id) and line["item_num"] == 1
    assert line["origin_amount"] == sku.price and line["code"] == (sku.code or "")
    only_end = raw(
        "/order/searchList", {"update_time_start": t + 1, "update_time_end": t + 1, "page": 0, "size": 10}
    )["data"]
    assert [o["order_id"] for o in only_end["shop_order_list"]] == [unpaid.order_id]
    by_status = raw(
        "/order/searchList",
        {
            "update_time_start": t,
            "update_time_end": t + 1,
            "page": 0,
            "size": 10,
            "combine_status": [{"order_status": "1"}],
        },
    )["data"]
    assert by_status["total"] == 1


def test_refunded_and_cancelled_orders_on_the_wire(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    sku = next(iter(sandbox.state.iter_skus()))
    refunded = sandbox.state.place_order([(sku.sku_id, 1)])
    sandbox.state.set_status(refunded.order_id, OrderStatus.REFUNDED)
    cancelled = sandbox.state.place_order([(sku.sku_id, 1)], paid=False)
    sandbox.state.set_status(cancelled.order_id, OrderStatus.CANCELLED)
    detail = raw("/order/orderDetail", {"shop_order_id": refunded.order_id})["data"]["shop_order_detail"]
    assert detail["order_status"] == 4 and detail["pay_time"] > 0
    assert detail["sku_order_list"][0]["after_sale_info"]["refund_status"] == 3
    detail = raw("/order/orderDetail", {"shop_order_id": cancelled.order_id})["data"]["shop_order_detail"]
    assert detail["order_status"] == 4 and detail["pay_time"] == 0
    assert detail["sku_order_list"][0]["after_sale_info"]["refund_status"] == 0


# --- writes ---------------------------------------------------------------------------------


def test_incremental_stock_needs_an_idempotent_id_and_applies_once(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    sku = first_sku(raw)
    base = {"product_id": sku["product_id"], "sku_id": sku["id"], "incremental": True, "stock_num": 5}
    assert_error(raw("/sku/syncStock", base), 40002, "isv.parameter-missing")
    before = sandbox.state.sku(str(sku["id"])).quantity
    assert raw("/sku/syncStock", {**base, "idempotent_id": "once-1"})["code"] == SUCCESS
    again = raw("/sku/syncStock", {**base, "idempotent_id": "once-1"})
    assert_error(again, 40003, "isv.idempotent-id-existed")
    assert sandbox.state.sku(str(sku["id"])).quantity == before + 5


def test_an_incremental_decrease_below_zero_is_refused(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    sku = first_sku(raw)
    sandbox.state.set_quantity(str(sku["id"]), 2)
    answer = raw(
        "/sku/syncStock",
        {
            "product_id": sku["product_id"],
            "sku_id": sku["id"],
            "incremental": True,
            "idempotent_id": "dec-1",
            "stock_num": -3,
        },
    )
    assert_error(answer, 50002, "isv.business-failed:31055")
    assert sandbox.state.sku(str(sku["id"])).quantity == 2
    # nothing was applied, so the same idempotent_id may be used again
    answer = raw(
        "/sku/syncStock",
        {
            "product_id": sku["product_id"],
            "sku_id": sku["id"],
            "incremental": True,
            "idempotent_id": "dec-1",
            "stock_num": -2,
        },
    )
    assert answer["code"] == SUCCESS and sandbox.state.sku(str(sku["id"])).quantity == 0


def test_full_stock_write_and_sku_by_code(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    assert raw("/sku/syncStock", {"code": "CUP-500", "stock_num": 0})["code"] == SUCCESS
    assert sandbox.state.skus_by_code("CUP-500")[0].quantity == 0
    assert_error(raw("/sku/syncStock", {"code": "CUP-500", "stock_num": -1}), 40004, "isv.parameter-invalid")


def test_product_and_sku_must_match(raw: RawCall) -> None:
    sku = first_sku(raw)
    answer = raw("/sku/editPrice", {"product_id": 1, "sku_id": sku["id"], "price": 100})
    assert_error(answer, 40004, "isv.parameter-invalid")


def test_batch_stock_is_all_or_nothing(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    product = first_product(raw)
    skus = raw("/sku/list", {"product_id": product["product_id"]})["data"]
    before = {s["id"]: sandbox.state.sku(str(s["id"])).quantity for s in skus}
    bad = raw(
        "/sku/syncStockBatch",
        {
            "product_id": product["product_id"],
            "incremental": False,
            "sku_sync_list": [{"sku_id": skus[0]["id"], "stock_num": 9}, {"sku_id": 42, "stock_num": 9}],
        },
    )
    assert bad["code"] != SUCCESS
    assert {s["id"]: sandbox.state.sku(str(s["id"])).quantity for s in skus} == before
    good = raw(
        "/sku/syncStockBatch",
        {
            "product_id": product["product_id"],
            "incremental": True,
            "idempotent_id": "b-1",
            "sku_sync_list": [{"sku_id": s["id"], "stock_num": 1} for s in skus],
        },
    )
    assert good["code"] == SUCCESS
    assert {s["id"]: sandbox.state.sku(str(s["id"])).quantity for s in skus} == {
        k: v + 1 for k, v in before.items()
    }


def test_edit_price_in_fen(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    sku = first_sku(raw)
    answer = raw("/sku/editPrice", {"product_id": sku["product_id"], "sku_id": sku["id"], "price": 4990})
    assert answer["code"] == SUCCESS and answer["data"] == {}
    assert sandbox.state.sku(str(sku["id"])).price == 4990
    assert_error(raw("/sku/editPrice", {"sku_id": sku["id"], "price": 0}), 40004, "isv.parameter-invalid")


def test_logistics_add_ships_and_a_repeat_is_success(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    sku = next(iter(sandbox.state.iter_skus()))
    order = sandbox.state.place_order([(sku.sku_id, 1)])
    params = {"order_id": order.order_id, "company_code": "shunfeng", "logistics_code": "SF1"}
    assert raw("/order/logisticsAdd", params)["code"] == SUCCESS
    assert sandbox.state.order(order.order_id).status is OrderStatus.SHIPPED
    assert raw("/order/logisticsAdd", params)["code"] == SUCCESS
    other = raw("/order/logisticsAdd", {**params, "logistics_code": "SF2"})
    assert other["code"] == 50002
    assert_error(raw("/order/logisticsAdd", {"order_id": order.order_id}), 40002, "isv.parameter-missing")


def test_throttled_answer(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.faults.inject("throttle")
    answer = raw("/product/listV2", {"page": 1, "size": 10})
    assert answer["code"] == 60000 and "data" not in answer


def test_calls_are_counted_per_api(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    raw("/product/listV2", {"page": 1, "size": 10})
    raw("/product/listV2", {"page": 1, "size": 10})
    assert sandbox.calls["product.listV2"] == 2


# --- the legacy envelope, and methods SDK users call ----------------------------------------------

NEW_ONLY = {"x-open-no-old-err-code": "1"}


def test_without_the_opt_out_header_answers_carry_the_legacy_fields(raw: RawCall) -> None:
    ok = raw("/product/listV2", {"page": 1, "size": 1})
    assert (ok["err_no"], ok["message"], ok["code"]) == (0, "success", SUCCESS)
    refused = raw("/product/listV2", {"page": 1, "size": 1}, secret="wrong")
    assert (refused["err_no"], refused["message"]) == (40003, refused["sub_msg"])
    assert refused["code"] == 40003


def test_with_the_opt_out_header_answers_have_only_the_new_fields(raw: RawCall) -> None:
    ok = raw("/product/listV2", {"page": 1, "size": 1}, headers=NEW_ONLY)
    assert ok["code"] == SUCCESS and "err_no" not in ok and "message" not in ok
    refused = raw("/product/listV2", {"page": 1, "size": 1}, secret="wrong", headers=NEW_ONLY)
    assert_error(refused, 40003, "isv.signature-invalid")
    assert "err_no" not in refused and "message" not in refused


def test_product_detail_by_id_or_merchant_code(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    item = next(i for i in sandbox.state.items.values() if i.code)
    by_id = raw("/product/detail", {"product_id": item.item_id}, headers=NEW_ONLY)["data"]
    assert by_id["product_id_str"] == item.item_id and by_id["name"] == item.title
    assert sorted(row["sku_id"] for row in by_id["spec_prices"]) == sorted(int(s) for s in item.skus)
    assert {row["stock_num"] for row in by_id["spec_prices"]} == {s.quantity for s in item.skus.values()}
    by_code = raw("/product/detail", {"out_product_id": item.code}, headers=NEW_ONLY)["data"]
    assert by_code["product_id"] == by_id["product_id"]
    assert_error(raw("/product/detail", {}, headers=NEW_ONLY), 40002, "isv.parameter-missing")
    assert_error(raw("/product/detail", {"product_id": "1"}, headers=NEW_ONLY), 50002, "isv.business-failed")


def test_self_authorisation_by_test_shop(raw: RawCall, sandbox) -> None:  # type: ignore[no-untyped-def]
    created = raw(
        "/token/create", {"code": "", "grant_type": "authorization_self", "test_shop": "1"}, token=None
    )
    assert created["err_no"] == 0 and sandbox.credentials.check(created["data"]["access_token"]) == "ok"
    refused = raw(
        "/token/create", {"code": "", "grant_type": "authorization_self", "shop_id": "1"}, token=None
    )
    assert refused["sub_code"] == "dop.token-generate-failed:no-authorization" and refused["err_no"] != 0
    assert sandbox.serve_notes() == {"shop_id": str(sandbox.shop_id)}


def test_param_json_may_come_in_the_query_instead_of_the_body(sandbox, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    body = '{"page":1,"size":1}'
    timestamp = str(int(clock.now().timestamp()))
    query = {
        "app_key": APP_KEY,
        "method": "product.listV2",
        "timestamp": timestamp,
        "v": "2",
        "sign_method": "hmac-sha256",
        "access_token": sandbox.access_token,
        "param_json": body,
        "sign": hand_sign(APP_SECRET, APP_KEY, "product.listV2", body, timestamp, "hmac-sha256"),
    }
    request = httpx.Request("POST", "http://sandbox.test/product/listV2", params=query)
    answer = sandbox.dispatch(request).json()
    assert answer["code"] == SUCCESS and answer["data"]["size"] == 1
