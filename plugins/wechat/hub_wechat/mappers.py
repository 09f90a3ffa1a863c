"""WeChat store JSON <-> canonical models. Pure functions, no I/O.

This is the only place where WeChat units meet the hub's: money is already integer fen
on this platform (``sale_price``, ``order_price``), times are Unix seconds and become
aware UTC datetimes here, and IDs are uint64 numbers carried as strings both ways.

Bad shapes raise ``ValueError`` (or ``KeyError``/``TypeError``) naming the field; the
client turns them into :class:`hub.errors.MalformedResponse`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from hub.models import (
    Listing,
    ListingStatus,
    Order,
    OrderLine,
    OrderStatus,
    StockUpdate,
    TimeWindow,
)
from hub.units import from_unix, to_unix, utc

#: order ``status`` (fact sheet §4.5) -> canonical status
ORDER_STATUS: dict[int, OrderStatus] = {
    10: OrderStatus.PENDING_PAYMENT,  # 待付款
    20: OrderStatus.AWAITING_SHIPMENT,  # 待发货 (incl. final payment of a presale made)
    21: OrderStatus.PARTLY_SHIPPED,  # 部分发货
    30: OrderStatus.SHIPPED,  # 待收货
    100: OrderStatus.COMPLETED,  # 已完成
    190: OrderStatus.CANCELLED,  # 已取消: oversold, cancelled by the merchant
    200: OrderStatus.REFUNDED,  # 已取消: every item refunded through after-sale
    250: OrderStatus.CANCELLED,  # 已取消: buyer cancel / unpaid timeout / merchant cancel
}
SHIPPED_STATUSES = frozenset({30, 100})

PRODUCT_LISTED = 5  # product ``status`` 5 = 上架 (listed); every other status is off sale
#: limited-discount task ``status`` values that mean "not ended": 0 created, not started;
#: 1 running (a public SDK's enum; the ended/stopped values are UNCONFIRMED)
TASK_NOT_ENDED = frozenset({0, 1})

DIFF_ADD, DIFF_SUBTRACT, DIFF_SET = 1, 2, 3  # stock/update ``diff_type``


# --- small readers ------------------------------------------------------------------------


def _int(value: Any, what: str) -> int:
    """An integer field; WeChat sends numbers, but a digit string is read too."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"{what}: expected an integer, got {value!r}")


