"""Taobao refunds (退款) as hub after-sale cases: ``taobao.refunds.receive.get``.

One TOP refund is one sub-order (``oid``) of a trade: ``has_good_return`` says whether the
buyer sends goods back (a return) or not (a refund only). TOP has no "received" status: the
seller confirms the returned goods and the refund then succeeds, so a return restocks when
it is ``SUCCESS`` (see :attr:`hub.models.AfterSale.received`). Exchanges are a Tmall API of
their own (``tmall.exchange.*``) that the hub does not read.

Refund fields and statuses come from the fact sheet (§1.7 Refunds, §1.8); ``num``,
``outer_id`` and ``sku`` on a refund, its sort order and its window limit are UNCONFIRMED
(see the README and the ``refund_*`` settings).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.models import AfterSale, AfterSaleLine, AfterSaleStatus, AfterSaleType
from hub_taobao import mappers as m

if TYPE_CHECKING:
    from hub.simulator.aftersales import CaseState

METHOD = "taobao.refunds.receive.get"
REFUND_FIELDS = (
    "refund_id,tid,oid,title,total_fee,status,created,modified,refund_fee,good_status,"
    "has_good_return,reason,num,num_iid,sku_id,sku,outer_id,order_status,refund_phase,refund_version"
)

#: TOP refund status -> the hub's
STATUS = {
    "WAIT_SELLER_AGREE": AfterSaleStatus.REQUESTED,
    "WAIT_BUYER_RETURN_GOODS": AfterSaleStatus.RETURNING,
    "WAIT_SELLER_CONFIRM_GOODS": AfterSaleStatus.RETURNING,  # sent back, not yet confirmed
    "SELLER_REFUSE_BUYER": AfterSaleStatus.REJECTED,
    "CLOSED": AfterSaleStatus.CLOSED,
    "SUCCESS": AfterSaleStatus.REFUNDED,
}
#: the sandbox's side: the hub's status of a case -> TOP's (``received`` means the goods are
#: with the seller, who has not confirmed them yet)
TOP_STATUS = {
    AfterSaleStatus.REQUESTED: "WAIT_SELLER_AGREE",
    AfterSaleStatus.APPROVED: "WAIT_SELLER_AGREE",
    AfterSaleStatus.RETURNING: "WAIT_BUYER_RETURN_GOODS",
    AfterSaleStatus.RECEIVED: "WAIT_SELLER_CONFIRM_GOODS",
    AfterSaleStatus.REJECTED: "SELLER_REFUSE_BUYER",
    AfterSaleStatus.CLOSED: "CLOSED",
    AfterSaleStatus.REFUNDED: "SUCCESS",
}


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def case_from_refund(row: Mapping[str, Any]) -> AfterSale:
    """One TOP refund as a hub case (raises :class:`~hub_taobao.mappers.MappingError`)."""
    refund_id = m.id_str(row.get("refund_id"), "refund refund_id")
    where = f"refund {refund_id}"
    status = str(row.get("status") or "")
    if status not in STATUS:
        raise m.MappingError(f"{where}: unknown status {status!r}")
    num_iid = m.id_str(row.get("num_iid"), f"{where} num_iid")
    sku_id = str(row.get("sku_id") or "") or num_iid  # the sku id field is UNCONFIRMED
    try:
        quantity = int(row.get("num") or 1)
    except (TypeError, ValueError):
        raise m.MappingError(f"{where}: num is not a number") from None
    return AfterSale(
        platform_case_id=refund_id,
        platform_order_id=m.id_str(row.get("tid"), f"{where} tid"),
        type=AfterSaleType.RETURN_REFUND if _flag(row.get("has_good_return")) else AfterSaleType.REFUND_ONLY,
        status=STATUS[status],
        platform_status=status,
        created_at=m.to_utc(row.get("created"), f"{where} created"),
        modified_at=m.to_utc(row.get("modified") or row.get("created"), f"{where} modified"),
        refund_amount=m.to_fen(row.get("refund_fee") or "0", f"{where} refund_fee"),
        reason=str(row.get("reason") or ""),
        lines=(
            AfterSaleLine(
                platform_item_id=num_iid,
                platform_sku_id=sku_id,
                master_code=str(row.get("outer_id") or "") or None,
                line_id=str(row.get("oid") or "") or None,
                quantity=max(1, quantity),
            ),
        ),
    )


def refund_json(case: CaseState, fields: set[str]) -> dict[str, Any]:
    """The sandbox's TOP refund of a case, limited to ``fields``."""
    line = case.line
    returned = case.kind is AfterSaleType.RETURN_REFUND
    good_status = "BUYER_NOT_RECEIVED" if not case.shipped else "BUYER_RECEIVED"
    if returned and case.status in (AfterSaleStatus.RECEIVED, AfterSaleStatus.REFUNDED):
        good_status = "BUYER_RETURNED_GOODS"
    full = {
        "refund_id": int(case.case_id),
        "tid": int(case.order_id),
        "oid": int(line.line_id),
        "title": line.title,
        "num_iid": int(line.item_id),
        "sku_id": int(line.sku_id),
        "outer_id": line.code or "",
        "num": case.quantity,
        "total_fee": m.to_yuan(line.unit_price * line.quantity),
        "refund_fee": m.to_yuan(case.refund),
        "status": TOP_STATUS[case.status],
        "created": m.top_time(case.created),
        "modified": m.top_time(case.modified),
        "good_status": good_status,
        "has_good_return": returned,
        "reason": case.reason,
        "refund_phase": "aftersale" if case.shipped else "onsale",
        "refund_version": int(case.modified.timestamp() * 1000),
    }
    return {k: v for k, v in full.items() if k in fields}
