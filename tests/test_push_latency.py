"""What keeps a pushed sale's way to the other channels short: the next orders are read
while the last ones' stock is pushed, pulled channels (Taobao TMC) are consumed at once
when another shop has news, and the processor keeps its stock picture between pushes."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from hub.core import catalog, leases, outbox
from hub.push import inbox
from hub.push.app import PushService
from hub.push.events import EventKind, PushEvent
from hub.push.process import ProcessResult, PushProcessor
from hub.simulator.lab import Lab
from hub.storage import tables as t

from .test_platforms import SHOPS
from .test_push import douyin_push, http, lab, order_message, service  # noqa: F401 (fixtures)

pytestmark = pytest.mark.anyio


def processed(world: Lab) -> dict[str, bool]:
    rows = world.app.db.run_sync(
        lambda s: s.execute(select(t.PushInboxEntry.order_id, t.PushInboxEntry.processed_at)).all()
    )
    return {order_id: at is not None for order_id, at in rows}


def stored_at(world: Lab, order_id: str) -> datetime | None:
    return world.app.db.run_sync(
        lambda s: s.scalar(select(t.Order.stored_at).where(t.Order.platform_order_id == order_id))
    )


async def announce(world: Lab, client: httpx.AsyncClient, msg_id: str, order_id: str) -> None:
    body, headers = douyin_push(world, [order_message(msg_id, order_id)])
    assert (await client.post("/push/dy", content=body, headers=headers)).json()["code"] == 0


@asynccontextmanager
async def processing(
    service: PushService,  # noqa: F811
    pushed: Callable[[ProcessResult, datetime, datetime], None],
) -> AsyncIterator[None]:
    """The service's processor at work (as in `hub serve`) while the body runs (30 s at most)."""
    async with anyio.create_task_group() as group:
        group.start_soon(service.processor.run_forever, service.news, pushed)
        with anyio.fail_after(30):
            yield
        group.cancel_scope.cancel()


@dataclass
class Held:
    """A processor instrumented for the overlap tests: its first push waits for ``gate``;
    ``pushes`` are the SKU sets pushed, ``ingested[n]`` is set once the n-th batch is
    stored, and ``batches`` hears of every push done (``two`` once there were two)."""

    gate: anyio.Event
    pushes: list[set[int]]
    ingested: list[anyio.Event]
    batches: list[tuple[ProcessResult, datetime, datetime]]
    two: anyio.Event

    def pushed(self, *batch) -> None:  # type: ignore[no-untyped-def]
        self.batches.append(batch)
        if len(self.batches) == 2:
            self.two.set()


def hold_first_push(processor: PushProcessor, ingests: int) -> Held:
    held = Held(anyio.Event(), [], [anyio.Event() for _ in range(ingests)], [], anyio.Event())
    real_push, real_ingest = processor.push_skus, processor._ingest

    async def held_push(sku_ids: set[int], **options):  # type: ignore[no-untyped-def]
        held.pushes.append(set(sku_ids))
        if len(held.pushes) == 1:
            await held.gate.wait()  # the first push is still on its way
        return await real_push(sku_ids, **options)

    async def ingest(*args):  # type: ignore[no-untyped-def]
        out = await real_ingest(*args)
        next(e for e in held.ingested if not e.is_set()).set()
        return out

    processor.push_skus = held_push  # type: ignore[method-assign]
    processor._ingest = ingest  # type: ignore[method-assign]
    return held


