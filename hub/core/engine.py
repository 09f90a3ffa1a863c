"""The sync engine: one ``hub sync`` cycle over every shop, concurrently.

Phases of a cycle (shops run concurrently within a phase, each within its rate limit):

1. **listings** — per shop, when due (or asked for): read every listing, link by 商家编码.
2. **orders** — per shop: windows from the cursor (less the lookback) to now; each
   window's orders and the cursor commit in one transaction; then due shipments. Then
   **aftersales**, the same way. Neither holds a stock lease, so a pushed sale's stock
   write never waits for them.
3. **observe** — (stock, under the shops' stock leases, taken once the announced orders
   pending in the push inbox have gone first, for at most a second) read platform quantities of
   partitioned SKUs that sold recently and of listings whose last write is in doubt;
   each shop, once its reads end, **catches up**: reads its orders placed since the
   orders phase (only those the hub does not hold), so every sale a read reflects is
   ingested before the plan (see :meth:`SyncEngine._catch_up` and :mod:`hub.core.stock`).
4. **stock** — plan from the fresh picture (each SKU shared or partitioned, see
   :mod:`hub.core.autopartition`), lower, then raise, letting go of each shop's stock
   lease once it has nothing more to write there; then stock alerts
   (:mod:`hub.core.alerts`): new ones are reported and broadcast.
5. **prices**, **promotions** — per shop: due outbox entries (and the promotion schedule).

Work is guarded by leases (``<shop>:<stream>``), so overlapping runs never do the same
work twice; a stream whose lease another live process holds is reported as skipped,
with exit code 1. Stock is *planned globally and written per shop*: each process holds
the ``<shop>:stock`` leases of its shops, and plans them one process at a time (under
the short global ``stock:plan`` lease; on SQLite the plan's transaction holds the one
write lock), recording every planned write as it plans, so a process planning next sees
what this one is about to show (see :func:`hub.core.stock.push.claims`).

Stopping: :meth:`SyncEngine.request_stop` (a first Ctrl-C or SIGTERM) starts no new
work and lets what is in flight finish; :meth:`SyncEngine.abort` (a second one) cancels
at once. Either way the leases are released and the run is recorded; a write cut off in
flight stays ``sending`` and is re-read, never resent, by the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from hub.core import aftersales_phase, health, leases, outbox, promotions
from hub.core import alerts as alerts_mod
from hub.core.catalog import store_listings
from hub.core.delivery import deliver_due
from hub.core.leases import LEASE_POLL, LeaseKeeper, stream_lease
from hub.core.orders import held_since, store_orders
from hub.core.shops import ShopRuntime, get_shop
from hub.core.stock import anchors
from hub.core.stock.phase import StockPhase
from hub.core.stock.picture_cache import CHANGE_MARGIN
from hub.core.windows import get_cursor, plan_windows, set_cursor
from hub.errors import HubError
from hub.platform import ShopContext
from hub.push import inbox
from hub.report import STOPPED, STREAMS, StreamResult, SyncReport
from hub.secrets import redact
from hub.settings import HubSettings
from hub.storage import tables as t

log = logging.getLogger("hub.sync")
ORDER_CHUNK = 2000  # orders stored per transaction within a window (bounds memory)
#: Seconds a cycle waits for a shop's orders or stock lease: ``hub serve`` holds one for a
#: moment (a push's write round, a poll of a shop that does not push). Another process's
#: cycle may hold one longer: that shop's stream is then skipped.
LEASE_PATIENCE = 1.0
#: Seconds at most a cycle lets announced orders go first before it takes its stock leases
#: (see SyncEngine._yield_to_pushes), and how recent an inbox entry must be to count.
PUSH_YIELD = 1.0
PUSH_FRESH = timedelta(seconds=5)

Progress = Callable[[str, str, str, dict[str, Any]], None]
"""progress(event, shop, stream, info): "start", "advance" (info: n) or "done" (info: result)."""


def _quiet(event: str, shop: str, stream: str, info: dict[str, Any]) -> None:
    return None


@dataclass
class Shop:
    id: int
    name: str
    ctx: ShopContext


@dataclass
class SyncEngine:
    runtime: ShopRuntime
    settings: HubSettings
    holder: str = field(default_factory=leases.new_holder)
    progress: Progress = _quiet
    _signpost_after: datetime = field(default=datetime.min.replace(tzinfo=UTC), init=False)
    stopping: bool = field(default=False, init=False)
    aborted: bool = field(default=False, init=False)
    _scope: anyio.CancelScope | None = field(default=None, init=False)
    stock: StockPhase = field(init=False)

    def __post_init__(self) -> None:
        # Kept across the cycles of this engine (``--watch``): each load reads what changed.
        self.stock = StockPhase.configured(self.host, self.db, self.clock, self.settings)

    @property
    def db(self) -> Any:
        return self.runtime.db

    @property
    def host(self) -> Any:
        return self.runtime.host

    @property
    def clock(self) -> Any:
        return self.runtime.clock

    # --- stopping -------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Start no new work (no new phase, shop, order window or stock batch); what is in
        flight finishes and is recorded. The current cycle then ends normally."""
        self.stopping = True

    def abort(self) -> None:
        """Stop now: cancel the calls in flight. Leases are released and the run recorded;
        a stock write cut off stays ``sending`` (re-read by the next run, never resent),
        an order window cut off keeps its old cursor (read again)."""
        self.stopping = self.aborted = True
        if self._scope is not None:
            self._scope.cancel()

    # --- the cycle ----------------------------------------------------------------------------

    async def run_cycle(
        self, shop_names: Sequence[str] | None = None, streams: Sequence[str] | None = None
    ) -> SyncReport:
        """One cycle. ``streams`` None means all, with listings only when due."""
        explicit = streams is not None
        wanted = set(streams or STREAMS)
        report = SyncReport(started_at=self.clock.now())
        rows = await self.db.run(lambda s: _load_shops(s, shop_names))
        run_id = await self.db.run(lambda s: _start_run(s, self.holder, report.started_at))
        shops: list[Shop] = []
        for row in rows:
            try:
                shops.append(Shop(row.id, row.name, self.runtime.open(row)))
            except HubError as exc:
                report.results.append(
                    StreamResult(row.name, "setup", error=str(exc), exit_code=exc.exit_code)
                )
        offsets: dict[int, int] = {}
        keeper = self._keeper()
        try:
            async with AsyncExitStack() as stack, anyio.create_task_group() as group:
                self._scope = group.cancel_scope
                for shop in shops:
                    stack.push_async_callback(shop.ctx.client.aclose)
                group.start_soon(keeper.renew_forever)
                try:
                    await self._phases(shops, wanted, explicit, report, keeper)
                finally:
                    report.calls = sum(shop.ctx.client.stats.calls for shop in shops)
                    report.retries = sum(shop.ctx.client.stats.retries for shop in shops)
                    report.circuits = {
                        shop.name: shop.ctx.client.breaker.snapshot()
                        for shop in shops
                        if shop.ctx.client.breaker.state != "closed" or shop.ctx.client.breaker.failures
                    }
                    offsets = {
                        shop.id: round(shop.ctx.client.clock_offset.total_seconds() * 1000)
                        for shop in shops
                        if shop.ctx.client.clock_offset is not None
                    }
                    group.cancel_scope.cancel()
        finally:
            self._scope = None
            with anyio.CancelScope(shield=True):
                await keeper.release_all()
                if self.stopping:
                    report.interrupted = True
                    if self.aborted:
                        stopped = "stopped at once: calls in flight were cut off"
                        report.results.append(StreamResult("*", "cycle", error=stopped, exit_code=1))
                report.finished_at = self.clock.now()

                def finish(s: Session) -> None:
                    _record_runs(s, report, {x.name: x.id for x in shops}, run_id, self.holder)
                    for shop_id, offset in offsets.items():
                        s.execute(update(t.Shop).where(t.Shop.id == shop_id).values(clock_offset_ms=offset))
                    health.record_changes(s, self.runtime.breakers, report.finished_at)

                await self.db.run(finish)
        await self.host.notify_sync_finished(report)
        return report

    async def _phases(
        self, shops: Sequence[Shop], wanted: set[str], explicit: bool, report: SyncReport, keeper: LeaseKeeper
    ) -> None:
        if "listings" in wanted:
            await self._each(
                shops, "listings", report, keeper, lambda s, r: self._listings(s, r, force=explicit)
            )
        # Orders and after-sales are read before the stock leases are taken, so a pushed
        # sale's stock write never waits for them; the stock reads are followed by a short
        # read of the orders placed since (see _catch_up).
        orders_began = t.change_clock() - CHANGE_MARGIN  # the clock of listings' change marks
        if "orders" in wanted:
            # With stock to plan, the catch-up read moves the cursor the plan relies on.
            cursors = ("orders",) if "stock" in wanted else ("orders", "new_orders")
            await self._each(
                shops,
                "orders",
                report,
                keeper,
                lambda s, r: self._orders(s, r, cursors),
                patience=LEASE_PATIENCE,
            )
        if "aftersales" in wanted:
            await self._each(
                shops, "aftersales", report, keeper, lambda s, r: self._aftersales(s, r, force=explicit)
            )
        stock_shops: list[Shop] = []
        if "stock" in wanted:
            await self._yield_to_pushes()
            stock_shops = await self._take(shops, "stock", report, keeper, patience=LEASE_PATIENCE)
        if stock_shops:
            try:
                catch_up = (
                    (lambda shop: self._catch_up(shop, report, orders_began)) if "orders" in wanted else None
                )
                read_errors = await self.stock.observe(stock_shops, then=catch_up)
                await self._stock(stock_shops, report, read_errors, keeper)
            finally:
                await keeper.release_many(sorted(stream_lease(shop.name, "stock") for shop in stock_shops))
            await self._alerts(report, keeper)  # reads only: pushes may write meanwhile
        if "prices" in wanted:
            due = await self._due(shops, ["price"])
            await self._each(
                due,
                "prices",
                report,
                keeper,
                lambda s, r: self._deliver(s, ["price"], r),
            )
        if "promotions" in wanted:
            await self._promotions(shops, report, keeper)

    async def _yield_to_pushes(self) -> None:
        """Wait while announced orders are pending in the push inbox (received within
        :data:`PUSH_FRESH`, not failed), for up to :data:`PUSH_YIELD` seconds. A cycle
        holds its shops' stock leases from its stock reads to its writes (about half a
        second in a sale), and a push needing one of those shops waits meanwhile: in a
        burst of sales, taking them between two pushes held up the sales announced just
        before. A cycle is the safety net, so it goes after the pushes in flight, never
        more than this late."""
        give_up = self.clock.monotonic() + PUSH_YIELD
        while not self.stopping and self.clock.monotonic() < give_up:
            since = self.clock.now() - PUSH_FRESH
            if not await self.db.run(lambda s, since=since: inbox.has_fresh_pending(s, since)):
                return
            await self.clock.sleep(LEASE_POLL)

    async def _take(
        self,
        shops: Sequence[Shop],
        stream: str,
        report: SyncReport,
        keeper: LeaseKeeper,
        *,
        patience: float = 0.0,
    ) -> list[Shop]:
        """Take the ``<shop>:<stream>`` leases, waiting up to ``patience`` seconds for
        those another process holds; shops whose lease it still holds get a skipped result
        (exit code 1). Returns the shops taken."""
        if self.stopping:
            report.results.extend(StreamResult(s.name, stream, skipped=STOPPED, exit_code=1) for s in shops)
            return []
        names = {shop.name: stream_lease(shop.name, stream) for shop in shops}
        taken = await keeper.acquire_within(list(names.values()), patience, self.clock.sleep)
        held = [s.name for s in shops if names[s.name] not in taken]
        reasons = await self._held_by([names[n] for n in held]) if held else {}
        for name in held:
            report.results.append(StreamResult(name, stream, skipped=reasons[names[name]], exit_code=1))
        return [shop for shop in shops if names[shop.name] in taken]

    async def _due(self, shops: Sequence[Shop], kinds: Sequence[str]) -> list[Shop]:
        """The shops with outbox entries of ``kinds`` due now (most cycles: none), or left
        ``sending`` (by a process that may have died: see :meth:`_deliver`)."""
        now = self.clock.now()
        ids = await self.db.run(
            lambda s: set(
                s.scalars(
                    select(t.OutboxEntry.shop_id)
                    .where(
                        t.OutboxEntry.kind.in_(list(kinds)),
                        or_(
                            t.OutboxEntry.state == "sending",
                            t.OutboxEntry.state.in_(outbox.OPEN_STATES)
                            & (t.OutboxEntry.next_attempt_at <= now),
                        ),
                    )
                    .distinct()
                )
            )
        )
        return [shop for shop in shops if shop.id in ids]

    async def _deliver(self, shop: Shop, kinds: Sequence[str], result: StreamResult) -> None:
        """Send the shop's due entries of ``kinds`` (not stock), after making those a dead
        process left ``sending`` due again (these writes are absolute or named by the hub:
        sending one again is safe). Only when no other live process holds one of the
        shop's leases that send such entries, and the entry has been sending longer than a
        lease lasts (`hub orders ship` sends outside any lease)."""
        now = self.clock.now()
        names = {stream_lease(shop.name, stream) for stream in ("orders", "prices", "promotions")}

        def recover(s: Session) -> int:
            busy = [x for x in leases.list_leases(s, now) if x.name in names and x.holder != self.holder]
            if any(not x.dead for x in busy):
                return 0
            stale = now - timedelta(seconds=self.settings.lease_seconds)
            return outbox.recover_in_doubt(s, shop_id=shop.id, kinds=kinds, now=now, claimed_before=stale)

        if await self.db.run(recover):
            log.info("%s: resending writes an interrupted run left in flight", shop.name)
        await deliver_due(self.host, self.db, shop.ctx, shop.id, kinds, result)

    async def _each(
        self,
        shops: Sequence[Shop],
        stream: str,
        report: SyncReport,
        keeper: LeaseKeeper,
        work: Callable[[Shop, StreamResult], Awaitable[None]],
        *,
        patience: float = 0.0,
    ) -> None:
        mine = await self._take(shops, stream, report, keeper, patience=patience)

        async def one(shop: Shop) -> None:
            result = StreamResult(shop.name, stream)
            report.results.append(result)
            try:
                if self.stopping:
                    result.skipped, result.exit_code = STOPPED, 1
                    return
                await self._guarded(shop.name, stream, result, lambda: work(shop, result))
            finally:
                await keeper.release(stream_lease(shop.name, stream))  # at once: another process may go on

        async with anyio.create_task_group() as group:
            for shop in mine:
                group.start_soon(one, shop)

    async def _guarded(
        self, shop: str, stream: str, result: StreamResult, work: Callable[[], Awaitable[None]]
    ) -> None:
        start = self.clock.monotonic()
        self.progress("start", shop, stream, {})
        try:
            await work()
        except HubError as exc:
            result.fail(redact(str(exc)), exc.exit_code, retryable=exc.retryable)
            log.warning("%s %s: %s", shop, stream, redact(str(exc)))
        except Exception as exc:  # a bug must not stop the other shops
            result.fail(f"internal error: {type(exc).__name__}: {redact(str(exc))}")
            log.exception("%s %s failed", shop, stream)
        result.seconds = round(result.seconds + self.clock.monotonic() - start, 3)  # a catch-up adds
        self.progress("done", shop, stream, {"result": result})

    async def _held_by(self, names: Sequence[str]) -> dict[str, str]:
        """Why each of ``names`` could not be taken: who holds it, until when."""
        now = self.clock.now()
        rows = await self.db.run(lambda s: {x.name: x for x in leases.list_leases(s, now)})
        out = {}
        for name in names:
            lease = rows.get(name)
            who = f" ({lease.holder}, heartbeat until {lease.expires_at:%H:%M:%S} UTC)" if lease else ""
            out[name] = f"another sync holds the lease {name!r}{who}"
        return out

    # --- listings ------------------------------------------------------------------------------

    async def _listings(self, shop: Shop, result: StreamResult, *, force: bool) -> None:
        now = self.clock.now()
        last = await self.db.run(lambda s: get_cursor(s, shop.id, "listings"))
        interval = timedelta(minutes=self.settings.listings_interval_minutes)
        if not force and last is not None and now - last < interval:
            result.skipped = f"read {int((now - last).total_seconds() // 60)} min ago"
            return
        listings = []
        async for listing in shop.ctx.client.iter_listings():
            listings.append(listing)
            if len(listings) % 500 == 0:
                self.progress("advance", shop.name, "listings", {"n": 500})
        result.fetched = len(listings)
        done = self.clock.now()
        read_at = shop.ctx.client.platform_time(done)  # compared with the platform's order times

        def write(s: Session) -> int:
            stored = store_listings(s, shop.id, listings, read_at)
            set_cursor(s, shop.id, "listings", done, done)
            return stored

        result.stored = await self.db.run(write)

    # --- orders --------------------------------------------------------------------------------

    async def _orders(self, shop: Shop, result: StreamResult, cursors: tuple[str, ...]) -> None:
        """Read the shop's orders from its ``orders`` cursor to now and store them, window
        by window, each window committed with ``cursors`` moved to its end; then send the
        shop's due shipments. ``("new_orders",)`` alone is the catch-up read (see
        :meth:`_catch_up`): only orders the hub does not hold, and no shipments."""
        new_only = "orders" not in cursors
        rule = shop.ctx.info.order_window
        if new_only:  # what the orders phase read is not read again: only its margin (below)
            rule = replace(rule, lookback=timedelta(0))
        elif self.settings.order_lookback_seconds is not None:
            rule = replace(rule, lookback=timedelta(seconds=self.settings.order_lookback_seconds))
        # The platform's clock is learnt from Date headers: whole seconds, read late, from a
        # web server that may send a cached one. So the estimate may be early, and a window
        # ending at it could miss a sale that a stock read of this cycle already reflects
        # (partitioned stock would count those units free). The window reaches ``margin``
        # further; the next window starts that much earlier and a second more (platforms
        # stamp orders in whole seconds, so an order placed just after a read may carry a
        # time just before it), so an order placed after the read in the gap is read then.
        margin = timedelta(seconds=self.settings.clock_margin_seconds)
        rule = replace(rule, lookback=max(rule.lookback, margin + timedelta(seconds=1)))
        cursor = await self.db.run(lambda s: get_cursor(s, shop.id, "orders"))
        signpost = shop.ctx.client.platform_time(max(self.clock.now(), self._signpost_after)) + margin
        windows = plan_windows(cursor, signpost, rule)
        known: set[str] = set()
        if new_only and windows:
            known = await self.db.run(lambda s: held_since(s, shop.id, windows[0].start))
        for number, window in enumerate(windows):
            if number and self.stopping:  # a window's orders and cursor commit together: stop between two
                result.fail("stopped before every order window was read (the next run goes on)")
                return
            batch = []
            client = shop.ctx.client
            orders = client.iter_new_orders(window, known) if new_only else client.iter_orders(window)
            async for order in orders:
                batch.append(order)
                if len(batch) >= ORDER_CHUNK:
                    await self._store_orders(shop, batch, result)
                    batch = []
            await self._store_orders(shop, batch, result, cursors, window.end)
        if not new_only:
            await self._deliver(shop, ["shipment"], result)

    async def _catch_up(self, shop: Shop, report: SyncReport, orders_began: datetime) -> None:
        """Read the shop's orders placed since the orders phase, after its stock reads and
        under its stock lease, so the plan counts every sale a read reflects.

        Only orders the hub does not hold are fetched (one call each on some platforms),
        so the lease is held briefly. Changes to held orders are left to the next orders
        phase, which reads from the ``orders`` cursor this read does not move: missing one
        until then is safe (it can only release or consume a reservation). This read moves
        the ``new_orders`` cursor, which says every order placed before it is stored; a
        partitioned SKU is raised only past it (see :func:`hub.core.stock.plan._fresh`).
        A shop none of whose listings moved since ``orders_began`` (change-mark clock)
        needs no read: every anchor it has is older than its orders phase, whose cursor
        is moved instead. A shop whose orders phase failed is left out."""
        result = next(
            (
                x
                for x in report.results
                if x.shop == shop.name and x.stream == "orders" and x.exit_code == 0 and not x.skipped
            ),
            None,
        )
        if result is None or self.stopping:
            return
        # Strictly after this shop's reads: an order placed at the very instant of a read is
        # ingested too (clocks may not tick).
        self._signpost_after = max(self._signpost_after, self.clock.now() + timedelta(microseconds=1))
        now = self.clock.now()

        def moved(s: Session) -> bool:
            """Whether the shop needs the read; if not, its orders phase counts as the catch-up."""
            if anchors.moved_since(s, [shop.id], orders_began):
                return True
            if (position := get_cursor(s, shop.id, "orders")) is not None:
                set_cursor(s, shop.id, "new_orders", position, now)
            return False

        async def work() -> None:
            if await self.db.run(moved):
                await self._orders(shop, result, ("new_orders",))

        await self._guarded(shop.name, "orders", result, work)

    async def _store_orders(
        self,
        shop: Shop,
        orders: list[Any],
        result: StreamResult,
        cursors: Sequence[str] = (),
        position: datetime | None = None,
    ) -> None:
        """Store ``orders``, moving ``cursors`` to ``position`` with them (a window is complete)."""
        now = self.clock.now()

        def write(s: Session) -> list[Any]:
            changes = store_orders(s, shop.id, orders, now)
            if position is not None:  # the window is complete: its cursors commit with it
                for stream in cursors:
                    set_cursor(s, shop.id, stream, position, now)
            result.unannounced += inbox.unannounced(s, shop.id, [c.order.platform_order_id for c in changes])
            return changes

        changes = await self.db.run(write)
        result.fetched += len(orders)
        result.stored += len(changes)
        if orders:
            self.progress("advance", shop.name, "orders", {"n": len(orders)})
        if changes and self.host.has_listeners("hub_order_stored"):
            for change in changes:
                await self.host.notify_order_stored(shop.name, change.order, change.previous)

    async def _aftersales(self, shop: Shop, result: StreamResult, *, force: bool) -> None:
        await aftersales_phase.read_after_sales(self, shop, result, force=force)

    # --- stock ----------------------------------------------------------------------------------

    def _keeper(self) -> LeaseKeeper:
        return LeaseKeeper(self.db, self.holder, self.clock, self.settings.lease_seconds)

    async def _stock(
        self,
        shops: Sequence[Shop],
        report: SyncReport,
        read_errors: dict[int, str],
        keeper: LeaseKeeper,
        only: set[int] | None = None,
        held: Sequence[Shop] = (),
    ) -> set[int]:
        """Plan and push the stock of ``shops`` (see :meth:`StockPhase.run`)."""
        return await self.stock.run(
            shops,
            report,
            read_errors,
            keeper,
            stopping=lambda: self.stopping,
            progress=self.progress,
            only=only,
            held=held,
        )

    async def push_stock_of(self, shops: Sequence[Shop], sku_ids: set[int]) -> SyncReport:
        """Plan and push the stock of ``sku_ids`` only, on ``shops``: the least work after a
        pushed event. The same leases and safety as a cycle's stock phase (per-shop stock
        leases, one planner at a time, writes recorded as claims). A shop whose
        lease another process holds is reported as skipped and left to it, unless it needs
        no write of these SKUs and that process has none planned (see
        :meth:`StockPhase.run`): then it has its result like the others."""
        report = SyncReport(started_at=self.clock.now())
        keeper = self._keeper()
        try:
            taken = await self._take(shops, "stock", report, keeper)
            held = [shop for shop in shops if shop not in taken]
            if shops:
                settled = await self._stock(taken, report, {}, keeper, only=sku_ids, held=held)
                names = {shop.name for shop in held if shop.id in settled}
                report.results = [
                    StreamResult(r.shop, "stock") if r.stream == "stock" and r.shop in names else r
                    for r in report.results
                ]
        finally:
            await keeper.release_all()
        report.finished_at = now = self.clock.now()
        if health.unrecorded(self.runtime.breakers):
            await self.db.run(lambda s: health.record_changes(s, self.runtime.breakers, now))
        return report

    async def _alerts(self, report: SyncReport, keeper: LeaseKeeper) -> None:
        """Stock alerts raised by this cycle: reported, and broadcast to plugins. Under an
        ``alerts`` lease, so overlapping runs (one per shop, say) never report the same alert
        twice: a run that finds it held leaves the alerts to the holder."""
        now = self.clock.now()
        if not await keeper.acquire("alerts"):
            return
        try:
            report.alerts = await self.stock.loading(
                lambda s: alerts_mod.refresh(s, now, self.settings, load=self.stock.pictures.load)
            )
        except Exception:  # alerts are advice: a bug here must not fail the sync
            log.exception("stock alerts could not be computed")
            return
        finally:
            await keeper.release("alerts")
        if report.alerts:
            try:
                await self.host.notify_stock_alerts(report.alerts)
            except Exception:
                log.exception("a plugin failed to handle %d stock alert(s)", len(report.alerts))

    # --- promotions ----------------------------------------------------------------------------

    async def _promotions(self, shops: Sequence[Shop], report: SyncReport, keeper: LeaseKeeper) -> None:
        now = self.clock.now()
        if await self.db.run(lambda s: promotions.anything_due(s, now)):
            schedule = StreamResult("*", "promotions")
            report.results.append(schedule)
            if self.stopping:
                schedule.skipped, schedule.exit_code = STOPPED, 1
            elif await keeper.acquire("promotions"):
                contexts = {s.name: s.ctx for s in shops}
                try:
                    step = lambda: promotions.schedule_step(self, contexts, schedule)  # noqa: E731
                    await self._guarded("*", "promotions", schedule, step)
                finally:
                    await keeper.release("promotions")
            else:
                schedule.skipped, schedule.exit_code = (await self._held_by(["promotions"]))["promotions"], 1
        kinds = ["promotion_start", "promotion_end", "price"]
        await self._each(
            await self._due(shops, kinds),
            "promotions",
            report,
            keeper,
            lambda s, r: self._deliver(s, kinds, r),
        )


