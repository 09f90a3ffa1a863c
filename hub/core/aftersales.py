"""Storing after-sale cases (售后), and what they do to stock.

Cases are keyed by (shop, platform case id), so reading one twice is harmless; an update
older than what is stored (by the platform's modification time) is ignored.

Stock effects (DESIGN invariants 1 and 8), each in one small function:

* :func:`release_refunded` — a refund of units the hub still holds for an unshipped order
  releases them at once. Exactly once: the case line records the units it released, and
  a reservation the order's own cancelled or refunded status already released is left
  alone (and the line marked refunded keeps the order from holding them again).
* :func:`restock_received` — a return after shipment raises on-hand only when the goods
  arrive: when the platform says the return was received (see
  :attr:`hub.models.AfterSale.received`), or on `hub returns receive`
  (:func:`receive_return`). Each case line records the units received, so neither path
  adds units twice; damaged units are recorded and never become sellable.

Raised on-hand reaches every channel through the normal stock cycle (the stock picture
reads on-hand counts every load).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from hub.core import audit, bundles, catalog
from hub.core.orders import CHUNK, _Resolver
from hub.errors import InputError
from hub.models import AfterSale, AfterSaleStatus, AfterSaleType
from hub.models import AfterSaleLine as AfterSaleLineModel
from hub.storage import tables as t

log = logging.getLogger("hub.aftersales")

STREAM = "aftersales"


@dataclass(frozen=True)
class CaseChange:
    """A case stored for the first time, or whose status changed."""

    case: AfterSale
    previous: AfterSaleStatus | None


# --- storing -----------------------------------------------------------------------------------


def store_after_sales(
    session: Session, shop_id: int, cases: Sequence[AfterSale], now: datetime, *, warehouse: str | None = None
) -> list[CaseChange]:
    """Upsert ``cases`` of one shop and apply their stock effects; returns the new cases
    and status changes. Platform receipts restock into ``warehouse`` (default: main)."""
    latest: dict[str, AfterSale] = {}
    for case in cases:
        seen = latest.get(case.platform_case_id)
        if seen is None or case.modified_at >= seen.modified_at:
            latest[case.platform_case_id] = case
    ids = list(latest)
    existing: dict[str, t.AfterSale] = {}
    for start in range(0, len(ids), CHUNK):
        for row in session.scalars(
            select(t.AfterSale)
            .options(selectinload(t.AfterSale.lines))
            .where(
                t.AfterSale.shop_id == shop_id, t.AfterSale.platform_case_id.in_(ids[start : start + CHUNK])
            )
            .with_for_update(of=t.AfterSale)  # a receipt recorded meanwhile is not counted twice
        ):
            existing[row.platform_case_id] = row
    resolve = _Resolver(session, shop_id)
    changes = []
    for case_id, case in latest.items():
        row = existing.get(case_id)
        previous = None if row is None else AfterSaleStatus(row.status)
        if row is not None and case.modified_at < row.modified_at_platform:
            continue  # older news than what we have
        order_id = _order_id(session, shop_id, case.platform_order_id)  # queries: before any new row
        skus = _order_line_skus(session, order_id)
        lines = [
            (x, skus.get(x.line_id or "") or resolve(x.platform_sku_id, x.master_code)) for x in case.lines
        ]
        if row is None:
            row = t.AfterSale(shop_id=shop_id, platform_case_id=case_id, stored_at=now)
            session.add(row)
        row.order_id = row.order_id or order_id
        _copy(row, case, lines, now)
        session.flush()
        apply_effects(session, row, case.received, now, warehouse=warehouse)
        if previous is None or previous.value != row.status:
            changes.append(CaseChange(case, previous))
    return changes


def _copy(
    row: t.AfterSale, case: AfterSale, lines: Sequence[tuple[AfterSaleLineModel, int | None]], now: datetime
) -> None:
    row.platform_order_id = case.platform_order_id
    row.type = case.type.value
    row.status = case.status.value
    row.platform_status = case.platform_status[:48]
    row.refund_amount = case.refund_amount
    row.reason = case.reason[:256]
    row.created_at_platform = case.created_at
    row.modified_at_platform = case.modified_at
    row.updated_at = now
    stored = {line.line_key: line for line in row.lines}
    for incoming, sku_id in lines:
        line = stored.get(incoming.key)
        if line is None:
            line = t.AfterSaleLine(
                line_key=incoming.key[:64], quantity=incoming.quantity, released=0, received=0, damaged=0
            )
            row.lines.append(line)
        line.order_line_id = incoming.line_id
        line.platform_item_id = incoming.platform_item_id
        line.platform_sku_id = incoming.platform_sku_id
        line.master_code = incoming.master_code
        line.sku_id = sku_id
        # Units already received stay counted, even if the platform now asks for fewer.
        line.quantity = max(incoming.quantity, line.received)


def _order_id(session: Session, shop_id: int, platform_order_id: str) -> int | None:
    return session.scalar(
        select(t.Order.id).where(t.Order.shop_id == shop_id, t.Order.platform_order_id == platform_order_id)
    )


def _order_line_skus(session: Session, order_id: int | None) -> dict[str, int | None]:
    """Line id -> SKU of an order's lines: the order's link wins over the case's own ids."""
    if order_id is None:
        return {}
    return dict(
        session.execute(
            select(t.OrderLine.line_id, t.OrderLine.sku_id).where(t.OrderLine.order_id == order_id)
        ).all()
    )