async def test_the_next_orders_are_read_while_the_last_ones_are_pushed(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    await lab.sync()
    lab.clock.advance(3)
    processor = service.processor
    held = hold_first_push(processor, 2)
    first = lab.sandboxes["dy"].state.order_code("CUP-500", 2)
    second = lab.sandboxes["dy"].state.order_code("CUP-750", 1)
    async with anyio.create_task_group() as group:
        group.start_soon(processor.run_forever, service.news, held.pushed)
        with anyio.fail_after(30):
            await announce(lab, http, "m1", first.order_id)
            await held.ingested[0].wait()
            await announce(lab, http, "m2", second.order_id)
            await held.ingested[1].wait()  # read and stored while the first push is on its way
            assert stored_at(lab, second.order_id) is not None
            assert processed(lab) == {first.order_id: False, second.order_id: False}
            assert len(held.pushes) == 1, "one push at a time"
            held.gate.set()
            await held.two.wait()
        group.cancel_scope.cancel()

    assert processed(lab) == {first.order_id: True, second.order_id: True}
    (one, _, finished1), (two, started2, _) = held.batches
    assert (one.events, two.events) == (1, 1)
    assert started2 >= finished1  # pushes never overlap
    assert started2 >= stored_at(lab, second.order_id)  # a batch's push begins after its orders are stored
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 18)
    assert lab.shown("CUP-750") == dict.fromkeys(SHOPS, 19)


async def test_a_push_is_done_when_its_writes_end_not_after_marking_its_entries(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The channels show the sale once the writes are answered: `hub demo --push` counts it
    # from then, whatever the inbox's bookkeeping after them waits for (the database).
    await lab.sync()
    lab.clock.advance(3)
    mark_done = inbox.mark_done

    def slow_mark_done(*args: Any) -> None:
        lab.clock.advance(1)
        mark_done(*args)

    monkeypatch.setattr(inbox, "mark_done", slow_mark_done)
    done: list[tuple[datetime, datetime]] = []
    told = anyio.Event()

    def pushed(result: ProcessResult, started: datetime, finished: datetime) -> None:
        done.append((finished, lab.clock.now()))
        told.set()

    order = lab.sandboxes["dy"].state.order_code("CUP-500", 2)
    async with processing(service, pushed):
        await announce(lab, http, "m1", order.order_id)
        await told.wait()
    [(finished, told_at)] = done
    assert (told_at - finished).total_seconds() >= 1
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 18)


