"""Douyin JSON <-> canonical models. Pure functions; the only place where Douyin's units
are converted (money is already integer fen on Douyin; times are Unix seconds).

Inbound mappers raise :class:`DataError` (naming the record and the field) for data they
cannot map; the client turns it into a non-retryable platform error rather than guessing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from hub.models import (
    Listing,
    ListingStatus,
    Order,
    OrderLine,
    OrderStatus,
    PriceUpdate,
    Shipment,
    StockLevel,
    StockUpdate,
    TimeWindow,
)
from hub.platform import TokenSet
from hub.units import from_unix, parse_cn_time, to_unix

log = logging.getLogger("hub.douyin")

Json = Mapping[str, Any]

#: product.listV2 ``status``: 0 online, 1 offline, 2 deleted
PRODUCT_ONLINE, PRODUCT_OFFLINE, PRODUCT_DELETED = 0, 1, 2
LISTED_PRODUCT_STATUSES = (PRODUCT_ONLINE, PRODUCT_OFFLINE)

#: order_status codes (§3.6) that map directly; 4 (cancelled) depends on payment/refunds
ORDER_STATUS: dict[int, OrderStatus] = {
    1: OrderStatus.PENDING_PAYMENT,  # 待支付
    105: OrderStatus.AWAITING_SHIPMENT,  # 已支付 (e.g. awaiting confirmation)
    2: OrderStatus.AWAITING_SHIPMENT,  # 备货中 / 待发货
    101: OrderStatus.PARTLY_SHIPPED,  # 部分发货
    3: OrderStatus.SHIPPED,  # 已发货
    5: OrderStatus.COMPLETED,  # 已完成
    4: OrderStatus.CANCELLED,  # 已取消
}
SHIPPED_LINE_STATUSES = (3, 5)
REFUND_SUCCESS = 3  # after_sale_info.refund_status: 1 pending, 3 success, 4 failed

# An expires_in above this cannot be a lifetime in seconds (10 years): it is a Unix time.
_MAX_PLAUSIBLE_TTL = 10 * 365 * 86400


class DataError(ValueError):
    """Douyin returned a record we cannot map; the message names the record and field."""


# --- scalar helpers ----------------------------------------------------------------------


def _get(record: Json, field: str, where: str) -> Any:
    try:
        return record[field]
    except (KeyError, TypeError):
        raise DataError(f"{where}: missing field {field!r}") from None


def _int(value: Any, field: str, where: str) -> int:
    # Douyin sends int64 numbers; numeric strings are tolerated, floats/bools are not.
    if isinstance(value, bool):
        raise DataError(f"{where}: {field} is not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise DataError(f"{where}: {field} is not an integer: {value!r}")


def _fen(value: Any, field: str, where: str) -> int:
    amount = _int(value, field, where)
    if amount < 0:
        raise DataError(f"{where}: {field} is negative: {amount}")
    return amount


def platform_id(value: Any, field: str, where: str) -> str:
    """A Douyin id (int64 number or numeric string) as the hub's string id."""
    if isinstance(value, bool) or value in (None, ""):
        raise DataError(f"{where}: {field} is missing")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    raise DataError(f"{where}: {field} is not a Douyin id: {value!r}")


def count_of(value: Any, field: str) -> int:
    """A count Douyin reports (``total``); absent is 0."""
    return 0 if value in (None, "") else _fen(value, field, "answer")


def numeric_id(value: str, field: str) -> int:
    """A hub id as the int64 number Douyin expects in param_json (``sku_id``, ``product_id``)."""
    text = str(value).strip()
    if not text.isdigit():
        raise DataError(f"{field} {value!r} is not a numeric Douyin id")
    return int(text)


def _time(value: Any, field: str, where: str) -> datetime | None:
    """Unix seconds -> UTC; 0/absent means "not happened" (e.g. an unpaid order's pay_time)."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, str) and not value.strip().isdigit():
        try:
            return parse_cn_time(value)  # some endpoints answer "yyyy-MM-dd HH:mm:ss" (GMT+8)
        except ValueError:
            raise DataError(f"{where}: {field} is not a time: {value!r}") from None
    return from_unix(_int(value, field, where))


def _required_time(value: Any, field: str, where: str) -> datetime:
    when = _time(value, field, where)
    if when is None:
        raise DataError(f"{where}: {field} is missing")
    return when


# --- listings and stock -------------------------------------------------------------------


def spec_values(sku: Json) -> list[str]:
    """The SKU's spec values (spec_detail_name1..3), e.g. ``["红", "M"]``."""
    return [
        str(sku[k]) for k in ("spec_detail_name1", "spec_detail_name2", "spec_detail_name3") if sku.get(k)
    ]


