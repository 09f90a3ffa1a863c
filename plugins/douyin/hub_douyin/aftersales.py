"""Douyin after-sale orders (售后单, ``/afterSale/List``) as hub after-sale cases.

The fact sheet names the after-sale push messages (200 opened, 206 refund success, 207
closed) but not the list API. Its request (``update_start_time``/``update_end_time`` in
Unix seconds, ``page`` from 0, ``size``), its answer (``data.items[]`` of
``aftersale_info`` + ``order_info.related_order_info[]``, ``data.total``) and the type and
status codes below are our reading of the doudian SDK and are UNCONFIRMED; the path, page
size and window length are settings.

``aftersale_type``: 0 return and refund, 1 refund only after shipment, 2 refund only
before shipment, 3 exchange (others, such as price protection or repairs, are not read).
Amounts are fen, times Unix seconds, like the rest of Douyin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.models import AfterSale, AfterSaleLine, AfterSaleStatus, AfterSaleType
from hub.units import to_unix
from hub_douyin.mappers import DataError, _fen, _int, _required_time, platform_id

if TYPE_CHECKING:
    from hub.simulator.aftersales import CaseState

TYPES = {
    0: AfterSaleType.RETURN_REFUND,
    1: AfterSaleType.REFUND_ONLY,
    2: AfterSaleType.REFUND_ONLY,
    3: AfterSaleType.EXCHANGE,
}
#: aftersale_status -> status: 6 awaiting the merchant, 7 awaiting the buyer's parcel, 11
#: parcel sent back (the merchant confirms it), 8 / 3 exchange: the merchant has the goods
#: and sends (sent) the replacement, 12 success, 14 exchange done, 27 refused, 28 failed /
#: closed, 29 refused after the return
STATUSES = {
    6: AfterSaleStatus.REQUESTED,
    7: AfterSaleStatus.RETURNING,
    11: AfterSaleStatus.RETURNING,
    8: AfterSaleStatus.RECEIVED,
    3: AfterSaleStatus.RECEIVED,
    12: AfterSaleStatus.REFUNDED,
    14: AfterSaleStatus.RECEIVED,
    27: AfterSaleStatus.REJECTED,
    29: AfterSaleStatus.REJECTED,
    28: AfterSaleStatus.CLOSED,
}


def case_from_item(item: Mapping[str, Any]) -> AfterSale | None:
    """One ``items[]`` entry as a hub case; None for kinds the hub does not read."""
    info = item.get("aftersale_info")
    order = item.get("order_info") or {}
    if not isinstance(info, Mapping) or not isinstance(order, Mapping):
        raise DataError("after-sale item: aftersale_info missing")
    case_id = platform_id(info.get("aftersale_id"), "aftersale_id", "after-sale")
    where = f"after-sale {case_id}"
    kind = TYPES.get(_int(info.get("aftersale_type"), "aftersale_type", where))
    if kind is None:
        return None
    code = _int(info.get("aftersale_status"), "aftersale_status", where)
    if code not in STATUSES:
        raise DataError(f"{where}: unknown aftersale_status {code}")
    status = STATUSES[code]
    if kind is AfterSaleType.EXCHANGE and status is AfterSaleStatus.REFUNDED:
        status = AfterSaleStatus.RECEIVED  # an exchange succeeds without a refund
    related = order.get("related_order_info") or []
    if not isinstance(related, list) or not related:
        raise DataError(f"{where}: related_order_info missing")
    lines = []
    for row in related:
        line_where = f"{where} sku order {row.get('sku_order_id')}"
        lines.append(
            AfterSaleLine(
                platform_item_id=str(row.get("product_id") or ""),
                platform_sku_id=platform_id(row.get("sku_id"), "sku_id", line_where),
                master_code=str(row.get("shop_sku_code") or "").strip() or None,
                line_id=platform_id(row.get("sku_order_id"), "sku_order_id", line_where),
                quantity=max(1, _int(row.get("aftersale_item_num") or 1, "aftersale_item_num", line_where)),
            )
        )
    return AfterSale(
        platform_case_id=case_id,
        platform_order_id=platform_id(order.get("shop_order_id"), "shop_order_id", where),
        type=kind,
        status=status,
        platform_status=str(code),
        created_at=_required_time(info.get("apply_time"), "apply_time", where),
        modified_at=_required_time(info.get("update_time") or info.get("apply_time"), "update_time", where),
        refund_amount=_fen(info.get("refund_amount") or 0, "refund_amount", where),
        reason=str(info.get("reason") or ""),
        lines=tuple(lines),
    )


#: the sandbox's side: the hub's status of a case -> Douyin's code, per kind
_CODE = {
    AfterSaleStatus.REQUESTED: 6,
    AfterSaleStatus.APPROVED: 7,
    AfterSaleStatus.RETURNING: 7,
    AfterSaleStatus.RECEIVED: 11,
    AfterSaleStatus.REJECTED: 27,
    AfterSaleStatus.CLOSED: 28,
    AfterSaleStatus.REFUNDED: 12,
}


def item_json(case: CaseState) -> dict[str, Any]:
    """The sandbox's ``items[]`` entry of a case."""
    if case.kind is AfterSaleType.EXCHANGE:
        kind = 3
    elif case.kind is AfterSaleType.RETURN_REFUND:
        kind = 0
    else:
        kind = 1 if case.shipped else 2
    code = _CODE[case.status]
    if case.kind is AfterSaleType.EXCHANGE and case.status is AfterSaleStatus.RECEIVED:
        code = 8  # the merchant has the goods back and sends the replacement
    line = case.line
    return {
        "aftersale_info": {
            "aftersale_id": case.case_id,
            "aftersale_type": kind,
            "aftersale_status": code,
            "related_order_id": int(line.line_id),
            "apply_time": to_unix(case.created),
            "update_time": to_unix(case.modified),
            "refund_amount": 0 if case.kind is AfterSaleType.EXCHANGE else case.refund,
            "reason": case.reason,
        },
        "order_info": {
            "shop_order_id": case.order_id,
            "related_order_info": [
                {
                    "sku_order_id": line.line_id,
                    "product_id": line.item_id,
                    "sku_id": int(line.sku_id),
                    "shop_sku_code": line.code or "",
                    "aftersale_item_num": case.quantity,
                    "item_num": line.quantity,
                }
            ],
        },
    }
