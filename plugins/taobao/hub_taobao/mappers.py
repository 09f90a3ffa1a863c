"""TOP JSON <-> canonical models. Money and time are converted here and nowhere else.

TOP speaks yuan strings (``"59.90"``) and Asia/Shanghai wall-clock strings
(``"2026-11-11 08:00:00"``); the hub speaks integer fen and aware UTC datetimes.
Ids arrive as JSON numbers (``num_iid``, ``sku_id``, ``tid``, ``oid``) and become strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from hub.models import Listing, ListingStatus, Order, OrderLine, OrderStatus
from hub.units import fen_to_yuan, format_cn_time, parse_cn_time, yuan_to_fen

# --- fields we ask for ----------------------------------------------------------------------

#: items.onsale.get / items.inventory.get: enough to list an item without SKUs
ITEM_FIELDS = "num_iid,title,num,price,outer_id,approve_status,modified"
#: item.skus.get
SKU_FIELDS = "sku_id,num_iid,outer_id,quantity,price,properties,properties_name,status"
#: trades.sold.increment.get and trade.fullinfo.get: everything the Order model needs, so
#: the list call alone suffices whenever the platform returns the sub-orders
TRADE_FIELDS = (
    "tid,status,created,modified,pay_time,total_fee,"
    "orders.oid,orders.status,orders.refund_status,orders.num_iid,orders.sku_id,orders.outer_iid,"
    "orders.outer_sku_id,orders.title,orders.num,orders.price"
)

# --- statuses ---------------------------------------------------------------------------------

#: trade ``status`` (fact sheet §1.8) -> canonical status
TRADE_STATUS: dict[str, OrderStatus] = {
    "TRADE_NO_CREATE_PAY": OrderStatus.PENDING_PAYMENT,
    "WAIT_BUYER_PAY": OrderStatus.PENDING_PAYMENT,
    "PAY_PENDING": OrderStatus.PENDING_PAYMENT,
    "WAIT_PRE_AUTH_CONFIRM": OrderStatus.PENDING_PAYMENT,
    "WAIT_SELLER_SEND_GOODS": OrderStatus.AWAITING_SHIPMENT,
    "PAID_FORBID_CONSIGN": OrderStatus.AWAITING_SHIPMENT,
    "SELLER_CONSIGNED_PART": OrderStatus.PARTLY_SHIPPED,
    "WAIT_BUYER_CONFIRM_GOODS": OrderStatus.SHIPPED,
    "TRADE_BUYER_SIGNED": OrderStatus.SHIPPED,
    "TRADE_FINISHED": OrderStatus.COMPLETED,
    # Closed before payment: nothing was paid, do not ship.
    "TRADE_CLOSED_BY_TAOBAO": OrderStatus.CANCELLED,
    # Closed after payment: the buyer got a full refund.
    "TRADE_CLOSED": OrderStatus.REFUNDED,
}

#: sub-order statuses meaning the line left the warehouse
_LINE_SHIPPED = frozenset({"WAIT_BUYER_CONFIRM_GOODS", "TRADE_BUYER_SIGNED", "TRADE_FINISHED"})

#: item ``approve_status``
APPROVE_STATUS = {"onsale": ListingStatus.ON_SALE, "instock": ListingStatus.OFF_SALE}


class MappingError(ValueError):
    """A TOP record lacks a field or has a value we cannot read; names the record and field."""


# --- units --------------------------------------------------------------------------------------


def to_fen(value: Any, where: str) -> int:
    """A TOP yuan amount (``"59.90"``) as integer fen."""
    if value is None or value == "":
        raise MappingError(f"{where}: amount missing")
    try:
        return yuan_to_fen(value)
    except ValueError as exc:
        raise MappingError(f"{where}: {exc}") from None


def to_yuan(fen: int) -> str:
    """Integer fen as the yuan string TOP expects (``5990`` -> ``"59.90"``)."""
    return fen_to_yuan(fen)


def to_utc(value: Any, where: str) -> datetime:
    """A TOP Asia/Shanghai time string as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise MappingError(f"{where}: time missing")
    try:
        return parse_cn_time(value)
    except ValueError:
        raise MappingError(f"{where}: not a 'yyyy-MM-dd HH:mm:ss' time: {value!r}") from None


def top_time(dt: datetime) -> str:
    """An aware datetime as TOP's ``yyyy-MM-dd HH:mm:ss`` GMT+8 string (whole seconds)."""
    return format_cn_time(dt)


def id_str(value: Any, where: str) -> str:
    """A TOP id (JSON number or string) as a string."""
    if value is None or value == "" or isinstance(value, bool):
        raise MappingError(f"{where}: id missing")
    return str(value)


def nested(container: Mapping[str, Any] | None, outer: str, inner: str) -> list[dict[str, Any]]:
    """TOP's non-simplified list shape ``{"items": {"item": [...]}}`` -> the list.

    Absent or empty lists are omitted by TOP, so both give ``[]``."""
    if not container:
        return []
    wrapped = container.get(outer)
    if wrapped is None or wrapped == "":
        return []
    if isinstance(wrapped, list):  # the simplified shape, accepted for robustness
        return wrapped
    rows = wrapped.get(inner, []) if isinstance(wrapped, Mapping) else None
    if not isinstance(rows, list):
        raise MappingError(f"{outer}.{inner}: expected a list")
    return rows


# --- listings -------------------------------------------------------------------------------------


def spec_from_properties_name(properties_name: str | None) -> str:
    """``"1627207:28320:颜色:红;20509:28315:尺码:M"`` -> ``"颜色:红;尺码:M"``."""
    if not properties_name:
        return ""
    specs = []
    for part in properties_name.split(";"):
        pieces = part.split(":", 3)
        specs.append(f"{pieces[2]}:{pieces[3]}" if len(pieces) == 4 else part)
    return ";".join(specs)