def _link_order(session: Session, row: t.AfterSale) -> None:
    if row.order_id is None:
        row.order_id = _order_id(session, row.shop_id, row.platform_order_id)


def settle_unlinked(session: Session, shop_id: int, now: datetime) -> int:
    """Refunded cases read before their order: link the orders stored since and release
    what they hold. Returns the number of cases linked."""
    rows = session.scalars(
        select(t.AfterSale)
        .options(selectinload(t.AfterSale.lines))
        .where(
            t.AfterSale.shop_id == shop_id,
            t.AfterSale.order_id.is_(None),
            t.AfterSale.status == AfterSaleStatus.REFUNDED.value,
        )
    ).all()
    linked = 0
    for row in rows:
        _link_order(session, row)
        if row.order_id is not None:
            linked += 1
            skus = _order_line_skus(session, row.order_id)
            for line in row.lines:
                line.sku_id = line.sku_id or skus.get(line.order_line_id or "")
            release_refunded(session, row, now)
    return linked


def apply_effects(
    session: Session, row: t.AfterSale, received: bool, now: datetime, *, warehouse: str | None = None
) -> None:
    """The stock effects of a stored case: release a refund before shipment, restock a
    return the platform says was received."""
    if row.status == AfterSaleStatus.REFUNDED.value:
        release_refunded(session, row, now)
    if received:
        for line in row.lines:
            restock_received(session, row, line, line.quantity - line.received, now, warehouse=warehouse)


# --- stock effects ----------------------------------------------------------------------------


def release_refunded(session: Session, row: t.AfterSale, now: datetime) -> int:
    """Release the units of a refunded case that its order still holds (unshipped).

    A case line releases at most its quantity, once; units whose reservation is already
    released (the order was cancelled) or consumed (it shipped) are not touched. Returns
    the units released now."""
    if row.order_id is None:
        return 0
    order_lines = session.scalars(select(t.OrderLine).where(t.OrderLine.order_id == row.order_id)).all()
    reservations = {
        r.order_line_id: r
        for r in session.scalars(
            select(t.Reservation).where(t.Reservation.order_line_id.in_([x.id for x in order_lines]))
        )
    }
    released = 0
    for line in row.lines:
        wanted = line.quantity - line.released
        if wanted <= 0:
            continue
        for order_line in _matching(order_lines, line):
            reservation = reservations.get(order_line.id)
            if reservation is None or reservation.state != "held" or not wanted:
                continue
            take = min(wanted, reservation.quantity)
            if take == reservation.quantity:
                reservation.state = "released"
                order_line.refunded = True  # a later update of the order must not hold them again
            else:
                reservation.quantity -= take
            reservation.updated_at = now
            line.released += take
            released += take
            wanted -= take
    if released:
        log.info("after-sale %s: released %d reserved units", row.platform_case_id, released)
    return released


def _matching(order_lines: Sequence[t.OrderLine], line: t.AfterSaleLine) -> list[t.OrderLine]:
    """The order lines a case line is about: the named line, else those of its SKU."""
    if line.order_line_id:
        named = [x for x in order_lines if x.line_id == line.order_line_id]
        if named:
            return named
    return [x for x in order_lines if x.platform_sku_id == line.platform_sku_id]


def restock_received(
    session: Session,
    row: t.AfterSale,
    line: t.AfterSaleLine,
    quantity: int,
    now: datetime,
    *,
    warehouse: str | None = None,
    damaged: bool = False,
) -> int:
    """Record ``quantity`` units of ``line`` received back; sellable ones (not
    ``damaged``) raise on-hand in ``warehouse``. Never past the line's quantity. Returns
    the units recorded."""
    quantity = min(quantity, line.quantity - line.received)
    if quantity <= 0:
        return 0
    line.received += quantity
    if damaged:
        line.damaged += quantity
    elif line.sku_id is not None:
        add_on_hand(session, line.sku_id, warehouse, quantity, now)
    log.info(
        "after-sale %s: %d units of %s received%s",
        row.platform_case_id,
        quantity,
        line.master_code or line.platform_sku_id,
        " damaged" if damaged else "",
    )
    return quantity


