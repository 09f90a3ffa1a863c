"""The flash-sale demo (``hub demo``), also used by ``bench/flash_sale.py``.

Four platform sandboxes run in-process with one catalogue; the hub syncs them into a
fresh SQLite database; then simulated buyers on all four channels race for a few scarce
SKUs while the hub syncs continuously, and the figures that matter are measured from
the platforms' own records: units sold against stock (oversold must be 0), sell-through,
and how long a sale on one channel takes to reach the quantities of the others.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import select

from hub.core import catalog
from hub.core.clock import SYSTEM_CLOCK, Clock
from hub.core.http import RetryPolicy
from hub.push.inbox import POLL_INTERVAL, POLL_INTERVAL_WITH_PUSH
from hub.report import SyncReport
from hub.simulator import Buyers, Faults, generate_seed
from hub.simulator.lab import Lab
from hub.storage import tables as t

SHOPS = {"taobao-main": "taobao", "jd-pop": "jd", "douyin-live": "douyin", "wechat-store": "wechat"}
# Demand is skewed: a live stream on Douyin sells faster than the rest.
WEIGHTS = {"douyin-live": 4.0, "taobao-main": 2.0, "jd-pop": 1.0, "wechat-store": 1.0}
# The demo's push Token and EncodingAESKey (a WeChat store generates its own).
PUSH_SETTINGS = {"push_token": "demoPushToken", "push_aes_key": "demoEncodingAESKey0123456789abcdefghijklmno"}
FAULT_RATES = {"throttle": 0.03, "server_error": 0.02, "timeout": 0.01, "reset": 0.01, "malformed": 0.01}


@dataclass
class DemoOptions:
    folder: Path = Path("hub-demo")
    seed: int = 11
    skus: int = 200
    scarce: int = 10  # SKUs in the flash sale (scarce: the hub partitions them by itself)
    scarce_stock: int = 25  # units of each
    on_hand: int = 60  # units of every other SKU
    seconds: float = 15.0  # length of the sale
    rate: float = 150.0  # buyer attempts per second, all channels together
    interval: float = 0.5  # seconds between sync cycles (like --watch --interval)
    latency: float = 0.02  # seconds per platform call
    qps: float = 100.0  # per-shop call pacing (the sandboxes allow it)
    faults: bool = False
    push: bool = False  # the sale runs on push messages, polling as the safety net
    safety_interval: float = 2.0  # with push: seconds between safety-net sync cycles
    pull_interval: float = 1.0  # with push: wait between empty TMC consumes
    after_sale_rate: float = 0.02  # share of buyers who open a refund or return instead of buying


@dataclass
class DemoResult:
    skus: int
    listings: dict[str, int]
    first_sync_seconds: float
    first_sync_pushes: int
    orders: dict[str, int]
    units_sold: dict[str, int]
    stock: int
    sold: int
    oversold: int
    sell_through: float
    propagation_p50: float | None
    propagation_p99: float | None
    unpropagated: int
    cycles: int
    pushes: int
    retries: int
    faults_injected: dict[str, int]
    failed_writes: int
    database: str
    mode: str = "polling"
    propagation_p99_by_shop: dict[str, float | None] = field(default_factory=dict)
    idle_calls_per_hour: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """What makes the run a failure: units oversold, or a sale that sold nothing."""
        out = []
        if self.oversold:
            out.append(f"{self.oversold} units oversold")
        if self.sold == 0 and self.stock > 0:
            out.append(f"nothing sold of {self.stock} units: no channel offered the stock during the sale")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "problems": self.problems}


Say = Callable[[str], None]


def build_lab(options: DemoOptions, clock: Clock = SYSTEM_CLOCK) -> tuple[Lab, list[str]]:
    """A fresh database in ``options.folder`` wired to four seeded sandboxes; returns the
    lab and the codes of the scarce (flash-sale) SKUs."""
    options.folder.mkdir(parents=True, exist_ok=True)
    for old in options.folder.glob("hub.db*"):
        old.unlink()
    rng = random.Random(options.seed)
    seed = generate_seed(items=max(1, options.skus // 2), skus_per_item=2, stock=0, rng=rng)
    sandbox = {"latency": options.latency, "latency_jitter": options.latency / 2}
    lab = Lab.create(
        f"sqlite:///{options.folder.resolve() / 'hub.db'}",
        shops=SHOPS,
        seed=seed,
        clock=clock,
        sandbox=sandbox,
        shop_settings={"qps": options.qps, **(PUSH_SETTINGS if options.push else {})},
        retry=RetryPolicy(initial_wait=0.05, max_wait=1.0, max_retry_after=5.0),
        settings={
            "listings_interval_minutes": 60,
            "sales_window_minutes": 5,
            "order_lookback_seconds": 2,
            "aftersales_interval_minutes": 0,  # a short sale: read after-sales every cycle
        },
    )
    if options.push:  # the WeChat store signs and encrypts with what the shop is configured with
        for box in lab.sandboxes.values():
            if hasattr(box, "push_token"):
                box.push_token, box.push_aes_key = PUSH_SETTINGS["push_token"], PUSH_SETTINGS["push_aes_key"]
    if options.faults:
        for number, box in enumerate(lab.sandboxes.values()):
            box.faults = Faults(rng=random.Random(options.seed * 31 + number))
    codes = [sku.code for product in seed.products for sku in product.skus if sku.code]
    scarce = codes[: options.scarce]
    lab.import_catalogue(on_hand=options.on_hand)

    def flash(session: Any) -> None:
        # Only counts: no SKU is marked partitioned. The hub partitions the scarce ones itself.
        for code in scarce:
            sku = catalog.sku_by_code(session, code)
            catalog.set_on_hand(session, sku, options.scarce_stock, None, clock.now())

    lab.app.db.run_sync(flash)
    return lab, scarce


async def run_demo(
    options: DemoOptions, say: Say = lambda _: None, clock: Clock = SYSTEM_CLOCK
) -> DemoResult:
    lab, scarce = build_lab(options, clock)
    try:
        say(f"1/3 first sync: {options.skus} SKUs on {len(SHOPS)} shops")
        start = clock.monotonic()
        first = await lab.sync()
        first_seconds = clock.monotonic() - start
        listings = {r.shop: r.fetched for r in first.results if r.stream == "listings"}
        first_pushes = sum(r.pushed for r in first.results if r.stream == "stock")
        if options.faults:
            for box in lab.sandboxes.values():
                for kind, share in FAULT_RATES.items():
                    box.faults.set_rate(kind, share)
        say(
            f"2/3 flash sale: {len(scarce)} SKUs x {options.scarce_stock} units, "
            f"{options.rate:.0f} buyers/s for {options.seconds:.0f}s, sync every {options.interval}s"
            + (", with injected faults" if options.faults else "")
        )
        sale_start = clock.now()
        ends: list[datetime] = []
        spans: list[tuple[datetime, datetime]] = []
        if options.push:
            from hub.simulator.demo_push import race_on_pushes

            reports = await race_on_pushes(lab, scarce, options, clock, spans, WEIGHTS)
        else:
            reports = await _race(lab, scarce, options, clock)
        for box in lab.sandboxes.values():
            box.faults.clear()
        say("3/3 settling: last cycles after the sale")
        settle = [await lab.sync() for _ in range(3)]
        # With pushes, a sale has propagated at the end of the first stock push, or of the
        # stock writes of the first safety-net cycle, that began planning after its order
        # was stored and wrote every shop (a cycle merely finishing after the store would
        # flatter the figure; what the cycle does after its writes does not delay it).
        ends += [r.finished_at for r in (settle if options.push else reports + settle) if r.finished_at]
        reports += settle
        result = _measure(
            lab, scarce, options, sale_start, reports, listings, first_seconds, first_pushes, ends, spans
        )
        result.idle_calls_per_hour = await idle_calls_per_hour(lab, options)
        return result
    finally:
        lab.close()


async def idle_calls_per_hour(lab: Lab, options: DemoOptions) -> dict[str, float]:
    """Platform calls per hour each shop makes when nothing happens, measured over three
    idle sync cycles: polling every ``options.interval`` seconds; with pushes, the
    safety-net cycles every 300 s (``hub sync --watch`` while pushes arrive) plus, for a
    shop consumed from a message channel (Taobao TMC), one consume per ``pull_interval``;
    a shop without pushes (JD) is polled every 60 s."""
    before = {name: sum(box.calls.values()) for name, box in lab.sandboxes.items()}
    cycles = 3
    for _ in range(cycles):
        await lab.sync()
    boxes = lab.sandboxes
    per_cycle = {name: (sum(box.calls.values()) - before[name]) / cycles for name, box in boxes.items()}
    if not options.push:
        return {name: round(n * 3600 / max(options.interval, 0.001)) for name, n in per_cycle.items()}
    # JD has no push: `hub serve` polls its orders every 60 s (counted here as full cycles,
    # an upper bound).
    pulls = 3600 / options.pull_interval
    return {
        name: round(
            n * 3600 / (POLL_INTERVAL if SHOPS[name] == "jd" else POLL_INTERVAL_WITH_PUSH)
            + (pulls if SHOPS[name] == "taobao" else 0)
        )
        for name, n in per_cycle.items()
    }


async def _race(lab: Lab, scarce: list[str], options: DemoOptions, clock: Clock) -> list[SyncReport]:
    buyers = Buyers(lab.sandboxes, rng=random.Random(options.seed), after_sale_rate=options.after_sale_rate)
    reports: list[SyncReport] = []
    done = anyio.Event()

    async def buy() -> None:
        await buyers.run(scarce, seconds=options.seconds, rate=options.rate, weights=WEIGHTS)
        done.set()

    async def sync() -> None:
        while not done.is_set():
            reports.append(await lab.sync())
            with anyio.move_on_after(options.interval):
                await done.wait()

    async with anyio.create_task_group() as group:
        group.start_soon(buy)
        group.start_soon(sync)
    return reports


def _measure(
    lab: Lab,
    scarce: list[str],
    options: DemoOptions,
    sale_start: datetime,
    reports: list[SyncReport],
    listings: dict[str, int],
    first_seconds: float,
    first_pushes: int,
    extra_ends: list[datetime],
    spans: Sequence[tuple[datetime, datetime]] = (),
) -> DemoResult:
    stock = len(scarce) * options.scarce_stock
    per_code = {code: sum(box.state.units_sold(code) for box in lab.sandboxes.values()) for code in scarce}
    units = {shop: sum(box.state.units_sold(c) for c in scarce) for shop, box in lab.sandboxes.items()}
    sold = sum(per_code.values())
    oversold = sum(max(0, n - options.scarce_stock) for n in per_code.values())
    sales = [
        (shop, sale)
        for shop, box in lab.sandboxes.items()
        for sale in box.state.sales
        if sale.code in scarce and sale.at >= sale_start
    ]
    stored = dict(
        lab.app.db.run_sync(
            lambda s: {
                (name, order_id): at
                for name, order_id, at in s.execute(
                    select(t.Shop.name, t.Order.platform_order_id, t.Order.stored_at).join(
                        t.Shop, t.Shop.id == t.Order.shop_id
                    )
                )
            }
        )
    )
    # A sale has reached every channel at the end of the first cycle that finished after
    # its order was stored, or of the first stock push that began after it (pushes overlap
    # the storing of the next orders, so a push's end alone proves nothing).
    ends = sorted(extra_ends or [])
    delays = []
    by_shop: dict[str, list[float]] = {}
    for shop, sale in sales:
        at = stored.get((shop, sale.order_id))
        candidates = [e for e in ends if at is not None and e >= at][:1]
        candidates += [f for s, f in spans if at is not None and s >= at]
        end = min(candidates, default=None)
        if end is not None:
            delays.append((end - sale.at).total_seconds())
            by_shop.setdefault(shop, []).append(delays[-1])
    orders: Counter[str] = Counter(shop for shop, _ in sales)
    faults = Counter[str]()
    for box in lab.sandboxes.values():
        faults.update(box.faults.injected)
    failed = lab.app.db.run_sync(
        lambda s: len(s.scalars(select(t.OutboxEntry.id).where(t.OutboxEntry.state == "failed")).all())
    )
    pushes = lab.app.db.run_sync(
        lambda s: len(s.scalars(select(t.OutboxEntry.id).where(t.OutboxEntry.state == "done")).all())
    )
    return DemoResult(
        skus=options.skus,
        listings=listings,
        first_sync_seconds=round(first_seconds, 2),
        first_sync_pushes=first_pushes,
        orders=dict(orders),
        units_sold=units,
        stock=stock,
        sold=sold,
        oversold=oversold,
        sell_through=round(sold / stock, 4) if stock else 0.0,
        propagation_p50=_quantile(delays, 0.5),
        propagation_p99=_quantile(delays, 0.99),
        unpropagated=len(sales) - len(delays),
        propagation_p99_by_shop={shop: _quantile(v, 0.99) for shop, v in sorted(by_shop.items())},
        cycles=len(reports),
        pushes=pushes,
        retries=sum(r.retries for r in reports),
        faults_injected=dict(faults),
        failed_writes=failed,
        database=str(options.folder / "hub.db"),
        mode="push" if options.push else "polling",
    )


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    return round(statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1], 3)
