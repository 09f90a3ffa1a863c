"""Storing orders, and the stock they reserve.

Orders are keyed by (shop, platform order id), so reading one twice is harmless. An
update older than what is stored is ignored, and a status never moves back in the life
cycle (a "paid" update arriving after "shipped" leaves the order shipped).

Each order line whose SKU is known holds a reservation:

* ``held`` while the order is open (unpaid too: platforms take the units off sale when
  the order is placed), released when it is cancelled or refunded before shipment;
* ``consumed`` when shipped: the units leave the on-hand count. An order first seen
  already shipped only reduces on-hand if it was created after the count was last set —
  otherwise the count already excludes those goods.

Lines whose SKU matches nothing keep their order and are listed by ``hub orders
exceptions``; linking the listing later reserves their units.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session, selectinload

from hub.core import bundles
from hub.models import Order, OrderStatus
from hub.storage import tables as t
from hub.storage.db import dialect_insert

log = logging.getLogger("hub.orders")
CHUNK = 400  # rows per IN (...) query, under SQLite's parameter limit


@dataclass(frozen=True)
class StoredChange:
    """An order stored for the first time, or whose status changed."""

    order: Order
    previous: OrderStatus | None


# Statuses that say the parcel has just left: the first update in one of them dates the
# shipment (a "completed" first sighting is later than the shipment, so it dates nothing).
_SHIPPING = frozenset({OrderStatus.PARTLY_SHIPPED, OrderStatus.SHIPPED})


def _desired(status: OrderStatus, shipped: bool, refunded: bool) -> str:
    if shipped:
        return "consumed"
    if refunded:
        return "released"
    if status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED):
        return "consumed"
    return "held" if status.holds_stock else "released"


class _Resolver:
    """SKU of an order line: the listing's link first (manual maps win), else the code.

    Only the listings and codes the given orders mention are loaded (a catalogue may be
    far larger than a chunk of orders); anything else is looked up on demand."""

    def __init__(self, session: Session, shop_id: int, orders: Sequence[Order] = ()):
        self.session = session
        self.shop_id = shop_id
        self.by_listing: dict[str, int | None] = {}
        self.by_code: dict[str, int | None] = {}
        lines = [line for order in orders for line in order.lines]
        self._load_listings({line.platform_sku_id for line in lines})
        self._load_codes(
            {x.master_code for x in lines if x.master_code and self.by_listing[x.platform_sku_id] is None}
        )

    def _load_listings(self, keys: set[str]) -> None:
        wanted = sorted(keys - self.by_listing.keys())
        self.by_listing.update(dict.fromkeys(wanted))
        for start in range(0, len(wanted), CHUNK):
            self.by_listing.update(
                self.session.execute(
                    select(t.Listing.platform_sku_id, t.Listing.sku_id).where(
                        t.Listing.shop_id == self.shop_id,
                        t.Listing.sku_id.is_not(None),
                        t.Listing.platform_sku_id.in_(wanted[start : start + CHUNK]),
                    )
                ).all()
            )

    def _load_codes(self, keys: set[str]) -> None:
        wanted = sorted(keys - self.by_code.keys())
        self.by_code.update(dict.fromkeys(wanted))
        for start in range(0, len(wanted), CHUNK):
            self.by_code.update(
                self.session.execute(
                    select(t.Sku.code, t.Sku.id).where(t.Sku.code.in_(wanted[start : start + CHUNK]))
                ).all()
            )

    def __call__(self, platform_sku_id: str, master_code: str | None) -> int | None:
        if platform_sku_id not in self.by_listing:
            self._load_listings({platform_sku_id})
        sku_id = self.by_listing[platform_sku_id]
        if sku_id is None and master_code:
            if master_code not in self.by_code:
                self._load_codes({master_code})
            sku_id = self.by_code[master_code]
        return sku_id


def store_orders(
    session: Session, shop_id: int, orders: Sequence[Order], now: datetime
) -> list[StoredChange]:
    """Upsert ``orders`` of one shop; returns the new orders and status changes."""
    latest: dict[str, Order] = {}
    for order in orders:
        seen = latest.get(order.platform_order_id)
        if seen is None or (order.modified_at, order.status.rank) >= (seen.modified_at, seen.status.rank):
            latest[order.platform_order_id] = order
    ids = list(latest)
    existing = _stored(session, shop_id, ids)
    resolve = _Resolver(session, shop_id, list(latest.values()))
    fresh = [latest[i] for i in ids if i not in existing]
    inserted = _insert_new(session, shop_id, fresh, resolve, now)
    changes = [StoredChange(o, None) for o in fresh if o.platform_order_id in inserted]
    # Another process stored the rest since our read (PostgreSQL; on SQLite a writer waits
    # for our transaction): they are updates now.
    existing.update(
        _stored(session, shop_id, [o.platform_order_id for o in fresh if o.platform_order_id not in inserted])
    )
    for order_id, row in existing.items():
        change = _update(session, row, latest[order_id], resolve, now)
        if change is not None:
            changes.append(change)
    return changes


def _stored(session: Session, shop_id: int, ids: Sequence[str]) -> dict[str, t.Order]:
    """The stored orders among ``ids``, with their lines, locked until commit (on
    PostgreSQL two processes updating one order would otherwise both read the old row;
    the ordering makes them lock in the same order, so they wait rather than deadlock)."""
    rows: dict[str, t.Order] = {}
    for start in range(0, len(ids), CHUNK):
        for row in session.scalars(
            select(t.Order)
            .options(selectinload(t.Order.lines))
            .where(t.Order.shop_id == shop_id, t.Order.platform_order_id.in_(ids[start : start + CHUNK]))
            .order_by(t.Order.platform_order_id)
            .with_for_update()
        ):
            rows[row.platform_order_id] = row
    return rows


def held_since(session: Session, shop_id: int, since: datetime) -> set[str]:
    """Platform ids of the shop's orders the hub holds as modified at or after ``since``
    (platform time): those a read of new orders from ``since`` need not fetch."""
    return set(
        session.scalars(
            select(t.Order.platform_order_id).where(
                t.Order.shop_id == shop_id, t.Order.modified_at_platform >= since
            )
        )
    )


def _insert_new(
    session: Session, shop_id: int, orders: Sequence[Order], resolve: _Resolver, now: datetime
) -> set[str]:
    """Insert new orders, their lines and reservations with one multi-row statement per
    table and chunk (Core inserts: the ORM's per-row bookkeeping is not needed here).

    An order another process inserted since our read is skipped (``ON CONFLICT DO
    NOTHING``): returns the platform ids of the orders this call inserted."""
    if not orders:
        return set()
    orders = sorted(orders, key=lambda o: o.platform_order_id)  # rows lock in one order
    insert_new = dialect_insert(session, t.Order.__table__).on_conflict_do_nothing(
        index_elements=["shop_id", "platform_order_id"]
    )
    returning = session.get_bind().dialect.insert_executemany_returning
    ids: dict[str, int] = {}
    for start in range(0, len(orders), CHUNK):
        chunk = orders[start : start + CHUNK]
        rows = [
            {
                "shop_id": shop_id,
                "platform_order_id": o.platform_order_id,
                "status": o.status.value,
                "platform_status": o.platform_status[:48],
                "created_at_platform": o.created_at,
                "modified_at_platform": o.modified_at,
                "paid_at": o.paid_at,
                "shipped_at": o.modified_at if o.status in _SHIPPING else None,
                "total": o.total,
                "stored_at": now,
                "updated_at": now,
            }
            for o in chunk
        ]
        if returning:
            ids.update(
                session.execute(insert_new.returning(t.Order.platform_order_id, t.Order.id), rows).all()
            )
            continue
        # SQLite before 3.35 (no RETURNING) has one writer at a time, and this transaction
        # holds the write lock since before its read: every row is one it inserted.
        session.execute(insert_new, rows)
        ids.update(
            session.execute(
                select(t.Order.platform_order_id, t.Order.id).where(
                    t.Order.shop_id == shop_id,
                    t.Order.platform_order_id.in_([o.platform_order_id for o in chunk]),
                )
            ).all()
        )
    orders = [o for o in orders if o.platform_order_id in ids]
    line_rows: list[dict[str, Any]] = []
    meta: list[tuple[Order, str, int | None, bool, bool, int]] = []
    for order in orders:
        for line in order.lines:
            sku_id = resolve(line.platform_sku_id, line.master_code)
            line_rows.append(
                {
                    "order_id": ids[order.platform_order_id],
                    "line_id": line.line_id,
                    "platform_item_id": line.platform_item_id,
                    "platform_sku_id": line.platform_sku_id,
                    "master_code": line.master_code,
                    "sku_id": sku_id,
                    "title": line.title[:256],
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "shipped": line.shipped,
                    "refunded": line.refunded,
                }
            )
            meta.append((order, line.line_id, sku_id, line.shipped, line.refunded, line.quantity))
    for start in range(0, len(line_rows), CHUNK):
        session.execute(insert(t.OrderLine.__table__), line_rows[start : start + CHUNK])
    order_ids = sorted(ids.values())
    line_ids: dict[tuple[int, str], int] = {}
    for start in range(0, len(order_ids), CHUNK):
        line_ids.update(
            ((oid, lid), pk)
            for pk, oid, lid in session.execute(
                select(t.OrderLine.id, t.OrderLine.order_id, t.OrderLine.line_id).where(
                    t.OrderLine.order_id.in_(order_ids[start : start + CHUNK])
                )
            )
        )
    reservations = []
    consume = _Consumer(session, now)
    shipped_new = [
        (sku_id, order.created_at)
        for order, _, sku_id, shipped, refunded, _ in meta
        if sku_id is not None and _desired(order.status, shipped, refunded) == "consumed"
    ]
    consume.prefetch({sku_id for sku_id, _ in shipped_new})
    consume.prefetch(
        {sku_id for sku_id, created in shipped_new if consume.reduces(sku_id, created)}, rows=True
    )
    for order, line_id, sku_id, shipped, refunded, quantity in meta:
        if sku_id is None:
            continue
        state = _desired(order.status, shipped, refunded)
        if state == "consumed":
            consume.first_seen(shop_id, sku_id, quantity, order.created_at)
        reservations.append(
            {
                "order_line_id": line_ids[(ids[order.platform_order_id], line_id)],
                "sku_id": sku_id,
                "quantity": quantity,
                "state": state,
                "created_at": now,
                "updated_at": now,
            }
        )
    for start in range(0, len(reservations), CHUNK):
        session.execute(insert(t.Reservation.__table__), reservations[start : start + CHUNK])
    return set(ids)


def _update(
    session: Session, row: t.Order, order: Order, resolve: _Resolver, now: datetime
) -> StoredChange | None:
    if order.modified_at < row.modified_at_platform:
        return None  # older news than what we have
    previous = OrderStatus(row.status)
    if order.status.rank >= previous.rank:
        row.status = order.status.value
        row.platform_status = order.platform_status[:48]
    else:
        log.info(
            "order %s: ignoring %s after %s (statuses never move back)",
            row.platform_order_id,
            order.status.value,
            previous.value,
        )
    row.modified_at_platform = order.modified_at
    row.paid_at = order.paid_at or row.paid_at
    if row.shipped_at is None and order.status in _SHIPPING:
        row.shipped_at = order.modified_at
    row.total = order.total
    row.updated_at = now
    lines = {line.line_id: line for line in row.lines}
    for incoming in order.lines:
        line = lines.get(incoming.line_id)
        if line is None:
            line = t.OrderLine(
                line_id=incoming.line_id,
                platform_item_id=incoming.platform_item_id,
                platform_sku_id=incoming.platform_sku_id,
                master_code=incoming.master_code,
                sku_id=resolve(incoming.platform_sku_id, incoming.master_code),
                title=incoming.title[:256],
                quantity=incoming.quantity,
                unit_price=incoming.unit_price,
                shipped=False,
                refunded=False,
            )
            row.lines.append(line)
        line.shipped = line.shipped or incoming.shipped
        line.refunded = line.refunded or incoming.refunded
    session.flush()
    settle_reservations(session, row, now)
    current = OrderStatus(row.status)
    return StoredChange(order, previous) if current is not previous else None


def settle_reservations(session: Session, row: t.Order, now: datetime) -> None:
    """Bring the reservations of an order's lines in line with its status."""
    status = OrderStatus(row.status)
    line_ids = [line.id for line in row.lines if line.sku_id is not None]
    if not line_ids:
        return
    held = {
        r.order_line_id: r
        for r in session.scalars(select(t.Reservation).where(t.Reservation.order_line_id.in_(line_ids)))
    }
    consume = _Consumer(session, now)
    for line in row.lines:
        if line.sku_id is None:
            continue
        desired = _desired(status, line.shipped, line.refunded)
        reservation = held.get(line.id)
        if reservation is None:
            if desired == "consumed":
                consume.first_seen(row.shop_id, line.sku_id, line.quantity, row.created_at_platform)
            session.add(
                t.Reservation(
                    order_line_id=line.id,
                    sku_id=line.sku_id,
                    quantity=line.quantity,
                    state=desired,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif reservation.state != desired and reservation.state != "consumed":
            if desired == "consumed":
                consume.units(reservation.sku_id, reservation.quantity)
            reservation.state, reservation.updated_at = desired, now


class _Consumer:
    """Takes shipped units off the on-hand count (the fullest warehouse first); a bundle's
    units come off its components' counts (see :mod:`hub.core.bundles`).

    Counts are loaded per SKU when first needed; :meth:`prefetch` loads many SKUs' at once."""

    def __init__(self, session: Session, now: datetime):
        self.session = session
        self.now = now
        self._counted: dict[int, datetime | None] = {}
        self._rows: dict[int, list[t.StockOnHand]] = {}
        self._recipes: dict[int, dict[int, int]] | None = None

    def _parts(self, sku_id: int, quantity: int) -> list[tuple[int, int]]:
        """(SKU, units) that ``quantity`` units of ``sku_id`` take off the shelves."""
        if self._recipes is None:
            self._recipes = bundles.parts_by_id(self.session)
        recipe = self._recipes.get(sku_id)
        if not recipe:
            return [(sku_id, quantity)]
        return [(component, quantity * per) for component, per in recipe.items()]

    def prefetch(self, sku_ids: set[int], *, rows: bool = False) -> None:
        """Load when each SKU was last counted (and, with ``rows``, its on-hand rows)."""
        sku_ids = {part for sku_id in sku_ids for part, _ in self._parts(sku_id, 1)}
        wanted = sorted(sku_ids - (self._rows.keys() if rows else self._counted.keys()))
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            if rows:
                for sku_id in chunk:
                    self._rows[sku_id] = []
                # Locked until commit: on PostgreSQL, processes syncing other shops ship the same
                # SKUs side by side, and a count read unlocked would lose one of two decrements.
                # (SQLite has one writer at a time, and no row locks: it ignores FOR UPDATE.)
                locked = (
                    select(t.StockOnHand)
                    .where(t.StockOnHand.sku_id.in_(chunk))
                    .order_by(t.StockOnHand.id)
                    .with_for_update()
                )
                for row in self.session.scalars(locked):
                    self._rows[row.sku_id].append(row)
            else:
                self._counted.update(dict.fromkeys(chunk))
                self._counted.update(
                    self.session.execute(
                        select(t.StockOnHand.sku_id, func.max(t.StockOnHand.counted_at))
                        .where(t.StockOnHand.sku_id.in_(chunk))
                        .group_by(t.StockOnHand.sku_id)
                    ).all()
                )

    def reduces(self, sku_id: int, created: datetime) -> bool:
        """Whether a shipped order created at ``created`` is not yet in the count (of any
        component, for a bundle)."""
        return any(self._reduces(part, created) for part, _ in self._parts(sku_id, 1))

    def _reduces(self, sku_id: int, created: datetime) -> bool:
        if sku_id not in self._counted:
            self.prefetch({sku_id})
        counted = self._counted[sku_id]
        return counted is not None and created > counted

    def first_seen(self, shop_id: int, sku_id: int, quantity: int, created: datetime) -> None:
        for part, units in self._parts(sku_id, quantity):
            if self._reduces(part, created):
                self._take(part, units)

    def units(self, sku_id: int, quantity: int) -> None:
        for part, units in self._parts(sku_id, quantity):
            self._take(part, units)

    def _take(self, sku_id: int, quantity: int) -> None:
        if sku_id not in self._rows:
            self.prefetch({sku_id}, rows=True)
        left = quantity
        for row in sorted(self._rows[sku_id], key=lambda r: -r.quantity):
            take = min(left, row.quantity)
            row.quantity -= take
            row.updated_at = self.now
            left -= take
            if not left:
                return
        if left:
            log.warning("SKU id %s: shipped %d more units than on hand; on-hand stays at 0", sku_id, left)


def order_dict(order: t.Order, shop: str) -> dict[str, Any]:
    """An order and its lines as plain data (``hub orders list --json``)."""
    return {
        "shop": shop,
        "order_id": order.platform_order_id,
        "status": order.status,
        "platform_status": order.platform_status,
        "created_at": order.created_at_platform,
        "modified_at": order.modified_at_platform,
        "total": order.total,
        "lines": [
            {
                "line_id": ln.line_id,
                "platform_sku_id": ln.platform_sku_id,
                "master_code": ln.master_code,
                "linked": ln.sku_id is not None,
                "quantity": ln.quantity,
                "unit_price": ln.unit_price,
            }
            for ln in order.lines
        ],
    }


def _newest_orders(status: str | None, limit: int) -> Select[tuple[t.Order, str]]:
    """Orders with their lines and shop name, newest first (by the platform's creation
    time), only those in ``status`` if given."""
    query = (
        select(t.Order, t.Shop.name)
        .join(t.Shop, t.Shop.id == t.Order.shop_id)
        .options(selectinload(t.Order.lines))
        .order_by(t.Order.created_at_platform.desc(), t.Order.id.desc())
        .limit(limit)
    )
    return query.where(t.Order.status == status) if status else query


def list_orders(
    s: Session, *, shop_id: int | None = None, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Orders newest first (by the platform's creation time), with their lines and shop name."""
    query = _newest_orders(status, limit)
    if shop_id is not None:
        query = query.where(t.Order.shop_id == shop_id)
    return [order_dict(o, name) for o, name in s.execute(query)]


def order_exceptions(s: Session) -> list[dict[str, Any]]:
    """Order lines whose SKU matches nothing, oldest order first, with the reason."""
    rows = s.execute(
        select(t.OrderLine, t.Order, t.Shop.name)
        .join(t.Order, t.Order.id == t.OrderLine.order_id)
        .join(t.Shop, t.Shop.id == t.Order.shop_id)
        .where(t.OrderLine.sku_id.is_(None))
        .order_by(t.Order.created_at_platform)
    )
    return [
        {
            "shop": name,
            "order_id": o.platform_order_id,
            "status": o.status,
            "platform_sku_id": ln.platform_sku_id,
            "master_code": ln.master_code,
            "title": ln.title,
            "quantity": ln.quantity,
            "reason": f"master code {ln.master_code!r} matches no SKU"
            if ln.master_code
            else "no master code on the platform",
        }
        for ln, o, name in rows
    ]


def search_orders(
    s: Session,
    *,
    shop: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    sku: str | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Orders newest first, filtered by shop name, status, creation time ``[since, until)``
    and a master SKU code on any line; each with its shop and lines."""
    query = _newest_orders(status, limit)
    if shop:
        query = query.where(t.Shop.name == shop)
    if since:
        query = query.where(t.Order.created_at_platform >= since)
    if until:
        query = query.where(t.Order.created_at_platform < until)
    if sku:
        query = query.where(
            t.Order.id.in_(select(t.OrderLine.order_id).where(t.OrderLine.master_code == sku))
        )
    return [
        {
            "shop": name,
            "order_id": o.platform_order_id,
            "status": o.status,
            "created_at": o.created_at_platform,
            "paid_at": o.paid_at,
            "shipped_at": o.shipped_at,
            "total": o.total,
            "lines": [
                {
                    "line_id": ln.line_id,
                    "sku": ln.master_code or ln.platform_sku_id,
                    "quantity": ln.quantity,
                    "linked": ln.sku_id is not None,
                }
                for ln in o.lines
            ],
        }
        for o, name in s.execute(query)
    ]
