"""CPU and memory of the stock picture and plan per cycle, at catalogue scale.

Builds N SKUs, each listed on S shops (default 100,000 × 20 = 2,000,000 listings), directly
in a fresh SQLite database by bulk insert (no sandboxes, no HTTP: this measures the hub's
planning, not the platforms). Then times, in this process:

* a **full cycle**: the picture loaded from nothing (a cold cache) and planned, as the
  stock phase of ``hub sync`` does it (claims, picture, plan, raises);
* a **no-change cycle**: the same right after, with nothing changed in the database;
* a **small-change cycle**: after ``--changes`` SKUs got a new count and as many listings
  a new quantity.

Per cycle: process CPU seconds (``time.process_time``) and wall seconds; overall the peak
resident memory of the process (``ru_maxrss``; the bulk insert streams and stays small).
Targets: peak ≤ 1 GB, no-change CPU ≤ 5 % of the full cycle's.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import current_rss_mb, emit, machine, peak_rss_mb, say, target, work_dir

from hub.core.stock.plan import grant_raises, plan
from hub.core.stock.push import claims
from hub.storage import migrate
from hub.storage import tables as t
from hub.storage.db import Database

MEMORY_TARGET_MB = 1024.0
NO_CHANGE_SHARE_TARGET = 0.05
FMT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a datetime in SQLite


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skus", type=int, default=100_000, help="catalogue size (SKUs)")
    parser.add_argument("--shops", type=int, default=20, help="shops listing every SKU")
    parser.add_argument(
        "--on-hand", type=int, default=1_000, help="units counted per SKU (every listing shows them)"
    )
    parser.add_argument("--changes", type=int, default=100, help="SKUs changed before the last cycle")
    parser.add_argument("--dir", default=None, help="keep the database here (default: a temporary directory)")
    return parser.parse_args(argv)


def build(path: Path, skus: int, shops: int, on_hand: int, now: datetime) -> None:
    """The schema by migrations, then the rows by bulk insert in one transaction."""
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db)
    db.dispose()
    stamp = (now - timedelta(hours=2)).replace(tzinfo=None).strftime(FMT)
    recent = (now - timedelta(minutes=5)).replace(tzinfo=None).strftime(FMT)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    with conn:
        conn.executemany(
            "INSERT INTO shops (id, name, platform, app_key, app_secret, options, created_at) "
            "VALUES (?, ?, 'taobao', 'k', 'x', '{}', ?)",
            [(i, f"shop{i}", stamp) for i in range(1, shops + 1)],
        )
        conn.execute("INSERT INTO warehouses (id, code, name) VALUES (1, 'main', '')")
        conn.executemany(
            "INSERT INTO skus (id, code, title, price, partitioned, created_at, updated_at) "
            "VALUES (?, ?, '', 1000, 0, ?, ?)",
            ((i, f"SKU-{i:07d}", stamp, stamp) for i in range(1, skus + 1)),
        )
        conn.executemany(
            "INSERT INTO stock_on_hand (sku_id, warehouse_id, quantity, counted_at, updated_at) "
            "VALUES (?, 1, ?, ?, ?)",
            ((i, on_hand, stamp, stamp) for i in range(1, skus + 1)),
        )
        # Every listing shows what the hub would show: a steady state, nothing to push.
        conn.executemany(
            "INSERT INTO listings (shop_id, platform_item_id, platform_sku_id, master_code, sku_id, "
            "mapped_manually, title, price, status, platform_quantity, quantity_as_of, needs_read, "
            "last_seen_at) VALUES (?, ?, ?, ?, ?, 0, '', 1000, 'onsale', ?, ?, 0, ?)",
            (
                (shop, f"I{sku}", f"S{sku}", f"SKU-{sku:07d}", sku, on_hand, stamp, stamp)
                for shop in range(1, shops + 1)
                for sku in range(1, skus + 1)
            ),
        )
        conn.executemany(
            "INSERT INTO sync_cursors (shop_id, stream, position, updated_at) VALUES (?, 'orders', ?, ?)",
            [(i, recent, recent) for i in range(1, shops + 1)],
        )
    conn.close()


def stock_cycle(db: Database, now: datetime, cache: Any) -> tuple[float, float, int]:
    """One stock planning cycle as the engine runs it: (CPU s, wall s, pushes planned)."""
    cpu, wall = time.process_time(), time.perf_counter()

    def prepare(s: Any) -> int:
        claimed = claims(s)
        picture = cache.load(s, now)
        pushes = plan(picture, shop_ids=set(range(1, 10_000)))
        lowers = [p for p in pushes if p.lowers]
        raises = grant_raises([p for p in pushes if not p.lowers], picture, claimed)
        cache.planned(picture)
        return len(lowers) + len(raises)

    count = db.run_sync(prepare)
    return round(time.process_time() - cpu, 3), round(time.perf_counter() - wall, 3), count


def change_some(path: Path, changes: int, skus: int) -> None:
    conn = sqlite3.connect(path)
    with conn:
        step = max(1, skus // max(1, changes))
        conn.execute(f"UPDATE stock_on_hand SET quantity = quantity - 1 WHERE sku_id % {step} = 0")
    conn.close()


def main(argv: list[str] | None = None) -> None:
    from hub.core.stock.picture_cache import PictureCache

    args = parse_args(argv)
    now = datetime.now(UTC)
    with work_dir(args.dir) as folder:
        path = folder / "hub.db"
        for old in folder.glob("hub.db*"):
            old.unlink()
        started = time.perf_counter()
        build(path, args.skus, args.shops, args.on_hand, now)
        say(f"built {args.skus} SKUs × {args.shops} shops in {time.perf_counter() - started:.1f} s")
        db = Database(f"sqlite:///{path}")
        cache = PictureCache(
            full_pass=timedelta(minutes=60),
            safety_default=0,
            partition_below=None,
            sales_window=timedelta(minutes=60),
        )
        base = current_rss_mb()
        full = stock_cycle(db, now, cache)
        say(f"full cycle: {full}")
        quiet = stock_cycle(db, now + timedelta(seconds=1), cache)
        say(f"no-change cycle: {quiet}")
        change_some(path, args.changes, args.skus)
        changed = stock_cycle(db, now + timedelta(seconds=2), cache)
        say(f"small-change cycle: {changed}")
        peak = peak_rss_mb()
        share = round(quiet[0] / full[0], 4) if full[0] else None
        emit(
            {
                "benchmark": "stock_cycle",
                "inputs": vars(args) | {"listings": args.skus * args.shops},
                "machine": machine(),
                "rss_before_cycles_mb": base,
                "peak_rss_mb": peak,
                "full_cycle": {"cpu_seconds": full[0], "wall_seconds": full[1], "pushes": full[2]},
                "no_change_cycle": {"cpu_seconds": quiet[0], "wall_seconds": quiet[1], "pushes": quiet[2]},
                "small_change_cycle": {
                    "cpu_seconds": changed[0],
                    "wall_seconds": changed[1],
                    "pushes": changed[2],
                },
                "no_change_share": share,
                "targets": {
                    "peak_rss_mb": target(peak, "<=", MEMORY_TARGET_MB),
                    "no_change_share": target(share, "<=", NO_CHANGE_SHARE_TARGET),
                },
            }
        )
        db.dispose()
        _ = t  # the tables module registers the models the migrations check


if __name__ == "__main__":
    main()
