"""A cycle reads orders before it takes the stock leases, and catches up after its stock
reads: orders placed meanwhile are in its plan, a push's stock write never waits for the
orders read, and changes to held orders are left to the next orders read."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy import select

from hub.core import catalog, leases
from hub.core.engine import SyncEngine
from hub.core.shops import get_shop
from hub.core.stock import anchors
from hub.core.stock.phase import StockPhase
from hub.core.windows import get_cursor
from hub.errors import ServerError
from hub.models import OrderStatus, TimeWindow
from hub.simulator.lab import Lab
from hub.storage import tables as t
from hub.testing.fake import FakeClient
from tests.test_engine import buy, engine_lab

pytestmark = pytest.mark.anyio

lab = engine_lab()


def during_stock_reads(monkeypatch: pytest.MonkeyPatch, act: Any) -> None:
    """Run ``act()`` when a cycle's stock reads begin (after its orders phase)."""
    observe = StockPhase.observe

    async def observing(phase: StockPhase, shops: Any, then: Any = None) -> dict[int, str]:
        act()
        return await observe(phase, shops, then)

    monkeypatch.setattr(StockPhase, "observe", observing)


def catch_ups(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, TimeWindow]]:
    """(shop, window) of every catch-up read from now on."""
    seen: list[tuple[str, TimeWindow]] = []
    catch_up = FakeClient.iter_new_orders

    def recording(client: FakeClient, window: TimeWindow, known: Any) -> Any:
        seen.append((client.shop, window))
        return catch_up(client, window, known)

    monkeypatch.setattr(FakeClient, "iter_new_orders", recording)
    return seen


def cursor(lab: Lab, shop: str, stream: str) -> datetime | None:
    return lab.app.db.run_sync(lambda s: get_cursor(s, get_shop(s, shop).id, stream))


def reservation(lab: Lab, order_id: str) -> str:
    return lab.app.db.run_sync(
        lambda s: s.scalar(
            select(t.Reservation.state)
            .join(t.OrderLine, t.OrderLine.id == t.Reservation.order_line_id)
            .join(t.Order)
            .where(t.Order.platform_order_id == order_id)
        )
    )