async def test_a_failed_push_leaves_its_entries_pending(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    await lab.sync()
    lab.clock.advance(3)
    processor = service.processor
    tried = anyio.Event()

    async def broken_push(sku_ids: set[int], **options):  # type: ignore[no-untyped-def]
        tried.set()
        raise RuntimeError("a bug")

    processor.push_skus = broken_push  # type: ignore[method-assign]
    order = lab.sandboxes["dy"].state.order_code("CUP-500", 1)
    async with anyio.create_task_group() as group:
        group.start_soon(processor.run_forever, service.news)
        with anyio.fail_after(30):
            await announce(lab, http, "m1", order.order_id)
            await tried.wait()
        group.cancel_scope.cancel()
    assert processed(lab) == {order.order_id: False}  # taken up again by the next round
    del processor.push_skus  # the bug fixed
    assert (await processor.run_once()).events == 1
    assert processed(lab) == {order.order_id: True}


async def test_pulled_channels_are_consumed_sooner_while_shops_have_news(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    await lab.sync()
    [tb] = service.pulled_shops()
    assert service.pull_wait(tb) == service.pull_interval  # idle: an idle shop's cost is unchanged
    order = lab.sandboxes["dy"].state.order_code("CUP-500", 1)
    await announce(lab, http, "m1", order.order_id)
    # Taobao's 10 calls a second: a fifth of them at most for consuming, one every 0.5 s.
    assert tb.ctx.client.limiter.limit.qps == 10
    assert service.pull_wait(tb) == pytest.approx(0.5)
    tb.ctx.client.limiter.limit = replace(tb.ctx.client.limiter.limit, qps=1000)
    assert service.pull_wait(tb) == service.active_pull_interval  # a generous pace: the floor
    lab.clock.advance(service.active_seconds)
    assert service.pull_wait(tb) == service.pull_interval


async def test_news_from_any_shop_ends_a_pulled_channels_pause(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    await lab.sync()
    service.pull_interval = 3600.0  # the pause would outlast the test
    woke = anyio.Event()

    async def pause() -> None:
        await service.pull_pause(service.pulled_shops()[0])
        woke.set()

    order = lab.sandboxes["dy"].state.order_code("CUP-500", 1)
    with anyio.fail_after(30):
        async with anyio.create_task_group() as group:
            group.start_soon(pause)
            await anyio.sleep(0)
            assert not woke.is_set()
            await announce(lab, http, "m1", order.order_id)
            await woke.wait()


async def test_the_processor_keeps_its_stock_picture_between_pushes(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    await lab.sync()
    lab.clock.advance(3)
    for n, code in enumerate(("CUP-500", "CUP-750")):
        order = lab.sandboxes["dy"].state.order_code(code, 1)
        await announce(lab, http, f"m{n}", order.order_id)
        assert (await service.processor.run_once()).events == 1
    pictures = service.processor._engine.stock.pictures  # type: ignore[union-attr]
    assert (pictures.full_loads, pictures.incremental_loads) == (1, 1)
    assert lab.shown("CUP-750") == dict.fromkeys(SHOPS, 19)


async def test_listings_are_read_only_once_the_push_in_flight_is_done(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    await lab.sync()
    lab.clock.advance(3)
    processor = service.processor
    real_push, real_read = processor.push_skus, processor._read_listings
    gate, started, read = anyio.Event(), anyio.Event(), anyio.Event()
    read_while_pushing: list[bool] = []

    async def held_push(sku_ids: set[int], **options):  # type: ignore[no-untyped-def]
        started.set()
        if not gate.is_set():
            await gate.wait()
        return await real_push(sku_ids, **options)

    async def reading(*args):  # type: ignore[no-untyped-def]
        read_while_pushing.append(not gate.is_set())
        out = await real_read(*args)
        read.set()
        return out

    real_lease = processor._take_lease
    leases_taken: list[bool] = []
    loaded = anyio.Event()

    async def take_lease() -> bool:
        leases_taken.append(await real_lease())
        if len(leases_taken) == 2:  # the second batch, the stock event, is in hand
            loaded.set()
        return leases_taken[-1]

    processor.push_skus = held_push  # type: ignore[method-assign]
    processor._read_listings = reading  # type: ignore[method-assign]
    processor._take_lease = take_lease  # type: ignore[method-assign]
    order = lab.sandboxes["dy"].state.order_code("CUP-500", 1)
    item = lab.sandboxes["dy"].state.skus_by_code("CUP-750")[0]
    shop = service.shop("dy")
    assert shop is not None
    async with anyio.create_task_group() as group:
        group.start_soon(processor.run_forever, service.news)
        with anyio.fail_after(30):
            await announce(lab, http, "m1", order.order_id)
            await started.wait()
            event = PushEvent("m2", EventKind.STOCK_CHANGED, item_id=item.item_id)
            await service.store(shop, [event], "push")
            await loaded.wait()
            for _ in range(50):  # nothing left but to read it, if it would before the push ends
                await anyio.sleep(0)
            gate.set()
            await read.wait()
        group.cancel_scope.cancel()
    assert read_while_pushing == [False]


def test_a_push_supersedes_the_open_stock_entries_of_its_shops_in_one_statement(hub_db_url: str) -> None:
    """Each push's planning supersedes its shops' open stock writes: one statement that
    finds them by their state, not one per shop walking that shop's whole stock history
    (on SQLite the planner takes the state index only for the one statement)."""
    from sqlalchemy import event, text

    from hub.core import outbox
    from hub.core.stock.push import supersede_open
    from hub.storage.db import Database

    db = Database(hub_db_url)
    now = datetime(2026, 12, 4, 12, tzinfo=UTC)

    def populate(s: Session) -> None:
        for shop in (1, 2, 3):
            s.add(
                t.Shop(id=shop, name=f"s{shop}", platform="fake", app_key="k", app_secret="x", created_at=now)
            )
        s.flush()
        rows = [
            {
                "shop_id": shop,
                "kind": "stock",
                "target": str(n),
                "idempotency_key": f"k{shop}-{n}-{state}",
                "state": state,
                "payload": {"quantity": 1},
            }
            for shop in (1, 2, 3)
            for n in range(30)
            for state in ("done", "pending", "retry")
            if state == "done" or n < 2
        ]
        outbox.add_many(s, rows, now)

    db.run_sync(populate)
    statements: list[str] = []
    listen = lambda conn, cursor, sql, *_: statements.append(sql) if sql.startswith("UPDATE") else None  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listen)
    db.run_sync(lambda s: supersede_open(s, {1, 2}, now))
    event.remove(db.engine, "before_cursor_execute", listen)
    counts = db.run_sync(
        lambda s: sorted(
            s.execute(
                select(t.OutboxEntry.shop_id, t.OutboxEntry.state, func.count()).group_by(
                    t.OutboxEntry.shop_id, t.OutboxEntry.state
                )
            ).all()
        )
    )
    assert counts == [
        (1, "done", 30), (1, "superseded", 4),
        (2, "done", 30), (2, "superseded", 4),
        (3, "done", 30), (3, "pending", 2), (3, "retry", 2),
    ]  # fmt: skip
    assert len(statements) == 1
    if db.is_sqlite:
        with db.engine.connect() as conn:
            sql = statements[0].replace("?", "1")
            plan = " ".join(str(row) for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
        assert "ix_outbox_state_due" in plan
    db.dispose()


async def test_a_shop_without_pushes_is_polled_start_to_start_and_briskly_while_others_have_news(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    await lab.sync()
    [jd] = service.polled_shops()
    service.poll_interval = 0.5
    starts: list[float] = []
    three = anyio.Event()

    async def slow_poll(shop, pushed=None):  # type: ignore[no-untyped-def]
        starts.append(lab.clock.monotonic())
        lab.clock.advance(0.3)  # the poll and its push take a while
        if len(starts) == 3:
            three.set()
        return 0

    service.processor.poll_orders = slow_poll  # type: ignore[method-assign]
    async with anyio.create_task_group() as group:
        group.start_soon(service.poll_forever, jd)
        with anyio.fail_after(30):
            await three.wait()
        group.cancel_scope.cancel()
    # A poll starts every interval: the time the last one took is not added to the wait.
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [0.5, 0.5]
    service.poll_interval = 60.0
    assert service.poll_wait(jd) == 60.0  # idle: an idle shop's cost is unchanged
    order = lab.sandboxes["dy"].state.order_code("CUP-500", 1)
    await announce(lab, http, "m1", order.order_id)
    # A sale on a pushing channel: polled at a fifth of JD's 10 calls a second at most.
    assert jd.ctx.client.limiter.limit.qps == 10
    assert service.poll_wait(jd) == pytest.approx(0.5)
    jd.ctx.client.limiter.limit = replace(jd.ctx.client.limiter.limit, qps=1000)
    assert service.poll_wait(jd) == service.active_poll_interval  # a generous pace: the floor
    lab.clock.advance(service.active_seconds)
    assert service.poll_wait(jd) == 60.0


async def test_orders_stored_during_a_push_go_out_together_in_the_next_one(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    """Orders keep being read and stored while a push is on its way (not one batch, then a
    wait for that push); what was stored meanwhile goes out in one push of all its SKUs."""
    await lab.sync()
    lab.clock.advance(3)
    processor = service.processor
    held = hold_first_push(processor, 3)
    orders = [lab.sandboxes["dy"].state.order_code(code, 1) for code in ("CUP-500", "CUP-750", "CUP-500")]
    async with anyio.create_task_group() as group:
        group.start_soon(processor.run_forever, service.news, held.pushed)
        with anyio.fail_after(30):
            for n, order in enumerate(orders):
                await announce(lab, http, f"m{n}", order.order_id)
                await held.ingested[n].wait()  # the second and third: stored while the first is pushed
            assert all(stored_at(lab, o.order_id) is not None for o in orders)
            assert len(held.pushes) == 1
            held.gate.set()
            await held.two.wait()
        group.cancel_scope.cancel()
    assert len(held.pushes) == 2 and len(held.batches) == 2  # not one push per batch
    assert [b[0].events for b in held.batches] == [1, 2]
    skus = lab.app.db.run_sync(
        lambda s: set(s.scalars(select(t.Sku.id).where(t.Sku.code.in_(["CUP-500", "CUP-750"]))))
    )
    assert held.pushes[1] == skus
    assert processed(lab) == dict.fromkeys((o.order_id for o in orders), True)
    assert held.batches[1][1] >= max(stored_at(lab, o.order_id) for o in orders[1:])  # type: ignore[type-var]
    assert lab.shown("CUP-500") == dict.fromkeys(SHOPS, 18)
    assert lab.shown("CUP-750") == dict.fromkeys(SHOPS, 19)


async def test_a_shop_whose_stock_a_cycle_holds_does_not_hold_up_the_other_shops_pushes(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    """While a sync cycle holds JD's stock, orders keep reaching the other shops at once;
    JD's share goes with the next push after the cycle lets go (not waited for in line)."""
    await lab.sync()
    lab.clock.advance(3)
    now = lab.clock.now()
    assert lab.app.db.run_sync(lambda s: leases.acquire(s, "jd:stock", "a cycle", now, 60.0))
    held: list[list[str]] = []
    with_orders = [anyio.Event(), anyio.Event()]  # the pushes of the first and second order
    all_pushed = anyio.Event()

    def pushed(result: ProcessResult, started: datetime, finished: datetime) -> None:
        held.append(result.held)
        if result.events:
            next(e for e in with_orders if not e.is_set()).set()
        if not result.held:
            all_pushed.set()

    first = lab.sandboxes["dy"].state.order_code("CUP-500", 2)
    async with processing(service, pushed):
        await announce(lab, http, "m1", first.order_id)
        await with_orders[0].wait()
        lab.clock.advance(3)  # a buyer a few seconds later
        second = lab.sandboxes["dy"].state.order_code("CUP-500", 1)
        await announce(lab, http, "m2", second.order_id)
        await with_orders[1].wait()
        shown = lab.shown("CUP-500")
        assert (shown["tb"], shown["jd"]) == (17, 20)  # (WeChat's figure waits for a read)
        assert (lab.clock.now() - now).total_seconds() < 4  # not after a wait for JD
        lab.app.db.run_sync(lambda s: leases.release(s, "jd:stock", "a cycle"))
        await all_pushed.wait()
    assert held[0] == ["jd"]
    assert lab.shown("CUP-500")["jd"] == 17


def sku_id(world: Lab, code: str) -> int:
    return world.app.db.run_sync(lambda s: catalog.sku_by_code(s, code).id)


async def partition(world: Lab, code: str) -> None:
    """Make ``code`` partitioned and let a cycle give each shop its share."""

    def mark(s: Session) -> None:
        s.execute(update(t.Sku).where(t.Sku.code == code).values(partitioned=True))

    world.app.db.run_sync(mark)
    await world.sync()
    world.clock.advance(3)


async def test_a_shop_a_cycle_holds_is_not_waited_for_when_the_sale_changes_nothing_there(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    """A sale of a partitioned SKU seldom changes another channel's figure: a shop whose
    stock a cycle holds is not waited for when the push would write nothing there and the
    cycle planned no write of that SKU there (the cycle plans under the same plan lease,
    so if it has not planned yet, it sees the sale)."""
    await lab.sync()
    await partition(lab, "CUP-500")
    shown = lab.shown("CUP-500")
    now = lab.clock.now()
    assert lab.app.db.run_sync(lambda s: leases.acquire(s, "jd:stock", "a cycle", now, 60.0))
    order = lab.sandboxes["dy"].state.order_code("CUP-500", 1)
    await announce(lab, http, "m1", order.order_id)
    started = lab.clock.monotonic()
    result = await service.processor.run_once()
    assert (result.events, result.held) == (1, [])
    assert lab.clock.monotonic() - started < 1, "not retried until the cycle let go"
    assert processed(lab) == {order.order_id: True}
    assert lab.shown("CUP-500")["jd"] == shown["jd"]
    holder = lab.app.db.run_sync(lambda s: s.scalar(select(t.Lease.holder).where(t.Lease.name == "jd:stock")))
    assert holder == "a cycle"


async def test_a_shop_a_cycle_holds_is_waited_for_when_that_cycle_planned_a_write_of_the_sku(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
    http: httpx.AsyncClient,  # noqa: F811
) -> None:
    """The holder planned a write of the SKU there before the sale was stored: the push
    waits for it (its figure may not count the sale)."""
    await lab.sync()
    await partition(lab, "CUP-500")
    now = lab.clock.now()
    assert lab.app.db.run_sync(lambda s: leases.acquire(s, "jd:stock", "a cycle", now, 60.0))

    def claim(s: Session) -> None:
        listing = s.scalar(
            select(t.Listing)
            .join(t.Shop, t.Shop.id == t.Listing.shop_id)
            .where(t.Shop.name == "jd", t.Listing.sku_id == sku_id(lab, "CUP-500"))
        )
        assert listing is not None
        row = {"shop_id": listing.shop_id, "kind": "stock", "target": str(listing.id)}
        outbox.add_many(s, [{**row, "idempotency_key": "a-cycle-1", "payload": {"quantity": 9}}], now)

    lab.app.db.run_sync(claim)
    order = lab.sandboxes["dy"].state.order_code("CUP-500", 1)
    await announce(lab, http, "m1", order.order_id)
    result = await service.processor.run_once()
    assert result.held == ["jd"]


async def test_a_push_waiting_for_a_held_shop_lets_the_other_pushes_through(
    lab: Lab,  # noqa: F811
    service: PushService,  # noqa: F811
) -> None:
    """A push retrying a shop a cycle holds (JD's polled orders, say, wait up to
    HELD_PATIENCE) does not keep the pushes of other sales waiting until it gives up."""
    await lab.sync()
    lab.clock.advance(3)
    processor = service.processor
    now = lab.clock.now()
    assert lab.app.db.run_sync(lambda s: leases.acquire(s, "jd:stock", "a cycle", now, 60.0))
    lab.sandboxes["dy"].state.order_code("CUP-500", 1)
    lab.sandboxes["dy"].state.order_code("CUP-750", 1)
    await lab.sync(shops=["dy"], streams=["orders"])
    done: list[str] = []

    async def waiting() -> None:
        report = await processor.push_skus({sku_id(lab, "CUP-500")}, patience=600.0)
        assert not [r for r in report.results if r.skipped]
        done.append("the push that waited")

    slept = lab.clock.slept
    async with anyio.create_task_group() as group:
        group.start_soon(waiting)
        with anyio.fail_after(10):
            while lab.clock.slept < slept + 1:  # retrying JD
                await anyio.sleep(0)
            report = await processor.push_skus({sku_id(lab, "CUP-750")}, patience=0.0)
            done.append("another push")
            assert [r.shop for r in report.results if r.skipped] == ["jd"]
            lab.app.db.run_sync(lambda s: leases.release(s, "jd:stock", "a cycle"))
    assert done == ["another push", "the push that waited"]
    assert lab.shown("CUP-500")["jd"] == 19
