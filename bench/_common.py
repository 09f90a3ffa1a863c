"""Shared pieces of the benchmarks: output, progress, machine facts, call metering and the
stock-push lab used by ``stock_push.py`` and ``scaling.py``.

Benchmarks print one JSON object on stdout and progress on stderr. Everything runs on
real time (``SYSTEM_CLOCK``) against the in-process platform sandboxes of
:class:`hub.simulator.lab.Lab`.
"""

from __future__ import annotations

import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
from sqlalchemy import select

from hub.core.ratelimit import RateLimit
from hub.simulator import QpsGate, SandboxApp, generate_seed
from hub.simulator.lab import Lab
from hub.storage import tables as t

# Shop name -> platform: one shop per platform, named after it.
SHOPS = {"taobao": "taobao", "jd": "jd", "douyin": "douyin", "wechat": "wechat"}
UNPACED_QPS = 1_000_000.0  # a client pacing so high it never waits


# --- output ---------------------------------------------------------------------------------

_T0 = time.monotonic()


def say(message: str) -> None:
    """A progress line on stderr (elapsed seconds since the script started)."""
    print(f"[{time.monotonic() - _T0:8.1f}s] {message}", file=sys.stderr, flush=True)


def emit(result: dict[str, Any]) -> None:
    """The benchmark's one JSON object, on stdout."""
    json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    sys.stdout.flush()


def machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "sqlite": __import__("sqlite3").sqlite_version,
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def current_rss_mb() -> float | None:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024, 1)


def target(value: float | None, op: str, limit: float) -> dict[str, Any]:
    """One entry of a ``targets`` section."""
    ok = value is not None and (value >= limit if op == ">=" else value <= limit)
    return {"value": value, "target": f"{op} {limit}", "pass": ok}


@contextmanager
def work_dir(path: str | None) -> Iterator[Path]:
    """``path`` (kept), or a temporary directory removed afterwards."""
    if path:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("hub.db*"):
            old.unlink()
        yield folder
    else:
        with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
            yield Path(tmp)


# --- metering the platform calls ------------------------------------------------------------


@dataclass
class ShopCalls:
    calls: int = 0
    first_start: float | None = None
    last_end: float | None = None
    in_sandbox: float = 0.0  # seconds spent inside the sandbox's synchronous handler


@dataclass
class CallMeter:
    """Counts every request each shop sends to its sandbox, with first/last timestamps."""

    shops: dict[str, ShopCalls] = field(default_factory=dict)

    def reset(self) -> None:
        self.shops = {}

    def of(self, shop: str) -> ShopCalls:
        return self.shops.setdefault(shop, ShopCalls())


class _MeteredTransport(httpx.AsyncBaseTransport):
    """The sandbox's in-process transport (latency on real time), metered per shop."""

    def __init__(self, app: SandboxApp, meter: CallMeter, shop: str):
        self.app = app
        self.meter = meter
        self.shop = shop

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        calls = self.meter.of(self.shop)
        calls.calls += 1
        if calls.first_start is None:
            calls.first_start = time.monotonic()
        await request.aread()
        delay = self.app.draw_latency()
        try:
            if delay:
                await self.app.clock.sleep(delay / 2)
            started = time.perf_counter()
            response = self.app.dispatch(request)
            calls.in_sandbox += time.perf_counter() - started
            if delay:
                await self.app.clock.sleep(delay / 2)
            return response
        finally:
            self.meter.of(self.shop).last_end = time.monotonic()


def meter_lab(lab: Lab) -> CallMeter:
    """Route every shop's calls through a metered transport (same behaviour as the
    sandbox's own in-process transport)."""
    meter = CallMeter()
    for shop, box in lab.sandboxes.items():
        box.transport = lambda box=box, shop=shop: _MeteredTransport(box, meter, shop)  # type: ignore[method-assign]
    return meter


def capture_clients(lab: Lab) -> dict[str, Any]:
    """Shop name -> the platform client the engine opened for it (latest cycle)."""
    clients: dict[str, Any] = {}
    runtime = lab.engine().runtime
    original = runtime.open

    def open_and_keep(row: Any) -> Any:
        ctx = original(row)
        clients[ctx.name] = ctx.client
        return ctx

    runtime.open = open_and_keep  # type: ignore[method-assign]
    return clients


