"""Stock across channels: what each listing should show, and getting it there.

Every cycle (see :mod:`hub.core.engine` for the order of phases):

1. **Observe** — listings of partitioned SKUs that sold recently, and listings whose
   last write is in doubt, are read from the platforms *before* the orders phase, so
   every sale reflected in a read quantity is also ingested as a reservation.
2. **Plan** — per SKU, ``sellable = on_hand - held reservations - safety``; the mode,
   shared or partitioned, by :mod:`hub.core.autopartition`; targets per shop by
   :mod:`hub.core.allocation`. The hub's *model* of a
   listing's platform quantity is its last read or acknowledged write, less units of
   orders placed since (plus units of older orders cancelled since). A relative write
   answered without a quantity keeps the anchor at the read and adds its delta, so
   orders placed or cancelled between the read and the write still count. A listing is
   pushed only when its target differs from that model.
3. **Push, lowering before raising.** Delta writes carry ``target - model`` so a sale
   the platform records after our read is never overwritten. Absolute-only platforms
   get the target; for partitioned SKUs the quantity is re-read just before the write
   and reduced by the sales since the observation. Raises of a partitioned SKU are
   granted only from units no shop holds (nor is about to show: writes other processes
   planned, see :func:`claims`), and only when every sale up to each listing's anchor is
   ingested (see :func:`_fresh`).

A sync keeps its picture between cycles (:mod:`hub.core.picture_cache`) and plans only
the SKUs whose inputs changed or whose listings are off their targets
(``Picture.dirty``); :func:`load_picture` reads everything.

Planning runs under the short global :data:`PLAN_LEASE` and records every planned write
(``pending``) before it lets go; writes then go out under per-shop leases, so processes
of different shops push at the same time. Every push is an outbox entry written before
the call. A write whose outcome is in
doubt is never resent: its listing is re-read next cycle and a fresh write computed.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import Interval, and_, bindparam, case, func, literal, or_, select, update
from sqlalchemy.orm import Session

from hub.client import check_results
from hub.core import autopartition, bundles, outbox
from hub.core.allocation import Rule, ShopInput, partitioned_targets, sellable, shared_targets
from hub.core.catalog import REMOVED
from hub.errors import HubError
from hub.models import ListingRef, PushResult, StockUpdate
from hub.platform import ShopContext
from hub.plugins import PluginHost
from hub.storage import tables as t
from hub.storage.db import Database

log = logging.getLogger("hub.stock")
CLOSED = autopartition.CLOSED
READ_CHUNK = 100


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
        components). A SKU nobody counted never drives a stock write (see :func:`plan`)."""
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
    by :class:`hub.core.picture_cache.PictureCache`)."""

    skus: dict[int, SkuInfo]
    by_sku: dict[int, list[ListingInfo]]  # each SKU's linked listings, ordered by id
    rules: dict[tuple[int, int | None], t.AllocationRule]
    sold_recently: dict[tuple[int, int], int]
    cursors: dict[int, datetime | None]
    #: SKUs whose listings may need a write: the plan covers only these (None: all).
    dirty: set[int] | None = None
    #: SKUs with a listing whose target differed from its model at the last plan
    #: (set by :func:`plan`, whether or not a write was made).
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


@dataclass
class Push:
    """One planned write (``key``: its outbox entry's, once recorded)."""

    listing: ListingInfo
    target: int
    partitioned: bool
    sellable: int
    key: str = ""

    @property
    def lowers(self) -> bool:
        return self.target < self.listing.model


@dataclass
class StockOutcome:
    pushed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    exit_code: int = 0  # 2 when a failure needs a person (expired session, permissions)
    unsent: int = 0  # planned, not sent: the run was asked to stop

    def record(self, exc: HubError, count: int) -> None:
        self.failed += count
        self.errors.append(str(exc))
        self.exit_code = max(self.exit_code, exc.exit_code)


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
    return dict(
        session.execute(
            select(t.SyncCursor.shop_id, t.SyncCursor.position).where(t.SyncCursor.stream == "orders")
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


# Order times are the platform's whole seconds and anchors our estimate of its clock (to
# within a second): events closer than this to an anchor are on an unknown side of it.
AMBIGUITY = 2


def sku_rows(
    session: Session, picture: Picture, *, code: str | None = None, search: str | None = None
) -> list[dict[str, Any]]:
    """Per SKU: on hand (per warehouse), reserved, safety, sellable, mode and why, and per shop the
    quantity shown now and the target. ``code`` picks one SKU; ``search`` matches the
    商家编码 or the title (case-insensitive substring). Used by `hub stock show` and the console."""
    shops = dict(session.execute(select(t.Shop.id, t.Shop.name)).all())
    titles = dict(session.execute(select(t.Sku.id, t.Sku.title)).all())
    wanted = targets(picture)
    needle = search.strip().casefold() if search else ""
    rows = []
    for info in sorted(picture.skus.values(), key=lambda x: x.code):
        if code and info.code != code:
            continue
        title = titles.get(info.id, "")
        if needle and needle not in info.code.casefold() and needle not in title.casefold():
            continue
        rows.append(
            {
                "sku": info.code,
                "title": title,
                "on_hand": sum(info.on_hand.values()),
                "warehouses": info.on_hand,
                # a bundle's components (code -> units per bundle); {} for an ordinary SKU
                "bundle_of": {picture.skus[c].code: q for c, q in info.recipe.items()},
                "reserved": info.reserved,
                "safety": info.safety,
                "sellable": info.sellable,
                "counted": info.counted,
                "mode": ("partitioned" if info.partitioned else "shared") if info.counted else "not counted",
                "why": info.mode_reason if info.counted else "not counted: its listings are left alone",
                "shops": [
                    {
                        "shop": shops[x.shop_id],
                        "platform_sku_id": x.ref.platform_sku_id,
                        "shown": x.model,
                        # a SKU nobody counted is never pushed: its listings keep what they show
                        "target": wanted[x.id] if info.counted else None,
                    }
                    for x in picture.by_sku.get(info.id, [])
                ],
            }
        )
    return rows


def _shifted(session: Session, column: Any, seconds: int) -> Any:
    """``column`` moved by ``seconds`` in SQL (SQLite stores ISO text; the result drops the
    fraction, which only widens the bands below)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.datetime(column, f"{seconds:+d} seconds")
    return column + literal(timedelta(seconds=seconds), Interval())


def _order_lines_of_listings(session: Session, *conditions: Any) -> Any:
    return (
        select(t.Listing.id)
        .join(t.Order, t.Order.shop_id == t.Listing.shop_id)
        .join(
            t.OrderLine,
            and_(
                t.OrderLine.order_id == t.Order.id, t.OrderLine.platform_sku_id == t.Listing.platform_sku_id
            ),
        )
        .where(t.Listing.sku_id.is_not(None), t.Listing.status != REMOVED, *conditions)
    )


def model_adjustments(session: Session) -> dict[int, int]:
    """Per listing: minus units of open orders placed after its last anchor, plus units of
    older orders cancelled since (the platform gave those back).

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
        _order_lines_of_listings(session, or_(placed_after, given_back))
        .add_columns(func.sum(delta))
        .group_by(t.Listing.id)
    )
    return {listing_id: int(total or 0) for listing_id, total in session.execute(query)}


def ambiguous(session: Session, shop_ids: set[int] | None = None) -> set[int]:
    """Listings (of ``shop_ids``, default all) with an order placed or changed within
    ``AMBIGUITY`` seconds of their anchor."""
    low, high = (_shifted(session, t.Listing.quantity_as_of, s) for s in (-AMBIGUITY, AMBIGUITY))
    near = or_(
        and_(t.Order.created_at_platform >= low, t.Order.created_at_platform <= high),
        and_(t.Order.modified_at_platform >= low, t.Order.modified_at_platform <= high),
    )
    conditions = [near] if shop_ids is None else [near, t.Listing.shop_id.in_(sorted(shop_ids))]
    return set(session.scalars(_order_lines_of_listings(session, *conditions).distinct()))


# --- planning ------------------------------------------------------------------------------


def _rule(picture: Picture, shop_id: int, sku_id: int) -> t.AllocationRule | None:
    return picture.rules.get((shop_id, sku_id)) or picture.rules.get((shop_id, None))


def targets(picture: Picture, sku_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Listing id -> the quantity it should show, for every linked listing (of ``sku_ids``;
    SKUs linked through bundle recipes are planned together, see :mod:`hub.core.bundles`)."""
    out: dict[int, int] = {}
    linked: list[int] = []
    for sku_id in picture.by_sku if sku_ids is None else sku_ids:
        sku = picture.skus[sku_id]
        if sku.recipe or sku.used_by:
            linked.append(sku_id)
            continue
        primary, inputs = shop_inputs(picture, sku_id, out)
        split = partitioned_targets if sku.partitioned else shared_targets
        for shop_id, target in split(sku.sellable, inputs).items():
            out[primary[shop_id].id] = target
    if linked:
        out.update(bundles.targets(picture, linked, shop_inputs))
    return out


def shop_inputs(
    picture: Picture, sku_id: int, out: dict[int, int]
) -> tuple[dict[int, ListingInfo], dict[int, ShopInput]]:
    """A SKU's primary listing and situation per shop; its duplicate listings get 0 in ``out``."""
    sku, listings = picture.skus[sku_id], picture.by_sku.get(sku_id, [])
    primary: dict[int, ListingInfo] = {}
    for listing in listings:  # ordered by id: the oldest listing of a shop is primary
        if listing.shop_id in primary:
            out[listing.id] = 0  # a duplicate listing is held at 0
        else:
            primary[listing.shop_id] = listing
    inputs = {}
    for shop_id in primary:
        rule = _rule(picture, shop_id, sku_id)
        limit = sku.sellable
        if rule is not None and rule.warehouses:
            if sku.recipe:
                limit = min(limit, bundles.reach(picture.skus, sku, rule.warehouses))
            else:
                in_reach = sum(q for wh, q in sku.on_hand.items() if wh in rule.warehouses)
                limit = min(limit, max(0, in_reach - sku.safety))
        inputs[shop_id] = ShopInput(
            Rule(rule.share, rule.cap, rule.floor) if rule else Rule(),
            limit,
            picture.sold_recently.get((shop_id, sku_id), 0),
        )
    return primary, inputs


def plan(
    picture: Picture,
    *,
    shop_ids: set[int],
    absolute_shops: frozenset[int] = frozenset(),
) -> list[Push]:
    """Writes to make for the shops in ``shop_ids`` (other shops count as they stand).

    Partitioned SKUs are raised only if every listing's model is sound (:func:`_fresh`),
    whichever process syncs its shop. ``absolute_shops``: shops whose platform takes only
    absolute stock writes (see :func:`_absolute_partitioned`)."""
    skus = list(picture.planned_skus())
    wanted = targets(picture, skus)
    stale_skus = {
        sku_id
        for sku_id in skus
        if picture.skus[sku_id].partitioned and bundles.stale(picture, sku_id, lambda x: _fresh(picture, x))
    }
    # Any listing off its target, in any shop: the SKU is planned again next cycle even if
    # nothing about it changes (a write failed, a raise waited for fresh models).
    picture.unsettled = {
        sku_id
        for sku_id in skus
        if picture.skus[sku_id].counted and any(wanted[x.id] != x.model for x in picture.by_sku[sku_id])
    }
    pushes: list[Push] = []
    for sku_id in skus:
        sku = picture.skus[sku_id]
        if not sku.counted:
            continue  # nobody set a count: the listing keeps what it shows (see uncounted())
        for listing in picture.by_sku[sku_id]:
            if listing.shop_id not in shop_ids:
                continue
            target = wanted[listing.id]
            if listing.needs_read and (listing.shop_id not in absolute_shops or target >= listing.model):
                # The platform quantity is unknown until a read succeeds: a relative write would
                # be computed from stale numbers (repeating a change that may have landed), so
                # only an absolute lowering is safe.
                continue
            if sku_id in stale_skus:
                target = min(target, listing.model)
            if sku.partitioned and listing.shop_id in absolute_shops:
                target = _absolute_partitioned(listing.model, target)
            if target != listing.model:
                pushes.append(Push(listing, target, sku.partitioned, sku.sellable))
    pushes.sort(key=lambda p: p.listing.id)
    return pushes


def uncounted(picture: Picture, shop_ids: set[int] | None = None) -> list[str]:
    """Codes of SKUs nobody counted that have a listing (in ``shop_ids``, if given): their
    listings are left alone, whatever they show, until a count is set."""
    codes = [
        sku.code
        for sku in picture.skus.values()
        if not sku.counted
        and any(shop_ids is None or x.shop_id in shop_ids for x in picture.by_sku.get(sku.id, ()))
    ]
    return sorted(codes)


def _absolute_partitioned(shown: int, target: int) -> int:
    """What to write to an absolute-only listing of a partitioned SKU.

    An absolute write erases any sale the platform records between our read and the
    write, and every erased sale is a unit sold twice. Two writes cannot erase anything:
    a write of 0, and a write to a listing showing 0 (nobody can buy at 0). So such a
    listing is refilled only once it shows 0, and drained to 0 when its share must shrink
    noticeably; otherwise it keeps what it shows (more than its share only narrows what
    the others may be given). A selling channel empties quickly and is refilled."""
    if shown == 0 or target == 0:
        return target
    if target < shown and shown - target >= max(2, shown // 4):
        return 0
    return shown


def _fresh(picture: Picture, listing: ListingInfo) -> bool:
    """The listing's model is an upper bound of what it shows: not in doubt, and every
    order placed up to its anchor is ingested (order windows are half-open, so the cursor
    must be strictly later than the anchor).

    The model is the anchor less the ingested sales since, so a sale not yet ingested
    makes both the model and the sellable units high by the same amount and the free
    units stay exact. What would overstate them is a read reflecting a sale that is not
    yet reserved, hence the cursor. A listing need not be read this cycle: platforms
    stamp reads in whole seconds, which may fall before the cycle began, and one shop's
    failed read must not stop the others' refills."""
    cursor = picture.cursors.get(listing.shop_id)
    return not listing.needs_read and cursor is not None and cursor > listing.as_of


def grant_raises(
    pushes: Sequence[Push], picture: Picture, claimed: dict[int, int] | None = None
) -> list[Push]:
    """Raises, with partitioned ones cut to the units no listing held at the start of the
    cycle (``sellable - sum of models``). A listing with a write planned by another
    process and not yet finished (``claimed``, see :func:`claims`) holds the larger of
    its model and that write's quantity.

    Units a lowering frees are not handed out in the same cycle: a shop may have sold
    them before the write reached it (a platform clamps a delta at 0), and only the next
    read and order ingest can tell. They are free next cycle."""
    claimed = claimed or {}
    skus = picture.skus
    # A pool is a partitioned SKU's units; a bundle listing holds its quantity per bundle
    # of each partitioned component for every bundle it shows (see hub.core.bundles).
    free: dict[int, int] = {}
    for sku_id in {p.listing.sku_id for p in pushes if p.partitioned}:
        for pool in bundles.draws(skus, sku_id):
            if pool not in free:
                free[pool] = skus[pool].sellable - sum(
                    per * sum(max(x.model, claimed.get(x.id, 0)) for x in picture.by_sku.get(member, ()))
                    for member, per in bundles.members(skus, pool).items()
                )
    granted = []
    for push in sorted(pushes, key=lambda p: (p.listing.sku_id, -(p.target - p.listing.model))):
        if not push.partitioned:
            granted.append(push)
            continue
        pools = bundles.draws(skus, push.listing.sku_id)
        room = min((free.get(pool, 0) // per for pool, per in pools.items()), default=0)
        extra = min(push.target - push.listing.model, max(0, room))
        if extra > 0:
            for pool, per in pools.items():
                free[pool] -= extra * per
            granted.append(Push(push.listing, push.listing.model + extra, True, push.sellable))
    return granted


# --- planning across processes ----------------------------------------------------------------

#: The short global lease under which a process plans its shops' stock and records the
#: writes it will make (its claims); the writes themselves go out under per-shop leases.
PLAN_LEASE = "stock:plan"


def consistent_snapshot(session: Session) -> None:
    """Make the rest of this transaction read one snapshot (PostgreSQL's default reads
    each statement afresh; SQLite's ``BEGIN IMMEDIATE`` already excludes every writer).
    Call first in the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def claims(session: Session) -> dict[int, int]:
    """Listing id -> the quantity of a stock write planned and not finished (``pending``
    or ``sending``): the listing may show that soon, whatever its model says."""
    out: dict[int, int] = {}
    for target, payload in session.execute(
        select(t.OutboxEntry.target, t.OutboxEntry.payload).where(
            t.OutboxEntry.kind == "stock", t.OutboxEntry.state.in_(("pending", "sending"))
        )
    ):
        listing_id, quantity = int(target), int((payload or {}).get("quantity") or 0)
        out[listing_id] = max(out.get(listing_id, 0), quantity)
    return out


def record_planned(session: Session, pushes: Sequence[Push], now: datetime) -> None:
    """Record ``pushes`` as ``pending`` outbox entries (each gets its key): made under
    :data:`PLAN_LEASE`, they are what :func:`claims` shows the next planner."""
    rows = []
    for push in pushes:
        push.key = outbox.random_key("stock")
        rows.append(
            {
                "shop_id": push.listing.shop_id,
                "kind": "stock",
                "target": str(push.listing.id),
                "idempotency_key": push.key,
                "payload": {
                    "platform_sku_id": push.listing.ref.platform_sku_id,
                    "quantity": push.target,
                    "delta": push.target - push.listing.model,
                    "model": push.listing.model,
                    "partitioned": push.partitioned,
                },
            }
        )
    outbox.add_many(session, rows, now)


# --- the hub side of reads and writes ------------------------------------------------------


def _store_levels(
    session: Session, levels: dict[str, tuple[int, datetime]], listing_ids: dict[str, int]
) -> None:
    for platform_sku_id, (quantity, observed_at) in levels.items():
        listing_id = listing_ids.get(platform_sku_id)
        if listing_id is not None:
            session.execute(
                update(t.Listing)
                .where(t.Listing.id == listing_id)
                .values(platform_quantity=quantity, quantity_as_of=observed_at, needs_read=False)
            )


async def observe(host: PluginHost, db: Database, shop: ShopContext, listings: Sequence[ListingInfo]) -> int:
    """Read the platform quantity of ``listings`` of one shop and anchor their models.

    Reads go out in chunks (at most the platform's batch size, small enough that the
    shop's in-flight limit is used), several at once; what was read is stored even if a
    chunk failed, and the first failure is raised afterwards."""
    if not listings:
        return 0
    ids = {x.ref.platform_sku_id: x.id for x in listings}
    caps, slots = shop.info.capabilities, shop.client.limiter.limit.concurrency
    size = max(1, min(READ_CHUNK, caps.stock_batch_size, math.ceil(len(listings) / slots)))
    found: dict[str, tuple[int, datetime]] = {}
    errors: list[HubError] = []

    async def read(chunk: Sequence[ListingInfo]) -> None:
        try:
            for level in await shop.client.fetch_stock([x.ref for x in chunk]):
                # anchored on the platform's clock: the model compares it with order times
                found[level.platform_sku_id] = (level.quantity, shop.client.platform_time(level.observed_at))
        except HubError as exc:  # caught here: a task group would wrap it in an ExceptionGroup
            errors.append(exc)

    async with anyio.create_task_group() as group:
        for start in range(0, len(listings), size):
            group.start_soon(read, listings[start : start + size])
    await db.run(lambda s: _store_levels(s, found, ids))
    if errors:
        raise errors[0]
    return len(found)


async def push_shop(
    host: PluginHost,
    db: Database,
    shop: ShopContext,
    shop_id: int,
    pushes: Sequence[Push],
    outcome: StockOutcome,
    *,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Send ``pushes`` to one shop in batches (as many in flight as its rate limit allows).

    Once ``stopping()`` is true no further batch starts; the unsent entries are
    superseded (the next cycle plans afresh) and counted in ``outcome.unsent``."""
    caps = shop.info.capabilities
    batches = [pushes[i : i + caps.stock_batch_size] for i in range(0, len(pushes), caps.stock_batch_size)]
    queue = iter(batches)
    unsent: list[Push] = []

    async def worker() -> None:
        for batch in queue:
            if stopping():
                unsent.extend(batch)
                continue
            try:
                await _push_batch(host, db, shop, shop_id, batch, outcome)
            except HubError as exc:  # caught here: a task group would wrap it in an ExceptionGroup
                outcome.record(exc, len(batch))

    async with anyio.create_task_group() as group:
        for _ in range(min(len(batches), max(1, shop.client.limiter.limit.concurrency))):
            group.start_soon(worker)
    if unsent:
        outcome.unsent += len(unsent)
        keys = [p.key for p in unsent]
        await db.run(lambda s: _supersede_keys(s, keys, shop.clock.now(), "not sent: the run was stopped"))


def _supersede_keys(session: Session, keys: Sequence[str], now: datetime, reason: str) -> None:
    session.execute(
        update(t.OutboxEntry)
        .where(t.OutboxEntry.idempotency_key.in_(list(keys)), t.OutboxEntry.state == "pending")
        .values(state="superseded", updated_at=now, last_error=reason)
    )


async def _push_batch(
    host: PluginHost,
    db: Database,
    shop: ShopContext,
    shop_id: int,
    batch: Sequence[Push],
    outcome: StockOutcome,
) -> None:
    delta = shop.info.capabilities.delta_stock
    updates = []
    for push in batch:
        key = push.key or outbox.random_key("stock")
        if delta:
            updates.append(
                StockUpdate(
                    ref=push.listing.ref,
                    quantity=push.target,
                    delta=push.target - push.listing.model,
                    idempotency_key=key,
                )
            )
        else:
            updates.append(StockUpdate(ref=push.listing.ref, quantity=push.target, idempotency_key=key))
    now = shop.clock.now()
    await db.run(lambda s: _record_sending(s, shop_id, batch, updates, now))
    try:
        results = check_results("push_stock", updates, await shop.client.push_stock(updates))
    except HubError as exc:
        results = [
            PushResult(idempotency_key=u.idempotency_key, ok=False, error=str(exc), retryable=exc.retryable)
            for u in updates
        ]
        in_doubt = exc.retryable
        outcome.exit_code = max(outcome.exit_code, exc.exit_code)  # an expired session needs a person
    else:
        in_doubt = False
    done_at = shop.client.platform_time()
    await db.run(lambda s: _record_results(s, batch, updates, results, in_doubt, done_at))
    for result in results:
        if result.ok:
            outcome.pushed += 1
        else:
            outcome.failed += 1
            if len(outcome.errors) < 5:
                outcome.errors.append(result.error or "failed")
            if not result.retryable:
                await host.notify_push_failed(
                    shop.name, "stock", result.idempotency_key, result.error or "failed"
                )


def _record_sending(
    session: Session, shop_id: int, batch: Sequence[Push], updates: Sequence[StockUpdate], now: datetime
) -> None:
    planned = [u.idempotency_key for p, u in zip(batch, updates, strict=True) if p.key]
    if planned:  # recorded at planning (see record_planned): now in flight
        session.execute(
            update(t.OutboxEntry)
            .where(t.OutboxEntry.idempotency_key.in_(planned))
            .values(state="sending", attempts=1, updated_at=now)
        )
    if len(planned) == len(batch):
        return
    outbox.add_many(
        session,
        [
            {
                "shop_id": shop_id,
                "kind": "stock",
                "target": str(push.listing.id),
                "idempotency_key": update.idempotency_key,
                "state": "sending",
                "attempts": 1,
                "payload": {
                    "platform_sku_id": push.listing.ref.platform_sku_id,
                    "quantity": update.quantity,
                    "delta": update.delta,
                    "model": push.listing.model,
                    "partitioned": push.partitioned,
                },
            }
            for push, update in zip(batch, updates, strict=True)
            if not push.key
        ],
        now,
    )


def _record_results(
    session: Session,
    batch: Sequence[Push],
    updates: Sequence[StockUpdate],
    results: Sequence[PushResult],
    in_doubt: bool,
    now: datetime,
) -> None:
    """Record each write's outcome on its outbox entry and listing. Rows that set the same
    columns go out as one executemany (Core: no ORM session synchronisation needed, the
    session holds none of these rows)."""
    by_key = {r.idempotency_key: r for r in results}
    entries: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    listings: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    relative: list[dict[str, Any]] = []
    for push, update_ in zip(batch, updates, strict=True):
        result = by_key[update_.idempotency_key]
        doubtful = in_doubt or result.in_doubt
        values = outbox.outcome(result, 1, now)
        if doubtful:
            values["last_error"] = f"{result.error} (in doubt: the listing is re-read next cycle)"
        entries.setdefault(tuple(values), []).append({"_key": update_.idempotency_key, **values})
        if result.ok and result.quantity_after is None and update_.delta is not None:
            # A relative write moved the platform's figure by ``delta`` from whatever it
            # was: the anchor stays at the last read, so sales and give-backs since that
            # read keep counting (see model_adjustments). A lowering may have been
            # clamped at 0 by sales not read yet: the listing is re-read before its next write.
            relative.append(
                {
                    "_id": push.listing.id,
                    "_delta": update_.delta,
                    "_quantity": update_.quantity,
                    "_unsure": update_.delta < 0,
                }
            )
        elif result.ok:
            quantity = result.quantity_after if result.quantity_after is not None else update_.quantity
            row = {
                "_id": push.listing.id,
                "platform_quantity": quantity,
                "quantity_as_of": now,
                "pushed_quantity": update_.quantity,
                "pushed_at": now,
                # Only a figure from the platform settles a pending re-read.
                **({"needs_read": False} if result.quantity_after is not None else {}),
            }
            listings.setdefault(tuple(row), []).append(row)
        elif doubtful:
            listings.setdefault(("_id", "needs_read"), []).append(
                {"_id": push.listing.id, "needs_read": True}
            )
    entry_table, listing_table = t.OutboxEntry.__table__, t.Listing.__table__
    for rows in entries.values():
        session.execute(update(entry_table).where(entry_table.c.idempotency_key == bindparam("_key")), rows)
    for rows in listings.values():
        session.execute(update(listing_table).where(listing_table.c.id == bindparam("_id")), rows)
    if relative:
        session.execute(
            update(listing_table)
            .where(listing_table.c.id == bindparam("_id"))
            .values(
                platform_quantity=listing_table.c.platform_quantity + bindparam("_delta"),
                pushed_quantity=bindparam("_quantity"),
                pushed_at=now,
                needs_read=or_(listing_table.c.needs_read, bindparam("_unsure")),
            ),
            relative,
        )


def supersede_open(session: Session, shop_id: int, now: datetime) -> None:
    """A new stock cycle recomputes every write, so older open stock entries are done with."""
    session.execute(
        update(t.OutboxEntry)
        .where(
            t.OutboxEntry.shop_id == shop_id,
            t.OutboxEntry.kind == "stock",
            t.OutboxEntry.state.in_(outbox.OPEN_STATES),
        )
        .values(
            state="superseded",
            updated_at=now,
            last_error=func.coalesce(t.OutboxEntry.last_error, "") + " (recomputed by a later cycle)",
        )
    )


# --- drift ------------------------------------------------------------------------------------


@dataclass
class Drift:
    shop: str
    sku: str
    platform_sku_id: str
    expected: int
    actual: int

    @property
    def difference(self) -> int:
        return self.actual - self.expected


async def check_drift(
    host: PluginHost, db: Database, shop: ShopContext, shop_id: int, *, repair: bool, settings: Any
) -> list[Drift]:
    """Compare each linked listing's platform quantity with the hub's model of it.
    With ``repair`` the models are re-anchored to what the platform shows, so the next
    stock push corrects the platform from the truth."""
    picture = await db.run(
        lambda s: load_picture(
            s,
            shop.clock.now(),
            safety_default=settings.safety_stock,
            partition_below=settings.partition_below,
            sales_window=timedelta(minutes=settings.sales_window_minutes),
        )
    )
    mine = [x for x in picture.listings if x.shop_id == shop_id]
    actual: dict[str, tuple[int, datetime]] = {}
    for start in range(0, len(mine), READ_CHUNK):
        for level in await shop.client.fetch_stock([x.ref for x in mine[start : start + READ_CHUNK]]):
            actual[level.platform_sku_id] = (level.quantity, shop.client.platform_time(level.observed_at))
    drifts = [
        Drift(
            shop.name,
            picture.skus[x.sku_id].code,
            x.ref.platform_sku_id,
            x.model,
            actual[x.ref.platform_sku_id][0],
        )
        for x in mine
        if x.ref.platform_sku_id in actual and actual[x.ref.platform_sku_id][0] != x.model
    ]
    if repair and actual:
        ids = {x.ref.platform_sku_id: x.id for x in mine}
        await db.run(lambda s: _store_levels(s, actual, ids))
    return drifts