def _load_shops(session: Session, names: Sequence[str] | None) -> list[t.Shop]:
    if names:
        return [get_shop(session, name) for name in names]
    return list(session.scalars(select(t.Shop).order_by(t.Shop.name)))


def _start_run(session: Session, holder: str, now: datetime) -> int:
    """Record the cycle as ``running`` (a crash leaves it so, until marked crashed)."""
    leases.mark_crashed_runs(session, now)
    run = t.SyncRun(shop_id=None, stream="cycle", started_at=now, status="running", holder=holder)
    session.add(run)
    session.flush()
    return run.id


def _record_runs(session: Session, report: SyncReport, ids: dict[str, int], run_id: int, holder: str) -> None:
    cycle = session.get(t.SyncRun, run_id)
    if cycle is not None:
        cycle.finished_at = report.finished_at
        cycle.status = "interrupted" if report.interrupted else ("ok" if report.exit_code == 0 else "failed")
        cycle.fetched = sum(r.fetched for r in report.results)
        cycle.stored = sum(r.stored for r in report.results)
        cycle.pushed = sum(r.pushed for r in report.results)
        cycle.failed = sum(r.failed for r in report.results)
    for r in report.results:
        if r.stream == "cycle":  # about the whole cycle: on its own row
            if cycle is not None:
                cycle.error = r.error
            continue
        session.add(
            t.SyncRun(
                shop_id=ids.get(r.shop),
                stream=r.stream,
                started_at=report.started_at,
                finished_at=report.finished_at,
                fetched=r.fetched,
                stored=r.stored,
                pushed=r.pushed,
                failed=r.failed,
                error=r.error or r.skipped,
                status="skipped" if r.skipped else ("ok" if r.exit_code == 0 else "failed"),
                holder=holder,
            )
        )


async def push_now(
    runtime: ShopRuntime,
    settings: HubSettings,
    shops: Sequence[str],
    stream: str,
    progress: Progress | None = None,
) -> SyncReport:
    """Push what was just changed, now: one cycle of ``stream`` ("stock" or "prices") for
    ``shops`` only, with a cycle's leases and outbox. What ``--push`` does after an import
    or a price change, and the console's "apply and push now"."""
    engine = SyncEngine(runtime, settings)
    if progress is not None:
        engine.progress = progress
    return await engine.run_cycle(list(shops), [stream])
