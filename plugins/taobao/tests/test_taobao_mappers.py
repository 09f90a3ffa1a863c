"""TOP JSON -> canonical models: yuan strings to fen, Asia/Shanghai strings to UTC, statuses."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.models import ListingStatus, OrderStatus
from hub_taobao import mappers as m

TRADE = {
    "tid": 3500000000000000001,
    "status": "WAIT_SELLER_SEND_GOODS",
    "created": "2026-11-11 00:05:00",
    "modified": "2026-11-11 00:06:30",
    "pay_time": "2026-11-11 00:06:00",
    "total_fee": "139.70",
    "orders": {
        "order": [
            {
                "oid": 3600000000000000001,
                "status": "WAIT_SELLER_SEND_GOODS",
                "num_iid": 600000000001,
                "sku_id": "4000000000001",
                "outer_iid": "TSHIRT",
                "outer_sku_id": "TSHIRT-RED-M",
                "title": "纯棉T恤",
                "num": 2,
                "price": "59.90",
            },
            {
                "oid": 3600000000000000002,
                "status": "TRADE_CLOSED",
                "refund_status": "SUCCESS",
                "num_iid": 600000000009,
                "outer_iid": "MUG",
                "title": "马克杯",
                "num": 1,
                "price": "19.90",
            },
        ]
    },
}


def test_yuan_strings_become_fen() -> None:
    assert m.to_fen("59.90", "x") == 5990 and m.to_fen("0.01", "x") == 1 and m.to_fen("100", "x") == 10000
    assert m.to_yuan(5990) == "59.90" and m.to_yuan(5) == "0.05"
    with pytest.raises(m.MappingError, match="price: more than two decimals"):
        m.to_fen("1.999", "price")
    with pytest.raises(m.MappingError, match="price: amount missing"):
        m.to_fen(None, "price")


def test_shanghai_times_become_utc() -> None:
    assert m.to_utc("2026-11-11 08:00:00", "t") == datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
    assert m.top_time(datetime(2026, 11, 10, 16, 0, 0, 999_999, tzinfo=UTC)) == "2026-11-11 00:00:00"
    with pytest.raises(m.MappingError, match="created: not a 'yyyy-MM-dd HH:mm:ss' time"):
        m.to_utc("2026-11-11T00:00:00Z", "created")


def test_every_documented_trade_status_is_mapped() -> None:
    documented = {
        "TRADE_NO_CREATE_PAY",
        "WAIT_BUYER_PAY",
        "SELLER_CONSIGNED_PART",
        "WAIT_SELLER_SEND_GOODS",
        "WAIT_BUYER_CONFIRM_GOODS",
        "TRADE_BUYER_SIGNED",
        "TRADE_FINISHED",
        "TRADE_CLOSED",
        "TRADE_CLOSED_BY_TAOBAO",
        "PAY_PENDING",
        "WAIT_PRE_AUTH_CONFIRM",
        "PAID_FORBID_CONSIGN",
    }
    assert set(m.TRADE_STATUS) == documented
    assert m.order_status("TRADE_CLOSED_BY_TAOBAO", "t") is OrderStatus.CANCELLED
    assert m.order_status("TRADE_CLOSED", "t") is OrderStatus.REFUNDED
    assert m.order_status("PAID_FORBID_CONSIGN", "t") is OrderStatus.AWAITING_SHIPMENT
    assert m.order_status("SELLER_CONSIGNED_PART", "t") is OrderStatus.PARTLY_SHIPPED
    assert m.order_status("TRADE_BUYER_SIGNED", "t") is OrderStatus.SHIPPED
    with pytest.raises(m.MappingError, match="trade 1: unknown trade status 'NEW_THING'"):
        m.order_status("NEW_THING", "trade 1")


def test_trade_to_order() -> None:
    order = m.order_from_trade(TRADE)
    assert order.platform_order_id == "3500000000000000001"
    assert order.status is OrderStatus.AWAITING_SHIPMENT and order.platform_status == "WAIT_SELLER_SEND_GOODS"
    assert order.created_at == datetime(2026, 11, 10, 16, 5, tzinfo=UTC)
    assert order.paid_at == datetime(2026, 11, 10, 16, 6, tzinfo=UTC)
    assert order.total == 13970
    first, second = order.lines
    assert (first.line_id, first.platform_item_id, first.platform_sku_id) == (
        "3600000000000000001",
        "600000000001",
        "4000000000001",
    )
    assert (first.master_code, first.quantity, first.unit_price) == ("TSHIRT-RED-M", 2, 5990)
    assert not first.shipped and not first.refunded
    # An item without SKUs: the line's SKU is the item, its master code the item's outer_iid.
    assert (second.platform_sku_id, second.master_code) == ("600000000009", "MUG")
    assert second.refunded


def test_trade_without_total_fee_sums_its_lines() -> None:
    trade = {k: v for k, v in TRADE.items() if k != "total_fee"}
    assert m.order_from_trade(trade).total == 2 * 5990 + 1990


def test_unpaid_trade_and_shipped_lines() -> None:
    trade = {**TRADE, "status": "WAIT_BUYER_CONFIRM_GOODS", "pay_time": None}
    lines = [{**o, "status": "WAIT_BUYER_CONFIRM_GOODS"} for o in TRADE["orders"]["order"]]  # type: ignore[index]
    order = m.order_from_trade({**trade, "orders": {"order": lines}})
    assert order.paid_at is None and order.status is OrderStatus.SHIPPED
    assert all(line.shipped for line in order.lines)


def test_trade_without_sub_orders_is_refused() -> None:
    assert not m.has_lines({"tid": 1}) and m.has_lines(TRADE)
    with pytest.raises(m.MappingError, match="trade 1: no sub-orders"):
        m.order_from_trade({"tid": 1, "status": "WAIT_BUYER_PAY"})


def test_sku_listing() -> None:
    item = {"num_iid": 600000000001, "title": "纯棉T恤", "price": "59.90", "approve_status": "onsale"}
    sku = {
        "sku_id": 4000000000001,
        "num_iid": 600000000001,
        "outer_id": "TSHIRT-RED-M",
        "quantity": 40,
        "price": "49.90",
        "properties": "1627207:3000001;20509:3000002",
        "properties_name": "1627207:3000001:颜色:红;20509:3000002:尺码:M",
    }
    listing = m.listing_from_sku(item, sku, m.listing_status(item, ListingStatus.OFF_SALE))
    assert (listing.platform_item_id, listing.platform_sku_id, listing.master_code) == (
        "600000000001",
        "4000000000001",
        "TSHIRT-RED-M",
    )
    assert listing.price == 4990 and listing.quantity == 40 and listing.status is ListingStatus.ON_SALE
    assert listing.title == "纯棉T恤 颜色:红;尺码:M"
    no_code = m.listing_from_sku(item, {**sku, "outer_id": ""}, ListingStatus.ON_SALE)
    assert no_code.master_code is None


def test_item_without_skus_is_one_listing_keyed_by_num_iid() -> None:
    item = {
        "num_iid": 600000000009,
        "title": "马克杯",
        "num": 12,
        "price": "19.90",
        "outer_id": "MUG",
        "approve_status": "instock",
    }
    listing = m.listing_from_item(item, m.listing_status(item, ListingStatus.ON_SALE))
    assert listing.platform_item_id == listing.platform_sku_id == "600000000009"
    assert (listing.master_code, listing.price, listing.quantity) == ("MUG", 1990, 12)
    assert listing.status is ListingStatus.OFF_SALE


def test_deleted_skus_are_dropped() -> None:
    skus = [{"sku_id": 1, "status": "normal"}, {"sku_id": 2, "status": "delete"}, {"sku_id": 3}]
    assert m.live_skus(skus) == [{"sku_id": 1, "status": "normal"}, {"sku_id": 3}]


def test_nested_lists_in_both_shapes() -> None:
    assert m.nested({"items": {"item": [{"a": 1}]}}, "items", "item") == [{"a": 1}]
    assert m.nested({"items": [{"a": 1}]}, "items", "item") == [{"a": 1}]  # simplify=true
    assert m.nested({"total_results": 0}, "items", "item") == []
    with pytest.raises(m.MappingError):
        m.nested({"items": {"item": "oops"}}, "items", "item")


def test_stock_write_helpers() -> None:
    assert m.skuid_quantities([("1", 5), ("2", -3)]) == "1:5;2:-3"
    answer = {"num_iid": 600000000001, "num": 44, "skus": {"sku": [{"sku_id": 4000000000001, "quantity": 4}]}}
    assert m.quantities_after(answer) == {"600000000001": 44, "4000000000001": 4}
    assert m.quantities_after(None) == {}
    assert m.spec_from_properties_name("1627207:1:颜色:红") == "颜色:红"
    assert m.spec_from_properties_name("odd") == "odd" and m.spec_from_properties_name(None) == ""
