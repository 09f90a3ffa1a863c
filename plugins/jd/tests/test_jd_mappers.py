"""Pure JD <-> canonical conversions: yuan <-> fen, Asia/Shanghai <-> UTC, states."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from hub.models import ListingStatus, OrderStatus
from hub_jd.mappers import (
    STATE_TO_STATUS,
    JdDataError,
    ceil_cn_time,
    cn_time,
    fen_from_yuan,
    id_param,
    listing_from_jd,
    optional_time,
    order_from_jd,
    state_for,
    status_from_jd,
    yuan,
)
from hub_jd.settings import ALL_ORDER_STATES

from .documented import documented_order_states


def sku_row(**changes: Any) -> dict[str, Any]:
    row = {
        "skuId": "10020000001",
        "wareId": "10010000001",
        "outerId": "CUP-500",
        "jdPrice": "129.00",
        "stockNum": 15,
        "status": 1,
        "skuName": "保温杯 容量:500ml",
    }
    return {**row, **changes}


def order_info(**changes: Any) -> dict[str, Any]:
    info = {
        "orderId": "230100000008",
        "orderState": "WAIT_SELLER_STOCK_OUT",
        "orderStartTime": "2026-11-11 08:01:00",
        "modified": "2026-11-11 08:02:03",
        "paymentConfirmTime": "2026-11-11 08:01:30",
        "orderTotalPrice": "158.80",
        "itemInfoList": [
            {
                "skuId": "10020000003",
                "outerSkuId": "CUP-500",
                "wareId": "10010000002",
                "jdPrice": "129.00",
                "itemTotal": "1",
                "skuName": "保温杯",
            },
            {
                "skuId": "10020000005",
                "outerSkuId": "",
                "wareId": "10010000003",
                "jdPrice": "14.90",
                "itemTotal": "2",
            },
        ],
    }
    return {**info, **changes}


# --- listings -------------------------------------------------------------------------------


def test_listing_from_a_sku_row() -> None:
    listing = listing_from_jd(sku_row())
    assert listing.platform_sku_id == "10020000001" and listing.platform_item_id == "10010000001"
    assert listing.master_code == "CUP-500" and listing.price == 12900 and listing.quantity == 15
    assert listing.status is ListingStatus.ON_SALE and listing.title == "保温杯 容量:500ml"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"skuId": 10020000001, "wareId": 10010000001}, ("10020000001", "10010000001")),  # JSON numbers
        ({"jdPrice": 129}, 12900),
        ({"jdPrice": 129.9}, 12990),
        ({"jdPrice": "0.01"}, 1),
        ({"stockNum": "15"}, 15),
        ({"status": 2}, ListingStatus.OFF_SALE),
        ({"status": "1"}, ListingStatus.ON_SALE),
        ({"outerId": ""}, None),
        ({"outerId": "  "}, None),
        ({"outerId": None}, None),
    ],
)
def test_listing_accepts_jd_variants(changes: dict[str, Any], expected: Any) -> None:
    listing = listing_from_jd(sku_row(**changes))
    got = {
        "skuId": (listing.platform_sku_id, listing.platform_item_id),
        "jdPrice": listing.price,
        "stockNum": listing.quantity,
        "status": listing.status,
        "outerId": listing.master_code,
    }[next(iter(changes))]
    assert got == expected


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"jdPrice": "12.345"}, "jdPrice"),
        ({"jdPrice": "abc"}, "jdPrice"),
        ({"jdPrice": None}, "jdPrice"),
        ({"jdPrice": "-1.00"}, "jdPrice"),
        ({"stockNum": "x"}, "stockNum"),
        ({"stockNum": -2}, "stockNum"),
        ({"status": 4}, "status"),
        ({"skuId": None}, "skuId"),
        ({"wareId": ""}, "wareId"),
    ],
)
def test_listing_refuses_unreadable_fields(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(JdDataError) as caught:
        listing_from_jd(sku_row(**changes))
    assert caught.value.field == field and field in str(caught.value)


# --- money and time ---------------------------------------------------------------------------


def test_money_both_ways() -> None:
    assert yuan(5990) == "59.90" and yuan(1) == "0.01" and yuan(100) == "1.00"
    assert fen_from_yuan("59.90", "x") == 5990 and fen_from_yuan(59.9, "x") == 5990
    with pytest.raises(JdDataError):
        fen_from_yuan(True, "x")


def test_times_are_asia_shanghai() -> None:
    instant = datetime(2026, 11, 10, 16, 0, 0, 250_000, tzinfo=UTC)
    assert cn_time(instant) == "2026-11-11 00:00:00"
    assert ceil_cn_time(instant) == "2026-11-11 00:00:01"
    assert ceil_cn_time(instant.replace(microsecond=0)) == "2026-11-11 00:00:00"


@pytest.mark.parametrize("value", [None, "", "0001-01-01 00:00:00", "1970-01-01 08:00:00"])
def test_placeholder_payment_times_mean_unpaid(value: Any) -> None:
    assert optional_time(value, "paymentConfirmTime") is None


# --- orders ---------------------------------------------------------------------------------


def test_order_from_order_info() -> None:
    order = order_from_jd(order_info())
    assert order.platform_order_id == "230100000008" and order.platform_status == "WAIT_SELLER_STOCK_OUT"
    assert order.status is OrderStatus.AWAITING_SHIPMENT
    assert order.created_at == datetime(2026, 11, 11, 0, 1, tzinfo=UTC)
    assert order.modified_at == datetime(2026, 11, 11, 0, 2, 3, tzinfo=UTC)
    assert order.paid_at == datetime(2026, 11, 11, 0, 1, 30, tzinfo=UTC)
    assert order.total == 15880 and isinstance(order.total, int)
    first, second = order.lines
    assert (first.line_id, first.platform_sku_id, first.platform_item_id) == (
        "10020000003",
        "10020000003",
        "10010000002",
    )
    assert (first.master_code, first.quantity, first.unit_price, first.title) == (
        "CUP-500",
        1,
        12900,
        "保温杯",
    )
    assert (second.master_code, second.quantity, second.unit_price) == (None, 2, 1490)
    assert not first.shipped and not first.refunded


def test_every_documented_state_is_mapped() -> None:
    documented = documented_order_states()  # the README's table, not a copy of the mapper's
    assert set(STATE_TO_STATUS) == set(ALL_ORDER_STATES) == set(documented)
    for state, statuses in documented.items():
        # TRADE_CANCELED is documented as cancelled or refunded; without a payment time it is cancelled
        assert status_from_jd(state, None).value in statuses


def test_cancelled_after_payment_is_refunded() -> None:
    paid = order_from_jd(order_info(orderState="TRADE_CANCELED"))
    assert paid.status is OrderStatus.REFUNDED and all(line.refunded for line in paid.lines)
    unpaid = order_from_jd(order_info(orderState="TRADE_CANCELED", paymentConfirmTime=""))
    assert unpaid.status is OrderStatus.CANCELLED and unpaid.paid_at is None
    as_cancelled = order_from_jd(order_info(orderState="TRADE_CANCELED"), refund_from_payment_time=False)
    assert as_cancelled.status is OrderStatus.CANCELLED


def test_shipped_orders_mark_their_lines() -> None:
    for state in ("WAIT_GOODS_RECEIVE_CONFIRM", "FINISHED_L"):
        assert all(line.shipped for line in order_from_jd(order_info(orderState=state)).lines)


def test_created_falls_back_to_modified() -> None:
    info = order_info()
    del info["orderStartTime"]
    order = order_from_jd(info)
    assert order.created_at == order.modified_at


def test_a_repeated_sku_gets_distinct_line_ids() -> None:
    row = order_info()["itemInfoList"][0]
    order = order_from_jd(order_info(itemInfoList=[row, row]))
    assert [line.line_id for line in order.lines] == ["10020000003", "10020000003-2"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"orderState": "WAIT_PAY"}, "orderState"),
        ({"orderState": None}, "orderState"),
        ({"modified": "2026/11/11"}, "modified"),
        ({"orderTotalPrice": "1.234"}, "orderTotalPrice"),
        ({"itemInfoList": []}, "itemInfoList"),
        ({"orderId": None}, "orderId"),
        ({"paymentConfirmTime": "soon"}, "paymentConfirmTime"),
    ],
)
def test_order_refuses_unreadable_fields(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(JdDataError) as caught:
        order_from_jd(order_info(**changes))
    assert caught.value.field == field


def test_line_errors_name_the_line() -> None:
    rows = order_info()["itemInfoList"]
    with pytest.raises(JdDataError) as caught:
        order_from_jd(order_info(itemInfoList=[rows[0], {**rows[1], "itemTotal": "0"}]))
    assert caught.value.field == "itemInfoList[1].itemTotal"


def test_sandbox_state_mapping_round_trips() -> None:
    """Each canonical status the sandbox shows maps back to itself (given the payment)."""
    for status in OrderStatus:
        state = state_for(status)
        if state is None:
            assert status is OrderStatus.PENDING_PAYMENT
            continue
        paid = None if status is OrderStatus.CANCELLED else datetime(2026, 1, 1, tzinfo=UTC)
        back = status_from_jd(state, paid)
        expected = OrderStatus.AWAITING_SHIPMENT if status is OrderStatus.PARTLY_SHIPPED else status
        assert back is expected


def test_id_param() -> None:
    assert id_param("10020000001", "skuId") == 10020000001
    with pytest.raises(JdDataError, match="skuId"):
        id_param("SKU-1", "skuId")
