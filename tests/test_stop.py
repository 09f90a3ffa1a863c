"""Stopping a sync: the first request (Ctrl-C, SIGTERM) starts no new work and lets what
is in flight finish; the second stops at once. Either way the leases are released, the
run is recorded, and the next run picks up the rest without doing anything twice."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hub.cli import cli
from hub.core.engine import SyncEngine
from hub.simulator.lab import Lab
from hub.storage import tables as t
from tests.test_engine import buy, engine_lab

pytestmark = pytest.mark.anyio


lab = engine_lab()


def leases_left(lab: Lab) -> list[str]:
    return lab.app.db.run_sync(lambda s: list(s.scalars(select(t.Lease.name))))


def cycle_status(lab: Lab) -> list[str]:
    return lab.app.db.run_sync(
        lambda s: list(
            s.scalars(select(t.SyncRun.status).where(t.SyncRun.stream == "cycle").order_by(t.SyncRun.id))
        )
    )


async def test_a_first_stop_finishes_what_is_in_flight_and_starts_nothing_new(lab: Lab) -> None:
    engine = lab.engine()

    def progress(event: str, shop: str, stream: str, info: dict[str, Any]) -> None:
        if (event, stream) == ("start", "orders"):
            engine.request_stop()  # Ctrl-C while the order reads are under way

    engine.progress = progress
    report = await lab.sync()
    by_stream: dict[str, list[Any]] = {}
    for r in report.results:
        by_stream.setdefault(r.stream, []).append(r)
    assert report.interrupted and report.exit_code == 1
    # The order read that had started stopped between two windows (the windows read are
    # committed with their cursor); the shops not started were not started…
    started = [r for r in by_stream["orders"] if not r.skipped]
    assert [r.shop for r in started] == ["a"]
    assert "stopped before every order window" in (started[0].error or "")
    cursor = select(t.SyncCursor.position).where(t.SyncCursor.stream == "orders")
    assert lab.app.db.run_sync(lambda s: s.scalar(cursor))
    assert {r.shop for r in by_stream["orders"] if r.skipped and "stop" in r.skipped} == {"b", "c"}
    # …and no stock write started.
    assert all(r.skipped and "stop" in r.skipped for r in by_stream["stock"])
    assert lab.shown("CUP") == {"a": 0, "b": 0, "c": 0}
    assert leases_left(lab) == [] and cycle_status(lab) == ["interrupted"]

    engine.progress = SyncEngine.progress
    engine.stopping = engine.aborted = False  # the next run (a new process, in effect)
    lab.clock.advance(5)
    again = await lab.sync()
    assert again.exit_code == 0, again.to_dict()
    assert lab.shown("CUP") == {"a": 20, "b": 20, "c": 20}


class BeforeWrite(httpx.AsyncBaseTransport):
    """Calls ``action`` as a stock write reaches the platform (which then applies it)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, action: Callable[[], None]):
        self.inner, self.action = inner, action

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if "stock.set" in str(request.url) or b"stock.set" in (await request.aread()):
            self.action()
            await anyio.sleep(0)  # the answer is on its way when the process stops
        return response


async def test_a_second_stop_cuts_off_a_write_in_flight_and_the_next_run_rereads_it(lab: Lab) -> None:
    await lab.sync()
    buy(lab, "a", "CUP", 2)
    engine = lab.engine()
    fired: list[bool] = []

    def stop_now() -> None:
        if not fired:
            fired.append(True)
            engine.abort()

    boxes = lab.sandboxes
    engine.runtime.transport_for = lambda shop, platform: BeforeWrite(boxes[shop].transport(), stop_now)
    lab.clock.advance(5)
    report = await lab.sync()
    assert fired and report.interrupted and report.exit_code == 1
    assert any(r.stream == "cycle" and "cut off" in (r.error or "") for r in report.results)
    sending = lab.app.db.run_sync(
        lambda s: list(s.scalars(select(t.OutboxEntry.id).where(t.OutboxEntry.state == "sending")))
    )
    assert sending, "the write cut off is left in flight (in doubt)"
    assert leases_left(lab) == []
    assert cycle_status(lab)[-1] == "interrupted"

    engine.runtime.transport_for = lambda shop, platform: boxes[shop].transport()
    engine.stopping = engine.aborted = False
    for _ in range(2):
        lab.clock.advance(5)
        again = await lab.sync()
        assert again.exit_code == 0, again.to_dict()
    # The write that landed was re-read, not sent again: every shop shows 18.
    assert lab.shown("CUP") == {"a": 18, "b": 18, "c": 18}
    assert (
        lab.app.db.run_sync(
            lambda s: s.scalar(select(t.OutboxEntry.state).where(t.OutboxEntry.id == sending[0]))
        )
        == "superseded"
    )


async def test_outbox_list_open_shows_writes_in_flight(lab: Lab) -> None:
    """What a stopped or killed run left in flight is visible (it was hidden before)."""
    await lab.sync()
    now = lab.clock.now()

    def left_in_flight(s: Any) -> None:
        shop = s.scalar(select(t.Shop).where(t.Shop.name == "a"))
        times = {"next_attempt_at": now, "created_at": now, "updated_at": now}
        entry = {"shop_id": shop.id, "kind": "stock", "target": "1", "idempotency_key": "stock-inflight"}
        s.add(t.OutboxEntry(**entry, payload={}, state="sending", attempts=1, **times))

    lab.app.db.run_sync(left_in_flight)
    args = ["outbox", "list", "--open", "--json"]
    result = CliRunner().invoke(cli, args, obj=lab.app, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["key"], r["state"]) for r in rows] == [("stock-inflight", "sending")]
