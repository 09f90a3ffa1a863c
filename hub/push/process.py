"""The least work an announced event needs: fetch that order, store it with its
reservation, re-read a changed listing, and recompute and push only the SKUs concerned,
on every shop — not a full cycle.

Processing is idempotent: the order is re-read from the platform's detail API (its
latest version, whatever the order the messages arrived in) and stored through
:func:`hub.core.orders.store_orders`, which ignores older versions and never moves a
status back. An entry is marked processed only after its work is done; a failure leaves
it pending for the next round. The stock step takes the same leases as a sync cycle's
stock phase (per-shop stock leases, one planner at a time), so the two never plan at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import health, leases
from hub.core.engine import Shop, SyncEngine
from hub.core.orders import store_orders
from hub.core.shops import ShopRuntime
from hub.core.stock.picture import ListingInfo
from hub.core.stock.push import observe
from hub.errors import HubError
from hub.models import Order
from hub.push import inbox
from hub.push.events import EventKind
from hub.report import SyncReport
from hub.secrets import redact
from hub.settings import HubSettings
from hub.storage import tables as t

log = logging.getLogger("hub.push")
LEASE = "push"  # one processing round at a time across processes
HELD_RETRY = 0.02  # seconds between tries of a shop whose stock a sync cycle holds
HELD_PATIENCE = 10.0  # seconds to keep trying (see PushProcessor.push_skus)


def _held_shops(report: SyncReport) -> set[str]:
    """Shops whose stock push was skipped: another process held their stock lease."""
    return {r.shop for r in report.results if r.stream == "stock" and r.skipped}


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
    #: shops the stock push left to a sync cycle that kept their lease (see push_skus)
    held: list[str] = field(default_factory=list)
    #: when the stock push's last write ended: the channels show it from then on
    written_at: datetime | None = None


@dataclass
class _Entry:
    id: int
    shop_id: int
    kind: EventKind
    order_id: str | None
    item_id: str | None
    sku_id: str | None


@dataclass
class _Batch:
    """Entries read and stored, waiting for the push of their SKUs."""

    entries: list[_Entry]
    affected: set[int]  # SKU ids to push
    failed: dict[int, str]  # entry id -> why it failed (left pending)
    result: ProcessResult

    @property
    def ids(self) -> set[int]:
        """The entries in flight: all but the failed ones."""
        return {e.id for e in self.entries if e.id not in self.failed}

    @classmethod
    def merge(cls, batches: Sequence[_Batch]) -> _Batch:
        """One batch for one push of all their SKUs."""
        result = ProcessResult()
        for b in batches:
            for name in ("events", "orders_fetched", "orders_changed", "listings_read"):
                setattr(result, name, getattr(result, name) + getattr(b.result, name))
            result.errors += b.result.errors
        affected: set[int] = set().union(*(b.affected for b in batches))
        result.skus = len(affected)
        failed = {k: v for b in batches for k, v in b.failed.items()}
        return cls([e for b in batches for e in b.entries], affected, failed, result)


@dataclass
class PushProcessor:
    """Processes pending inbox entries for the shops it has open (see :meth:`open`)."""

    runtime: ShopRuntime
    settings: HubSettings
    shops: dict[int, Shop]
    holder: str = field(default_factory=leases.new_holder)
    #: the engine of :meth:`push_skus`, kept so its stock picture is brought up to date
    #: incrementally instead of read whole for every push (one push at a time uses it)
    _engine: SyncEngine | None = field(default=None, init=False, repr=False)
    _pushing: anyio.Lock | None = field(default=None, init=False, repr=False)

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
        """Process up to ``limit`` pending entries: read and store what they announce, then
        push the stock of the SKUs concerned, then mark them processed."""
        result = ProcessResult()
        entries = await self._pending(limit)
        if not entries:
            return result
        if not await self._take_lease():
            result.waiting = True
            return result
        try:
            affected, failed = await self._ingest(entries, result)
            await self._push_and_finish(entries, affected, failed, result)
        finally:
            await self._release_lease()
        return result

    async def run_forever(
        self,
        news: Callable[[], Awaitable[None]],
        pushed: Callable[[ProcessResult, datetime, datetime], None] | None = None,
        limit: int = 500,
    ) -> None:
        """Process entries as they come, reading and storing orders without waiting for the
        stock push in flight: the batches stored meanwhile wait for it and then go out
        together, in one push of all their SKUs (so an order announced during a push waits
        for that push's end, not for a whole round, nor for one push per batch); a batch
        with product or stock events, whose listings are read, waits for every push first.
        ``news()`` returns when new entries may be pending (or a while has passed).
        ``pushed(result, started, finished)`` is told of every push done (``finished``: when
        its writes ended, before its entries are marked): it began after the orders of its
        batches were stored. A shop whose stock a sync cycle holds is left out
        of that push (``result.held``) and its SKUs go with the next one, which follows
        within :data:`HELD_RETRY` seconds if nothing else comes. Pushes run one at a time,
        each batch's entries are marked processed only once its push is done, and the push
        lease is held while anything is in flight, as in :meth:`run_once`."""
        in_flight: set[int] = set()
        waiting: list[_Batch] = []  # stored, for the push after the one in flight
        pushing = anyio.Event()
        pushing.set()  # no push in flight
        holding = False

        async def push_chain(batch: _Batch, done: anyio.Event) -> None:
            try:
                while True:
                    await self._push_batch(batch, in_flight, pushed)
                    if batch.result.held:
                        # A sync cycle holds those shops' stock: their SKUs go with the next
                        # push, shortly, while the other shops' pushes go on meanwhile.
                        if not waiting:
                            await self.runtime.clock.sleep(HELD_RETRY)
                        waiting.append(_Batch([], batch.affected, {}, ProcessResult()))
                    if not waiting:
                        return
                    batch = _Batch.merge(waiting)
                    waiting.clear()
            finally:
                done.set()

        async with anyio.create_task_group() as group:
            while True:
                await news()
                entries = await self._pending(limit, exclude=in_flight)
                if not entries:
                    if holding and pushing.is_set() and not in_flight:
                        await self._release_lease()
                        holding = False
                    continue
                holding = await self._take_lease()
                if not holding:
                    await self.runtime.clock.sleep(0.2)  # another process is processing pushes
                    continue
                if not all(e.kind.is_order for e in entries):
                    # A listing is read only while none of our writes is on its way to it,
                    # as in a round: the read would not tell whether the write landed.
                    await pushing.wait()
                result = ProcessResult()
                affected, failed = await self._ingest(entries, result)
                batch = _Batch(entries, affected, failed, result)
                in_flight |= batch.ids
                if pushing.is_set():
                    pushing = anyio.Event()
                    group.start_soon(push_chain, batch, pushing)
                else:  # the push in flight hands it on when done
                    waiting.append(batch)

    async def _push_batch(
        self,
        batch: _Batch,
        in_flight: set[int],
        pushed: Callable[[ProcessResult, datetime, datetime], None] | None,
    ) -> None:
        started = self.runtime.clock.now()
        try:
            await self._push_and_finish(
                batch.entries, batch.affected, batch.failed, batch.result, patience=0.0
            )
            if pushed is not None:
                pushed(batch.result, started, batch.result.written_at or self.runtime.clock.now())
        except Exception:  # the entries stay pending and are taken up again
            log.exception("push processing: pushing the stock of %d SKUs failed", len(batch.affected))
        finally:
            in_flight -= batch.ids

    async def _pending(self, limit: int, exclude: set[int] | None = None) -> list[_Entry]:
        def load(s: Session) -> list[_Entry]:
            return [
                _Entry(r.id, r.shop_id, EventKind(r.kind), r.order_id, r.item_id, r.sku_id)
                for r in inbox.pending(s, limit, exclude or ())
                if r.shop_id in self.shops
            ]

        return await self.runtime.db.run(load)

    async def _ingest(self, entries: list[_Entry], result: ProcessResult) -> tuple[set[int], dict[int, str]]:
        """Read and store what ``entries`` announce, shop by shop in parallel; the SKU ids
        concerned, and the entries that failed (id -> why)."""
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
        return affected, failed

    async def _push_and_finish(
        self,
        entries: list[_Entry],
        affected: set[int],
        failed: dict[int, str],
        result: ProcessResult,
        *,
        patience: float = HELD_PATIENCE,
    ) -> None:
        """Push the stock of ``affected``, then mark the entries processed (the failed ones
        stay pending, with their error). ``patience``: as in :meth:`push_skus`."""
        if affected:
            report = await self.push_skus(affected, patience=patience)
            result.held, result.written_at = sorted(_held_shops(report)), report.stock_written_at
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
            orders: list[Order] = await shop.ctx.client.fetch_orders(order_ids)
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

        def find(s: Session) -> list[ListingInfo]:
            rows = s.execute(
                select(t.Listing).where(
                    t.Listing.shop_id == shop.id,
                    t.Listing.sku_id.is_not(None),
                    t.Listing.platform_item_id.in_(sorted({i for i, _ in items if i})),
                )
            ).scalars()
            return [
                ListingInfo(
                    row.id,
                    row.shop_id,
                    row.sku_id,
                    row.platform_item_id,
                    row.platform_sku_id,
                    row.master_code,
                    row.platform_quantity,
                    row.quantity_as_of,
                    row.needs_read,
                )
                for row in rows
                if {(row.platform_item_id, row.platform_sku_id), (row.platform_item_id, None)} & items
            ]

        listings = await self.runtime.db.run(find)
        runtime = self.runtime
        result.listings_read += await observe(runtime.host, runtime.db, shop.ctx, listings)
        return {x.sku_id for x in listings}

    # --- shops without pushes ------------------------------------------------------------------

    async def poll_orders(
        self, shop: Shop, pushed: Callable[[datetime, datetime], None] | None = None
    ) -> int:
        """For a shop whose platform does not push (JD): one orders-only sync of that shop,
        then the SKUs of the orders it stored or re-read are pushed on every shop, as an
        announced order's would be. Returns how many SKUs were concerned; ``pushed(started,
        finished)`` is told of that push (``finished``: when its writes ended) if it wrote
        every shop it had to."""
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
            started = clock.now()
            report = await self.push_skus(skus)
            if pushed is not None and not _held_shops(report) and report.exit_code == 0:
                pushed(started, report.stock_written_at or clock.now())
        return len(skus)

    async def _take_lease(self) -> bool:
        clock, ttl = self.runtime.clock, self.settings.lease_seconds
        return await self.runtime.db.run(lambda s: leases.acquire(s, LEASE, self.holder, clock.now(), ttl))

    async def _release_lease(self) -> None:
        await self.runtime.db.run(lambda s: leases.release(s, LEASE, self.holder))

    # --- stock of a few SKUs ------------------------------------------------------------------

    async def push_skus(self, sku_ids: set[int], *, patience: float = HELD_PATIENCE) -> SyncReport:
        """Plan and push the stock of ``sku_ids`` only, on every open shop, lowering first,
        with a cycle's leases and safety (:meth:`SyncEngine.push_stock_of`). Partitioned
        SKUs are only lowered here: the next cycle hands units on.

        A shop whose stock a sync cycle is pushing (it holds the shop's lease) is tried
        again every :data:`HELD_RETRY` seconds until the cycle lets go, for up to
        ``patience`` seconds: that cycle may have planned before these orders were stored,
        and its next one may be minutes away. Shops still held are reported skipped
        (:meth:`run_forever` takes them up with its next push instead of waiting here).
        One push at a time plans and writes; other pushes go on between the tries."""
        clock = self.runtime.clock
        report = await self._push_once(list(self.shops.values()), sku_ids)
        give_up = clock.monotonic() + patience
        while (held := _held_shops(report)) and clock.monotonic() < give_up:
            await clock.sleep(HELD_RETRY)
            again = await self._push_once([x for x in self.shops.values() if x.name in held], sku_ids)
            report.results = [r for r in report.results if r.shop not in held] + again.results
            report.finished_at, report.stock_written_at = again.finished_at, again.stock_written_at
        return report

    async def _push_once(self, shops: list[Shop], sku_ids: set[int]) -> SyncReport:
        if self._pushing is None:
            self._pushing = anyio.Lock()
        async with self._pushing:
            if self._engine is None:
                self._engine = SyncEngine(self.runtime, self.settings, holder=self.holder)
            return await self._engine.push_stock_of(shops, sku_ids)
