"""The stock picture: the SQL read model the plan works from.

Per SKU its counts, held reservations and mode (shared or partitioned, see
:mod:`hub.core.autopartition`); per linked listing the hub's *model* of its platform
quantity: the last read or acknowledged write (its anchor, see
:mod:`hub.core.stock.anchors`) less units of orders placed since, plus units of older
orders cancelled since. :func:`load_picture` reads everything;
:class:`hub.core.stock.picture_cache.PictureCache` keeps a picture between cycles and
reads only what changed.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Interval, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from hub.core import autopartition, bundles
from hub.core.allocation import sellable
from hub.core.catalog import REMOVED
from hub.core.stock.anchors import AMBIGUITY
from hub.models import ListingRef
from hub.storage import tables as t

CLOSED = autopartition.CLOSED


@dataclass(slots=True)
class ListingInfo:
    """One linked listing as the plan sees it (compact: a picture holds millions)."""

    id: int
    shop_id: int
    sku_id: int
    platform_item_id: str
    platform_sku_id: str
    master_code: str | None
    model: int  # the hub's belief of the platform quantity now
    as_of: datetime  # when that belief was last anchored by a read or a write
    needs_read: bool
    stored: int = 0  # the stored platform quantity the model is adjusted from

    @property
    def ref(self) -> ListingRef:
        """The address of the listing in a platform call (built on demand)."""
        return ListingRef(
            platform_item_id=self.platform_item_id,
            platform_sku_id=self.platform_sku_id,
            master_code=self.master_code,
        )


@dataclass
class SkuInfo:
    id: int
    code: str
    on_hand: dict[str, int]  # warehouse code -> units
    reserved: int
    safety: int
    partition_below: int | None = None
    marked: bool = False  # `hub skus set --partitioned`
    partitioned: bool = False  # this cycle's mode (see _decide_modes)
    sellable: int = 0
    mode_reason: str = ""  # why the SKU is partitioned or shared this cycle
    recipe: dict[int, int] = field(default_factory=dict)  # a bundle's component id -> units per bundle
    used_by: dict[int, int] = field(default_factory=dict)  # bundle id -> units of this SKU per bundle
    parts_counted: bool = False  # a bundle: every component is counted

    @property
    def counted(self) -> bool:
        """Whether anyone set a count (in any warehouse; 0 counts; a bundle: of each of its
        components). A SKU nobody counted never drives a stock write (see
        :func:`hub.core.stock.plan.plan`)."""
        return self.parts_counted if self.recipe else bool(self.on_hand)

    @property
    def inputs(self) -> tuple[Any, ...]:
        """What the SKU's plan depends on, besides its listings and sales."""
        return (
            self.code,
            self.on_hand,
            self.reserved,
            self.safety,
            self.partition_below,
            self.marked,
            self.recipe,
            self.used_by,
        )


@dataclass
class Picture:
    """Everything the plan needs, read in one transaction (fully, or brought up to date
    by :class:`hub.core.stock.picture_cache.PictureCache`)."""

    skus: dict[int, SkuInfo]
    by_sku: dict[int, list[ListingInfo]]  # each SKU's linked listings, ordered by id
    rules: dict[tuple[int, int | None], t.AllocationRule]
    sold_recently: dict[tuple[int, int], int]
    cursors: dict[int, datetime | None]
    #: SKUs whose listings may need a write: the plan covers only these (None: all).
    dirty: set[int] | None = None
    #: SKUs with a listing whose target differed from its model at the last plan
    #: (set by :func:`hub.core.stock.plan.plan`, whether or not a write was made).
    unsettled: set[int] = field(default_factory=set)
    adjustments: dict[int, int] = field(default_factory=dict)  # see model_adjustments
    measured: autopartition.Measurements | None = None
    #: SKUs with a listing whose write is in doubt (None: not tracked, look at every listing).
    unread_skus: set[int] | None = None

    @property
    def listings(self) -> Iterator[ListingInfo]:
        """Every linked listing, SKU by SKU (each SKU's ordered by id)."""
        return itertools.chain.from_iterable(self.by_sku.values())

    def needing_read(self) -> list[ListingInfo]:
        """Listings whose platform quantity is in doubt (``needs_read``)."""
        if self.unread_skus is None:
            return [x for x in self.listings if x.needs_read]
        return [x for i in self.unread_skus for x in self.by_sku.get(i, ()) if x.needs_read]

    def planned_skus(self) -> Iterable[int]:
        if self.dirty is None:
            return self.by_sku
        return [i for i in bundles.widen(self.skus, self.dirty) if i in self.by_sku]


