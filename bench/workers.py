"""`hub worker` scale-out: 20 shops across the four platforms, stock push plus order
ingest, run by 1, 2 and 4 worker processes on PostgreSQL.

Per run: a fresh database on a throwaway PostgreSQL server (started as the test suite
starts one), 20 sandboxes served over HTTP from this process (30 ms per call, the
platforms' declared QPS enforced by the hub's shared limiter and counted by each
sandbox), the catalogue imported and the listings linked (not timed). Then the workers
start, idle; one transaction enqueues an orders job for every shop, then a stock job
for every shop, and the clock runs until every job has finished. Figures per run: wall
time, jobs, orders stored and stock writes per second, and the peak calls any one
sandbox saw in a one-second window (as its server reads them, before the latency)
against its shop's declared QPS; overall the speedup of 2 and 4 workers over one.
Targets: 4 workers >= 3x one worker, and no shop's declared QPS ever exceeded.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, machine, say, target

from hub.app import App
from hub.core.engine import SyncEngine
from hub.core.shops import add_shop
from hub.report import STREAMS
from hub.settings import HubSettings
from hub.simulator import SandboxApp, SandboxConfig, generate_seed
from hub.simulator.lab import Lab
from hub.simulator.transport import ServedSandbox, uvicorn_config
from hub.storage import tables as t
from hub.testing.postgres import PostgresForTests
from hub.workers import enqueue

PLATFORMS = ("taobao", "jd", "douyin", "wechat")
SPEEDUP_TARGET = 3.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shops", type=int, default=20, help="shops, spread over the four platforms")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4], help="worker counts to run")
    parser.add_argument("--concurrency", type=int, default=2, help="jobs each worker runs at once")
    parser.add_argument("--items", type=int, default=15, help="items per shop (2 SKUs each)")
    parser.add_argument("--orders", type=int, default=40, help="orders per shop, over the last 2 days")
    parser.add_argument("--latency", type=float, default=0.03, help="sandbox seconds per call")
    parser.add_argument("--timeout", type=float, default=240, help="seconds one run may take")
    return parser.parse_args(argv)


def peak_per_second(times: list[float]) -> int:
    """The most calls in any one-second window [t, t + 1)."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def serve_counted(box: SandboxApp, seen: list[float]) -> ServedSandbox:
    """Serve ``box`` over HTTP from a thread, noting when each request arrives: as the
    server reads it, before the sandbox's latency (a platform counts calls as they come)."""
    import uvicorn

    config = uvicorn_config(box, "127.0.0.1", 0, lifespan="on")
    inner = config.app

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(time.monotonic())
        await inner(scope, receive, send)

    config.app = counted
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"sandbox-{box.platform}", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise SystemExit(f"sandbox {box.platform} failed to start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return ServedSandbox(box, box.base_url(f"http://127.0.0.1:{port}"), port, server, thread)


class World:
    """One run's database, sandboxes and shops."""

    def __init__(self, pg: PostgresForTests, args: argparse.Namespace):
        self.url = pg.migrated_database()
        self.app = App(settings=HubSettings(database_url=self.url, partition_below=0))
        self.served: dict[str, ServedSandbox] = {}
        self.calls: dict[str, list[float]] = {}
        self.declared: dict[str, float] = {}
        now = datetime.now(UTC)
        for number in range(args.shops):
            platform = PLATFORMS[number % len(PLATFORMS)]
            name = f"{platform}-{number:02d}"
            seed = generate_seed(
                items=args.items,
                skus_per_item=2,
                orders=args.orders,
                start=now - timedelta(days=2),
                end=now - timedelta(minutes=5),
                stock=100,
                rng=random.Random(7),  # one catalogue: the same master codes on every shop
            )
            info = self.app.host.platform(platform)
            box = info.make_sandbox(SandboxConfig(seed=seed, rng_seed=number, latency=args.latency))
            seen: list[float] = []
            self.calls[name] = seen
            self.declared[name] = info.rate_limit.qps
            self.served[name] = serve_counted(box, seen)
            values = {**box.shop_credentials(), "base_url": self.served[name].url}
            self.app.db.run_sync(
                lambda s, n=name, p=platform, v=values: add_shop(
                    s, self.app.host, name=n, platform=p, values=v, now=self.app.clock.now()
                )
            )
        self.seed = seed

    def prepare(self) -> None:
        """Catalogue with 50 on hand (every listing shows 100: each one gets written), the
        listings read and linked, and the schedule pushed out of the way (not timed)."""
        Lab(self.app, {n: s.app for n, s in self.served.items()}, self.seed).import_catalogue(on_hand=50)
        report = anyio.run(
            lambda: SyncEngine(self.app.runtime(), self.app.settings).run_cycle(None, ["listings"])
        )
        if report.exit_code:
            raise SystemExit(f"setup failed: {report.to_dict()}")
        far = datetime.now(UTC) + timedelta(days=1)

        def no_schedule(s: Any) -> None:  # the workers' tick must not add work of its own
            for shop_id in s.scalars(select(t.Shop.id)):
                for stream in STREAMS:
                    s.add(t.JobSchedule(shop_id=shop_id, stream=stream, next_at=far))

        self.app.db.run_sync(no_schedule)
        for seen in self.calls.values():
            seen.clear()

    def close(self) -> None:
        for box in self.served.values():
            box.stop()
        self.app.close()


def run(pg: PostgresForTests, args: argparse.Namespace, workers: int) -> dict[str, Any]:
    world = World(pg, args)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        world.prepare()
        env = {**os.environ, "HUB_DATABASE_URL": world.url, "HUB_PARTITION_BELOW": "0"}
        command = [sys.executable, "-m", "hub", "-q", "worker", "--concurrency", str(args.concurrency)]
        procs = [subprocess.Popen(command, env=env) for _ in range(workers)]
        time.sleep(3)  # let them start and listen (not timed)
        names = sorted(world.served)

        def enqueue_all(s: Any) -> None:  # orders first, as a sync cycle orders its phases
            for stream in ("orders", "stock"):
                for name in names:
                    enqueue.enqueue_stream(s, name, stream)

        start = time.monotonic()
        world.app.db.run_sync(enqueue_all)
        unfinished = text(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'hub:run_stream'"
            " AND status IN ('todo', 'doing')"
        )
        while world.app.db.run_sync(lambda s: s.scalar(unfinished)):
            if time.monotonic() - start > args.timeout:
                raise SystemExit(f"{workers} worker(s): not done after {args.timeout} s")
            time.sleep(0.05)
        wall = time.monotonic() - start
        by_status = text(
            "SELECT status::text AS status, count(*) AS n FROM procrastinate_jobs"
            " WHERE task_name = 'hub:run_stream' GROUP BY status"
        )
        statuses = world.app.db.run_sync(lambda s: {r.status: r.n for r in s.execute(by_status)})
        orders = world.app.db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Order)))
        writes = world.app.db.run_sync(
            lambda s: s.scalar(
                select(func.count()).select_from(t.OutboxEntry).where(t.OutboxEntry.kind == "stock")
            )
        )
        peaks = {name: peak_per_second(seen) for name, seen in world.calls.items()}
        over = {n: p for n, p in peaks.items() if p > world.declared[n]}
        result = {
            "workers": workers,
            "wall_seconds": round(wall, 2),
            "jobs": statuses,
            "orders_stored": orders,
            "stock_writes": writes,
            "calls": sum(len(seen) for seen in world.calls.values()),
            "throughput_jobs_per_s": round(2 * len(names) / wall, 2),
            "throughput_records_per_s": round((orders + writes) / wall, 1),
            "peak_qps_per_shop": peaks,
            "declared_qps": sorted(set(world.declared.values())),
            "shops_over_declared_qps": over,
        }
        say(f"{workers} worker(s): {wall:.1f} s, {statuses}, peak shop QPS {max(peaks.values())}")
        return result
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        world.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("XDG_CONFIG_HOME", tempfile.mkdtemp(prefix="hub-bench-"))  # the PG secret key
    say("starting a throwaway PostgreSQL server")
    pg = PostgresForTests.start()
    try:
        runs = [run(pg, args, n) for n in args.workers]
    finally:
        pg.close()
    base = runs[0]["wall_seconds"]
    speedup = {str(r["workers"]): round(base / r["wall_seconds"], 2) for r in runs}
    worst = max(max(r["peak_qps_per_shop"].values()) - min(r["declared_qps"]) for r in runs)
    emit(
        {
            "benchmark": "workers",
            "inputs": vars(args),
            "machine": machine(),
            "runs": runs,
            "speedup": speedup,
            "targets": {
                "speedup_4_workers": target(float(speedup.get("4", 0)), ">=", SPEEDUP_TARGET),
                "declared_qps_exceeded_by": target(float(worst), "<=", 0),
            },
        }
    )


if __name__ == "__main__":
    main()
