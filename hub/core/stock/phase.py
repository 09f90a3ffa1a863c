"""The stock phase: the one object the sync engine calls for stock.

:meth:`StockPhase.observe` reads what must be read before the last orders read;
:meth:`StockPhase.run` plans one process at a time (recording every planned write as
it plans) and pushes per shop, lowering before raising. The engine takes the
per-shop leases and reports the results; everything in between is here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import bundles, outbox
from hub.core.clock import Clock
from hub.core.leases import LeaseKeeper, stream_lease
from hub.core.stock import anchors, push
from hub.core.stock.picture import Picture, ambiguous
from hub.core.stock.picture_cache import PictureCache
from hub.core.stock.plan import Push, grant_raises, plan, uncounted
from hub.errors import HubError
from hub.platform import ShopContext
from hub.plugins import PluginHost
from hub.report import STOPPED, StreamResult, SyncReport
from hub.secrets import redact
from hub.settings import HubSettings
from hub.storage import tables as t
from hub.storage.db import Database

T = TypeVar("T")
log = logging.getLogger("hub.sync")


class StockShop(Protocol):
    """A shop as the phase needs it (the engine's ``Shop``)."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def ctx(self) -> ShopContext: ...


S = TypeVar("S", bound=StockShop)


@dataclass
class StockPhase:
    """One process's stock phase; its picture is kept across cycles (``--watch``)."""

    host: PluginHost
    db: Database
    clock: Clock
    pictures: PictureCache

    @classmethod
    def configured(cls, host: PluginHost, db: Database, clock: Clock, settings: HubSettings) -> StockPhase:
        """A phase with a picture cache set up from ``settings``."""
        return cls(
            host,
            db,
            clock,
            PictureCache(
                full_pass=timedelta(minutes=settings.stock_full_pass_minutes),
                safety_default=settings.safety_stock,
                partition_below=settings.partition_below,
                sales_window=timedelta(minutes=settings.sales_window_minutes),
            ),
        )

    def absolute_shops(self, s: Session) -> frozenset[int]:
        """Shops whose platform takes only absolute stock writes."""
        out = set()
        for shop_id, platform in s.execute(select(t.Shop.id, t.Shop.platform)):
            if platform in self.host.registry and not self.host.platform(platform).capabilities.delta_stock:
                out.add(shop_id)
        return frozenset(out)

    def picture(self, s: Session) -> Picture:
        """The (cached) picture as of this transaction."""
        return self.pictures.load(s, self.clock.now())

    async def loading(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn``, a transaction that loads the picture: if it fails, the cache may hold
        rows the rollback undid, so the next load is a full one."""
        try:
            return await self.db.run(fn)
        except BaseException:
            self.pictures.invalidate()
            raise

    # --- observe ---------------------------------------------------------------------------------

    async def observe(
        self, shops: Sequence[S], then: Callable[[S], Awaitable[None]] | None = None
    ) -> dict[int, str]:
        """Read what must be read before the last orders read of a cycle (the engine's catch-up);
        returns shop id -> error. ``then(shop)`` runs as soon as that shop's reads end (a
        shop's reads reflect only that shop's sales, so its catch-up need not wait for the
        others' reads); it must not raise."""
        ids = [shop.id for shop in shops]

        def prepare(s: Session) -> Picture:
            now = self.clock.now()
            for shop_id in ids:
                outbox.recover_in_doubt(s, shop_id=shop_id, kinds=["stock"], now=now)
            return self.picture(s)

        picture = await self.loading(prepare)
        # Partitioned SKUs that sold recently: a quiet one's models are exact without a read
        # (its raises never depend on one, see plan._fresh), and the automatic mode makes
        # the long tail of low-stock SKUs partitioned, which must not cost reads every cycle.
        # A SKU nobody counted is never pushed, so its listings need no read either.
        selling = {sku_id for (_, sku_id), units in picture.sold_recently.items() if units}
        partitioned = {
            sku.id for sku in picture.skus.values() if sku.partitioned and sku.counted and sku.id in selling
        }

        chosen = {x.id: x for x in picture.needing_read()}
        chosen.update((x.id, x) for i in partitioned for x in picture.by_sku.get(i, ()))
        candidates = sorted(chosen.values(), key=lambda x: x.id)

        async def one(shop: S) -> None:
            wanted = [x for x in candidates if x.shop_id == shop.id]
            try:
                await push.observe(self.host, self.db, shop.ctx, wanted)
            except HubError as exc:  # unread listings are simply not raised this cycle
                errors[shop.id] = f"stock read failed: {redact(str(exc))}"
                log.warning("%s: %s", shop.name, errors[shop.id])
            except Exception as exc:  # a bug must not stop the other shops (nor escape as an ExceptionGroup)
                errors[shop.id] = f"stock read failed: internal error: {type(exc).__name__}"
                log.exception("%s: stock read failed", shop.name)
            if then is not None:
                await then(shop)

        errors: dict[int, str] = {}
        async with anyio.create_task_group() as group:
            for shop in shops:
                group.start_soon(one, shop)
        return errors

    # --- plan and push ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _planning(self, keeper: LeaseKeeper) -> AsyncIterator[None]:
        """Plan one process at a time. A plan is one transaction; on SQLite every
        transaction begins ``IMMEDIATE``, taking the database's one write lock, so no other
        planner runs meanwhile and the plan lease would only cost two more transactions and
        a wait polled every few milliseconds (a cycle holding its shops waited up to 0.17 s
        for it between a push's back-to-back plans). Elsewhere :data:`push.PLAN_LEASE`."""
        if self.db.is_sqlite:
            yield
        else:
            async with keeper.holding(push.PLAN_LEASE):
                yield

    async def run(
        self,
        shops: Sequence[StockShop],
        report: SyncReport,
        read_errors: dict[int, str],
        keeper: LeaseKeeper,
        *,
        stopping: Callable[[], bool],
        progress: Callable[[str, str, str, dict[str, Any]], None],
        only: set[int] | None = None,
        held: Sequence[StockShop] = (),
    ) -> set[int]:
        """Plan and push the stock of ``shops`` (whose leases the caller holds, and which
        are released here once a shop has nothing more to write), one stock result per
        shop in ``report`` (``read_errors``: shop id -> why its read failed, from
        :meth:`observe`). ``only``: just these SKU ids, and their partitioned listings only
        lowered (a pushed event, with no stock read behind it). ``progress(event, shop,
        stream, info)`` hears of each shop's start and end.

        ``held`` (with ``only``): shops whose lease another process holds. They are
        planned, never written. Returned are those that need no write of these SKUs and
        have none planned by that process either: nothing to wait for (a sale of a
        partitioned SKU seldom changes another channel's figure). Processes plan one at a
        time, so either the holder's writes are planned already, and seen here, or it
        plans after this and sees what this saw."""
        results = {shop.id: StreamResult(shop.name, "stock") for shop in shops}
        for shop_id, error in read_errors.items():
            results[shop_id].fail(error)
        report.results.extend(results.values())
        if stopping():
            for result in results.values():
                result.skipped, result.exit_code = STOPPED, 1
            return set()
        start = self.clock.monotonic()
        ids = set(results)
        held_ids = {shop.id for shop in held} if only is not None else set()
        settled: set[int] = set()
        absolute = await self.db.run(self.absolute_shops)

        def prepare(s: Session) -> tuple[Picture, list[Push]]:
            push.consistent_snapshot(s)
            now = self.clock.now()
            push.supersede_open(s, ids, now)
            # Writes other processes planned and have not finished: read before the
            # picture, so a write they finish meanwhile is seen in one or the other.
            claimed = push.claims(s)
            picture = self.picture(s)
            pushes = plan(picture, shop_ids=ids | held_ids, absolute_shops=absolute)
            self.pictures.planned(picture)
            if only is not None:
                only_ids = bundles.widen(picture.skus, only)  # a bundle's sale moves its components
                pushes = [
                    p for p in pushes if p.listing.sku_id in only_ids and (p.lowers or not p.partitioned)
                ]
                waited_for = {p.listing.shop_id for p in pushes} | {
                    x.shop_id for i in only_ids for x in picture.by_sku.get(i, ()) if x.id in claimed
                }
                settled.update(held_ids - waited_for)
                pushes = [p for p in pushes if p.listing.shop_id in ids]
            lowers = [p for p in pushes if p.lowers]
            raises = grant_raises([p for p in pushes if not p.lowers], picture, claimed)
            # The plan is safe for listings whose model is ambiguous (an order close to its
            # anchor); reading them next cycle makes the model exact again.
            anchors.mark_unread(s, ambiguous(s, shop_ids=ids))
            # Recorded in the plan's transaction: they are this process's claims.
            push.record_planned(s, lowers + raises, now)
            return picture, lowers + raises

        report.stock_planned_at = self.clock.now()  # before the plan's snapshot: it sees what came before
        try:
            async with self._planning(keeper):
                picture, pushes = await self.loading(prepare)
        except HubError as exc:
            for result in results.values():
                result.fail(f"stock not planned: {redact(str(exc))}", exc.exit_code)
            return set()
        except Exception as exc:  # a bug (or a database conflict) must not end the run
            log.exception("stock planning failed")
            for result in results.values():
                result.fail(f"stock not planned: internal error: {type(exc).__name__}: {redact(str(exc))}")
            return set()
        report.uncounted = uncounted(picture, ids)
        by_shop = {shop.id: shop for shop in shops}
        outcomes = {shop_id: push.StockOutcome() for shop_id in ids}

        async def let_go(shop_ids: Iterable[int]) -> None:
            """Release the leases of shops this run has nothing more to write to: a push
            waiting for one goes on while the run writes to the others."""
            names = sorted(stream_lease(by_shop[i].name, "stock") for i in shop_ids)
            if names:
                with contextlib.suppress(HubError):  # the caller releases what is left at the end
                    await keeper.release_many(names)

        async def phase(todo: Sequence[Push], last: set[int]) -> None:
            """Send ``todo``, shop by shop; ``last``: shops with nothing to write after it."""
            grouped: dict[int, list[Push]] = {}
            for item in todo:
                grouped.setdefault(item.listing.shop_id, []).append(item)

            async def one(shop_id: int, items: list[Push]) -> None:
                shop = by_shop[shop_id]
                progress("start", shop.name, "stock", {"total": len(items)})
                try:
                    await push.push_shop(
                        self.host, self.db, shop.ctx, shop_id, items, outcomes[shop_id], stopping=stopping
                    )
                except HubError as exc:
                    results[shop_id].fail(redact(str(exc)), exc.exit_code, retryable=exc.retryable)
                except Exception as exc:  # a bug must not stop the other shops
                    log.exception("%s: stock push failed", shop.name)
                    results[shop_id].fail(f"internal error: {type(exc).__name__}: {redact(str(exc))}")
                if shop_id in last:
                    await let_go([shop_id])

            async with anyio.create_task_group() as group:
                for shop_id, items in grouped.items():
                    group.start_soon(one, shop_id, items)

        lowers, raises = [p for p in pushes if p.lowers], [p for p in pushes if not p.lowers]
        lowering, raising = {p.listing.shop_id for p in lowers}, {p.listing.shop_id for p in raises}
        await let_go(ids - lowering - raising)
        await phase(lowers, last=lowering - raising)  # lower first: the next cycle can hand those on
        await phase(raises, last=raising)
        report.stock_written_at = self.clock.now()
        for shop_id, result in results.items():
            outcome = outcomes[shop_id]
            result.pushed, result.failed = outcome.pushed, outcome.failed
            if outcome.failed:
                result.fail(
                    f"{outcome.failed} stock writes failed: " + "; ".join(outcome.errors),
                    max(1, outcome.exit_code),
                )
            if outcome.unsent:
                result.fail(f"{outcome.unsent} stock writes not sent: the run was asked to stop")
            result.seconds = round(self.clock.monotonic() - start, 3)
            progress("done", result.shop, "stock", {"result": result})
        return settled
