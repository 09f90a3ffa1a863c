"""The stock picture kept between cycles, so a cycle reads and plans only what changed.

A full load of the picture reads every SKU and every listing (millions, with many shops)
and the plan then looks at each. Most cycles change few of them, so a process keeps its
last picture and brings it up to date:

* **SKU level** — counts, held reservations, safety and settings of every SKU are read
  each time (one row per SKU; cheap next to the listings). A SKU whose figures changed is
  *dirty*: its listings are planned this cycle.
* **listings** — only rows whose ``changed_at`` (set on every insert and update) is at or
  after the previous load's start, less :data:`CHANGE_MARGIN` (for transactions still
  open then and for clocks a little apart), are looked at; of those, a row whose change
  mark is the one the picture already holds (read by an earlier load that began after
  that mark) is not re-read, so a busy minute of writes is not read again at every load.
  The SKUs of the rows re-read, old and new, are dirty.
  The models' order adjustments (sales since each anchor) are recomputed in SQL each time;
  a listing whose adjustment moved makes its SKU dirty.
* **sales and modes** — recent sales are read each time; a SKU whose sales moved is dirty,
  and the mode of every SKU that sold (the propagation delay may have moved) is decided
  afresh: a SKU whose mode or reason changed is dirty.
* **unsettled** — a SKU with a listing off its target at the last plan (a write failed, a
  raise waited for fresh models, another process's shop) stays dirty until it settles.

Anything the increments cannot follow — the set of SKUs or of shops (a deleted one takes
its listings along without a change mark), allocation rules — makes the load a full one, as does a cold cache
and the periodic full pass (``HUB_STOCK_FULL_PASS_MINUTES``; ``0``: every load is full).
An incremental picture plans exactly the writes a full one would: the SKUs it leaves out
had no listing off its target, and nothing they depend on changed.
"""

from __future__ import annotations

import bisect
import dataclasses
from array import array
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import autopartition, bundles
from hub.core.stock.picture import (
    ListingInfo,
    Picture,
    decide_modes,
    load_cursors,
    load_listings,
    load_picture,
    load_rules,
    load_skus,
    model_adjustments,
)
from hub.storage import tables as t

#: Rows changed this long before the previous load began are read again: a transaction
#: that stamped a row before that load and committed after it is still seen.
CHANGE_MARGIN = timedelta(seconds=60)
#: Changed listings re-read by id, in chunks of this many (under SQLite's parameter limit);
#: more than :data:`BY_ID_LIMIT` of them are re-read by their change mark instead.
ID_CHUNK = 500
BY_ID_LIMIT = 4 * ID_CHUNK


def _wall_clock() -> datetime:
    return t.change_clock()  # the clock that stamps the rows' change marks


