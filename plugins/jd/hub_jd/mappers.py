"""JD JSON <-> canonical models. Money (yuan <-> fen) and time (Asia/Shanghai strings
<-> aware UTC) are converted here and nowhere else in the plugin.

JD sends ids as numeric strings or JSON numbers depending on the API, and amounts as
yuan strings or numbers, so every reader here accepts both and refuses anything else
with :class:`JdDataError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from hub.models import (
    Listing,
    ListingStatus,
    Order,
    OrderLine,
    OrderStatus,
)
from hub.units import CN_TZ, fen_to_yuan, format_cn_time, parse_cn_time, utc, yuan_to_fen

# --- order states (fact sheet §2.8) ---------------------------------------------------------

#: JD order_state -> canonical status. TRADE_CANCELED is refined by :func:`status_from_jd`.
STATE_TO_STATUS: dict[str, OrderStatus] = {
    "WAIT_SELLER_STOCK_OUT": OrderStatus.AWAITING_SHIPMENT,
    "WAIT_SELLER_DELIVERY": OrderStatus.AWAITING_SHIPMENT,  # cross-border: awaiting domestic leg
    "PAUSE": OrderStatus.AWAITING_SHIPMENT,  # paused, still paid and holding stock
    "POP_ORDER_PAUSE": OrderStatus.AWAITING_SHIPMENT,
    "LOCKED": OrderStatus.AWAITING_SHIPMENT,
    "WAIT_SEND_CODE": OrderStatus.AWAITING_SHIPMENT,
    "WAIT_GOODS_RECEIVE_CONFIRM": OrderStatus.SHIPPED,
    "FINISHED_L": OrderStatus.COMPLETED,
    "TRADE_CANCELED": OrderStatus.CANCELLED,
}

#: canonical status -> the JD state the sandbox reports. JD's POP search has no unpaid
#: state, so PENDING_PAYMENT has none (such orders are not listed). JD ships whole orders,
#: so a partly shipped order still waits for stock-out. A refund before or after shipment
#: ends in TRADE_CANCELED, told apart from a never-paid cancellation by its payment time.
STATUS_TO_STATE: dict[OrderStatus, str | None] = {
    OrderStatus.PENDING_PAYMENT: None,
    OrderStatus.AWAITING_SHIPMENT: "WAIT_SELLER_STOCK_OUT",
    OrderStatus.PARTLY_SHIPPED: "WAIT_SELLER_STOCK_OUT",
    OrderStatus.SHIPPED: "WAIT_GOODS_RECEIVE_CONFIRM",
    OrderStatus.COMPLETED: "FINISHED_L",
    OrderStatus.CANCELLED: "TRADE_CANCELED",
    OrderStatus.REFUNDED: "TRADE_CANCELED",
}

#: The orderInfo fields the plugin reads; sent as ``optional_fields`` (JD returns only these).
ORDER_FIELDS: tuple[str, ...] = (
    "orderId",
    "orderState",
    "orderStartTime",
    "modified",
    "paymentConfirmTime",
    "orderTotalPrice",
    "orderSellerPrice",
    "orderPayment",
    "freightPrice",
    "sellerDiscount",
    "itemInfoList",
    "logisticsId",
    "waybill",
)

SKU_ON_SALE, SKU_OFF_SALE, SKU_DELETED = 1, 2, 4


class JdDataError(ValueError):
    """A JD record has a field we cannot read; ``field`` names it."""

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"{field}: {problem}")


# --- scalars --------------------------------------------------------------------------------


def fen_from_yuan(value: Any, field: str) -> int:
    """A JD yuan amount (``"59.90"``, ``59.9`` or ``59``) as integer fen."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise JdDataError(field, f"expected a yuan amount, got {type(value).__name__}")
    try:
        fen = yuan_to_fen(value)
    except ValueError as exc:
        raise JdDataError(field, str(exc)) from None
    if fen < 0:
        raise JdDataError(field, f"negative amount {value!r}")
    return fen


def yuan(fen: int) -> str:
    """Integer fen as the yuan string JD expects (``5990`` -> ``"59.90"``)."""
    return fen_to_yuan(fen)