def _id(value: Any, what: str) -> str:
    """A uint64 id; documented as a string, tolerated as a JSON number."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{what}: expected an id, got {value!r}")
    text = str(value).strip()
    if not text:
        raise ValueError(f"{what}: empty id")
    return text


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def ceil_unix(dt: datetime) -> int:
    """Whole Unix seconds, rounded up (the first platform second not before ``dt``)."""
    seconds = to_unix(dt)
    return seconds + 1 if utc(dt).microsecond else seconds


def token_expiry(now: datetime, expires_in: Any) -> datetime:
    """When a token issued ``now`` with ``expires_in`` seconds of life expires."""
    seconds = _int(expires_in, "expires_in")
    if seconds <= 0:
        raise ValueError(f"expires_in: must be positive, got {seconds}")
    return utc(now) + timedelta(seconds=seconds)


# --- listings -----------------------------------------------------------------------------


def listing_status(status: Any) -> ListingStatus:
    """Product ``status`` 5 (listed) is on sale; 0, 6, 9, 11, 13, 14, 15, 20 are not."""
    return (
        ListingStatus.ON_SALE if _int(status, "product.status") == PRODUCT_LISTED else ListingStatus.OFF_SALE
    )


def master_code(row: Mapping[str, Any], source: str) -> str | None:
    """The 商家编码 of a product SKU or order line, per the shop's ``master_code_source``:
    ``sku_code``; ``out_sku_id``; or ``sku_code`` falling back to ``out_sku_id``. Empty
    means the merchant typed none: None, never an invented code."""
    sku_code, out_sku_id = _text(row.get("sku_code")), _text(row.get("out_sku_id"))
    if source == "sku_code":
        return sku_code or None
    if source == "out_sku_id":
        return out_sku_id or None
    if source == "sku_code_or_out_sku_id":
        return sku_code or out_sku_id or None
    raise ValueError(f"unknown master_code_source {source!r}")


def _spec(row: Mapping[str, Any]) -> str:
    attrs = row.get("sku_attrs") or []
    return ";".join(
        f"{_text(a.get('attr_key'))}:{_text(a.get('attr_value'))}" for a in attrs if isinstance(a, Mapping)
    )


def listings_from_product(product: Mapping[str, Any], source: str) -> list[Listing]:
    """One listing per SKU of a ``product/get`` product (its online version)."""
    product_id = _id(product.get("product_id"), "product.product_id")
    status = listing_status(product.get("status"))
    title = _text(product.get("title"))
    skus = product.get("skus")
    if not isinstance(skus, list):
        raise ValueError(f"product {product_id}: skus is not a list")
    out = []
    for index, sku in enumerate(skus):
        where = f"product {product_id} skus[{index}]"
        spec = _spec(sku)
        out.append(
            Listing(
                platform_item_id=product_id,
                platform_sku_id=_id(sku.get("sku_id"), f"{where}.sku_id"),
                master_code=master_code(sku, source),
                title=f"{title} {spec}".strip(),
                price=_int(sku.get("sale_price"), f"{where}.sale_price"),
                quantity=max(0, _int(sku.get("stock_num", 0), f"{where}.stock_num")),
                status=status,
            )
        )
    return out


# --- stock --------------------------------------------------------------------------------


def stock_quantity(data: Mapping[str, Any], field: str) -> int:
    """The sellable quantity in a ``stock/get`` ``data`` object: ``total_stock_num``
    (general + limited-discount + regional warehouse stock) or ``normal_stock_num``.
    Falls back to the other figure when the chosen one is missing."""
    other = "normal_stock_num" if field == "total_stock_num" else "total_stock_num"
    value = data.get(field, data.get(other))
    if value is None:
        raise ValueError(f"stock data has neither {field} nor {other}")
    return max(0, _int(value, field))


def normal_stock(data: Mapping[str, Any]) -> int:
    """General stock (``normal_stock_num``): what ``stock/update`` adds to and subtracts from."""
    return max(0, _int(data.get("normal_stock_num", data.get("total_stock_num")), "normal_stock_num"))


def stock_update_body(update: StockUpdate) -> dict[str, Any] | None:
    """The ``stock/update`` body for ``update``: a delta (diff_type 1 add / 2 subtract)
    when the engine sent one, which never overwrites a sale recorded after our read;
    an absolute set (diff_type 3) otherwise. None when the delta is zero."""
    body: dict[str, Any] = {"product_id": update.ref.platform_item_id, "sku_id": update.ref.platform_sku_id}
    if update.delta is None:
        return {**body, "diff_type": DIFF_SET, "num": update.quantity}
    if update.delta == 0:
        return None
    kind = DIFF_ADD if update.delta > 0 else DIFF_SUBTRACT
    return {**body, "diff_type": kind, "num": abs(update.delta)}


# --- orders -------------------------------------------------------------------------------


def split_window(window: TimeWindow, max_span: timedelta) -> Iterator[TimeWindow]:
    """``window`` cut into consecutive windows no longer than ``max_span``."""
    start = window.start
    while start < window.end:
        end = min(window.end, start + max_span)
        yield TimeWindow(start=start, end=end)
        start = end


def update_time_range(window: TimeWindow) -> dict[str, int]:
    """The ``update_time_range`` covering ``[start, end)`` in whole platform seconds.

    Both ends are rounded up, so the range holds every second in the window whether
    the platform treats ``end_time`` as inclusive or exclusive (UNCONFIRMED); the one
    extra second an inclusive platform may return is dropped by :func:`in_window`."""
    return {"start_time": ceil_unix(window.start), "end_time": ceil_unix(window.end)}


def in_window(order: Order, window: TimeWindow) -> bool:
    """``start <= modified < end``: each order belongs to exactly one adjacent window."""
    return window.start <= order.modified_at < window.end


def _line_ids(infos: Sequence[Mapping[str, Any]]) -> list[str]:
    """Stable line ids: the ``sku_id``, with ``#2``, ``#3``… for a SKU's later lines in the
    same order (product_infos carry no line id of their own)."""
    seen: Counter[str] = Counter()
    ids = []
    for index, info in enumerate(infos):
        sku_id = _id(info.get("sku_id"), f"product_infos[{index}].sku_id")
        seen[sku_id] += 1
        ids.append(sku_id if seen[sku_id] == 1 else f"{sku_id}#{seen[sku_id]}")
    return ids


def _deliveries(order: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    detail = order.get("order_detail") or {}
    delivery = detail.get("delivery_info") or {}
    found = delivery.get("delivery_product_info") or []
    return [d for d in found if isinstance(d, Mapping)]


def _shipped_units(order: Mapping[str, Any]) -> Counter[str]:
    shipped: Counter[str] = Counter()
    for delivery in _deliveries(order):
        for item in delivery.get("product_infos") or []:
            shipped[str(item.get("sku_id"))] += _int(item.get("product_cnt", 0), "product_cnt")
    return shipped


def _lines_with_remaining(order: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], int]]:
    """(line id, product_info, units not yet shipped) for every line, in order."""
    infos = (order.get("order_detail") or {}).get("product_infos")
    if not isinstance(infos, list) or not infos:
        raise ValueError(f"order {order.get('order_id')}: no product_infos")
    shipped = _shipped_units(order)
    out = []
    for line_id, info in zip(_line_ids(infos), infos, strict=True):
        count = _int(info.get("sku_cnt"), "sku_cnt")
        sku_id = str(info.get("sku_id"))
        done = min(count, shipped[sku_id])
        shipped[sku_id] -= done
        out.append((line_id, info, count - done))
    return out


def order_from_wire(order: Mapping[str, Any], source: str) -> Order:
    """An ``order/get`` ``order`` object as a canonical :class:`Order`.

    Lines: ``product_infos[]``; ``unit_price`` is ``sale_price`` (fen per unit);
    ``line_id`` as in :func:`_line_ids`. ``total`` is ``price_info.order_price`` (what the
    buyer pays, freight included). ``paid_at`` is ``pay_info.pay_time`` when set."""
    order_id = _id(order.get("order_id"), "order.order_id")
    code = _int(order.get("status"), f"order {order_id}: status")
    if code not in ORDER_STATUS:
        raise ValueError(f"order {order_id}: unknown status {code}")
    status = ORDER_STATUS[code]
    detail = order.get("order_detail") or {}
    delivered = bool(_deliveries(order))
    lines = []
    for line_id, info, remaining in _lines_with_remaining(order):
        where = f"order {order_id} line {line_id}"
        count = _int(info.get("sku_cnt"), f"{where}: sku_cnt")
        refunded_units = _int(info.get("finish_aftersale_sku_cnt", 0), f"{where}: finish_aftersale_sku_cnt")
        spec = _spec(info)
        lines.append(
            OrderLine(
                line_id=line_id,
                platform_item_id=_id(info.get("product_id"), f"{where}: product_id"),
                platform_sku_id=_id(info.get("sku_id"), f"{where}: sku_id"),
                master_code=master_code(info, source),
                title=f"{_text(info.get('title'))} {spec}".strip(),
                quantity=count,
                unit_price=_int(info.get("sale_price"), f"{where}: sale_price"),
                shipped=code in SHIPPED_STATUSES or (delivered and remaining == 0),
                refunded=status is OrderStatus.REFUNDED or (count > 0 and refunded_units >= count),
            )
        )
    price_info = detail.get("price_info") or {}
    if "order_price" in price_info:
        total = _int(price_info["order_price"], f"order {order_id}: order_price")
    else:
        total = sum(line.unit_price * line.quantity for line in lines)
    pay_time = (detail.get("pay_info") or {}).get("pay_time")
    paid_at = from_unix(_int(pay_time, "pay_time")) if pay_time else None
    return Order(
        platform_order_id=order_id,
        status=status,
        platform_status=str(code),
        created_at=from_unix(_int(order.get("create_time"), f"order {order_id}: create_time")),
        modified_at=from_unix(_int(order.get("update_time"), f"order {order_id}: update_time")),
        paid_at=paid_at,
        total=total,
        lines=tuple(lines),
    )


def has_waybill(order: Mapping[str, Any], waybill_id: str) -> bool:
    """True when ``order`` already has a delivery with this tracking number."""
    return any(_text(d.get("waybill_id")) == waybill_id for d in _deliveries(order))


def delivery_products(order: Mapping[str, Any], line_ids: Sequence[str]) -> list[dict[str, Any]]:
    """``product_infos`` of a delivery: the lines ``line_ids`` (ids as in
    :func:`order_from_wire`), or every line with units left to ship when empty."""
    lines = _lines_with_remaining(order)
    known = {line_id for line_id, _, _ in lines}
    unknown = [x for x in line_ids if x not in known]
    if unknown:
        raise ValueError(f"order {order.get('order_id')} has no line {unknown[0]!r}")
    wanted = set(line_ids)
    chosen = [
        (info, remaining)
        for line_id, info, remaining in lines
        if remaining > 0 and (not wanted or line_id in wanted)
    ]
    if not chosen:
        raise ValueError(f"order {order.get('order_id')}: nothing left to ship on those lines")
    merged: dict[tuple[str, str], int] = {}
    for info, remaining in chosen:
        key = (str(info.get("product_id")), str(info.get("sku_id")))
        merged[key] = merged.get(key, 0) + remaining
    return [{"product_id": p, "sku_id": s, "product_cnt": n} for (p, s), n in merged.items()]


# --- promotions -----------------------------------------------------------------------------


def limited_discount_task(
    product_id: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    skus: Sequence[tuple[str, int, int]],
) -> dict[str, Any]:
    """The ``limiteddiscounttask/add`` body for one product. ``skus`` are (sku_id,
    price in fen, units offered). A start in the past becomes now: the platform accepts
    only start times from now on (within ten minutes)."""
    return {
        "product_id": product_id,
        "start_time": max(ceil_unix(starts_at), ceil_unix(now)),
        "end_time": to_unix(ends_at),
        "limited_discount_skus": [
            {"sku_id": sku_id, "sale_price": price, "sale_stock": stock} for sku_id, price, stock in skus
        ],
    }


def task_running(task: Mapping[str, Any], now: datetime) -> bool:
    """True while a limited-discount task has not ended (scheduled or running)."""
    status = _int(task.get("status"), "task.status")
    return status in TASK_NOT_ENDED and _int(task.get("end_time"), "task.end_time") > to_unix(now)