def add_on_hand(session: Session, sku_id: int, warehouse: str | None, quantity: int, now: datetime) -> bool:
    """Add returned units of a SKU to the on-hand count in ``warehouse`` (default: main).
    A bundle has no stock of its own: a returned bundle goes back as its components.

    A SKU nobody counted stays uncounted (a count nobody set never drives a write; the
    next count includes the goods): returns False. A warehouse without a row for a counted
    SKU gets one, dated like the SKU's latest count so its order bookkeeping is unchanged."""
    recipe = bundles.parts_by_id(session).get(sku_id)
    if recipe:
        added = [_add_units(session, part, warehouse, quantity * per, now) for part, per in recipe.items()]
        return all(added)
    return _add_units(session, sku_id, warehouse, quantity, now)


def _add_units(session: Session, sku_id: int, warehouse: str | None, quantity: int, now: datetime) -> bool:
    wh = catalog.warehouse(session, warehouse)
    rows = session.scalars(
        select(t.StockOnHand)
        .where(t.StockOnHand.sku_id == sku_id)
        .order_by(t.StockOnHand.id)
        .with_for_update()
    ).all()
    if not rows:
        return False
    row = next((r for r in rows if r.warehouse_id == wh.id), None)
    if row is None:
        counted = max(r.counted_at for r in rows)
        session.add(
            t.StockOnHand(
                sku_id=sku_id, warehouse_id=wh.id, quantity=quantity, counted_at=counted, updated_at=now
            )
        )
    else:
        row.quantity += quantity
        row.updated_at = now
    return True


# --- `hub returns receive` --------------------------------------------------------------------


def find_case(session: Session, case_id: str, shop: str | None = None, *, lock: bool = False) -> t.AfterSale:
    """The stored case ``case_id`` (of ``shop``), or an :class:`InputError` naming it.

    ``lock``: held until commit, so a sync storing the platform's receipt meanwhile waits
    and the units are not counted twice (SQLite has one writer at a time and ignores it)."""
    query = (
        select(t.AfterSale)
        .options(selectinload(t.AfterSale.lines))
        .join(t.Shop, t.Shop.id == t.AfterSale.shop_id)
        .where(t.AfterSale.platform_case_id == case_id)
    )
    if lock:
        query = query.with_for_update(of=t.AfterSale)
    if shop:
        query = query.where(t.Shop.name == shop)
    rows = session.scalars(query).all()
    where = f" in shop {shop!r}" if shop else ""
    if not rows:
        raise InputError(f"unknown after-sale case {case_id!r}{where}; see `hub aftersales list`")
    if len(rows) > 1:
        raise InputError(f"after-sale case {case_id!r} exists in several shops; name one with --shop")
    return rows[0]


