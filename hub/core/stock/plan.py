"""Stock planning, pure: what each listing should show, and the writes that get it there.

Per SKU, ``sellable = on_hand - held reservations - safety``; targets per shop by
:mod:`hub.core.allocation`, shared or partitioned by the SKU's mode. A listing is pushed
only when its target differs from its model (see :mod:`hub.core.stock.picture`). Raises
of a partitioned SKU are granted only from units no shop holds (nor is about to show:
writes other processes planned, see :func:`hub.core.stock.push.claims`), and only when
every sale up to each listing's anchor is ingested (see :func:`_fresh`).

No I/O and no session here: everything comes in a :class:`Picture`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hub.core import bundles
from hub.core.allocation import Rule, ShopInput, partitioned_targets, shared_targets
from hub.core.stock.picture import ListingInfo, Picture
from hub.storage import tables as t


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
    order placed up to its anchor is ingested (the ``new_orders`` cursor, moved by a read
    made after the shop's stock reads; order windows are half-open, so the cursor must be
    strictly later than the anchor).

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
    process and not yet finished (``claimed``, see :func:`hub.core.stock.push.claims`)
    holds the larger of its model and that write's quantity.

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