def listing_status(item: Mapping[str, Any], default: ListingStatus) -> ListingStatus:
    """The listing status from the item's ``approve_status``, else ``default`` (the API read)."""
    return APPROVE_STATUS.get(str(item.get("approve_status", "")), default)


def listing_from_sku(item: Mapping[str, Any], sku: Mapping[str, Any], status: ListingStatus) -> Listing:
    """One SKU of an item (items.*.get row + item.skus.get row) as a listing."""
    where = f"sku {sku.get('sku_id')}"
    spec = spec_from_properties_name(sku.get("properties_name"))
    title = " ".join(p for p in (str(item.get("title") or ""), spec) if p)
    return Listing(
        platform_item_id=id_str(sku.get("num_iid", item.get("num_iid")), f"{where} num_iid"),
        platform_sku_id=id_str(sku.get("sku_id"), f"{where} sku_id"),
        master_code=(sku.get("outer_id") or None),
        title=title,
        price=to_fen(sku.get("price"), f"{where} price"),
        quantity=max(0, int(sku.get("quantity") or 0)),
        status=status,
    )


def listing_from_item(item: Mapping[str, Any], status: ListingStatus) -> Listing:
    """An item without SKUs as one listing whose ``platform_sku_id`` is its ``num_iid``."""
    num_iid = id_str(item.get("num_iid"), "item num_iid")
    return Listing(
        platform_item_id=num_iid,
        platform_sku_id=num_iid,
        master_code=(item.get("outer_id") or None),
        title=str(item.get("title") or ""),
        price=to_fen(item.get("price"), f"item {num_iid} price"),
        quantity=max(0, int(item.get("num") or 0)),
        status=status,
    )


def live_skus(skus: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """SKUs that are not deleted (item.skus.get also returns ``status: delete`` ones)."""
    return [s for s in skus if s.get("status", "normal") != "delete"]


# --- orders -----------------------------------------------------------------------------------------


def order_status(value: Any, where: str) -> OrderStatus:
    """A TOP trade status as the canonical status."""
    try:
        return TRADE_STATUS[str(value)]
    except KeyError:
        raise MappingError(f"{where}: unknown trade status {value!r}") from None


def has_lines(trade: Mapping[str, Any]) -> bool:
    """Whether a trade record carries its sub-orders (lists may omit them)."""
    return bool(nested(trade, "orders", "order"))


def line_from_order(sub: Mapping[str, Any], where: str) -> OrderLine:
    """A TOP sub-order as an order line. ``sku_id`` is empty for items without SKUs, so
    the line's SKU is then the item (as in :func:`listing_from_item`)."""
    oid = id_str(sub.get("oid"), f"{where} oid")
    here = f"{where} line {oid}"
    num_iid = id_str(sub.get("num_iid"), f"{here} num_iid")
    sku_id = sub.get("sku_id")
    has_sku = sku_id not in (None, "", 0, "0")
    code = sub.get("outer_sku_id") if has_sku else sub.get("outer_iid")
    try:
        quantity = int(sub.get("num"))
    except (TypeError, ValueError):
        raise MappingError(f"{here}: quantity missing") from None
    return OrderLine(
        line_id=oid,
        platform_item_id=num_iid,
        platform_sku_id=str(sku_id) if has_sku else num_iid,
        master_code=code or None,
        title=str(sub.get("title") or ""),
        quantity=quantity,
        unit_price=to_fen(sub.get("price"), f"{here} price"),
        shipped=sub.get("status") in _LINE_SHIPPED,
        refunded=sub.get("refund_status") == "SUCCESS",
    )


def order_from_trade(trade: Mapping[str, Any]) -> Order:
    """A full TOP trade (with ``orders``) as a canonical order."""
    tid = id_str(trade.get("tid"), "trade tid")
    where = f"trade {tid}"
    lines = tuple(line_from_order(sub, where) for sub in nested(trade, "orders", "order"))
    if not lines:
        raise MappingError(f"{where}: no sub-orders")
    total_fee = trade.get("total_fee")
    total = (
        to_fen(total_fee, f"{where} total_fee")
        if total_fee not in (None, "")
        else sum(line.unit_price * line.quantity for line in lines)
    )
    pay_time = trade.get("pay_time")
    return Order(
        platform_order_id=tid,
        status=order_status(trade.get("status"), where),
        platform_status=str(trade.get("status")),
        created_at=to_utc(trade.get("created"), f"{where} created"),
        modified_at=to_utc(trade.get("modified"), f"{where} modified"),
        paid_at=to_utc(pay_time, f"{where} pay_time") if pay_time else None,
        total=total,
        lines=lines,
    )


def skuid_quantities(pairs: Iterable[tuple[str, int]]) -> str:
    """``[("123", 5), ("456", -2)]`` -> ``"123:5;456:-2"`` (skus.quantity.update)."""
    return ";".join(f"{sku_id}:{quantity}" for sku_id, quantity in pairs)


def quantities_after(item: Mapping[str, Any] | None) -> dict[str, int]:
    """SKU quantities (and the item's ``num`` under its ``num_iid``) from a stock update's
    ``item`` answer; whatever the platform did not return is simply absent."""
    if not item:
        return {}
    out: dict[str, int] = {}
    if item.get("num_iid") is not None and item.get("num") is not None:
        out[str(item["num_iid"])] = int(item["num"])
    for sku in nested(item, "skus", "sku"):
        if sku.get("sku_id") is not None and sku.get("quantity") is not None:
            out[str(sku["sku_id"])] = int(sku["quantity"])
    return out