def count(value: Any, field: str) -> int:
    """A JD quantity (``3`` or ``"3"``) as a non-negative int."""
    if isinstance(value, bool):
        raise JdDataError(field, "expected a number, got a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise JdDataError(field, f"expected a whole number, got {value!r}")
    if number < 0:
        raise JdDataError(field, f"negative quantity {number}")
    return number


def jd_id(value: Any, field: str) -> str:
    """A JD id (a numeric string or a JSON number) as the hub's string id."""
    if isinstance(value, bool) or value is None:
        raise JdDataError(field, "missing id")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise JdDataError(field, f"expected an id, got {value!r}")


def id_param(value: str, field: str) -> int:
    """A hub id as the JSON number JD's Long parameters (skuId…) take."""
    if not value.isdigit():
        raise JdDataError(field, "a JD id is all digits")  # the value stays out of messages
    return int(value)


def cn_time(dt: datetime) -> str:
    """Aware datetime -> ``yyyy-MM-dd HH:mm:ss`` Asia/Shanghai (fractions dropped)."""
    return format_cn_time(dt)


def ceil_cn_time(dt: datetime) -> str:
    """Like :func:`cn_time` but rounded up to the next whole second, so an inclusive JD
    ``end_date`` still covers everything before ``dt``."""
    dt = utc(dt)
    if dt.microsecond:
        dt = dt.replace(microsecond=0) + timedelta(seconds=1)
    return format_cn_time(dt)


def time_from_jd(value: Any, field: str) -> datetime:
    """A JD ``yyyy-MM-dd HH:mm:ss`` Asia/Shanghai string as aware UTC."""
    if not isinstance(value, str):
        raise JdDataError(field, f"expected a time string, got {type(value).__name__}")
    try:
        return parse_cn_time(value)
    except ValueError:
        raise JdDataError(field, f"not a yyyy-MM-dd HH:mm:ss time: {value!r}") from None


def optional_time(value: Any, field: str) -> datetime | None:
    """Like :func:`time_from_jd`, but empty values and JD's placeholder dates (before
    2000, e.g. ``0001-01-01 00:00:00``) mean "not set"."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and value[:4].isdigit() and int(value[:4]) < 2000:
        return None
    return time_from_jd(value, field)


TimestampStyle = Literal["millis", "plain"]


def jd_timestamp(now: datetime, style: TimestampStyle = "millis") -> str:
    """The ``timestamp`` system parameter for ``now``, in Asia/Shanghai.

    ``millis``: ``2021-05-07 09:20:39.683+0800`` (what the official SDK and signing example
    send); ``plain``: ``2021-05-07 09:20:39`` (the legacy doc's format)."""
    local = utc(now).astimezone(CN_TZ)
    if style == "plain":
        return local.strftime("%Y-%m-%d %H:%M:%S")
    return f"{local.strftime('%Y-%m-%d %H:%M:%S')}.{local.microsecond // 1000:03d}{local.strftime('%z')}"


def parse_jd_timestamp(text: str) -> datetime:
    """Either timestamp form as aware UTC; a plain one is Asia/Shanghai wall-clock time.
    Raises ValueError for anything else."""
    text = text.strip()
    for pattern in ("%Y-%m-%d %H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z"):
        try:
            return utc(datetime.strptime(text, pattern))
        except ValueError:
            continue
    return parse_cn_time(text)  # raises ValueError when it is not the plain form either


# --- statuses -------------------------------------------------------------------------------


def status_from_jd(
    state: str, paid_at: datetime | None, *, refund_from_payment_time: bool = True
) -> OrderStatus:
    """Canonical status of a JD ``orderState``. A TRADE_CANCELED order that was paid was
    refunded; one never paid was cancelled."""
    try:
        status = STATE_TO_STATUS[state]
    except KeyError:
        raise JdDataError("orderState", f"unknown JD order state {state!r}") from None
    if status is OrderStatus.CANCELLED and refund_from_payment_time and paid_at is not None:
        return OrderStatus.REFUNDED
    return status


def state_for(status: OrderStatus) -> str | None:
    """The JD ``orderState`` shown for a canonical status (None: JD does not list it)."""
    return STATUS_TO_STATE[status]


# --- records --------------------------------------------------------------------------------


def _code(value: Any) -> str | None:
    """The merchant code (商家编码) as typed on JD, or None when the merchant left it empty."""
    if value is None:
        return None
    return str(value).strip() or None


def listing_from_jd(row: Mapping[str, Any]) -> Listing:
    """One ``searchSkuList`` row (``page.data[i]``) as a :class:`Listing`."""
    status = row.get("status")
    if str(status) == str(SKU_ON_SALE):
        listing_status = ListingStatus.ON_SALE
    elif str(status) == str(SKU_OFF_SALE):
        listing_status = ListingStatus.OFF_SALE
    else:
        raise JdDataError("status", f"unexpected SKU status {status!r} (1 on sale, 2 off sale)")
    title = row.get("skuName") or row.get("wareTitle") or ""
    return Listing(
        platform_item_id=jd_id(row.get("wareId"), "wareId"),
        platform_sku_id=jd_id(row.get("skuId"), "skuId"),
        master_code=_code(row.get("outerId")),
        title=str(title),
        price=fen_from_yuan(row.get("jdPrice"), "jdPrice"),
        quantity=count(row.get("stockNum", 0), "stockNum"),
        status=listing_status,
    )


def order_from_jd(info: Mapping[str, Any], *, refund_from_payment_time: bool = True) -> Order:
    """One POP ``orderInfo`` as an :class:`Order`.

    ``total`` is ``orderTotalPrice`` (the goods total before discounts and freight), the
    amount the order's lines add up to. ``created_at`` is ``orderStartTime`` (falls back
    to ``modified`` when JD leaves it out); ``paid_at`` is ``paymentConfirmTime``."""
    order_id = jd_id(info.get("orderId"), "orderId")
    state = info.get("orderState")
    if not isinstance(state, str):
        raise JdDataError("orderState", "missing")
    modified = time_from_jd(info.get("modified"), "modified")
    created_raw = info.get("orderStartTime")
    created = time_from_jd(created_raw, "orderStartTime") if created_raw else modified
    paid_at = optional_time(info.get("paymentConfirmTime"), "paymentConfirmTime")
    status = status_from_jd(state, paid_at, refund_from_payment_time=refund_from_payment_time)
    rows = info.get("itemInfoList")
    if not isinstance(rows, list) or not rows:
        raise JdDataError("itemInfoList", "an order needs at least one item")
    lines = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        where = f"itemInfoList[{index}]"
        if not isinstance(row, Mapping):
            raise JdDataError(where, "expected an object")
        sku_id = jd_id(row.get("skuId"), f"{where}.skuId")
        # JD has no line id; a SKU appears once per order, so the skuId is the line id
        # (suffixed on the rare repeat to keep line ids unique).
        seen[sku_id] = seen.get(sku_id, 0) + 1
        line_id = sku_id if seen[sku_id] == 1 else f"{sku_id}-{seen[sku_id]}"
        quantity = count(row.get("itemTotal"), f"{where}.itemTotal")
        if quantity == 0:
            raise JdDataError(f"{where}.itemTotal", "a line needs a positive quantity")
        lines.append(
            OrderLine(
                line_id=line_id,
                platform_item_id=jd_id(row.get("wareId"), f"{where}.wareId"),
                platform_sku_id=sku_id,
                master_code=_code(row.get("outerSkuId")),
                title=str(row.get("skuName") or ""),
                quantity=quantity,
                unit_price=fen_from_yuan(row.get("jdPrice"), f"{where}.jdPrice"),
                shipped=status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED),
                refunded=status is OrderStatus.REFUNDED,
            )
        )
    return Order(
        platform_order_id=order_id,
        status=status,
        platform_status=state,
        created_at=created,
        modified_at=modified,
        paid_at=paid_at,
        total=fen_from_yuan(info.get("orderTotalPrice"), "orderTotalPrice"),
        lines=tuple(lines),
    )


__all__ = [
    "ORDER_FIELDS",
    "SKU_DELETED",
    "SKU_OFF_SALE",
    "SKU_ON_SALE",
    "STATE_TO_STATUS",
    "STATUS_TO_STATE",
    "JdDataError",
    "ceil_cn_time",
    "cn_time",
    "count",
    "fen_from_yuan",
    "id_param",
    "jd_id",
    "jd_timestamp",
    "listing_from_jd",
    "optional_time",
    "order_from_jd",
    "parse_jd_timestamp",
    "state_for",
    "status_from_jd",
    "time_from_jd",
    "yuan",
]
