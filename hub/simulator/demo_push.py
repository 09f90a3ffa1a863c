"""The flash sale on push messages (``hub demo --push``): the sandboxes announce each
order as the platforms do — Douyin and the WeChat store POST signed (and encrypted)
pushes to the hub's push app, Taobao's are consumed from TMC, JD is polled — and the
hub's processor reads each announced order and pushes only its SKUs. Polling keeps
running as the safety net (every ``safety_interval`` seconds), which also hands freed
units of partitioned SKUs out (raising needs fresh reads and ingested orders).
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import TYPE_CHECKING

import anyio
import httpx

from hub.core.clock import Clock
from hub.push.app import PushService, create_app
from hub.push.process import ProcessResult, PushProcessor
from hub.report import SyncReport
from hub.simulator import Buyers, SandboxApp
from hub.simulator.lab import Lab
from hub.simulator.pushes import OrderChange, OrderFeed

if TYPE_CHECKING:
    from hub.simulator.demo import DemoOptions

TICK = 0.01  # seconds between looks at the sandboxes' feeds and the inbox


def wrote_every_shop(report: SyncReport, shops: int) -> bool:
    """Whether a cycle's stock phase planned and wrote every one of ``shops`` without a
    failure or a skip: then its writes, once ended (``stock_written_at``), carry every
    order stored before its plan began.
    Another stream skipped (hub serve polling a shop's orders, say) changes nothing."""
    stock = [r for r in report.results if r.stream == "stock"]
    return (
        report.stock_planned_at is not None
        and report.stock_written_at is not None
        and len(stock) == shops
        and all(r.exit_code == 0 for r in stock)
    )


async def deliver(
    http: httpx.AsyncClient, url: str, box: SandboxApp, feed: OrderFeed, done: anyio.Event, clock: Clock
) -> None:
    """Deliver one sandbox's pushes to ``url`` until ``done``, one after another, as its
    platform's push service would: one refused is delivered again on the next tick.
    Each platform runs its own (Douyin's pushes never wait for the WeChat store's answers)."""
    pending: list[OrderChange] = []
    while not done.is_set():
        todo, pending = pending + feed.new(), []
        for change in todo:
            if not box.push_accepted(await http.send(box.push_request(change, url))):
                pending.append(change)
        await clock.sleep(TICK)


async def race_on_pushes(
    lab: Lab,
    scarce: list[str],
    options: DemoOptions,
    clock: Clock,
    spans: list[tuple[datetime, datetime]],
    weights: dict[str, float],
) -> list[SyncReport]:
    """Buyers race while pushes drive the hub; ``spans`` receives (start, end) of every
    stock push and safety-net cycle that wrote every shop (a cycle's from its stock plan
    to its last stock write): it carries the orders stored before its start. ``weights``:
    each shop's share of the buyers. Returns the safety-net cycles' reports."""
    service = PushService(
        PushProcessor.open(lab.app.runtime(), lab.app.settings),
        pull_interval=options.pull_interval,
        poll_interval=options.interval,
    )
    buyers = Buyers(lab.sandboxes, rng=random.Random(options.seed), after_sale_rate=options.after_sale_rate)
    reports: list[SyncReport] = []
    done = anyio.Event()
    pushing = {
        name: (box, OrderFeed(box.state))
        for name, box in lab.sandboxes.items()
        if type(box).push_request is not SandboxApp.push_request
    }
    transport = httpx.ASGITransport(app=create_app(service, background=False))

    async def buy() -> None:
        await buyers.run(scarce, seconds=options.seconds, rate=options.rate, weights=weights)
        await clock.sleep(0.5)  # the last pushes' rounds
        done.set()

    def pushed(started: datetime, finished: datetime) -> None:
        spans.append((started, finished))

    async def process() -> None:  # as `hub serve` does, woken by every push stored
        def done_everywhere(result: ProcessResult, started: datetime, finished: datetime) -> None:
            if not result.held and not result.failed:  # else some channel still shows the old figure
                pushed(started, finished)

        await service.processor.run_forever(service.news, done_everywhere)

    async def safety_net() -> None:  # like `hub sync --watch`: a cycle now, then every interval
        while not done.is_set():
            report = await lab.sync()
            reports.append(report)
            if wrote_every_shop(report, len(lab.sandboxes)):
                # its writes carry every order stored before its stock plan began
                pushed(report.stock_planned_at, report.stock_written_at)
            with anyio.move_on_after(options.safety_interval):
                await done.wait()

    async with (
        httpx.AsyncClient(transport=transport, base_url="http://hub") as http,
        anyio.create_task_group() as group,
    ):
        group.start_soon(buy)
        for name, (box, feed) in pushing.items():  # each platform's push service on its own
            group.start_soon(deliver, http, f"http://hub/push/{name}", box, feed, done, clock)
        group.start_soon(process)
        group.start_soon(safety_net)
        for shop in service.pulled_shops():
            group.start_soon(service.pull_forever, shop)
        # JD: its orders at the demo interval (briskly while others have news), then its SKUs
        for shop in service.polled_shops():
            group.start_soon(service.poll_forever, shop, pushed)
        await done.wait()
        group.cancel_scope.cancel()
    await service.processor.aclose()
    return reports
