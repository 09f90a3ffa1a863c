"""The least work an announced event needs: fetch that order, store it with its
reservation, re-read a changed listing, and recompute and push only the SKUs concerned,
on every shop — not a full cycle.

Processing is idempotent: the order is re-read from the platform's detail API (its
latest version, whatever the order the messages arrived in) and stored through
:func:`hub.core.orders.store_orders`, which ignores older versions and never moves a
status back. An entry is marked processed only after its work is done; a failure leaves
it pending for the next round. The stock step takes the same leases as a sync cycle's
stock phase (per-shop stock leases, the plan lease), so the two never plan at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.client import gather
from hub.core import health, leases
from hub.core import stock as stock_mod
from hub.core.engine import Shop, SyncEngine
from hub.core.orders import store_orders
from hub.core.shops import ShopRuntime
from hub.errors import HubError
from hub.models import ListingRef, Order
from hub.push import inbox
from hub.push.events import EventKind
from hub.report import SyncReport
from hub.secrets import redact
from hub.settings import HubSettings
from hub.storage import tables as t

log = logging.getLogger("hub.push")
LEASE = "push"  # one processing round at a time across processes


@dataclass
class ProcessResult:
    """What one round did."""

    events: int = 0
    orders_fetched: int = 0
    orders_changed: int = 0
    listings_read: int = 0
    skus: int = 0
    pushed: int = 0
    failed: int = 0
    waiting: bool = False  # another process is processing pushes: entries stay pending
    errors: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    id: int
    shop_id: int
    kind: EventKind
    order_id: str | None
    item_id: str | None
    sku_id: str | None


@dataclass
class PushProcessor:
    """Processes pending inbox entries for the shops it has open (see :meth:`open`)."""

    runtime: ShopRuntime
    settings: HubSettings
    shops: dict[int, Shop]
    holder: str = field(default_factory=leases.new_holder)

    @classmethod
    def open(cls, runtime: ShopRuntime, settings: HubSettings) -> PushProcessor:
        """A processor with every configured shop open (shops that fail to open are logged
        and left out: their pushes wait until they are fixed)."""
        rows = runtime.db.run_sync(lambda s: list(s.scalars(select(t.Shop).order_by(t.Shop.id))))
        shops: dict[int, Shop] = {}
        for row in rows:
            try:
                shops[row.id] = Shop(row.id, row.name, runtime.open(row))
            except HubError as exc:
                log.warning("shop %s cannot process pushes: %s", row.name, redact(str(exc)))
        return cls(runtime, settings, shops)

    async def aclose(self) -> None:
        for shop in self.shops.values():
            await shop.ctx.client.aclose()

    @property
    def calls(self) -> int:
        """Platform calls made by this processor's clients so far."""
        return sum(shop.ctx.client.stats.calls for shop in self.shops.values())

    # --- one round ------------------------------------------------------------------------

    async def run_once(self, limit: int = 500) -> ProcessResult:
        """Process up to ``limit`` pending entries."""
        result = ProcessResult()
        db = self.runtime.db

        def load(s: Session) -> list[_Entry]:
            return [
                _Entry(r.id, r.shop_id, EventKind(r.kind), r.order_id, r.item_id, r.sku_id)
                for r in inbox.pending(s, limit)
                if r.shop_id in self.shops
            ]

        entries = await db.run(load)
        if not entries:
            return result
        if not await self._take_lease():
            result.waiting = True
            return result
        try:
            await self._round(entries, result)
        finally:
            await db.run(lambda s: leases.release(s, LEASE, self.holder))
        return result

    async def _round(self, entries: list[_Entry], result: ProcessResult) -> None:
        result.events = len(entries)
        by_shop: dict[int, list[_Entry]] = defaultdict(list)
        for entry in entries:
            by_shop[entry.shop_id].append(entry)
        affected: set[int] = set()
        failed: dict[int, str] = {}

        async def one(shop_id: int, shop_entries: list[_Entry]) -> None:
            try:
                affected.update(await self._shop_events(self.shops[shop_id], shop_entries, result))
            except HubError as exc:
                message = f"{self.shops[shop_id].name}: {redact(str(exc))}"
                result.errors.append(message)
                log.warning("push processing: %s", message)
                failed.update({e.id: message for e in shop_entries})
            except Exception as exc:  # a bug must not stop the other shops
                log.exception("push processing of %s failed", self.shops[shop_id].name)
                failed.update({e.id: f"internal error: {type(exc).__name__}" for e in shop_entries})

        async with anyio.create_task_group() as group:
            for shop_id, shop_entries in by_shop.items():
                group.start_soon(one, shop_id, shop_entries)
        result.skus = len(affected)
        if affected:
            report = await self.push_skus(affected)
            for r in report.results:
                result.pushed += r.pushed
                result.failed += r.failed
                if r.error:
                    result.errors.append(f"{r.shop}: {r.error}")
        now = self.runtime.clock.now()
        done = [e.id for e in entries if e.id not in failed]

        def finish(s: Session) -> None:
            inbox.mark_done(s, done, now)
            for entry_id, error in failed.items():
                inbox.mark_failed(s, [entry_id], error)
            health.record_changes(s, self.runtime.breakers, now)

        await self.runtime.db.run(finish)

    async def _shop_events(self, shop: Shop, entries: Sequence[_Entry], result: ProcessResult) -> set[int]:
        """Re-read what the shop's events name; the SKU ids whose stock may have changed."""
        affected: set[int] = set()
        items = {(e.item_id, e.sku_id) for e in entries if not e.kind.is_order and e.item_id}
        if items:
            affected |= await self._read_listings(shop, items, result)
        order_ids = sorted({e.order_id for e in entries if e.kind.is_order and e.order_id})
        if order_ids:
            fetched = await gather(lambda i=i: shop.ctx.client.fetch_order(i) for i in order_ids)
            orders: list[Order] = [o for o in fetched if o is not None]
            result.orders_fetched += len(orders)
            now = self.runtime.clock.now()

            def write(s: Session) -> tuple[list[Any], set[int]]:
                changes = store_orders(s, shop.id, orders, now)
                skus = set(
                    s.scalars(
                        select(t.OrderLine.sku_id)
                        .join(t.Order, t.Order.id == t.OrderLine.order_id)
                        .where(
                            t.Order.shop_id == shop.id,
                            t.Order.platform_order_id.in_([o.platform_order_id for o in orders]),
                            t.OrderLine.sku_id.is_not(None),
                        )
                    )
                )
                return changes, skus

            changes, skus = await self.runtime.db.run(write)
            result.orders_changed += len(changes)
            affected |= skus
            host = self.runtime.host
            if changes and host.has_listeners("hub_order_stored"):
                for change in changes:
                    await host.notify_order_stored(shop.name, change.order, change.previous)
        return affected

    async def _read_listings(
        self, shop: Shop, items: set[tuple[str | None, str | None]], result: ProcessResult
    ) -> set[int]:
        """Read the platform quantity of the linked listings a product/stock event names."""

        def find(s: Session) -> list[stock_mod.ListingInfo]:
            rows = s.execute(
                select(t.Listing).where(
                    t.Listing.shop_id == shop.id,
                    t.Listing.sku_id.is_not(None),
                    t.Listing.platform_item_id.in_(sorted({i for i, _ in items if i})),
                )
            ).scalars()
            return [
                stock_mod.ListingInfo(
                    row.id,
                    row.shop_id,
                    row.sku_id,
                    ListingRef(
                        platform_item_id=row.platform_item_id,
                        platform_sku_id=row.platform_sku_id,
                        master_code=row.master_code,
                    ),
                    row.platform_quantity,
                    row.quantity_as_of,
                    row.needs_read,
                )
                for row in rows
                if {(row.platform_item_id, row.platform_sku_id), (row.platform_item_id, None)} & items
            ]

        listings = await self.runtime.db.run(find)
        runtime = self.runtime
        result.listings_read += await stock_mod.observe(runtime.host, runtime.db, shop.ctx, listings)
        return {x.sku_id for x in listings}

    # --- shops without pushes ------------------------------------------------------------------

    async def poll_orders(self, shop: Shop) -> int:
        """For a shop whose platform does not push (JD): one orders-only sync of that shop,
        then the SKUs of the orders it stored or re-read are pushed on every shop, as an
        announced order's would be. Returns how many SKUs were concerned."""
        clock, db = self.runtime.clock, self.runtime.db
        since = clock.now()
        await SyncEngine(self.runtime, self.settings).run_cycle([shop.name], ["orders"])

        def touched(s: Session) -> set[int]:
            return set(
                s.scalars(
                    select(t.OrderLine.sku_id)
                    .join(t.Order, t.Order.id == t.OrderLine.order_id)
                    .where(
                        t.Order.shop_id == shop.id,
                        t.Order.updated_at >= since,
                        t.OrderLine.sku_id.is_not(None),
                    )
                )
            )

        skus = await db.run(touched)
        if skus:
            await self.push_skus(skus)
        return len(skus)

    async def _take_lease(self) -> bool:
        clock, ttl = self.runtime.clock, self.settings.lease_seconds
        return await self.runtime.db.run(lambda s: leases.acquire(s, LEASE, self.holder, clock.now(), ttl))

    # --- stock of a few SKUs ------------------------------------------------------------------

    async def push_skus(self, sku_ids: set[int]) -> SyncReport:
        """Plan and push the stock of ``sku_ids`` only, on every open shop, lowering first,
        with a cycle's leases and safety (:meth:`SyncEngine.push_stock_of`). Partitioned
        SKUs are only lowered here: the next cycle hands units on."""
        engine = SyncEngine(self.runtime, self.settings, holder=self.holder)
        return await engine.push_stock_of(list(self.shops.values()), sku_ids)