async def test_a_cycle_reads_orders_without_holding_the_stock_leases(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    await lab.sync()
    seen: list[tuple[tuple[str, ...], bool]] = []
    read_orders = SyncEngine._orders

    async def recording(engine: SyncEngine, shop: Any, result: Any, cursors: tuple[str, ...]) -> None:
        now = engine.clock.now()
        held = lab.app.db.run_sync(lambda s: {x.name for x in leases.list_leases(s, now)})
        seen.append((cursors, f"{shop.name}:stock" in held))
        await read_orders(engine, shop, result, cursors)

    monkeypatch.setattr(SyncEngine, "_orders", recording)
    buy(lab, "b", "CUP", 1)
    assert (await lab.sync()).exit_code == 0
    # The orders phase holds no stock lease (a push may write meanwhile); the catch-up
    # read of each shop, after the stock reads, holds it.
    assert sorted(seen) == [(("new_orders",), True)] * 3 + [(("orders",), False)] * 3


async def test_an_order_placed_during_the_stock_reads_is_in_the_same_cycles_plan(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    await lab.sync()
    placed: list[str] = []
    during_stock_reads(monkeypatch, lambda: placed.append(buy(lab, "b", "CUP", 2)) if not placed else None)
    report = await lab.sync()
    assert report.exit_code == 0, report.to_dict()
    assert placed and reservation(lab, placed[0]) == "held"
    assert lab.shown("CUP") == {"a": 18, "b": 18, "c": 18}
    assert next(r for r in report.results if r.shop == "b" and r.stream == "orders").stored == 1


async def test_the_catch_up_reads_from_where_the_orders_phase_ended_less_the_clock_margin(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not the platform's lookback again (minutes of orders the orders phase just read):
    # the margin and a second, for an estimate of the platform clock and whole seconds.
    await lab.sync()
    windows = catch_ups(monkeypatch)
    lab.clock.advance(60)
    assert (await lab.sync(["a"])).exit_code == 0
    read_to = cursor(lab, "a", "orders")
    assert read_to is not None
    margin = timedelta(seconds=lab.app.settings.clock_margin_seconds + 1)
    assert [w.start for _, w in windows] == [read_to.replace(tzinfo=windows[0][1].start.tzinfo) - margin]


async def test_a_shop_none_of_whose_listings_moved_is_not_read_again(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every anchor of such a shop is older than its orders phase, which covers it: an idle
    # shop costs no call more per cycle.
    monkeypatch.setattr(t, "change_clock", lab.clock.now)  # change marks on the test's clock
    await lab.sync()
    lab.clock.advance(120)  # nothing read or written since, beyond any margin
    caught_up = catch_ups(monkeypatch)
    assert (await lab.sync()).exit_code == 0
    assert caught_up == []

    def cursors(s: Any) -> set[tuple[int, str, Any]]:
        return {(c.shop_id, c.stream, c.position) for c in s.scalars(select(t.SyncCursor))}

    rows = lab.app.db.run_sync(cursors)
    read_to = {shop: at for shop, stream, at in rows if stream == "orders"}
    assert {shop: at for shop, stream, at in rows if stream == "new_orders"} == read_to
    buy(lab, "b", "CUP", 1)  # a's and c's listings are lowered: the next cycle reads them again
    assert (await lab.sync()).exit_code == 0
    assert caught_up == []
    lab.clock.advance(1)
    assert (await lab.sync()).exit_code == 0
    assert sorted(shop for shop, _ in caught_up) == ["a", "c"]


async def test_the_catch_up_leaves_a_change_to_a_held_order_to_the_next_orders_read(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The shortest lookback: the next read starts 3 s before the orders cursor, so it
    # would miss the cancellation had the catch-up moved that cursor past it.
    settings = lab.app.settings.model_copy(update={"order_lookback_seconds": 0})
    engine = SyncEngine(lab.app.runtime(), settings)
    await engine.run_cycle()
    kept = buy(lab, "a", "CUP", 2, paid=False)
    await engine.run_cycle()  # the clock stands still: the next catch-up reads from before it
    assert reservation(lab, kept) == "held"
    read_to = cursor(lab, "a", "orders")

    def cancel_then_wait() -> None:
        lab.sandboxes["a"].state.set_status(kept, OrderStatus.CANCELLED)
        lab.clock.advance(10)  # the stock reads take a while

    during_stock_reads(monkeypatch, cancel_then_wait)
    assert (await engine.run_cycle()).exit_code == 0
    assert reservation(lab, kept) == "held"  # the catch-up fetched new orders only
    read_again, caught_up = cursor(lab, "a", "orders"), cursor(lab, "a", "new_orders")
    assert read_to is not None and read_again is not None and caught_up is not None
    assert caught_up > read_again > read_to
    monkeypatch.undo()
    lab.clock.advance(5)
    assert (await engine.run_cycle()).exit_code == 0
    assert reservation(lab, kept) == "released"
    assert lab.shown("CUP") == {"a": 20, "b": 20, "c": 20}


async def test_a_partitioned_sku_is_not_raised_when_the_catch_up_fails(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab.app.db.run_sync(lambda s: setattr(catalog.sku_by_code(s, "CUP"), "partitioned", True))
    await lab.sync()
    buy(lab, "a", "CUP", 1)  # CUP sells: its listings are read every cycle
    lab.clock.advance(5)
    await lab.sync()
    shown = lab.shown("CUP")
    lab.app.db.run_sync(
        lambda s: catalog.set_on_hand(s, catalog.sku_by_code(s, "CUP"), 40, None, lab.clock.now())
    )
    buy(lab, "a", "CUP", 1)
    lab.clock.advance(5)

    async def failing(client: FakeClient, window: Any, known: Any) -> Any:
        raise ServerError("catch-up refused")
        yield  # an async generator, as the client's

    monkeypatch.setattr(FakeClient, "iter_new_orders", failing)
    report = await lab.sync()
    errors = {r.shop: r.error for r in report.results if r.stream == "orders"}
    assert all("catch-up refused" in (e or "") for e in errors.values()), errors
    # Its stock reads may reflect sales no read after them ingested: nothing is raised,
    # though 20 units more came in.
    assert all(lab.shown("CUP")[shop] <= shown[shop] for shop in shown), (shown, lab.shown("CUP"))
    monkeypatch.undo()
    lab.clock.advance(5)
    assert (await lab.sync()).exit_code == 0
    assert sum(lab.shown("CUP").values()) > sum(shown.values())


async def test_a_shops_catch_up_does_not_wait_for_the_other_shops_stock_reads(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A shop's stock reads reflect only its own sales, so its catch-up may follow them at
    # once: the stock leases are held for the slowest shop's reads and catch-up, not for
    # the slowest reads and then the slowest catch-up.
    await lab.sync()
    every_listing = select(t.Listing.id)
    lab.app.db.run_sync(lambda s: anchors.mark_unread(s, s.scalars(every_listing)))
    a_caught_up = anyio.Event()
    c_waited: list[bool] = []
    read_stock, catch_up = FakeClient.fetch_stock, FakeClient.iter_new_orders

    async def slow_for_c(client: FakeClient, refs: Any) -> Any:
        if client.shop == "c":
            with anyio.move_on_after(5) as waiting:  # only ever waits when a's catch-up waits for c
                await a_caught_up.wait()
            c_waited.append(waiting.cancelled_caught)
        return await read_stock(client, refs)

    def announcing(client: FakeClient, window: TimeWindow, known: Any) -> Any:
        if client.shop == "a":
            a_caught_up.set()
        return catch_up(client, window, known)

    monkeypatch.setattr(FakeClient, "fetch_stock", slow_for_c)
    monkeypatch.setattr(FakeClient, "iter_new_orders", announcing)
    assert (await lab.sync()).exit_code == 0
    assert c_waited and not any(c_waited)  # a's catch-up came while c was still reading
