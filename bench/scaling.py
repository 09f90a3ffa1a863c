"""Scaling of the stock push: the full push of bench/stock_push.py at several catalogue
sizes (default 1k, 10k, 100k SKUs, each listed on the four shops) with client pacing
lifted, no sandbox latency and no platform QPS gate, so the wall time is the hub's own
cost (plus the in-process sandboxes' CPU, reported separately), not the platforms' limits.

Per size: a fresh database and sandboxes; setup (catalogue, listings) is not timed; one
``hub sync --stream stock`` cycle writing every listing is. Figures: wall time per size,
the least-squares slope (seconds per 1,000 SKUs x 4 shops) with its R^2, and the ratio of
the per-SKU cost at the largest size to that at the smallest (1.0 = perfectly linear).
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
    current_rss_mb,
    emit,
    machine,
    meter_db,
    peak_rss_mb,
    push_lab,
    say,
    set_sandbox,
    ticker,
    work_dir,
)

LINEARITY_TARGET = 1.5  # per-SKU cost at the largest size / at the smallest
R2_TARGET = 0.99


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="catalogue sizes (SKUs)"
    )
    parser.add_argument("--skus-per-item", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.0, help="sandbox seconds per call")
    parser.add_argument("--seed-stock", type=int, default=100)
    parser.add_argument("--on-hand", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dir", default=None, help="keep the databases here (default: a temporary directory)"
    )
    parser.add_argument("--progress-every", type=float, default=30.0, help="seconds between progress lines")
    return parser.parse_args(argv)


async def one_size(args: argparse.Namespace, skus: int, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("hub.db*"):
        old.unlink()
    lab, meter, _clients, setup = await push_lab(
        folder,
        skus=skus,
        skus_per_item=args.skus_per_item,
        seed_stock=args.seed_stock,
        on_hand=args.on_hand,
        rng_seed=args.seed,
    )
    try:
        set_sandbox(lab, latency=args.latency, qps={})
        db = meter_db(lab)
        meter.reset()
        say(f"{skus} SKUs: timed stock push of {skus * len(SHOPS)} listings")

        def line() -> str:
            calls = sum(c.calls for c in meter.shops.values())
            return f"{skus} SKUs: {time.monotonic() - started:.0f}s, {calls} calls"

        started, cpu = time.monotonic(), time.process_time()
        async with anyio.create_task_group() as group:
            group.start_soon(ticker, args.progress_every, line)
            report = await lab.sync(streams=["stock"])
            group.cancel_scope.cancel()
        wall = time.monotonic() - started
        cpu = time.process_time() - cpu
        pushed = sum(r.pushed for r in report.results if r.stream == "stock")
        failed = sum(r.failed for r in report.results if r.stream == "stock")
        sandbox = sum(c.in_sandbox for c in meter.shops.values())
        say(f"{skus} SKUs: {pushed} writes in {wall:.1f}s ({pushed / wall:.0f}/s), exit {report.exit_code}")
        return {
            "skus": skus,
            "listings": skus * len(SHOPS),
            "setup": setup,
            "wall_seconds": round(wall, 2),
            "process_cpu_seconds": round(cpu, 2),
            "sandbox_cpu_seconds": round(sandbox, 2),
            "hub_seconds": round(wall - sandbox, 2),
            "db_seconds": round(db.seconds, 2),
            "db_cpu_seconds": round(db.cpu_seconds, 2),
            "calls": sum(c.calls for c in meter.shops.values()),
            "pushed": pushed,
            "failed": failed,
            "writes_per_second": round(pushed / wall, 1) if wall else None,
            "ms_per_sku": round(wall / skus * 1000, 3),
            "rss_mb": current_rss_mb(),
            "exit_code": report.exit_code,
        }
    finally:
        lab.close()


def fit(xs: list[float], ys: list[float]) -> tuple[float, float, float | None]:
    """Least squares y = a + b x: (b, a, R^2)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx if sxx else 0.0
    intercept = my - slope * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, intercept, (1 - ss_res / ss_tot) if ss_tot else None


async def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    sizes = []
    for skus in args.sizes:
        sizes.append(await one_size(args, skus, folder / f"skus-{skus}"))
    xs = [s["skus"] / 1000 for s in sizes]
    slope, intercept, r2 = (
        fit(xs, [s["wall_seconds"] for s in sizes]) if len(sizes) > 1 else (None, None, None)
    )
    hub_slope, _, hub_r2 = (
        fit(xs, [s["hub_seconds"] for s in sizes]) if len(sizes) > 1 else (None, None, None)
    )
    small, large = min(sizes, key=lambda s: s["skus"]), max(sizes, key=lambda s: s["skus"])
    ratio = round(large["ms_per_sku"] / small["ms_per_sku"], 3) if small["ms_per_sku"] else None
    ok = all(s["failed"] == 0 and s["pushed"] == s["listings"] for s in sizes)
    return {
        "benchmark": "scaling",
        "machine": machine(),
        "inputs": {
            "sizes": args.sizes,
            "shops": list(SHOPS),
            "skus_per_item": args.skus_per_item,
            "latency": args.latency,
            "pacing": "lifted",
            "sandbox_qps": None,
            "seed": args.seed,
        },
        "sizes": sizes,
        "figures": {
            "slope_seconds_per_1000_skus": round(slope, 3) if slope is not None else None,
            "intercept_seconds": round(intercept, 3) if intercept is not None else None,
            "r2": round(r2, 4) if r2 is not None else None,
            "hub_only_slope_seconds_per_1000_skus": round(hub_slope, 3) if hub_slope is not None else None,
            "hub_only_r2": round(hub_r2, 4) if hub_r2 is not None else None,
            "per_sku_cost_ratio_largest_vs_smallest": ratio,
            "peak_rss_mb": peak_rss_mb(),
        },
        "targets": {
            "r2": {"value": r2, "target": f">= {R2_TARGET}", "pass": r2 is not None and r2 >= R2_TARGET},
            "per_sku_cost_ratio": {
                "value": ratio,
                "target": f"<= {LINEARITY_TARGET} (1.0 = linear)",
                "pass": ratio is not None and ratio <= LINEARITY_TARGET,
            },
            "every_listing_pushed": {"value": ok, "target": "every listing written, none failed", "pass": ok},
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with work_dir(args.dir) as folder:
        result = anyio.run(run, args, folder)
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
