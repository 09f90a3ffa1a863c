"""The catalogue: master SKUs, warehouses, and shop listings linked to them.

A listing is linked to a master SKU by its 商家编码 (``master_code``), unless a person
linked it by hand (``hub listings map``). Listings that link to nothing, and several
listings of one shop claiming the same SKU, are reported (``hub listings unmatched``),
never silently dropped: of duplicates, the oldest gets the shop's stock and the others
are held at 0 until someone decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import validation
from hub.core import audit, bundles
from hub.core.shops import get_shop
from hub.core.stock import anchors
from hub.core.stock.anchors import AMBIGUITY
from hub.errors import InputError
from hub.models import Listing as ListingModel
from hub.models import OrderStatus
from hub.storage import tables as t
from hub.storage.db import insert_or_ignore

DEFAULT_WAREHOUSE = "main"
REMOVED = "removed"  # a listing the platform no longer returns


def sku_by_code(session: Session, code: str) -> t.Sku:
    sku = session.scalar(select(t.Sku).where(t.Sku.code == code))
    if sku is None:
        raise InputError(f"unknown SKU {code!r}; see `hub skus list`")
    return sku


def warehouse(session: Session, code: str | None, *, create: bool = False) -> t.Warehouse:
    code = code or DEFAULT_WAREHOUSE
    row = session.scalar(select(t.Warehouse).where(t.Warehouse.code == code))
    if row is None:
        if not create and code != DEFAULT_WAREHOUSE:
            raise InputError(f"unknown warehouse {code!r}; add --create to create it")
        validation.code(code, "warehouse code")
        # On PostgreSQL another process may create it between our read and our write: keep
        # theirs rather than fail on the unique code.
        insert_or_ignore(session, t.Warehouse.__table__, {"code": code, "name": code})
        row = session.scalars(select(t.Warehouse).where(t.Warehouse.code == code)).one()
    return row


def add_sku(session: Session, *, code: str, title: str, price: int, now: datetime) -> t.Sku:
    """Add a master SKU (not counted: see :func:`set_on_hand`). The code and price follow
    :mod:`hub.validation`."""
    validation.code(code)
    validation.check_price(price)
    validation.text(title)
    if session.scalar(select(t.Sku.id).where(t.Sku.code == code)) is not None:
        raise InputError(f"SKU {code!r} already exists")
    sku = t.Sku(code=code, title=title, price=price, partitioned=False, created_at=now, updated_at=now)
    session.add(sku)
    session.flush()
    link_codes(session, [code])
    relink(session)
    return sku


def link_codes(session: Session, codes: Sequence[str]) -> None:
    """Link the already-read listings whose 商家编码 is one of ``codes`` (new SKUs) at once,
    not only at the next listings read. Links made by hand are left alone."""
    for start in range(0, len(codes), 500):
        session.execute(
            update(t.Listing)
            .where(
                t.Listing.mapped_manually.is_(False),
                t.Listing.sku_id.is_(None),
                t.Listing.master_code.in_(list(codes[start : start + 500])),
            )
            .values(sku_id=select(t.Sku.id).where(t.Sku.code == t.Listing.master_code).scalar_subquery())
        )


def set_on_hand(
    session: Session,
    sku: t.Sku,
    quantity: int,
    warehouse_code: str | None,
    now: datetime,
    *,
    create_warehouse: bool = False,
) -> tuple[int, int]:
    """Set the counted units of ``sku`` in a warehouse; returns (old, new). A bundle has no
    stock of its own: refused."""
    validation.quantity(quantity)
    bundles.refuse_stock(session, sku)
    wh = warehouse(session, warehouse_code, create=create_warehouse)
    row = session.scalar(
        select(t.StockOnHand).where(t.StockOnHand.sku_id == sku.id, t.StockOnHand.warehouse_id == wh.id)
    )
    old = row.quantity if row else 0
    if row is None:
        session.add(
            t.StockOnHand(
                sku_id=sku.id, warehouse_id=wh.id, quantity=quantity, counted_at=now, updated_at=now
            )
        )
    else:
        row.quantity, row.counted_at, row.updated_at = quantity, now, now
    return old, quantity


# --- listings --------------------------------------------------------------------------------


def store_listings(session: Session, shop_id: int, listings: Sequence[ListingModel], now: datetime) -> int:
    """Upsert a shop's complete listing read; listings it no longer has become ``removed``.
    ``now`` is when the read finished (quantities are at least that fresh)."""
    existing = {
        row.platform_sku_id: row
        for row in session.scalars(select(t.Listing).where(t.Listing.shop_id == shop_id))
    }
    codes = dict(session.execute(select(t.Sku.code, t.Sku.id)).all())
    seen = set()
    for listing in listings:
        seen.add(listing.platform_sku_id)
        row = existing.get(listing.platform_sku_id)
        if row is None:
            row = t.Listing(
                shop_id=shop_id,
                platform_sku_id=listing.platform_sku_id,
                mapped_manually=False,
            )
            session.add(row)
        row.platform_item_id = listing.platform_item_id
        row.master_code = listing.master_code
        row.title = listing.title[:256]
        row.price = listing.price
        row.status = listing.status.value
        anchors.anchor_read(row, listing.quantity, now)
        row.last_seen_at = now
        if not row.mapped_manually:
            row.sku_id = codes.get(listing.master_code) if listing.master_code else None
    for sku_id, row in existing.items():
        if sku_id not in seen and row.status != REMOVED:
            row.status = REMOVED
    return len(listings)


@dataclass(frozen=True)
class Unmatched:
    shop: str
    platform_item_id: str
    platform_sku_id: str
    master_code: str | None
    title: str
    reason: str


def unmatched(session: Session, shop: str | None = None) -> list[Unmatched]:
    """Listings that link to no master SKU, and duplicate claims within a shop."""
    query = (
        select(t.Listing, t.Shop.name)
        .join(t.Shop, t.Shop.id == t.Listing.shop_id)
        .where(t.Listing.status != REMOVED)
        .order_by(t.Shop.name, t.Listing.id)
    )
    if shop:
        query = query.where(t.Shop.name == shop)
    out = []
    claimed: dict[tuple[int, int], t.Listing] = {}
    for row, shop_name in session.execute(query):
        if row.sku_id is None:
            reason = (
                f"master code {row.master_code!r} matches no SKU"
                if row.master_code
                else "no master code (商家编码) on the platform"
            )
        elif (row.shop_id, row.sku_id) in claimed:
            first = claimed[(row.shop_id, row.sku_id)]
            reason = (
                f"duplicate: listing {first.platform_sku_id} already sells this SKU "
                "here; held at 0 until mapped"
            )
        else:
            claimed[(row.shop_id, row.sku_id)] = row
            continue
        out.append(
            Unmatched(
                shop_name, row.platform_item_id, row.platform_sku_id, row.master_code, row.title, reason
            )
        )
    return out


def map_listing(session: Session, shop_id: int, platform_sku_id: str, sku_code: str | None) -> t.Listing:
    """Link a listing to a SKU by hand (``sku_code`` None unlinks it)."""
    row = session.scalar(
        select(t.Listing).where(t.Listing.shop_id == shop_id, t.Listing.platform_sku_id == platform_sku_id)
    )
    if row is None:
        raise InputError(f"no listing {platform_sku_id!r} in this shop; run `hub sync --stream listings`")
    row.sku_id = sku_by_code(session, sku_code).id if sku_code else None
    row.mapped_manually = True
    relink(session)
    return row


def link_listing(
    session: Session,
    *,
    shop: str,
    platform_sku_id: str,
    sku_code: str | None,
    actor: str,
    source: str,
    now: datetime,
) -> t.Listing:
    """Link SHOP's listing to a SKU by hand (``sku_code`` None unlinks it) and audit who
    did it from where: what `hub listings map` and the console's exceptions page both do."""
    row = map_listing(session, get_shop(session, shop).id, platform_sku_id, sku_code)
    audit.record(
        session,
        actor=actor,
        action="listing.map",
        now=now,
        sku=sku_code,
        shop=shop,
        new=row.platform_sku_id,
        source=source,
    )
    return row