def sku_quantity(sku: Json, where: str) -> int:
    """Sellable stock of a sku.list row: ``stock_num``, or the sum of ``stock_map`` for
    regional stock (sku_type 1)."""
    if sku.get("sku_type") == 1 and isinstance(sku.get("stock_map"), Mapping):
        return sum(max(0, _int(v, "stock_map", where)) for v in sku["stock_map"].values())
    # A negative number would be a platform bug; showing it as 0 sells nothing extra.
    return max(0, _int(sku.get("stock_num", 0), "stock_num", where))


def listing_from(product: Json, sku: Json) -> Listing:
    """One sku.list row of a product.listV2 product -> :class:`Listing`."""
    where = f"product {product.get('product_id')} sku {sku.get('id')}"
    status = _int(product.get("status", PRODUCT_ONLINE), "status", where)
    title = " ".join([str(product.get("name") or ""), *spec_values(sku)]).strip()
    return Listing(
        platform_item_id=platform_id(product.get("product_id"), "product_id", where),
        platform_sku_id=platform_id(sku.get("id"), "id", where),
        master_code=(str(sku.get("code") or "").strip() or None),
        title=title,
        price=_fen(_get(sku, "price", where), "price", where),
        quantity=sku_quantity(sku, where),
        status=ListingStatus.ON_SALE if status == PRODUCT_ONLINE else ListingStatus.OFF_SALE,
    )


def stock_level_from(sku: Json, product_id: str, observed_at: datetime) -> StockLevel:
    """One sku.list row -> :class:`StockLevel`."""
    where = f"product {product_id} sku {sku.get('id')}"
    return StockLevel(
        platform_item_id=product_id,
        platform_sku_id=platform_id(sku.get("id"), "id", where),
        quantity=sku_quantity(sku, where),
        observed_at=observed_at,
    )


def stock_params(update: StockUpdate, *, use_delta: bool = True) -> dict[str, Any]:
    """sku.syncStock param_json for one update: incremental with the update's idempotency key
    as ``idempotent_id`` when a delta is given, else a full (absolute) write."""
    params: dict[str, Any] = {
        "product_id": numeric_id(update.ref.platform_item_id, "product_id"),
        "sku_id": numeric_id(update.ref.platform_sku_id, "sku_id"),
    }
    if use_delta and update.delta is not None:
        params.update(incremental=True, idempotent_id=update.idempotency_key, stock_num=update.delta)
    else:
        params.update(incremental=False, stock_num=update.quantity)
    return params


def price_params(update: PriceUpdate) -> dict[str, Any]:
    """sku.editPrice param_json (price in fen)."""
    return {
        "product_id": numeric_id(update.ref.platform_item_id, "product_id"),
        "sku_id": numeric_id(update.ref.platform_sku_id, "sku_id"),
        "price": update.price,
    }


# --- orders -----------------------------------------------------------------------------


def window_seconds(window: TimeWindow) -> tuple[int, int]:
    """The whole seconds ``[first, stop)`` that cover ``window``: the start rounded down, the
    end rounded up. Douyin stamps update_time in whole seconds, so an order updated 0.2 s
    into a second is stamped with that second; rounding outwards keeps it in every window
    that overlaps its second (a partial second may be read twice, which is harmless)."""
    return math.floor(window.start.timestamp()), math.ceil(window.end.timestamp())


def split_window(window: TimeWindow, span: timedelta) -> list[TimeWindow]:
    """``window`` cut into consecutive windows no longer than ``span`` (whole seconds),
    cut on whole seconds so each piece, rounded outwards, still spans at most ``span``."""
    step = max(1, int(span.total_seconds()))
    first, stop = window_seconds(window)
    parts = []
    start = window.start
    for cut in range(first + step, stop, step):
        end = from_unix(cut)
        parts.append(TimeWindow(start=start, end=end))
        start = end
    parts.append(TimeWindow(start=start, end=window.end))
    return parts


def order_status(code: int, *, paid: bool, lines_refunded: Sequence[bool], where: str) -> OrderStatus:
    """Canonical status of a shop order. A paid order whose lines were all refunded is
    REFUNDED (Douyin closes it as 4 "cancelled"); an order cancelled unpaid is CANCELLED."""
    try:
        status = ORDER_STATUS[code]
    except KeyError:
        raise DataError(f"{where}: unknown order_status {code}") from None
    if paid and lines_refunded and all(lines_refunded) and status is not OrderStatus.PENDING_PAYMENT:
        return OrderStatus.REFUNDED
    return status


