"""JD after-sale service orders (售后服务单) as hub after-sale cases.

The fact sheet has nothing on JD after-sales. What we use is UNCONFIRMED, taken from the
public JOS SDK request classes (``jingdong.asc.query.list`` with ``buId``, ``operatePin``,
``updateTimeBegin``/``updateTimeEnd``, ``pageNumber``/``pageSize``) and the afs service
step codes of JD's after-sale docs. The answer's shape (``pageResult.data[]``,
``totalCount``) and the row fields are our best reading and are settings where they decide
what we send (see the README, "UNCONFIRMED items").

JD's service orders are returns (``customerExpect`` 10), exchanges (20) and repairs (30,
which the hub leaves out: nothing is restocked). A refund before shipment is an order
cancellation on JD (the order's own TRADE_CANCELED status releases its units), so it never
appears here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from hub.models import AfterSale, AfterSaleLine, AfterSaleStatus, AfterSaleType
from hub_jd.mappers import JdDataError, cn_time, count, fen_from_yuan, jd_id, time_from_jd, yuan

if TYPE_CHECKING:
    from hub.simulator.aftersales import CaseState

RESULT_KEY = "pageResult"

#: customerExpect -> type (30 repair and others are not read)
EXPECT = {"10": AfterSaleType.RETURN_REFUND, "20": AfterSaleType.EXCHANGE}
#: afs serviceStep -> status: 10 applied, 20 refused at review, 21/22 under review by JD /
#: the merchant, 31/32 waiting for JD / the merchant to receive the goods, 33/34 processing
#: after receipt, 40 waiting for the buyer's confirmation, 50 done, 60 cancelled
STEPS = {
    "10": AfterSaleStatus.REQUESTED,
    "20": AfterSaleStatus.REJECTED,
    "21": AfterSaleStatus.REQUESTED,
    "22": AfterSaleStatus.REQUESTED,
    "31": AfterSaleStatus.RETURNING,
    "32": AfterSaleStatus.RETURNING,
    "33": AfterSaleStatus.RECEIVED,
    "34": AfterSaleStatus.RECEIVED,
    "40": AfterSaleStatus.RECEIVED,
    "50": AfterSaleStatus.REFUNDED,
    "60": AfterSaleStatus.CLOSED,
}
#: the sandbox's side: the hub's status -> the step it shows
STEP_OF = {
    AfterSaleStatus.REQUESTED: "22",
    AfterSaleStatus.APPROVED: "32",
    AfterSaleStatus.RETURNING: "32",
    AfterSaleStatus.RECEIVED: "34",
    AfterSaleStatus.REJECTED: "20",
    AfterSaleStatus.REFUNDED: "50",
    AfterSaleStatus.CLOSED: "60",
}
EXPECT_OF = {v: k for k, v in EXPECT.items()}


def case_from_service(row: Mapping[str, Any], received_steps: Collection[str]) -> AfterSale | None:
    """One service order as a hub case; None for kinds the hub does not read (repairs).
    ``received_steps``: the steps at which the goods are with the merchant."""
    service_id = jd_id(row.get("serviceId"), "serviceId")
    expect = str(row.get("customerExpect") or "")
    if expect not in EXPECT:
        return None
    step = str(row.get("serviceStep") or "")
    if step not in STEPS:
        raise JdDataError(f"service {service_id} serviceStep", f"unknown step {step!r}")
    kind = EXPECT[expect]
    status = STEPS[step]
    if kind is AfterSaleType.EXCHANGE and status is AfterSaleStatus.REFUNDED:
        status = AfterSaleStatus.RECEIVED  # an exchange is done when the replacement went out
    refund = row.get("refundAmount")
    return AfterSale(
        platform_case_id=service_id,
        platform_order_id=jd_id(row.get("orderId"), f"service {service_id} orderId"),
        type=kind,
        status=status,
        platform_status=step,
        created_at=time_from_jd(row.get("applyTime"), f"service {service_id} applyTime"),
        modified_at=time_from_jd(
            row.get("updateTime") or row.get("applyTime"), f"service {service_id} updateTime"
        ),
        refund_amount=0
        if refund in (None, "")
        else fen_from_yuan(refund, f"service {service_id} refundAmount"),
        reason=str(row.get("questionDesc") or ""),
        goods_returned=step in received_steps,
        lines=(
            AfterSaleLine(
                platform_item_id=str(row.get("wareId") or ""),
                platform_sku_id=jd_id(row.get("skuId"), f"service {service_id} skuId"),
                # JD orders have no line id: the SKU id is the line id (see mappers.order_from_jd)
                line_id=jd_id(row.get("skuId"), f"service {service_id} skuId"),
                quantity=max(1, count(row.get("serviceCount") or 1, f"service {service_id} serviceCount")),
            ),
        ),
    )


def service_json(case: CaseState) -> dict[str, Any]:
    """The sandbox's JD service order of a case."""
    return {
        "serviceId": int(case.case_id),
        "orderId": int(case.order_id),
        "customerExpect": int(EXPECT_OF[case.kind]),
        "serviceStep": int(STEP_OF[case.status]),
        "applyTime": cn_time(case.created),
        "updateTime": cn_time(case.modified),
        "wareId": int(case.line.item_id),
        "skuId": int(case.line.sku_id),
        "skuName": case.line.title,
        "serviceCount": case.quantity,
        "refundAmount": yuan(case.refund) if case.kind is AfterSaleType.RETURN_REFUND else "0.00",
        "questionDesc": case.reason,
    }
