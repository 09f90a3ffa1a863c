"""Order ingest: N orders across the four sandboxes into SQLite, end to end.

Setup (not timed): each of the four sandboxes (Taobao, JD, Douyin, WeChat) is seeded with
the same catalogue and N/4 generated orders spread over ``--days`` days (each platform
assigns its own order ids); the hub imports the catalogue and links the listings. Then
one ``hub sync --stream orders`` cycle is timed: every shop reads every order window from
its initial history (30 days) to now, maps the platform orders and stores them (orders,
lines, reservations), cursor by cursor, all four shops concurrently. Client pacing is
lifted, the sandboxes have no latency and no QPS gate: the figure is the hub's (and the
in-process sandboxes') own cost. With ``--workers N``, N processes forked after setup
share the shops round-robin and store into the same SQLite file, as N ``hub sync --shop``
processes would; the wall time runs from their common start to the last one's end.

Figures: orders stored per second of the cycle (target >= 5,000/s) and the peak resident
memory of this process, or of the largest worker (ru_maxrss; target <= 500 MB), which
includes the sandboxes' in-memory shops.
"""

from __future__ import annotations

import argparse
import multiprocessing
import queue
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SHOPS,
    UNPACED_QPS,
    CallMeter,
    current_rss_mb,
    emit,
    machine,
    meter_db,
    meter_lab,
    peak_rss_mb,
    say,
    target,
    ticker,
    work_dir,
)

from hub.simulator import generate_seed
from hub.simulator.lab import Lab
from hub.storage import tables as t