class PictureCache:
    """One process's stock picture, brought up to date at each :meth:`load`.

    Not thread-safe: one engine uses it, one load at a time."""

    def __init__(
        self,
        *,
        full_pass: timedelta,
        safety_default: int,
        partition_below: int | None,
        sales_window: timedelta,
        wall_clock: Callable[[], datetime] = _wall_clock,
    ):
        self.full_pass = full_pass
        self.safety_default = safety_default
        self.partition_below = partition_below
        self.sales_window = sales_window
        self.wall_clock = wall_clock
        self._picture: Picture | None = None
        self._where = _Locations()
        self._full_at: datetime | None = None  # the hub's clock at the last full load
        self._since: datetime | None = None  # re-read listings changed at or after this (wall clock)
        self._pending: set[int] = set()  # dirty SKUs not planned yet
        self._shops: set[tuple[int, datetime]] = set()
        self._unread: set[int] = set()  # SKUs with a listing in doubt
        #: listing id -> the change mark of the row the picture holds, for rows within the
        #: margin whose mark is older than the load that read them (see _changed_rows)
        self._marks: dict[int, datetime] = {}
        self.full_loads = 0  # for tests and benchmarks
        self.incremental_loads = 0
        self.rows_reread = 0  # listings re-read by incremental loads

    def invalidate(self) -> None:
        """Make the next load a full one."""
        self._picture = None

    def load(self, session: Session, now: datetime) -> Picture:
        """The picture as of this transaction. ``picture.dirty`` names the SKUs a plan must
        cover (``None``: all); call :meth:`planned` after planning from it."""
        started = self.wall_clock()
        picture = None
        if not self._full_due(now):
            picture = self._incremental(session, now, started)
        if picture is None:
            picture = self._full(session, now)
        self._since = started - CHANGE_MARGIN
        self._picture = picture
        return picture

    def planned(self, picture: Picture) -> None:
        """Record that ``picture`` (this cache's latest) was planned: only its unsettled
        SKUs stay dirty."""
        if picture is self._picture:
            self._pending = set(picture.unsettled)

    # --- internals ------------------------------------------------------------------------------

    def _full_due(self, now: datetime) -> bool:
        return (
            self._picture is None
            or self._full_at is None
            or self._since is None
            or self.full_pass <= timedelta(0)
            or not self._full_at <= now < self._full_at + self.full_pass
        )

    def _full(self, session: Session, now: datetime) -> Picture:
        where = _Locations()
        picture = load_picture(
            session,
            now,
            safety_default=self.safety_default,
            partition_below=self.partition_below,
            sales_window=self.sales_window,
            each=lambda x: where.append(x.id, x.sku_id),
        )
        self._where = where
        self._unread = {x.sku_id for x in picture.listings if x.needs_read}
        picture.unread_skus = set(self._unread)
        self._shops = _shops(session)
        self._full_at = now
        self._pending = set()
        self._marks = {}  # the next load re-reads every row within the margin
        self.full_loads += 1
        return picture

    def _incremental(self, session: Session, now: datetime, started: datetime) -> Picture | None:
        """The previous picture brought up to date, or None when only a full load will do."""
        old = self._picture
        assert old is not None and self._since is not None
        rules = load_rules(session)
        if _rule_values(rules) != _rule_values(old.rules):
            return None
        skus = load_skus(session, self.safety_default)
        # Listings vanish or lose their SKU without a change mark only by the cascade of a
        # deleted shop or SKU (whose id a new one may take).
        if skus.keys() != old.skus.keys() or any(x.code != old.skus[i].code for i, x in skus.items()):
            return None
        if _shops(session) != self._shops:
            return None
        dirty = {
            sku_id
            for sku_id, sku in skus.items()
            if sku.inputs != old.skus[sku_id].inputs or sku.sellable != old.skus[sku_id].sellable
        }
        by_sku, where = old.by_sku, self._where
        adjustments = model_adjustments(session)
        before = old.adjustments
        moved = {i for i in adjustments.keys() | before.keys() if adjustments.get(i) != before.get(i)}
        changed = self._changed_rows(session, started)
        for listing_id in changed:  # take out every changed row; the linked ones come back below
            sku_id = where.pop(listing_id)
            if sku_id is not None:
                _take(by_sku[sku_id], listing_id)
                dirty.add(sku_id)
        if changed:
            for listing in self._reread(session, adjustments, changed):
                sku_id = where.pop(listing.id)
                if sku_id is not None:  # not expected (each row is read once): taken out again
                    _take(by_sku[sku_id], listing.id)
                    dirty.add(sku_id)
                where.put(listing.id, listing.sku_id)
                bisect.insort(by_sku.setdefault(listing.sku_id, []), listing, key=lambda x: x.id)
                dirty.add(listing.sku_id)
        for listing_id in moved - changed:
            sku_id = where.get(listing_id)
            if sku_id is None:
                continue
            siblings = by_sku[sku_id]
            listing = _take(siblings, listing_id)
            model = max(0, listing.stored + adjustments.get(listing_id, 0))
            bisect.insort(siblings, dataclasses.replace(listing, model=model), key=lambda x: x.id)
            dirty.add(sku_id)
        for sku_id in [i for i, listings in by_sku.items() if not listings]:
            del by_sku[sku_id]

        sold = autopartition.sold_since(session, now - self.sales_window)
        measured = autopartition.measure(session, now, self.sales_window)
        old_short = old.measured.sold_short if old.measured else {}
        dirty |= _moved(sold, old.sold_recently) | _moved(measured.sold_short, old_short)
        # A SKU's mode depends on its own figures, its channels and its sales (and, through
        # them, the propagation delay): decide again for dirty SKUs and every SKU that sold.
        decide = dirty | {s for _, s in (*sold, *measured.sold_short, *old.sold_recently, *old_short)}
        decide = bundles.widen(skus, decide)  # a bundle's sales count in its components' modes
        for sku_id, sku in skus.items():
            if sku_id not in decide:
                previous = old.skus[sku_id]
                sku.partitioned, sku.mode_reason = previous.partitioned, previous.mode_reason
        decide_modes(skus, by_sku, sold, measured, self.partition_below, decide)
        for sku_id in decide:
            before, after = old.skus.get(sku_id), skus.get(sku_id)
            if (
                before
                and after
                and (before.partitioned, before.mode_reason)
                != (
                    after.partitioned,
                    after.mode_reason,
                )
            ):
                dirty.add(sku_id)
        for sku_id in dirty:
            if any(x.needs_read for x in by_sku.get(sku_id, ())):
                self._unread.add(sku_id)
            else:
                self._unread.discard(sku_id)
        self._pending |= dirty
        self.incremental_loads += 1
        return Picture(
            skus,
            by_sku,
            rules,
            sold,
            load_cursors(session),
            dirty=set(self._pending),
            adjustments=adjustments,
            measured=measured,
            unread_skus=set(self._unread),
        )

    def _changed_rows(self, session: Session, started: datetime) -> set[int]:
        """Ids of the listings to re-read: changed within the margin, less those whose row the
        picture already holds. A mark counts as held only if it is older than the start of
        the load that read it: a row rewritten later, even within the same tick of a coarse
        clock, then carries another mark (a transaction stamps after it began)."""
        assert self._since is not None
        query = select(t.Listing.id, t.Listing.changed_at).where(t.Listing.changed_at >= self._since)
        marks: dict[int, datetime | None] = {i: mark for i, mark in session.execute(query)}
        changed = {i for i, mark in marks.items() if mark is None or self._marks.get(i) != mark}
        self._marks = {i: mark for i, mark in marks.items() if mark is not None and mark < started}
        self.rows_reread += len(changed)
        return changed

    def _reread(self, session: Session, adjustments: dict[int, int], ids: set[int]) -> list[ListingInfo]:
        """The linked listings among ``ids``, ordered by id: by id when they are few, else
        the rows changed within the margin, less the others."""
        if len(ids) > BY_ID_LIMIT:
            rows = load_listings(session, adjustments, t.Listing.changed_at >= self._since)
            return [x for x in rows if x.id in ids]
        ordered = sorted(ids)
        return [
            listing
            for start in range(0, len(ordered), ID_CHUNK)
            for listing in load_listings(
                session, adjustments, t.Listing.id.in_(ordered[start : start + ID_CHUNK])
            )
        ]


