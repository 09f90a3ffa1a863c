"""Full stock push: N SKUs x 4 shops under each platform's declared rate limit.

Setup (not timed): N master SKUs listed on the four sandboxes (Taobao, JD, Douyin, WeChat)
with ``--seed-stock`` units each while the hub counts ``--on-hand``; the listings are read
and linked unpaced. Then the sandboxes get ``--latency`` per call, the shops their
declared pacing (or ``--qps``), and one ``hub sync --stream stock`` cycle is timed: it
writes every listing.

Figures per shop: calls, wall time (cycle start to the shop's last response), the time
the rate limit forces (calls / qps) and efficiency = forced / wall; overall: the cycle's
wall time against the slowest shop's forced time. Target: efficiency >= 0.9.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    SHOPS,
    declared_limits,
    emit,
    listing_counts,
    machine,
    push_lab,
    say,
    set_sandbox,
    set_shop_options,
    target,
    ticker,
    work_dir,
)

EFFICIENCY_TARGET = 0.9


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skus", type=int, default=20_000, help="master SKUs, each listed on every shop")
    parser.add_argument(
        "--skus-per-item", type=int, default=2, help="SKUs per platform item (Taobao batches per item)"
    )
    parser.add_argument("--latency", type=float, default=0.030, help="sandbox seconds per call")
    parser.add_argument(
        "--qps",
        type=float,
        default=None,
        help="client pacing for every shop (default: each platform's declared rate limit)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help="calls in flight per shop (default: declared)"
    )
    parser.add_argument(
        "--sandbox-qps",
        type=float,
        default=None,
        help="platform-side QPS gate of every sandbox (default: the shop's pacing; 0 = none)",
    )
    parser.add_argument(
        "--seed-stock", type=int, default=100, help="units every listing shows before the push"
    )
    parser.add_argument(
        "--on-hand", type=int, default=50, help="units the hub counts per SKU (the push target)"
    )
    parser.add_argument(
        "--shops", nargs="+", choices=list(SHOPS), default=list(SHOPS), help="shops to include"
    )
    parser.add_argument("--seed", type=int, default=1, help="catalogue generator seed")
    parser.add_argument("--dir", default=None, help="keep the database here (default: a temporary directory)")
    parser.add_argument("--progress-every", type=float, default=30.0, help="seconds between progress lines")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    lab, meter, clients, setup = await push_lab(
        folder,
        skus=args.skus,
        skus_per_item=args.skus_per_item,
        seed_stock=args.seed_stock,
        on_hand=args.on_hand,
        rng_seed=args.seed,
        shops=args.shops,
    )
    try:
        declared = declared_limits(lab)
        pacing = {name: args.qps if args.qps is not None else declared[name].qps for name in args.shops}
        set_shop_options(lab, qps=args.qps, concurrency=args.concurrency)
        if args.sandbox_qps is None:
            gates: dict[str, float | None] = dict(pacing)
        else:
            gates = {name: (args.sandbox_qps or None) for name in args.shops}
        set_sandbox(lab, latency=args.latency, qps=gates)
        listings = listing_counts(lab)
        say(
            f"timed: stock push of {sum(listings.values())} listings {listings}, "
            f"pacing {pacing} qps, latency {args.latency}s"
        )

        def line() -> str:
            calls = {name: meter.of(name).calls for name in args.shops}
            return f"stock push: {time.monotonic() - started:.0f}s, calls so far {calls}"

        meter.reset()
        started = time.monotonic()
        async with anyio.create_task_group() as group:
            group.start_soon(ticker, args.progress_every, line)
            report = await lab.sync(streams=["stock"])
            group.cancel_scope.cancel()
        wall = time.monotonic() - started
        say(f"timed: done in {wall:.1f}s, exit code {report.exit_code}")

        pushed = {r.shop: r for r in report.results if r.stream == "stock"}
        shops: dict[str, Any] = {}
        for name in args.shops:
            calls = meter.of(name)
            client = clients.get(name)
            end = (calls.last_end or started) - started
            forced = calls.calls / pacing[name]
            box = lab.sandboxes[name]
            shown = [s.quantity for s in box.state.skus.values() if s.code]
            result = pushed.get(name)
            shops[name] = {
                "listings": listings.get(name, 0),
                "pushed": result.pushed if result else 0,
                "failed": result.failed if result else 0,
                "calls": calls.calls,
                "qps": pacing[name],
                "wall_seconds": round(end, 2),
                "forced_seconds": round(forced, 2),
                "efficiency": round(forced / end, 3) if end > 0 else None,
                "limiter_waited_seconds": round(client.limiter.waited, 1) if client else None,
                "retries": client.stats.retries if client else None,
                "throttled_by_sandbox": box.gate.refused if box.gate else 0,
                "sandbox_cpu_seconds": round(calls.in_sandbox, 2),
                "listings_at_target": sum(1 for q in shown if q == args.on_hand),
            }
        slowest = max(args.shops, key=lambda n: shops[n]["forced_seconds"])
        forced_overall = shops[slowest]["forced_seconds"]
        overall = {
            "wall_seconds": round(wall, 2),
            "calls": sum(s["calls"] for s in shops.values()),
            "pushed": sum(s["pushed"] for s in shops.values()),
            "failed": sum(s["failed"] for s in shops.values()),
            "forced_seconds": forced_overall,
            "slowest_shop": slowest,
            "efficiency": round(forced_overall / wall, 3) if wall > 0 else None,
            "exit_code": report.exit_code,
        }
        all_at_target = all(s["listings_at_target"] == s["listings"] for s in shops.values())
        return {
            "benchmark": "stock_push",
            "machine": machine(),
            "inputs": {
                "skus": args.skus,
                "skus_per_item": args.skus_per_item,
                "shops": args.shops,
                "latency": args.latency,
                "qps": pacing,
                "qps_source": "--qps" if args.qps is not None else "declared",
                "concurrency": {n: args.concurrency or declared[n].concurrency for n in args.shops},
                "sandbox_qps": gates,
                "seed_stock": args.seed_stock,
                "on_hand": args.on_hand,
                "seed": args.seed,
            },
            "setup": setup,
            "shops": shops,
            "overall": overall,
            "targets": {
                "efficiency": target(overall["efficiency"], ">=", EFFICIENCY_TARGET),
                **{
                    f"efficiency_{name}": target(shops[name]["efficiency"], ">=", EFFICIENCY_TARGET)
                    for name in args.shops
                },
                "every_listing_pushed": {
                    "value": all_at_target and overall["failed"] == 0,
                    "target": "every listing shows --on-hand, no failed write",
                    "pass": all_at_target and overall["failed"] == 0,
                },
            },
        }
    finally:
        lab.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with work_dir(args.dir) as folder:
        result = anyio.run(run, args, folder)
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
