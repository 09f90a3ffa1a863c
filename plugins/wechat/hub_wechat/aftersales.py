"""WeChat store after-sale orders (售后单) as hub after-sale cases.

``channels/ec/aftersale/getaftersalelist`` lists after-sale order ids by create time or
(newer docs) update time, a window of at most 24 hours, paged by ``next_key`` while
``has_more``; ``getaftersaleorder`` reads one (fact sheet §4.3 names both; the parameters
are the official doc's). Which time pair a shop's API version accepts is UNCONFIRMED (the
``aftersale_time_field`` setting), as are the status strings below beyond their names, and
an exchange ``type`` (we read ``EXCHANGE`` if it appears).

Amounts are fen and times Unix seconds. One after-sale order covers one SKU of an order
(``product_info``); WeChat order lines have no id, the hub's is the SKU id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.models import AfterSale, AfterSaleLine, AfterSaleStatus, AfterSaleType
from hub.units import from_unix, to_unix

if TYPE_CHECKING:
    from hub.simulator.aftersales import CaseState

LIST_PATH = "aftersale/getaftersalelist"  # under channels/ec/
GET_PATH = "aftersale/getaftersaleorder"
MAX_SPAN_HOURS = 24  # end - begin may not exceed 24 hours (errcode 10020004)

TYPES = {
    "REFUND": AfterSaleType.REFUND_ONLY,
    "RETURN": AfterSaleType.RETURN_REFUND,
    "EXCHANGE": AfterSaleType.EXCHANGE,
}
#: status -> (status for a refund, status for a return): a return's refund starts only once
#: the merchant confirmed its goods, so its refund states mean "received"
STATUSES = {
    "USER_WAIT_CONFIRM": (AfterSaleStatus.REQUESTED,) * 2,
    "USER_WAIT_CONFIRM_UPDATE": (AfterSaleStatus.REQUESTED,) * 2,
    "USER_WAIT_HANDLE_MERCHANT_AFTER_SALE": (AfterSaleStatus.REQUESTED,) * 2,
    "MERCHANT_PROCESSING": (AfterSaleStatus.REQUESTED,) * 2,
    "USER_WAIT_RETURN": (AfterSaleStatus.RETURNING,) * 2,
    "MERCHANT_WAIT_RECEIPT": (AfterSaleStatus.RETURNING,) * 2,
    "MERCHANT_OVERDUE_REFUND": (AfterSaleStatus.APPROVED, AfterSaleStatus.RECEIVED),
    "PLATFORM_REFUNDING": (AfterSaleStatus.APPROVED, AfterSaleStatus.RECEIVED),
    "PLATFORM_REFUND_FAIL": (AfterSaleStatus.APPROVED, AfterSaleStatus.RECEIVED),
    "MERCHANT_REFUND_RETRY_FAIL": (AfterSaleStatus.APPROVED, AfterSaleStatus.RECEIVED),
    "MERCHANT_REFUND_SUCCESS": (AfterSaleStatus.REFUNDED,) * 2,
    "MERCHANT_RETURN_SUCCESS": (AfterSaleStatus.REFUNDED,) * 2,
    "MERCHANT_REJECT_REFUND": (AfterSaleStatus.REJECTED,) * 2,
    "MERCHANT_REJECT_RETURN": (AfterSaleStatus.REJECTED,) * 2,
    "USER_CANCELD": (AfterSaleStatus.CLOSED,) * 2,
    "RETURN_CLOSED": (AfterSaleStatus.CLOSED,) * 2,
    "MERCHANT_FAIL": (AfterSaleStatus.CLOSED,) * 2,
}
#: the sandbox's side: the hub's status of a case -> the string it shows
WIRE = {
    AfterSaleStatus.REQUESTED: "MERCHANT_PROCESSING",
    AfterSaleStatus.APPROVED: "PLATFORM_REFUNDING",
    AfterSaleStatus.RETURNING: "USER_WAIT_RETURN",
    AfterSaleStatus.RECEIVED: "PLATFORM_REFUNDING",
    AfterSaleStatus.REJECTED: "MERCHANT_REJECT_REFUND",
    AfterSaleStatus.CLOSED: "USER_CANCELD",
    AfterSaleStatus.REFUNDED: "MERCHANT_REFUND_SUCCESS",
}
WIRE_TYPE = {v: k for k, v in TYPES.items()}


def case_from_wire(row: Mapping[str, Any]) -> AfterSale:
    """A ``getaftersaleorder`` ``after_sale_order`` as a hub case (ValueError if unreadable)."""
    case_id = str(row.get("after_sale_order_id") or "")
    if not case_id:
        raise ValueError("after_sale_order_id missing")
    kind = TYPES.get(str(row.get("type") or ""))
    if kind is None:
        raise ValueError(f"after-sale {case_id}: unknown type {row.get('type')!r}")
    wire = str(row.get("status") or "")
    if wire not in STATUSES:
        raise ValueError(f"after-sale {case_id}: unknown status {wire!r}")
    refund_status, return_status = STATUSES[wire]
    status = refund_status if kind is AfterSaleType.REFUND_ONLY else return_status
    if kind is AfterSaleType.EXCHANGE and status is AfterSaleStatus.REFUNDED:
        status = AfterSaleStatus.RECEIVED  # an exchange succeeds without a refund
    product = row.get("product_info") or {}
    sku_id = str(product.get("sku_id") or "")
    if not sku_id:
        raise ValueError(f"after-sale {case_id}: product_info.sku_id missing")
    return AfterSale(
        platform_case_id=case_id,
        platform_order_id=str(row.get("order_id") or ""),
        type=kind,
        status=status,
        platform_status=wire,
        created_at=from_unix(int(row["create_time"])),
        modified_at=from_unix(int(row.get("update_time") or row["create_time"])),
        refund_amount=int((row.get("refund_info") or {}).get("amount") or 0),
        reason=str(row.get("reason") or ""),
        lines=(
            AfterSaleLine(
                platform_item_id=str(product.get("product_id") or ""),
                platform_sku_id=sku_id,
                line_id=sku_id,
                quantity=max(1, int(product.get("count") or 1)),
            ),
        ),
    )


def wire_case(case: CaseState) -> dict[str, Any]:
    """The sandbox's ``after_sale_order`` of a case."""
    return {
        "after_sale_order_id": case.case_id,
        "status": WIRE[case.status],
        "order_id": case.order_id,
        "type": WIRE_TYPE[case.kind],
        "product_info": {"product_id": case.line.item_id, "sku_id": case.line.sku_id, "count": case.quantity},
        "refund_info": {"amount": 0 if case.kind is AfterSaleType.EXCHANGE else case.refund},
        "details": {"desc": case.reason, "receive_product": case.shipped},
        "reason": "NO_LONGER_WANT",
        "create_time": to_unix(case.created),
        "update_time": to_unix(case.modified),
    }