# --- reading the picture ---------------------------------------------------------------------

LOAD_BATCH = 20_000  # rows fetched at a time: millions of listings never sit in memory as rows


def load_picture(
    session: Session,
    now: datetime,
    *,
    safety_default: int,
    partition_below: int | None,
    sales_window: timedelta,
    each: Callable[[ListingInfo], None] | None = None,
) -> Picture:
    """The whole picture, read afresh (``each`` is called with every listing, by id)."""
    skus = load_skus(session, safety_default)
    adjustments = model_adjustments(session)
    by_sku: dict[int, list[ListingInfo]] = defaultdict(list)
    for listing in load_listings(session, adjustments):
        by_sku[listing.sku_id].append(listing)
        if each is not None:
            each(listing)
    sold = autopartition.sold_since(session, now - sales_window)
    measured = autopartition.measure(session, now, sales_window)
    decide_modes(skus, by_sku, sold, measured, partition_below)
    return Picture(
        skus,
        dict(by_sku),
        load_rules(session),
        sold,
        load_cursors(session),
        adjustments=adjustments,
        measured=measured,
    )


def load_skus(session: Session, safety_default: int) -> dict[int, SkuInfo]:
    """Every SKU with its counts, held reservations and sellable units (modes undecided)."""
    skus: dict[int, SkuInfo] = {}
    for sku_id, code, safety, below, marked in session.execute(
        select(t.Sku.id, t.Sku.code, t.Sku.safety_stock, t.Sku.partition_below, t.Sku.partitioned)
    ):
        skus[sku_id] = SkuInfo(
            sku_id,
            code,
            {},
            0,
            safety if safety is not None else safety_default,
            partition_below=below,
            marked=bool(marked),
        )
    for sku_id, code, quantity in session.execute(
        select(t.StockOnHand.sku_id, t.Warehouse.code, t.StockOnHand.quantity).join(
            t.Warehouse, t.Warehouse.id == t.StockOnHand.warehouse_id
        )
    ):
        skus[sku_id].on_hand[code] = quantity
    for sku_id, reserved in session.execute(
        select(t.Reservation.sku_id, func.sum(t.Reservation.quantity))
        .where(t.Reservation.state == "held")
        .group_by(t.Reservation.sku_id)
    ):
        skus[sku_id].reserved = int(reserved)
    for sku in skus.values():
        sku.sellable = sellable(sum(sku.on_hand.values()), sku.reserved, sku.safety)
    bundles.attach(session, skus, sellable)
    return skus


