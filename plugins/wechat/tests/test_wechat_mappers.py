"""Pure mappers: WeChat JSON shapes (from the fact sheet and the documented examples)
to canonical models and back."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.models import ListingRef, ListingStatus, OrderStatus, StockUpdate, TimeWindow
from hub_wechat import mappers

# The shape of the documented product/get example (§4.3 fields, [W6] example values).
PRODUCT: dict[str, Any] = {
    "product_id": "123456789",
    "out_product_id": "OUT_PRODUCT_ID_TEST",
    "title": "任天堂 Switch",
    "status": 5,
    "edit_status": 2,
    "skus": [
        {
            "sku_id": "123456001",
            "out_sku_id": "OUT_SKU_ID_TEST",
            "sale_price": 1,
            "stock_num": 5,
            "sku_code": "SKU_CODE_TEST",
            "sku_attrs": [{"attr_key": "颜色", "attr_value": "红"}],
            "status": 0,
        },
        {
            "sku_id": "123456002",
            "out_sku_id": "OUT-2",
            "sale_price": 129900,
            "stock_num": 0,
            "sku_code": "",
            "sku_attrs": [],
            "status": 0,
        },
        {
            "sku_id": "123456003",
            "out_sku_id": "",
            "sale_price": 990,
            "stock_num": 3,
            "sku_code": "",
            "sku_attrs": [],
        },
    ],
}


def order(status: int = 20, **detail: Any) -> dict[str, Any]:
    infos = detail.pop(
        "product_infos",
        [
            {
                "product_id": "10000000088001",
                "sku_id": "462966001",
                "sku_code": "CUP-500",
                "out_sku_id": "",
                "title": "保温杯",
                "sku_attrs": [{"attr_key": "容量", "attr_value": "500ml"}],
                "sku_cnt": 2,
                "sale_price": 12900,
                "real_price": 25800,
            },
            {
                "product_id": "10000000088002",
                "sku_id": "462966003",
                "sku_code": "",
                "out_sku_id": "",
                "sku_cnt": 1,
                "sale_price": 1990,
                "real_price": 1990,
            },
        ],
    )
    return {
        "order_id": "3712984209868589057",
        "status": status,
        "create_time": 1714000000,
        "update_time": 1714000360,
        "openid": "o_x",
        "order_detail": {
            "product_infos": infos,
            "price_info": {"product_price": 27790, "order_price": 28790, "freight": 1000},
            "pay_info": {"pay_time": 1714000100},
            **detail,
        },
    }


# --- listings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (5, ListingStatus.ON_SALE),
        (0, ListingStatus.OFF_SALE),
        (11, ListingStatus.OFF_SALE),
        (13, ListingStatus.OFF_SALE),
        (20, ListingStatus.OFF_SALE),
    ],
)
def test_listing_status(status: int, expected: ListingStatus) -> None:
    assert mappers.listing_status(status) is expected


def test_listings_from_product() -> None:
    rows = mappers.listings_from_product(PRODUCT, "sku_code")
    assert [(x.platform_item_id, x.platform_sku_id, x.master_code, x.price, x.quantity) for x in rows] == [
        ("123456789", "123456001", "SKU_CODE_TEST", 1, 5),
        ("123456789", "123456002", None, 129900, 0),
        ("123456789", "123456003", None, 990, 3),
    ]
    assert rows[0].title == "任天堂 Switch 颜色:红" and rows[0].status is ListingStatus.ON_SALE
    off = mappers.listings_from_product({**PRODUCT, "status": 11}, "sku_code")
    assert {x.status for x in off} == {ListingStatus.OFF_SALE}


@pytest.mark.parametrize(
    ("source", "codes"),
    [
        ("sku_code", ["SKU_CODE_TEST", None, None]),
        ("out_sku_id", ["OUT_SKU_ID_TEST", "OUT-2", None]),
        ("sku_code_or_out_sku_id", ["SKU_CODE_TEST", "OUT-2", None]),
    ],
)
def test_master_code_sources(source: str, codes: list[str | None]) -> None:
    assert [x.master_code for x in mappers.listings_from_product(PRODUCT, source)] == codes


def test_bad_product_shapes_name_the_field() -> None:
    bad = {**PRODUCT, "skus": [{**PRODUCT["skus"][0], "sale_price": "12.90"}]}
    with pytest.raises(ValueError, match=r"skus\[0\].sale_price"):
        mappers.listings_from_product(bad, "sku_code")
    with pytest.raises(ValueError, match="skus is not a list"):
        mappers.listings_from_product({**PRODUCT, "skus": None}, "sku_code")
    with pytest.raises(ValueError, match="sku_id"):
        mappers.listings_from_product({**PRODUCT, "skus": [{"sale_price": 1}]}, "sku_code")


# --- stock ----------------------------------------------------------------------------------


def test_stock_quantity_from_the_documented_example() -> None:
    data = {
        "normal_stock_num": 998,
        "limited_discount_stock_num": 0,
        "warehouse_stocks": [{"out_warehouse_id": "test1", "num": 10}],
        "total_stock_num": 1107,
    }
    assert mappers.stock_quantity(data, "total_stock_num") == 1107
    assert mappers.stock_quantity(data, "normal_stock_num") == 998
    assert mappers.stock_quantity({"normal_stock_num": 4}, "total_stock_num") == 4
    assert mappers.normal_stock(data) == 998
    with pytest.raises(ValueError):
        mappers.stock_quantity({}, "total_stock_num")


def update(quantity: int, delta: int | None) -> StockUpdate:
    return StockUpdate(
        ref=ListingRef(platform_item_id="1", platform_sku_id="2"),
        quantity=quantity,
        delta=delta,
        idempotency_key="k",
    )


def test_stock_update_body_uses_deltas_when_given() -> None:
    assert mappers.stock_update_body(update(15, 5)) == {
        "product_id": "1",
        "sku_id": "2",
        "diff_type": 1,
        "num": 5,
    }
    assert mappers.stock_update_body(update(2, -3)) == {
        "product_id": "1",
        "sku_id": "2",
        "diff_type": 2,
        "num": 3,
    }
    assert mappers.stock_update_body(update(7, None)) == {
        "product_id": "1",
        "sku_id": "2",
        "diff_type": 3,
        "num": 7,
    }
    assert mappers.stock_update_body(update(7, 0)) is None


# --- windows --------------------------------------------------------------------------------


T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_split_window_respects_the_seven_day_limit() -> None:
    parts = list(mappers.split_window(TimeWindow(start=T0, end=T0 + timedelta(days=17)), timedelta(days=7)))
    assert [p.end - p.start for p in parts] == [timedelta(days=7)] * 2 + [timedelta(days=3)]
    assert parts[0].start == T0 and parts[-1].end == T0 + timedelta(days=17)
    assert all(a.end == b.start for a, b in itertools.pairwise(parts))


def test_update_time_range_rounds_both_ends_up() -> None:
    whole = TimeWindow(start=T0, end=T0 + timedelta(hours=1))
    assert mappers.update_time_range(whole) == {"start_time": 1793491200, "end_time": 1793494800}
    odd = TimeWindow(start=T0 + timedelta(milliseconds=300), end=T0 + timedelta(seconds=10, milliseconds=1))
    assert mappers.update_time_range(odd) == {"start_time": 1793491201, "end_time": 1793491211}
    seven = TimeWindow(
        start=T0 + timedelta(microseconds=900_000), end=T0 + timedelta(days=7, microseconds=800_000)
    )
    span = mappers.update_time_range(seven)
    assert span["end_time"] - span["start_time"] <= 7 * 24 * 3600


def test_in_window_is_half_open() -> None:
    got = mappers.order_from_wire(order(), "sku_code")  # modified at 1714000360
    at = got.modified_at
    assert mappers.in_window(got, TimeWindow(start=at, end=at + timedelta(seconds=1)))
    assert not mappers.in_window(got, TimeWindow(start=at - timedelta(seconds=5), end=at))


# --- orders ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (10, OrderStatus.PENDING_PAYMENT),
        (20, OrderStatus.AWAITING_SHIPMENT),
        (21, OrderStatus.PARTLY_SHIPPED),
        (30, OrderStatus.SHIPPED),
        (100, OrderStatus.COMPLETED),
        (190, OrderStatus.CANCELLED),
        (200, OrderStatus.REFUNDED),
        (250, OrderStatus.CANCELLED),
    ],
)
def test_order_statuses(code: int, status: OrderStatus) -> None:
    got = mappers.order_from_wire(order(code), "sku_code")
    assert got.status is status and got.platform_status == str(code)


def test_order_fields() -> None:
    got = mappers.order_from_wire(order(), "sku_code")
    assert got.platform_order_id == "3712984209868589057"
    assert got.created_at == datetime.fromtimestamp(1714000000, UTC)
    assert got.modified_at == datetime.fromtimestamp(1714000360, UTC)
    assert got.paid_at == datetime.fromtimestamp(1714000100, UTC)
    assert got.total == 28790  # order_price: freight included
    assert [
        (ln.line_id, ln.master_code, ln.quantity, ln.unit_price, ln.shipped, ln.refunded) for ln in got.lines
    ] == [("462966001", "CUP-500", 2, 12900, False, False), ("462966003", None, 1, 1990, False, False)]
    assert got.lines[0].title == "保温杯 容量:500ml"


def test_unpaid_order_and_total_without_price_info() -> None:
    wire = order(10)
    wire["order_detail"]["pay_info"] = {}
    del wire["order_detail"]["price_info"]
    got = mappers.order_from_wire(wire, "sku_code")
    assert got.paid_at is None and got.total == 2 * 12900 + 1990


def test_repeated_sku_lines_get_distinct_stable_ids() -> None:
    line = {"product_id": "1", "sku_id": "9", "sku_cnt": 1, "sale_price": 100}
    got = mappers.order_from_wire(order(product_infos=[line, {**line, "sale_price": 0}, line]), "sku_code")
    assert [ln.line_id for ln in got.lines] == ["9", "9#2", "9#3"]


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown status 42"):
        mappers.order_from_wire(order(42), "sku_code")


def test_refunded_lines() -> None:
    wire = order(20)
    wire["order_detail"]["product_infos"][1]["finish_aftersale_sku_cnt"] = 1
    got = mappers.order_from_wire(wire, "sku_code")
    assert [ln.refunded for ln in got.lines] == [False, True]
    assert all(ln.refunded for ln in mappers.order_from_wire(order(200), "sku_code").lines)


def delivered(*parcels: dict[str, Any]) -> dict[str, Any]:
    return order(21, delivery_info={"delivery_product_info": list(parcels)})


PARCEL = {
    "delivery_id": "SF",
    "waybill_id": "SF100",
    "product_infos": [{"product_id": "10000000088001", "sku_id": "462966001", "product_cnt": 2}],
}


def test_partly_shipped_lines() -> None:
    got = mappers.order_from_wire(delivered(PARCEL), "sku_code")
    assert [ln.shipped for ln in got.lines] == [True, False]
    assert all(ln.shipped for ln in mappers.order_from_wire(order(30), "sku_code").lines)


def test_has_waybill() -> None:
    assert mappers.has_waybill(delivered(PARCEL), "SF100")
    assert not mappers.has_waybill(delivered(PARCEL), "SF101")
    assert not mappers.has_waybill(order(), "SF100")


def test_delivery_products() -> None:
    assert mappers.delivery_products(order(), ()) == [
        {"product_id": "10000000088001", "sku_id": "462966001", "product_cnt": 2},
        {"product_id": "10000000088002", "sku_id": "462966003", "product_cnt": 1},
    ]
    assert mappers.delivery_products(order(), ["462966003"]) == [
        {"product_id": "10000000088002", "sku_id": "462966003", "product_cnt": 1}
    ]
    # What is left after a first parcel.
    assert mappers.delivery_products(delivered(PARCEL), ()) == [
        {"product_id": "10000000088002", "sku_id": "462966003", "product_cnt": 1}
    ]
    with pytest.raises(ValueError, match="no line 'nope'"):
        mappers.delivery_products(order(), ["nope"])
    with pytest.raises(ValueError, match="nothing left"):
        mappers.delivery_products(delivered(PARCEL), ["462966001"])


# --- promotions and tokens ----------------------------------------------------------------------


def test_limited_discount_task_body() -> None:
    now = T0 + timedelta(minutes=30, microseconds=5)
    body = mappers.limited_discount_task("77", T0, T0 + timedelta(hours=2), now, [("8", 9900, 15)])
    assert body == {
        "product_id": "77",
        "start_time": 1793491200 + 1801,
        "end_time": 1793491200 + 7200,
        "limited_discount_skus": [{"sku_id": "8", "sale_price": 9900, "sale_stock": 15}],
    }
    later = mappers.limited_discount_task("77", T0 + timedelta(hours=1), T0 + timedelta(hours=2), T0, [])
    assert later["start_time"] == 1793491200 + 3600


def test_task_running() -> None:
    now = T0
    end = 1793491200 + 60
    assert mappers.task_running({"status": 0, "end_time": end}, now)
    assert mappers.task_running({"status": 1, "end_time": end}, now)
    assert not mappers.task_running({"status": 2, "end_time": end}, now)
    assert not mappers.task_running({"status": 1, "end_time": 1793491200}, now)


def test_token_expiry() -> None:
    assert mappers.token_expiry(T0, 7200) == T0 + timedelta(hours=2)
    with pytest.raises(ValueError):
        mappers.token_expiry(T0, None)
    with pytest.raises(ValueError):
        mappers.token_expiry(T0, 0)
    with pytest.raises(ValueError):
        mappers.token_expiry(datetime(2026, 1, 1), 7200)
