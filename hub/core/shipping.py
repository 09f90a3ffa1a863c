"""Shipment write-back (发货回传): recorded in the outbox, then sent. Used by
`hub orders ship` and the console."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import audit, outbox
from hub.core.delivery import deliver_due
from hub.core.shops import ShopRuntime, get_shop
from hub.errors import InputError
from hub.models import OrderStatus
from hub.report import StreamResult
from hub.storage import tables as t

SHIPPABLE = (OrderStatus.AWAITING_SHIPMENT, OrderStatus.PARTLY_SHIPPED, OrderStatus.SHIPPED)


def queue_shipment(
    session: Session,
    *,
    order_id: str,
    carrier: str,
    tracking: str,
    shop: str | None,
    lines: Sequence[str],
    actor: str,
    now: datetime,
    source: str,
) -> tuple[t.Shop, int]:
    """Record a shipment of ``order_id`` in the outbox (once: the same shipment again is the
    same entry) and audit it; returns the shop and the outbox entry id."""
    carrier, tracking = carrier.strip(), tracking.strip()
    if not carrier or not tracking:
        raise InputError("a shipment needs a carrier and a tracking number")
    query = (
        select(t.Order, t.Shop)
        .join(t.Shop, t.Shop.id == t.Order.shop_id)
        .where(t.Order.platform_order_id == order_id)
    )
    if shop:
        query = query.where(t.Shop.id == get_shop(session, shop).id)  # an unknown shop is named
    found = session.execute(query).all()
    if not found:
        where = f" in shop {shop!r}" if shop else ""
        raise InputError(f"no order {order_id!r}{where}; run `hub sync --stream orders` first")
    if len(found) > 1:
        raise InputError(f"order {order_id!r} exists in several shops; add --shop")
    order, shop_row = found[0]
    if OrderStatus(order.status) not in SHIPPABLE:
        raise InputError(f"order {order_id} is {order.status}; only paid orders can be shipped")
    entry = outbox.enqueue(
        session,
        shop_id=shop_row.id,
        kind="shipment",
        target=order_id,
        key=outbox.stable_key("ship", shop_row.id, order_id, carrier, tracking, *sorted(lines)),
        payload={
            "platform_order_id": order_id,
            "carrier": carrier,
            "tracking_number": tracking,
            "line_ids": list(lines),
        },
        now=now,
        supersede=False,
    )
    audit.record(
        session,
        actor=actor,
        action="order.ship",
        now=now,
        shop=shop_row.name,
        new=f"{order_id} {carrier} {tracking}",
        source=source,
    )
    session.flush()
    return shop_row, entry.id


async def send_shipments(runtime: ShopRuntime, shop_row: t.Shop, entry_id: int) -> tuple[str, str | None]:
    """Send the shop's due shipments now; returns the entry's state and its error, if any."""
    ctx = runtime.open(shop_row)
    result = StreamResult(shop_row.name, "orders")
    try:
        await deliver_due(runtime.host, runtime.db, ctx, shop_row.id, ["shipment"], result)
    finally:
        await ctx.client.aclose()
    entry = await runtime.db.run(lambda s: s.get(t.OutboxEntry, entry_id))
    return entry.state, entry.last_error or result.error