def load_listings(session: Session, adjustments: dict[int, int], *conditions: Any) -> Iterator[ListingInfo]:
    """Linked listings (matching ``conditions``), ordered by id, with their models."""
    query = (
        select(
            t.Listing.id,
            t.Listing.shop_id,
            t.Listing.sku_id,
            t.Listing.platform_item_id,
            t.Listing.platform_sku_id,
            t.Listing.master_code,
            t.Listing.platform_quantity,
            t.Listing.quantity_as_of,
            t.Listing.needs_read,
        )
        .where(t.Listing.sku_id.is_not(None), t.Listing.status != REMOVED, *conditions)
        .order_by(t.Listing.id)
        .execution_options(yield_per=LOAD_BATCH)
    )
    # One object per distinct value where many listings share it (a SKU's id and code, an
    # anchor time): millions of listings, a few hundred bytes each, make up the picture.
    shared: dict[Any, Any] = {}
    for id_, shop_id, sku_id, item_id, sku_ref, code, quantity, as_of, needs_read in session.execute(query):
        adjustment = adjustments.get(id_, 0)
        yield ListingInfo(
            id_,
            shop_id,
            shared.setdefault(sku_id, sku_id),
            item_id,
            sku_ref,
            code if code is None else shared.setdefault(code, code),
            max(0, quantity + adjustment) if adjustment else shared.setdefault(quantity, quantity),
            shared.setdefault(as_of, as_of),
            bool(needs_read),
            shared.setdefault(quantity, quantity),
        )


def load_rules(session: Session) -> dict[tuple[int, int | None], t.AllocationRule]:
    return {(r.shop_id, r.sku_id): r for r in session.scalars(select(t.AllocationRule))}


def load_cursors(session: Session) -> dict[int, datetime | None]:
    """Shop id -> how far every order placed is stored, as read after the shop's stock
    reads (the ``new_orders`` cursor of the sync engine's catch-up read)."""
    return dict(
        session.execute(
            select(t.SyncCursor.shop_id, t.SyncCursor.position).where(t.SyncCursor.stream == "new_orders")
        ).all()
    )


def decide_modes(
    skus: dict[int, SkuInfo],
    by_sku: dict[int, list[ListingInfo]],
    sold: dict[tuple[int, int], int],
    measured: autopartition.Measurements,
    partition_below: int | None,
    sku_ids: Iterable[int] | None = None,
) -> None:
    """Set the mode of each SKU (of ``sku_ids``, default all) for this cycle (see
    :mod:`hub.core.autopartition`)."""
    selling: dict[int, set[int]] = defaultdict(set)
    for shop_id, sku_id in [*sold, *measured.sold_short]:
        selling[sku_id].add(shop_id)
    ids = list(skus) if sku_ids is None else sorted(bundles.widen(skus, sku_ids))
    for sku_id in ids:
        sku = skus.get(sku_id)
        if sku is None or sku.recipe:
            continue  # a bundle's mode follows its components' (below)
        # The SKU's listings and those of the bundles that use it sell its units (a bundle's
        # sales count times its quantity per bundle).
        channels, rates = 0, []
        for member, per in bundles.members(skus, sku_id).items():
            shops = {x.shop_id for x in by_sku.get(member, ())}
            channels += len(shops)
            rates += [
                per
                * autopartition.velocity(
                    sold.get((shop, member), 0),
                    measured.long_window,
                    measured.sold_short.get((shop, member), 0),
                    measured.short_window,
                )
                for shop in shops | selling.get(member, set())
            ]
        mode = autopartition.decide(
            sku.sellable,
            channels=channels,
            expected=autopartition.expected_sales(rates, measured.delay),
            marked=sku.marked,
            own_threshold=sku.partition_below,
            global_threshold=partition_below,
        )
        sku.partitioned, sku.mode_reason = mode.partitioned, mode.reason
    bundles.decide(skus, ids)