def relink(session: Session) -> int:
    """Give order lines that matched nothing the SKU their listing or code now links to,
    and reserve their units (see :func:`hub.core.orders.settle_reservations`)."""
    from hub.core.orders import settle_reservations

    lines = list(
        session.execute(
            select(t.OrderLine, t.Order)
            .join(t.Order, t.Order.id == t.OrderLine.order_id)
            .where(t.OrderLine.sku_id.is_(None))
        )
    )
    if not lines:
        return 0
    codes = dict(session.execute(select(t.Sku.code, t.Sku.id)).all())
    by_listing = {
        (shop_id, sku): sku_id
        for shop_id, sku, sku_id in session.execute(
            select(t.Listing.shop_id, t.Listing.platform_sku_id, t.Listing.sku_id).where(
                t.Listing.sku_id.is_not(None)
            )
        )
    }
    fixed = 0
    for line, order in lines:
        sku_id = by_listing.get((order.shop_id, line.platform_sku_id)) or codes.get(line.master_code or "")
        if sku_id is not None:
            line.sku_id = sku_id
            fixed += 1
            settle_reservations(session, order, now=order.updated_at)
    return fixed


def new_code_listings(
    session: Session, shop_id: int, refused: list[tuple[t.Listing, str]] | None = None
) -> list[t.Listing]:
    """A shop's listings whose master code the hub does not know yet (the first of each
    code). Codes that break :func:`hub.validation.code` are left out, and added to
    ``refused`` with the reason when given."""
    known = set(session.scalars(select(t.Sku.code)))
    out = []
    rows = session.scalars(
        select(t.Listing)
        .where(t.Listing.shop_id == shop_id, t.Listing.master_code.is_not(None), t.Listing.status != REMOVED)
        .order_by(t.Listing.id)
    )
    for row in rows:
        code = row.master_code
        if code and code not in known:
            known.add(code)
            try:
                validation.code(code, "商家编码")
            except validation.InvalidValue as exc:
                if refused is not None:
                    refused.append((row, str(exc)))
                continue
            out.append(row)
    return out