def receive_return(
    session: Session,
    *,
    case_id: str,
    shop: str | None,
    sku: str | None,
    quantity: int | None,
    warehouse: str | None,
    damaged: bool,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Record returned goods of a case arriving (`hub returns receive`), audited.

    Without ``sku`` and ``quantity`` every unit still expected is received (a second run
    finds none: nothing is added twice). ``quantity`` more than a line still expects is
    refused whole, as is a refund-only case, an unknown SKU or warehouse."""
    row = find_case(session, case_id, shop, lock=True)
    if row.type == AfterSaleType.REFUND_ONLY.value:
        raise InputError(f"after-sale case {case_id!r} is a refund without a return: no goods come back")
    catalog.warehouse(session, warehouse)  # an unknown warehouse is refused before any change
    lines = list(row.lines)
    if sku is not None:
        codes = _sku_codes(session, lines)
        lines = [x for x in lines if sku in (x.master_code, codes.get(x.sku_id))]
        if not lines:
            raise InputError(f"after-sale case {case_id!r} has no line of SKU {sku!r}")
    elif quantity is not None and len(lines) > 1:
        raise InputError(f"after-sale case {case_id!r} has several lines: name one with --sku")
    expected = sum(x.quantity - x.received for x in lines)
    if quantity is not None and quantity > expected:
        what = f" of {sku}" if sku else ""
        raise InputError(
            f"after-sale case {case_id!r} expects {expected} more units{what}; {quantity} is more than that"
        )
    unlinked = [x for x in lines if x.sku_id is None and not damaged and x.quantity > x.received]
    if unlinked:
        raise InputError(
            f"after-sale case {case_id!r}: platform SKU {unlinked[0].platform_sku_id} matches no SKU; "
            "link its listing first (`hub listings map`)"
        )
    left = expected if quantity is None else quantity
    received = []
    for line in lines:
        done = restock_received(session, row, line, left, now, warehouse=warehouse, damaged=damaged)
        left -= done
        if done:
            received.append({"sku": line.master_code or line.platform_sku_id, "quantity": done})
            audit.record(
                session,
                actor=actor,
                action="returns.receive",
                now=now,
                sku=line.master_code,
                shop=session.get(t.Shop, row.shop_id).name,
                old=line.received - done,
                new=line.received,
                source=f"hub returns receive {case_id}"
                + (" --damaged" if damaged else f" --warehouse {warehouse or catalog.DEFAULT_WAREHOUSE}"),
            )
    return {
        "case": case_id,
        "received": received,
        "damaged": damaged,
        "warehouse": None if damaged else warehouse or catalog.DEFAULT_WAREHOUSE,
        "expected_after": sum(x.quantity - x.received for x in row.lines),
    }


def _sku_codes(session: Session, lines: Sequence[t.AfterSaleLine]) -> dict[int | None, str]:
    ids = {x.sku_id for x in lines if x.sku_id is not None}
    if not ids:
        return {}
    return dict(session.execute(select(t.Sku.id, t.Sku.code).where(t.Sku.id.in_(ids))).all())


# --- reading ----------------------------------------------------------------------------------


def case_dict(row: t.AfterSale, shop: str, codes: dict[int | None, str]) -> dict[str, Any]:
    return {
        "shop": shop,
        "case": row.platform_case_id,
        "order_id": row.platform_order_id,
        "type": row.type,
        "status": row.status,
        "platform_status": row.platform_status,
        "refund_amount": row.refund_amount,
        "reason": row.reason,
        "created_at": row.created_at_platform,
        "modified_at": row.modified_at_platform,
        "lines": [
            {
                "sku": codes.get(x.sku_id) or x.master_code,
                "platform_sku_id": x.platform_sku_id,
                "order_line_id": x.order_line_id,
                "quantity": x.quantity,
                "released": x.released,
                "received": x.received,
                "damaged": x.damaged,
            }
            for x in row.lines
        ],
    }


def search_after_sales(
    session: Session,
    *,
    shop: str | None = None,
    status: str | None = None,
    type_: str | None = None,
    since: datetime | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Cases newest first (by the platform's creation time), filtered by shop name,
    status, type and creation time ``>= since``; each with its lines."""
    query = (
        select(t.AfterSale, t.Shop.name)
        .join(t.Shop, t.Shop.id == t.AfterSale.shop_id)
        .options(selectinload(t.AfterSale.lines))
        .order_by(t.AfterSale.created_at_platform.desc(), t.AfterSale.id.desc())
        .limit(limit)
    )
    if shop:
        query = query.where(t.Shop.name == shop)
    if status:
        query = query.where(t.AfterSale.status == status)
    if type_:
        query = query.where(t.AfterSale.type == type_)
    if since:
        query = query.where(t.AfterSale.created_at_platform >= since)
    found = session.execute(query).all()
    codes = _sku_codes(session, [x for row, _ in found for x in row.lines])
    return [case_dict(row, name, codes) for row, name in found]


def show_case(session: Session, case_id: str, shop: str | None = None) -> dict[str, Any]:
    row = find_case(session, case_id, shop)
    name = session.get(t.Shop, row.shop_id).name
    return case_dict(row, name, _sku_codes(session, row.lines))


def returned_units(
    session: Session, shop_ids: Sequence[int], since: datetime, until: datetime
) -> dict[tuple[int, int], int]:
    """(shop id, SKU id) -> units in return and exchange cases opened in ``[since, until)``
    that were not rejected or withdrawn (the goods were, or are being, sent back)."""
    query = (
        select(t.AfterSale.shop_id, t.AfterSaleLine.sku_id, func.sum(t.AfterSaleLine.quantity))
        .join(t.AfterSaleLine, t.AfterSaleLine.after_sale_id == t.AfterSale.id)
        .where(
            t.AfterSale.shop_id.in_(list(shop_ids)),
            t.AfterSale.created_at_platform >= since,
            t.AfterSale.created_at_platform < until,
            t.AfterSale.type.in_([AfterSaleType.RETURN_REFUND.value, AfterSaleType.EXCHANGE.value]),
            t.AfterSale.status.not_in([AfterSaleStatus.REJECTED.value, AfterSaleStatus.CLOSED.value]),
            t.AfterSaleLine.sku_id.is_not(None),
        )
        .group_by(t.AfterSale.shop_id, t.AfterSaleLine.sku_id)
    )
    return {(shop_id, sku_id): int(units) for shop_id, sku_id, units in session.execute(query)}
