"""Mappers: Douyin JSON (shapes of the official SDK structs) <-> canonical models."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from hub.models import ListingRef, ListingStatus, OrderStatus, PriceUpdate, StockUpdate, TimeWindow
from hub_douyin import mappers
from hub_douyin.mappers import DataError

PRODUCT = {"product_id": 3580000000000000001, "name": "纯棉T恤", "status": 0, "check_status": 3}
SKU = {
    "id": 1737000000000001,
    "product_id": 3580000000000000001,
    "code": "TSHIRT-RED-M",
    "price": 5990,
    "stock_num": 40,
    "sku_type": 0,
    "spec_detail_name1": "红",
    "spec_detail_name2": "M",
    "spec_detail_name3": "",
}
T0 = 1_794_355_200  # 2026-11-11 00:00:00 UTC


def shop_order(
    status: int = 2, *, pay_time: int = T0 + 5, refunds: tuple[int, ...] = (0,), **extra: Any
) -> dict[str, Any]:
    lines = [
        {
            "order_id": f"69215000000000000{i:02d}",
            "parent_order_id": "6921000000000000001",
            "order_status": status,
            "product_id": 3580000000000000001,
            "product_id_str": "3580000000000000001",
            "sku_id": 1737000000000001,
            "code": "TSHIRT-RED-M",
            "product_name": "纯棉T恤 红 M",
            "item_num": 2,
            "origin_amount": 5990,
            "sum_amount": 11980,
            "after_sale_info": {"after_sale_status": 0, "refund_status": r},
        }
        for i, r in enumerate(refunds)
    ]
    return {
        "order_id": "6921000000000000001",
        "order_status": status,
        "create_time": T0,
        "update_time": T0 + 60,
        "pay_time": pay_time,
        "order_amount": 11980 * len(refunds),
        "sku_order_list": lines,
        **extra,
    }


def test_listing_from_product_and_sku() -> None:
    listing = mappers.listing_from(PRODUCT, SKU)
    assert listing.platform_item_id == "3580000000000000001"
    assert listing.platform_sku_id == "1737000000000001"
    assert listing.master_code == "TSHIRT-RED-M" and listing.title == "纯棉T恤 红 M"
    assert listing.price == 5990 and listing.quantity == 40
    assert listing.status is ListingStatus.ON_SALE


def test_offline_product_and_empty_code() -> None:
    listing = mappers.listing_from({**PRODUCT, "status": 1}, {**SKU, "code": ""})
    assert listing.status is ListingStatus.OFF_SALE and listing.master_code is None


def test_regional_stock_is_summed() -> None:
    sku = {**SKU, "sku_type": 1, "stock_num": 0, "stock_map": {"WH1": 3, "WH2": 4}}
    assert mappers.listing_from(PRODUCT, sku).quantity == 7


@pytest.mark.parametrize("price", [59.9, "59.90", None, -1, True])
def test_price_must_be_integer_fen(price: Any) -> None:
    with pytest.raises(DataError, match="price"):
        mappers.listing_from(PRODUCT, {**SKU, "price": price})


def test_ids_may_arrive_as_numeric_strings_but_not_as_garbage() -> None:
    assert (
        mappers.listing_from({**PRODUCT, "product_id": "3580000000000000001"}, SKU).platform_item_id
        == "3580000000000000001"
    )
    with pytest.raises(DataError, match="product_id"):
        mappers.listing_from({**PRODUCT, "product_id": "abc"}, SKU)


def test_stock_level_from_sku_list_row() -> None:
    when = datetime(2026, 11, 11, tzinfo=UTC)
    level = mappers.stock_level_from(SKU, "3580000000000000001", when)
    assert (level.platform_sku_id, level.quantity, level.observed_at) == ("1737000000000001", 40, when)


def test_order_from_search_list_row() -> None:
    order = mappers.order_from(shop_order())
    assert order.platform_order_id == "6921000000000000001" and order.platform_status == "2"
    assert order.status is OrderStatus.AWAITING_SHIPMENT
    assert order.created_at == datetime(2026, 11, 11, tzinfo=UTC)
    assert order.modified_at == datetime(2026, 11, 11, 0, 1, tzinfo=UTC)
    assert order.paid_at == datetime(2026, 11, 11, 0, 0, 5, tzinfo=UTC)
    assert order.total == 11980
    (line,) = order.lines
    assert (line.line_id, line.platform_item_id, line.platform_sku_id, line.master_code) == (
        "6921500000000000000",
        "3580000000000000001",
        "1737000000000001",
        "TSHIRT-RED-M",
    )
    assert (line.quantity, line.unit_price, line.shipped, line.refunded) == (2, 5990, False, False)


@pytest.mark.parametrize(
    "code,expected",
    [
        (1, OrderStatus.PENDING_PAYMENT),
        (105, OrderStatus.AWAITING_SHIPMENT),
        (2, OrderStatus.AWAITING_SHIPMENT),
        (101, OrderStatus.PARTLY_SHIPPED),
        (3, OrderStatus.SHIPPED),
        (5, OrderStatus.COMPLETED),
        (4, OrderStatus.CANCELLED),
    ],
)
def test_order_status_table(code: int, expected: OrderStatus) -> None:
    pay_time = 0 if code == 1 else T0 + 5
    assert mappers.order_from(shop_order(code, pay_time=pay_time)).status is expected


def test_cancelled_unpaid_and_refunded_paid_orders_differ() -> None:
    assert mappers.order_from(shop_order(4, pay_time=0)).status is OrderStatus.CANCELLED
    refunded = mappers.order_from(shop_order(4, refunds=(3, 3)))
    assert refunded.status is OrderStatus.REFUNDED and all(ln.refunded for ln in refunded.lines)


def test_a_partial_refund_keeps_the_order_status() -> None:
    order = mappers.order_from(shop_order(2, refunds=(3, 1)))
    assert order.status is OrderStatus.AWAITING_SHIPMENT
    assert [ln.refunded for ln in order.lines] == [True, False]


def test_shipped_lines() -> None:
    order = mappers.order_from(shop_order(3))
    assert order.lines[0].shipped


def test_unknown_status_and_missing_lines_are_refused() -> None:
    with pytest.raises(DataError, match="unknown order_status 77"):
        mappers.order_from(shop_order(77))
    with pytest.raises(DataError, match="sku_order_list"):
        mappers.order_from({**shop_order(), "sku_order_list": []})
    with pytest.raises(DataError, match="update_time"):
        mappers.order_from({**shop_order(), "update_time": 0})


def ref() -> ListingRef:
    return ListingRef(platform_item_id="3580000000000000001", platform_sku_id="1737000000000001")


def test_stock_params_delta_is_incremental_with_the_idempotency_key() -> None:
    update = StockUpdate(ref=ref(), quantity=15, delta=-5, idempotency_key="k-1")
    assert mappers.stock_params(update) == {
        "product_id": 3580000000000000001,
        "sku_id": 1737000000000001,
        "incremental": True,
        "idempotent_id": "k-1",
        "stock_num": -5,
    }


def test_stock_params_absolute_is_a_full_write() -> None:
    update = StockUpdate(ref=ref(), quantity=15, idempotency_key="k-1")
    assert mappers.stock_params(update) == {
        "product_id": 3580000000000000001,
        "sku_id": 1737000000000001,
        "incremental": False,
        "stock_num": 15,
    }


def test_price_params_are_fen() -> None:
    assert mappers.price_params(PriceUpdate(ref=ref(), price=4990, idempotency_key="p"))["price"] == 4990


def test_non_numeric_ids_cannot_be_sent() -> None:
    bad = ListingRef(platform_item_id="TB-1", platform_sku_id="1")
    with pytest.raises(DataError, match="product_id"):
        mappers.stock_params(StockUpdate(ref=bad, quantity=1, idempotency_key="k"))


def test_window_seconds_round_outwards() -> None:
    start = datetime(2026, 11, 11, tzinfo=UTC)
    assert mappers.window_seconds(TimeWindow(start=start, end=start + timedelta(hours=1))) == (T0, T0 + 3600)
    fractional = TimeWindow(start=start + timedelta(seconds=0.5), end=start + timedelta(seconds=2.5))
    assert mappers.window_seconds(fractional) == (T0, T0 + 3)
    tiny = TimeWindow(start=start + timedelta(seconds=0.1), end=start + timedelta(seconds=0.9))
    assert mappers.window_seconds(tiny) == (T0, T0 + 1)


def test_split_window() -> None:
    start = datetime(2026, 11, 11, tzinfo=UTC)
    parts = mappers.split_window(TimeWindow(start=start, end=start + timedelta(hours=50)), timedelta(days=1))
    assert [(p.end - p.start) for p in parts] == [timedelta(days=1), timedelta(days=1), timedelta(hours=2)]
    assert parts[0].start == start and parts[-1].end == start + timedelta(hours=50)
    assert all(a.end == b.start for a, b in pairwise(parts))


def test_split_window_cuts_on_whole_seconds() -> None:
    start = datetime(2026, 11, 11, tzinfo=UTC) + timedelta(seconds=0.5)
    window = TimeWindow(start=start, end=start + timedelta(days=2))
    for part in mappers.split_window(window, timedelta(days=1)):
        first, stop = mappers.window_seconds(part)
        assert stop - first <= 86400
    assert len(mappers.split_window(window, timedelta(days=1))) == 3


def test_token_set_expires_in_as_seconds_or_as_a_timestamp() -> None:
    now = datetime(2026, 11, 11, tzinfo=UTC)
    data = {"access_token": "a", "refresh_token": "r", "expires_in": 604800}
    assert mappers.token_set(data, now=now).expires_at == now + timedelta(days=7)
    stamp = {**data, "expires_in": T0 + 3600}
    assert mappers.token_set(stamp, now=now, expires_in="timestamp").expires_at == now + timedelta(hours=1)


def test_a_timestamp_sent_where_seconds_were_expected_is_recognised(caplog: pytest.LogCaptureFixture) -> None:
    now = datetime(2026, 11, 11, tzinfo=UTC)
    with caplog.at_level(logging.WARNING, logger="hub.douyin"):
        tokens = mappers.token_set({"access_token": "a", "expires_in": T0 + 60}, now=now)
    assert tokens.expires_at == now + timedelta(minutes=1) and "Unix time" in caplog.text


def test_token_set_needs_an_access_token() -> None:
    with pytest.raises(DataError, match="access_token"):
        mappers.token_set({"access_token": ""}, now=datetime(2026, 1, 1, tzinfo=UTC))