RATE_TARGET = 5000.0
MEMORY_TARGET_MB = 500.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=100_000, help="orders in all, N/4 per shop")
    parser.add_argument("--days", type=float, default=7.0, help="the orders are spread over this many days")
    parser.add_argument("--skus", type=int, default=2_000, help="catalogue size (SKUs)")
    parser.add_argument("--skus-per-item", type=int, default=2)
    parser.add_argument(
        "--shops",
        nargs="+",
        choices=list(SHOPS),
        default=list(SHOPS),
        help="shops to include (N split among them)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes sharing the shops round-robin, each syncing its own (the scale path: "
        "one `hub sync --shop NAME` per worker); 1 = every shop in this process",
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed")
    parser.add_argument("--dir", default=None, help="keep the database here (default: a temporary directory)")
    parser.add_argument("--progress-every", type=float, default=5.0, help="seconds between progress lines")
    parser.add_argument("--profile", default=None, help="write a cProfile of the timed cycle to this file")
    return parser.parse_args(argv)


async def setup(args: argparse.Namespace, folder: Path) -> tuple[Lab, CallMeter, dict[str, str]]:
    """Seeded sandboxes, the catalogue imported and every listing linked (not timed)."""
    shops_used = {name: SHOPS[name] for name in args.shops}
    per_shop = args.orders // len(shops_used)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    start = end - timedelta(days=args.days)
    started = time.monotonic()
    seed = generate_seed(
        items=max(1, args.skus // args.skus_per_item),
        skus_per_item=args.skus_per_item,
        orders=per_shop,
        start=start,
        end=end,
        rng=random.Random(args.seed),
    )
    lab = Lab.create(
        f"sqlite:///{folder / 'hub.db'}",
        shops=shops_used,
        seed=seed,
        sandbox={"latency": 0.0, "qps": None},
        shop_settings={"qps": UNPACED_QPS},
    )
    del seed
    seeded = sum(len(box.state.orders) for box in lab.sandboxes.values())
    say(f"setup: {seeded} orders seeded in {len(shops_used)} sandboxes in {time.monotonic() - started:.1f}s")
    lab.import_catalogue()
    meter = meter_lab(lab)
    report = await lab.sync(streams=["listings"])
    if report.exit_code:
        lab.close()
        raise SystemExit(f"listings sync failed: {report.to_dict()}")
    say("setup: catalogue imported and listings linked")
    return lab, meter, shops_used


async def timed_cycle(
    lab: Lab, meter: CallMeter, shops: list[str], args: argparse.Namespace, counter: Any = None
) -> dict[str, Any]:
    """One orders cycle of ``shops``, timed: wall, CPU, DB and sandbox figures, and each
    shop's result. ``counter`` (a shared value) adds up the orders stored by every worker."""
    ingested = {"n": 0}

    def progress(event: str, shop: str, stream: str, info: dict[str, Any]) -> None:
        if event == "advance" and stream == "orders":
            ingested["n"] += info["n"]
            if counter is not None:
                with counter.get_lock():
                    counter.value += info["n"]

    lab.engine().progress = progress

    def line() -> str:
        elapsed = time.monotonic() - timed_start
        return f"orders: {ingested['n']} in {elapsed:.0f}s ({ingested['n'] / elapsed:.0f}/s)"

    meter.reset()
    db_meter = meter_db(lab)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        db_meter.profiler = cProfile.Profile()
        profiler.enable()
    timed_start, cpu_start = time.monotonic(), time.process_time()
    async with anyio.create_task_group() as group:
        if counter is None:
            group.start_soon(ticker, args.progress_every, line)
        report = await lab.sync(shops=shops, streams=["orders"])
        group.cancel_scope.cancel()
    wall = time.monotonic() - timed_start
    process_cpu = time.process_time() - cpu_start
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
        db_meter.profiler.dump_stats(args.profile + ".db")
        db_meter.profiler = None
    results = {r.shop: r for r in report.results if r.stream == "orders"}
    return {
        "wall": wall,
        "exit_code": report.exit_code,
        "process_cpu": process_cpu,
        "db_seconds": db_meter.seconds,
        "db_cpu_seconds": db_meter.cpu_seconds,
        "db_transactions": db_meter.transactions,
        "peak_rss_mb": peak_rss_mb(),
        "shops": {
            name: {
                "fetched": results[name].fetched if name in results else 0,
                "calls": meter.of(name).calls,
                "sandbox_cpu_seconds": round(meter.of(name).in_sandbox, 2),
                "seconds": results[name].seconds if name in results else None,
                "error": results[name].error if name in results else None,
            }
            for name in shops
        },
    }


def _worker(
    lab: Lab,
    meter: CallMeter,
    shops: list[str],
    args: argparse.Namespace,
    barrier: Any,
    counter: Any,
    results: Any,
) -> None:
    """One worker process (forked after setup): its shops' orders cycle, like a
    ``hub sync --shop NAME --stream orders`` process of its own."""
    try:
        lab.app.db.engine.dispose(close=False)  # the parent's pool is not ours to use
        lab._engine = None  # a sync engine (runtime, clients) of this process's own
        barrier.wait()
        results.put(anyio.run(timed_cycle, lab, meter, shops, args, counter))
    except BaseException as exc:
        results.put({"error": f"{type(exc).__name__}: {exc}", "shops": {}})
        raise


def run_workers(args: argparse.Namespace, lab: Lab, meter: CallMeter, shops: list[str]) -> dict[str, Any]:
    """``--workers`` processes share the shops round-robin and write one SQLite file;
    wall time runs from their common start to the last one's end."""
    context = multiprocessing.get_context("fork")
    lab.app.db.dispose()  # no open connection crosses the fork
    groups = [shops[i :: args.workers] for i in range(args.workers)]
    barrier, counter, results = context.Barrier(len(groups) + 1), context.Value("q", 0), context.Queue()
    workers = [
        context.Process(target=_worker, args=(lab, meter, group, args, barrier, counter, results))
        for group in groups
    ]
    for worker in workers:
        worker.start()
    barrier.wait(timeout=120)  # a worker that failed to start breaks it
    timed_start = time.monotonic()
    parts: list[dict[str, Any]] = []
    while len(parts) < len(workers):
        try:
            parts.append(results.get(timeout=args.progress_every))
        except queue.Empty:
            elapsed = time.monotonic() - timed_start
            say(f"orders: {counter.value} in {elapsed:.0f}s ({counter.value / elapsed:.0f}/s)")
    wall = time.monotonic() - timed_start
    for worker in workers:
        worker.join()
    errors = [part["error"] for part in parts if "error" in part]
    if errors:
        raise SystemExit(f"a worker failed: {errors[0]}")
    return {
        "wall": wall,
        "exit_code": max(part["exit_code"] for part in parts),
        "process_cpu": sum(part["process_cpu"] for part in parts),
        "db_seconds": sum(part["db_seconds"] for part in parts),
        "db_cpu_seconds": sum(part["db_cpu_seconds"] for part in parts),
        "db_transactions": sum(part["db_transactions"] for part in parts),
        "peak_rss_mb": max(part["peak_rss_mb"] for part in parts),
        "peak_rss_sum_mb": round(sum(part["peak_rss_mb"] for part in parts), 1),
        "shops": {name: shop for part in parts for name, shop in part["shops"].items()},
    }


def summarise(
    args: argparse.Namespace,
    lab: Lab,
    shops_used: dict[str, str],
    timed: dict[str, Any],
    rss_before: float | None,
    peak_before: float,
) -> dict[str, Any]:
    counts = lab.app.db.run_sync(
        lambda s: {
            "orders": s.scalar(select(func.count(t.Order.id))),
            "lines": s.scalar(select(func.count(t.OrderLine.id))),
            "reservations": s.scalar(select(func.count(t.Reservation.id))),
            "per_shop": dict(
                s.execute(
                    select(t.Shop.name, func.count(t.Order.id))
                    .join(t.Order, t.Order.shop_id == t.Shop.id)
                    .group_by(t.Shop.name)
                ).all()
            ),
        }
    )
    shops = {
        name: {
            "seeded": len(lab.sandboxes[name].state.orders),
            "stored": counts["per_shop"].get(name, 0),
            **timed["shops"][name],
        }
        for name in shops_used
    }
    wall = timed["wall"]
    sandbox_cpu = sum(s["sandbox_cpu_seconds"] for s in shops.values())
    rate = counts["orders"] / wall if wall > 0 else None
    peak = max(timed["peak_rss_mb"], peak_rss_mb())
    complete = timed["exit_code"] == 0 and all(0 < s["stored"] <= s["seeded"] for s in shops.values())
    per_shop = args.orders // len(shops_used)
    figures = {
        "wall_seconds": round(wall, 2),
        "orders_stored": counts["orders"],
        "lines_stored": counts["lines"],
        "reservations_stored": counts["reservations"],
        "orders_per_second": round(rate, 1) if rate else None,
        "calls": sum(s["calls"] for s in shops.values()),
        "process_cpu_seconds": round(timed["process_cpu"], 2),
        "sandbox_cpu_seconds": round(sandbox_cpu, 2),
        "db_seconds": round(timed["db_seconds"], 2),
        "db_cpu_seconds": round(timed["db_cpu_seconds"], 2),
        "db_transactions": timed["db_transactions"],
        "peak_rss_mb": peak,
        "rss_before_timed_mb": rss_before,
        "peak_rss_before_timed_mb": peak_before,
        "exit_code": timed["exit_code"],
    }
    if args.workers == 1:
        figures["orders_per_second_without_sandbox"] = (
            round(counts["orders"] / (wall - sandbox_cpu), 1) if wall > sandbox_cpu else None
        )
    else:
        # Forked workers share the parent's pages until they write them: the sum over-counts.
        figures["peak_rss_sum_of_workers_mb"] = timed["peak_rss_sum_mb"]
    return {
        "benchmark": "order_ingest",
        "machine": machine(),
        "inputs": {
            "orders": per_shop * len(shops_used),
            "shops": list(shops_used),
            "orders_per_shop": per_shop,
            "workers": args.workers,
            "days": args.days,
            "skus": args.skus,
            "database": "sqlite (file, WAL)",
            "pacing": "lifted",
            "sandbox_latency": 0.0,
            "seed": args.seed,
        },
        "shops": shops,
        "figures": figures,
        "targets": {
            "orders_per_second": target(round(rate, 1) if rate else None, ">=", RATE_TARGET),
            "peak_rss_mb": target(peak, "<=", MEMORY_TARGET_MB),
            "orders_stored": {
                "value": complete,
                "target": "exit code 0; every shop stored orders, none more than it holds",
                "pass": complete,
            },
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workers > 1 and args.profile:
        raise SystemExit("--profile profiles one process: use it with --workers 1")
    with work_dir(args.dir) as folder:
        lab, meter, shops_used = anyio.run(setup, args, folder)
        try:
            rss_before, peak_before = current_rss_mb(), peak_rss_mb()
            if args.workers == 1:
                timed = anyio.run(timed_cycle, lab, meter, list(shops_used), args)
            else:
                timed = run_workers(args, lab, meter, list(shops_used))
            say(f"timed: done in {timed['wall']:.1f}s, exit code {timed['exit_code']}")
            result = summarise(args, lab, shops_used, timed, rss_before, peak_before)
        finally:
            lab.close()
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