def _shifted(session: Session, column: Any, seconds: int) -> Any:
    """``column`` moved by ``seconds`` in SQL (SQLite stores ISO text; the result drops the
    fraction, which only widens the bands below)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.datetime(column, f"{seconds:+d} seconds")
    return column + literal(timedelta(seconds=seconds), Interval())


def _linked_listings() -> Any:
    """Ids of the listings linked to a SKU and not removed, to join their lines onto."""
    return select(t.Listing.id).where(t.Listing.sku_id.is_not(None), t.Listing.status != REMOVED)


def _order_lines_of_listings(*conditions: Any) -> Any:
    """Listings joined to the order lines of their shop and platform SKU."""
    return (
        _linked_listings()
        .join(t.Order, t.Order.shop_id == t.Listing.shop_id)
        .join(
            t.OrderLine,
            and_(
                t.OrderLine.order_id == t.Order.id, t.OrderLine.platform_sku_id == t.Listing.platform_sku_id
            ),
        )
        .where(*conditions)
    )


def _refund_lines_of_listings(*conditions: Any) -> Any:
    """Listings with units the hub released for a refund before shipment (after-sale case
    lines) of an order that is still open: a closed order's give-back counts by its status."""
    return (
        _linked_listings()
        .join(t.AfterSale, t.AfterSale.shop_id == t.Listing.shop_id)
        .join(
            t.AfterSaleLine,
            and_(
                t.AfterSaleLine.after_sale_id == t.AfterSale.id,
                t.AfterSaleLine.platform_sku_id == t.Listing.platform_sku_id,
            ),
        )
        .join(t.Order, t.Order.id == t.AfterSale.order_id)
        .where(t.AfterSaleLine.released > 0, t.Order.status.not_in(CLOSED), *conditions)
    )


def model_adjustments(session: Session) -> dict[int, int]:
    """Per listing: minus units of open orders placed after its last anchor, plus units of
    older orders cancelled since, plus units refunded before shipment since on orders that
    are still open (the platform gave those back: the hub may learn of a refund from its
    after-sale case before the order's own status changes, or the order stays open with
    other lines).

    Only what is certain counts as "after": an order placed within ``AMBIGUITY`` seconds
    of the anchor is taken as already reflected, a give-back in that band as not yet —
    both make the model high, so the hub shows less, never more. :func:`ambiguous` names
    those listings so the next cycle reads them and the model is exact again."""
    placed_after = t.Order.created_at_platform > _shifted(session, t.Listing.quantity_as_of, AMBIGUITY)
    given_back = t.Order.modified_at_platform >= _shifted(session, t.Listing.quantity_as_of, -AMBIGUITY)
    closed = t.Order.status.in_(CLOSED)
    delta = case(
        (and_(placed_after, ~closed), -t.OrderLine.quantity),
        (and_(~placed_after, closed, given_back, t.OrderLine.shipped.is_(False)), t.OrderLine.quantity),
        else_=0,
    )
    query = (
        _order_lines_of_listings(or_(placed_after, given_back))
        .add_columns(func.sum(delta))
        .group_by(t.Listing.id)
    )
    adjustments = {listing_id: int(total or 0) for listing_id, total in session.execute(query)}
    refunded = t.AfterSale.modified_at_platform >= _shifted(session, t.Listing.quantity_as_of, -AMBIGUITY)
    refunds = (
        _refund_lines_of_listings(refunded)
        .add_columns(func.sum(t.AfterSaleLine.released))
        .group_by(t.Listing.id)
    )
    for listing_id, units in session.execute(refunds):
        adjustments[listing_id] = adjustments.get(listing_id, 0) + int(units or 0)
    return adjustments


def ambiguous(session: Session, shop_ids: set[int] | None = None) -> set[int]:
    """Listings (of ``shop_ids``, default all) with an order placed or changed, or a
    refund before shipment, within ``AMBIGUITY`` seconds of their anchor."""
    low, high = (_shifted(session, t.Listing.quantity_as_of, s) for s in (-AMBIGUITY, AMBIGUITY))
    near = or_(
        and_(t.Order.created_at_platform >= low, t.Order.created_at_platform <= high),
        and_(t.Order.modified_at_platform >= low, t.Order.modified_at_platform <= high),
    )
    refunded_near = t.AfterSale.modified_at_platform.between(low, high)
    scope = [] if shop_ids is None else [t.Listing.shop_id.in_(sorted(shop_ids))]
    orders = _order_lines_of_listings(near, *scope).distinct()
    refunds = _refund_lines_of_listings(refunded_near, *scope).distinct()
    return set(session.scalars(orders)) | set(session.scalars(refunds))