def _refunded(line: Json) -> bool:
    info = line.get("after_sale_info") or {}
    return isinstance(info, Mapping) and info.get("refund_status") == REFUND_SUCCESS


def order_line_from(line: Json, order_code: int, where: str) -> OrderLine:
    """One sku_order_list row -> :class:`OrderLine` (``origin_amount`` is the unit price)."""
    line_where = f"{where} line {line.get('order_id')}"
    line_code = line.get("order_status", order_code)
    return OrderLine(
        line_id=platform_id(line.get("order_id"), "order_id", line_where),
        platform_item_id=platform_id(
            line.get("product_id_str") or line.get("product_id"), "product_id", line_where
        ),
        platform_sku_id=platform_id(line.get("sku_id"), "sku_id", line_where),
        master_code=(str(line.get("code") or "").strip() or None),
        title=str(line.get("product_name") or ""),
        quantity=_int(_get(line, "item_num", line_where), "item_num", line_where),
        unit_price=_fen(_get(line, "origin_amount", line_where), "origin_amount", line_where),
        shipped=line_code in SHIPPED_LINE_STATUSES or order_code in SHIPPED_LINE_STATUSES,
        refunded=_refunded(line),
    )


def order_from(shop_order: Json) -> Order:
    """One order.searchList / order.orderDetail shop order -> :class:`Order`."""
    where = f"order {shop_order.get('order_id')}"
    code = _int(_get(shop_order, "order_status", where), "order_status", where)
    raw_lines = shop_order.get("sku_order_list") or []
    if not raw_lines:
        raise DataError(f"{where}: no sku_order_list")
    lines = tuple(order_line_from(line, code, where) for line in raw_lines)
    paid_at = _time(shop_order.get("pay_time"), "pay_time", where)
    return Order(
        platform_order_id=platform_id(shop_order.get("order_id"), "order_id", where),
        status=order_status(
            code, paid=paid_at is not None, lines_refunded=[line.refunded for line in lines], where=where
        ),
        platform_status=str(code),
        created_at=_required_time(shop_order.get("create_time"), "create_time", where),
        modified_at=_required_time(shop_order.get("update_time"), "update_time", where),
        paid_at=paid_at,
        total=_fen(_get(shop_order, "order_amount", where), "order_amount", where),
        lines=lines,
    )


def order_modified_at(shop_order: Json) -> datetime:
    """A shop order's update_time (to keep each order in exactly one window)."""
    where = f"order {shop_order.get('order_id')}"
    return _required_time(shop_order.get("update_time"), "update_time", where)


def shipment_params(shipment: Shipment, company_code: str) -> dict[str, Any]:
    """order.logisticsAdd param_json (whole-order shipment)."""
    return {
        "order_id": shipment.platform_order_id,
        "company_code": company_code,
        "logistics_code": shipment.tracking_number,
    }


# --- tokens -----------------------------------------------------------------------------


def token_set(
    data: Json, *, now: datetime, expires_in: Literal["seconds", "timestamp"] = "seconds"
) -> TokenSet:
    """token.create / token.refresh ``data`` -> :class:`TokenSet`.

    ``expires_in`` is UNCONFIRMED (seconds from now vs an absolute Unix time): the shop
    setting decides; a "seconds" value too large to be a lifetime is read as a Unix time."""
    where = "token response"
    access = _get(data, "access_token", where)
    if not isinstance(access, str) or not access:
        raise DataError(f"{where}: access_token is empty")
    refresh = data.get("refresh_token") or None
    raw = data.get("expires_in")
    expires_at = None
    if raw not in (None, "", 0):
        value = _int(raw, "expires_in", where)
        mode = expires_in
        if mode == "seconds" and value > _MAX_PLAUSIBLE_TTL:
            log.warning(
                "douyin token: expires_in=%d is too large for seconds; read as a Unix "
                "time (set token_expires_in='timestamp')",
                value,
            )
            mode = "timestamp"
        expires_at = from_unix(value) if mode == "timestamp" else now + timedelta(seconds=value)
        log.info(
            "douyin token: expires_in=%d read as %s -> expires at %s", value, mode, expires_at.isoformat()
        )
    return TokenSet(access_token=access, refresh_token=refresh, expires_at=expires_at)


def unix(when: datetime) -> int:
    """Aware datetime -> Unix seconds (for creation-time filters)."""
    return to_unix(when)
