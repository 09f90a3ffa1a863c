"""Flash sale: hub.demo.run_demo with flags, one run per --seed.

Four platform sandboxes (Taobao, JD, Douyin, WeChat) share one catalogue; after a first
sync, simulated buyers race for a few scarce SKUs on all four channels while the hub
syncs every --interval seconds (like ``hub sync --watch``). Nothing but the counts is
configured: no SKU is marked partitioned, the hub partitions the scarce ones by itself.
Figures come from the platforms' own records:

* oversold units: units sold beyond each scarce SKU's stock, summed (target 0);
* sell-through: units sold / scarce stock (target >= 99% when demand exceeds stock);
* propagation p50/p99: seconds from a sale on one channel to the end of the first sync
  cycle that stored it (after which every other channel shows the new quantity)
  (target p99 <= interval + 1 s).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, machine, say, target

from hub.demo import DemoOptions, run_demo

SELL_THROUGH_TARGET = 0.99


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = DemoOptions()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skus", type=int, default=defaults.skus, help="SKUs in the catalogue")
    parser.add_argument("--scarce", type=int, default=defaults.scarce, help="SKUs in the flash sale")
    parser.add_argument("--stock", type=int, default=defaults.scarce_stock, help="units of each scarce SKU")
    parser.add_argument("--on-hand", type=int, default=defaults.on_hand, help="units of every other SKU")
    parser.add_argument("--seconds", type=float, default=defaults.seconds, help="length of the sale")
    parser.add_argument("--rate", type=float, default=defaults.rate, help="buyer attempts per second in all")
    parser.add_argument(
        "--interval", type=float, default=defaults.interval, help="seconds between sync cycles"
    )
    parser.add_argument("--latency", type=float, default=defaults.latency, help="sandbox seconds per call")
    parser.add_argument("--qps", type=float, default=defaults.qps, help="per-shop client pacing")
    parser.add_argument("--faults", action="store_true", help="inject platform faults during the sale")
    parser.add_argument("--seed", type=int, nargs="+", default=[defaults.seed], help="one run per seed")
    parser.add_argument(
        "--dir", default=None, help="keep the databases here (default: a temporary directory)"
    )
    return parser.parse_args(argv)


def one(args: argparse.Namespace, seed: int, folder: Path) -> dict[str, Any]:
    options = DemoOptions(
        folder=folder,
        seed=seed,
        skus=args.skus,
        scarce=args.scarce,
        scarce_stock=args.stock,
        on_hand=args.on_hand,
        seconds=args.seconds,
        rate=args.rate,
        interval=args.interval,
        latency=args.latency,
        qps=args.qps,
        faults=args.faults,
    )
    started = time.monotonic()
    result = anyio.run(lambda: run_demo(options, say=lambda m: say(f"seed {seed}: {m}")))
    out = result.to_dict()
    out["seed"] = seed
    out["run_seconds"] = round(time.monotonic() - started, 1)
    say(
        f"seed {seed}: oversold {result.oversold}, sell-through {result.sell_through:.2%}, "
        f"propagation p50 {result.propagation_p50}s p99 {result.propagation_p99}s"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        base = Path(args.dir) if args.dir else Path(tmp)
        for seed in args.seed:
            runs.append(one(args, seed, base / f"seed-{seed}"))
    stock = args.scarce * args.stock
    demand = args.rate * args.seconds  # one unit per attempt
    oversold = max(r["oversold"] for r in runs)
    sell_through = min(r["sell_through"] for r in runs)
    p50s = [r["propagation_p50"] for r in runs if r["propagation_p50"] is not None]
    p99s = [r["propagation_p99"] for r in runs if r["propagation_p99"] is not None]
    p99 = max(p99s) if len(p99s) == len(runs) else None
    sell_target = (
        target(sell_through, ">=", SELL_THROUGH_TARGET)
        if demand > stock
        else {"value": sell_through, "target": "n/a: demand does not exceed stock", "pass": None}
    )
    emit(
        {
            "benchmark": "flash_sale",
            "machine": machine(),
            "inputs": {
                "skus": args.skus,
                "scarce": args.scarce,
                "stock_per_scarce_sku": args.stock,
                "on_hand": args.on_hand,
                "seconds": args.seconds,
                "rate": args.rate,
                "interval": args.interval,
                "latency": args.latency,
                "qps": args.qps,
                "faults": args.faults,
                "seeds": args.seed,
                "scarce_stock_total": stock,
                "expected_attempts": round(demand),
            },
            "figures": {
                "oversold_max": oversold,
                "sell_through_min": sell_through,
                "propagation_p50_max": max(p50s) if p50s else None,
                "propagation_p99_max": p99,
                "unpropagated_total": sum(r["unpropagated"] for r in runs),
                "failed_writes_total": sum(r["failed_writes"] for r in runs),
                "problems": [f"seed {r['seed']}: {p}" for r in runs for p in r["problems"]],
            },
            "runs": runs,
            "targets": {
                "oversold": target(oversold, "<=", 0),
                "sell_through": sell_target,
                "propagation_p99": target(p99, "<=", round(args.interval + 1.0, 3)),
            },
        }
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