def _shops(session: Session) -> set[tuple[int, datetime]]:
    return {(shop_id, created) for shop_id, created in session.execute(select(t.Shop.id, t.Shop.created_at))}


def _rule_values(rules: dict[tuple[int, int | None], t.AllocationRule]) -> dict[Any, tuple[Any, ...]]:
    return {key: (r.share, r.cap, r.floor, r.warehouses) for key, r in rules.items()}


def _moved(new: Any, old: Any) -> set[int]:
    """SKUs with a (shop, SKU) figure that differs between ``new`` and ``old``."""
    return {key[1] for key in new.keys() | old.keys() if new.get(key) != old.get(key)}


def _take(listings: list[ListingInfo], listing_id: int) -> ListingInfo:
    """Remove the listing ``listing_id`` from ``listings`` (ordered by id) and return it."""
    at = bisect.bisect_left(listings, listing_id, key=lambda x: x.id)
    return listings.pop(at)


class _Locations:
    """Listing id -> SKU id of every listing in the picture, in two arrays ordered by id:
    millions of them, a third of the memory of a dict."""

    def __init__(self) -> None:
        self.ids = array("q")
        self.skus = array("q")  # 0: no longer in the picture

    def append(self, listing_id: int, sku_id: int) -> None:
        """Add a listing with an id above every known one (a load ordered by id)."""
        self.ids.append(listing_id)
        self.skus.append(sku_id)

    def _at(self, listing_id: int) -> int | None:
        at = bisect.bisect_left(self.ids, listing_id)
        return at if at < len(self.ids) and self.ids[at] == listing_id else None

    def get(self, listing_id: int) -> int | None:
        at = self._at(listing_id)
        return None if at is None or not self.skus[at] else self.skus[at]

    def pop(self, listing_id: int) -> int | None:
        sku_id = self.get(listing_id)
        if sku_id is not None:
            self.skus[self._at(listing_id) or 0] = 0
        return sku_id

    def put(self, listing_id: int, sku_id: int) -> None:
        at = bisect.bisect_left(self.ids, listing_id)
        if at < len(self.ids) and self.ids[at] == listing_id:
            self.skus[at] = sku_id
        else:
            self.ids.insert(at, listing_id)
            self.skus.insert(at, sku_id)