@dataclass
class OpenUnits:
    """Per listing id: units of open orders the platform quantity excludes (``units``), and
    the listings with an order too close to their read to tell (``unsure``)."""

    units: dict[int, int]
    unsure: set[int]


def open_order_units(session: Session, shop_id: int, listings: Sequence[t.Listing]) -> OpenUnits:
    """Units of the shop's open orders placed before each listing's quantity was read.

    The platform took those units off the quantity it shows, yet they are still on the
    shelf, and the hub reserves them as it ingests the orders: a count taken from the
    platform quantity alone would subtract them twice. An order placed within
    :data:`hub.core.stock.anchors.AMBIGUITY` seconds of the read is not added (the count errs
    low) and its listing is named in ``unsure``, so the caller can read it again later."""
    from hub.core.orders import _desired

    band = timedelta(seconds=AMBIGUITY)
    by_sku = {row.platform_sku_id: row for row in listings}
    out = OpenUnits({}, set())
    for start in range(0, len(listings), 500):
        chunk = [row.platform_sku_id for row in listings[start : start + 500]]
        lines = session.execute(
            select(t.OrderLine, t.Order.status, t.Order.created_at_platform)
            .join(t.Order, t.Order.id == t.OrderLine.order_id)
            .where(t.Order.shop_id == shop_id, t.OrderLine.platform_sku_id.in_(chunk))
        )
        for line, status, created in lines:
            listing = by_sku[line.platform_sku_id]
            if abs(created - listing.quantity_as_of) <= band:
                out.unsure.add(listing.id)
            elif created < listing.quantity_as_of and (
                _desired(OrderStatus(status), line.shipped, line.refunded) == "held"
            ):
                out.units[listing.id] = out.units.get(listing.id, 0) + line.quantity
    return out


def import_skus_from(
    session: Session,
    shop_id: int,
    now: datetime,
    *,
    with_stock: bool = False,
    refused: list[tuple[t.Listing, str]] | None = None,
) -> list[t.Sku]:
    """Create master SKUs from a shop's listings that carry a master code the hub does
    not know yet (bootstrapping the catalogue from the shop the merchant already runs).

    With ``with_stock``, the on-hand count is what is physically there: the platform
    quantity plus the units of the open orders it already excludes
    (:func:`open_order_units`; the caller reads the shop's orders first)."""
    rows = new_code_listings(session, shop_id, refused)
    held = open_order_units(session, shop_id, rows).units if with_stock else {}
    created = []
    for row in rows:
        sku = t.Sku(
            code=row.master_code,
            title=row.title,
            price=row.price,
            partitioned=False,
            created_at=now,
            updated_at=now,
        )
        session.add(sku)
        session.flush()
        if with_stock:
            set_on_hand(session, sku, row.platform_quantity + held.get(row.id, 0), None, now)
        created.append(sku)
    if created:
        link_codes(session, [s.code for s in created])
        relink(session)
    return created


def listing_rows(session: Session, shop: str | None = None, sku: str | None = None) -> list[dict[str, Any]]:
    query = (
        select(t.Listing, t.Shop.name, t.Sku.code)
        .join(t.Shop, t.Shop.id == t.Listing.shop_id)
        .outerjoin(t.Sku, t.Sku.id == t.Listing.sku_id)
        .order_by(t.Shop.name, t.Listing.id)
    )
    if shop:
        query = query.where(t.Shop.name == shop)
    if sku:
        query = query.where(t.Sku.code == sku)
    return [
        {
            "shop": shop_name,
            "platform_item_id": row.platform_item_id,
            "platform_sku_id": row.platform_sku_id,
            "master_code": row.master_code,
            "sku": code,
            "title": row.title,
            "price": row.price,
            "status": row.status,
            "platform_quantity": row.platform_quantity,
            "pushed_quantity": row.pushed_quantity,
            "mapped_manually": row.mapped_manually,
        }
        for row, shop_name, code in session.execute(query)
    ]


def sku_rows(session: Session) -> list[dict[str, Any]]:
    """Every master SKU by code, with its price and stock settings, and a bundle's
    components (``hub skus list``)."""
    recipes = bundles.all_recipes(session)
    return [
        {
            "code": k.code,
            "title": k.title,
            "price": k.price,
            "price_floor": k.price_floor,
            "safety_stock": k.safety_stock,
            "partition_below": k.partition_below,
            "partitioned": k.partitioned,
            "bundle_of": recipes.get(k.code, {}),
        }
        for k in session.scalars(select(t.Sku).order_by(t.Sku.code))
    ]


def shops_listing(session: Session, sku_id: int) -> list[str]:
    """Names of the shops that list the SKU (removed listings aside), sorted."""
    return sorted(
        session.scalars(
            select(t.Shop.name)
            .join(t.Listing, t.Listing.shop_id == t.Shop.id)
            .where(t.Listing.sku_id == sku_id, t.Listing.status != REMOVED)
            .distinct()
        )
    )