@dataclass
class DbMeter:
    """Time spent in database transactions (they run in worker threads, one at a time on
    SQLite), optionally profiled."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the worker threads inside transactions
    transactions: int = 0
    profiler: Any = None

    def reset(self) -> None:
        self.seconds, self.cpu_seconds, self.transactions = 0.0, 0.0, 0


def meter_db(lab: Lab) -> DbMeter:
    meter = DbMeter()
    db = lab.app.db
    original = db.run_sync

    def timed(fn: Any) -> Any:
        profiler = meter.profiler
        started, cpu = time.perf_counter(), time.thread_time()
        if profiler is not None:
            profiler.enable()
        try:
            return original(fn)
        finally:
            if profiler is not None:
                profiler.disable()
            meter.cpu_seconds += time.thread_time() - cpu
            meter.seconds += time.perf_counter() - started
            meter.transactions += 1

    db.run_sync = timed  # type: ignore[method-assign]
    return meter


def declared_limits(lab: Lab) -> dict[str, RateLimit]:
    host = lab.app.host
    return {name: host.platform(platform).rate_limit for name, platform in SHOPS.items()}


def set_shop_options(lab: Lab, **changes: Any) -> None:
    """Change stored settings of every shop (None removes a key: the platform default)."""

    def write(s: Any) -> None:
        for shop in s.scalars(select(t.Shop)):
            options = dict(shop.options or {})
            for key, value in changes.items():
                if value is None:
                    options.pop(key, None)
                else:
                    options[key] = value
            shop.options = options

    lab.app.db.run_sync(write)


async def ticker(every: float, line: Callable[[], str]) -> None:
    """Print ``line()`` every ``every`` seconds until cancelled."""
    while True:
        await anyio.sleep(every)
        say(line())


# --- the stock-push lab ---------------------------------------------------------------------


async def push_lab(
    folder: Path,
    *,
    skus: int,
    skus_per_item: int,
    seed_stock: int,
    on_hand: int,
    rng_seed: int,
    shops: Sequence[str] = tuple(SHOPS),
) -> tuple[Lab, CallMeter, dict[str, Any], dict[str, float]]:
    """A catalogue of ``skus`` master SKUs listed on every shop with ``seed_stock`` units,
    while the hub counts ``on_hand``: after the listings are read, every listing needs a
    stock write. Setup runs unpaced with no latency; the caller then sets the pacing and
    latency it wants to measure. Returns the lab, its call meter, the captured clients and
    the setup timings."""
    items = max(1, skus // skus_per_item)
    timings: dict[str, float] = {}
    started = time.monotonic()
    seed = generate_seed(
        items=items, skus_per_item=skus_per_item, stock=seed_stock, rng=random.Random(rng_seed)
    )
    lab = Lab.create(
        f"sqlite:///{folder / 'hub.db'}",
        shops={name: SHOPS[name] for name in shops},
        seed=seed,
        sandbox={"latency": 0.0, "qps": None},
        shop_settings={"qps": UNPACED_QPS},
        settings={"listings_interval_minutes": 24 * 60},
    )
    spread_catalogue(lab)
    timings["sandboxes_seconds"] = round(time.monotonic() - started, 2)
    say(f"setup: {items * skus_per_item} SKUs seeded in {len(shops)} sandboxes")
    started = time.monotonic()
    lab.import_catalogue(on_hand=on_hand)
    timings["catalogue_seconds"] = round(time.monotonic() - started, 2)
    say(f"setup: catalogue imported in {timings['catalogue_seconds']}s; reading listings")
    meter = meter_lab(lab)
    clients = capture_clients(lab)
    started = time.monotonic()
    report = await lab.sync(streams=["listings"])
    timings["listings_seconds"] = round(time.monotonic() - started, 2)
    if report.exit_code:
        raise SystemExit(f"listings sync failed: {report.to_dict()}")
    linked = {r.shop: r.stored for r in report.results}
    say(f"setup: listings read in {timings['listings_seconds']}s: {linked}")
    return lab, meter, clients, timings


def spread_catalogue(lab: Lab) -> None:
    """Stamp each sandbox's items one second apart, newest now, as a real shop's items
    were created and modified over time. (A generated catalogue is created within one
    second, and Taobao's items.onsale.get cannot page past 20,000 items modified within
    one second: the client would rightly refuse to read such a shop.)"""
    for box in lab.sandboxes.values():
        now = box.clock.now()
        items = list(box.state.items.values())
        for age, item in enumerate(reversed(items)):
            item.created = item.modified = now - timedelta(seconds=age)
            for sku in item.skus.values():
                sku.modified = item.modified


def set_sandbox(lab: Lab, *, latency: float, qps: dict[str, float | None]) -> None:
    """Latency and platform-side QPS gate of every sandbox (applies to later calls)."""
    for name, box in lab.sandboxes.items():
        box.latency = latency
        limit = qps.get(name)
        box.gate = QpsGate(limit, box.clock) if limit else None


def listing_counts(lab: Lab) -> dict[str, int]:
    return lab.app.db.run_sync(
        lambda s: {
            name: n
            for name, n in s.execute(
                select(t.Shop.name, __import__("sqlalchemy").func.count(t.Listing.id))
                .join(t.Listing, t.Listing.shop_id == t.Shop.id)
                .where(t.Listing.sku_id.is_not(None))
                .group_by(t.Shop.name)
            )
        }
    )
