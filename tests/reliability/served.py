"""Worlds for `hub` running as a real process: the four platform sandboxes served over
HTTP on 127.0.0.1 (``serve_in_thread``) on the real clock, and a hub database (the
test's ``hub_db_url``: SQLite, then PostgreSQL) configured through the CLI (``hub shops
add``, ``hub sync --stream listings``, ``hub skus import-from SHOP --with-stock``). Two
worlds built from the same seed and rng seeds are identical (same catalogue, orders, ids and credentials)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import func, select

from hub.cli import cli
from hub.plugins import PluginHost
from hub.settings import HubSettings
from hub.simulator import SandboxApp, SandboxConfig, Seed, generate_seed, serve_in_thread
from hub.simulator.transport import ServedSandbox
from hub.storage import tables as t
from hub.storage.db import Database
from tests.reliability.support import SHOPS, comparable, problems

LEASE_SECONDS = 2.0  # short, so a killed run's leases expire quickly


def world_seed(rng_seed: int = 7) -> Seed:
    """30 SKUs and 40 orders of the last two days (placed on every platform)."""
    now = datetime.now(UTC)
    return generate_seed(
        items=15,
        skus_per_item=2,
        orders=40,
        start=now - timedelta(days=2),
        end=now - timedelta(minutes=1),
        rng=random.Random(rng_seed),
    )


@dataclass
class World:
    """Four served sandboxes and a hub database."""

    served: dict[str, ServedSandbox]
    url: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def sandboxes(self) -> dict[str, SandboxApp]:
        return {name: s.app for name, s in self.served.items()}

    def hub(self, *args: str, env: Mapping[str, str] | None = None) -> Result:
        """`hub ARGS…` in-process (setup steps), on this world's database."""
        result = CliRunner().invoke(
            cli, list(args), env={"HUB_DATABASE_URL": self.url, **(env or {})}, catch_exceptions=False
        )
        return result

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "hub", *args]

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 90
    ) -> subprocess.CompletedProcess:
        """`hub ARGS…` as a process, to completion."""
        return subprocess.run(
            self.command(*args),
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen:
        """`hub ARGS…` as a process, running."""
        return subprocess.Popen(
            self.command(*args),
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def on_request_number(self, number: int, action: Callable[[], None]) -> Callable[[], int]:
        """Call ``action`` once, as the ``number``-th request (counted over every sandbox)
        arrives, before it is answered. Returns how many requests have arrived so far."""
        lock = threading.Lock()
        seen = [0]

        def hook() -> None:
            with lock:  # served sandboxes answer in threads
                seen[0] += 1
                if seen[0] != number:
                    return
            action()

        for box in self.sandboxes.values():
            box.on_request = hook
        return lambda: seen[0]

    def clear_hooks(self) -> None:
        for box in self.sandboxes.values():
            box.on_request = None

    def database(self) -> Database:
        return Database(self.url)

    def outcome(self) -> dict[str, Any]:
        """What a converged world is judged by: (shop, order id, status) of the stored
        orders, held reservations per SKU, and each platform's quantity per SKU."""
        db = self.database()
        try:
            orders = db.run_sync(
                lambda s: sorted(
                    (shop, order_id, comparable(status))
                    for shop, order_id, status in s.execute(
                        select(t.Shop.name, t.Order.platform_order_id, t.Order.status).join(
                            t.Shop, t.Shop.id == t.Order.shop_id
                        )
                    )
                )
            )
            held = db.run_sync(
                lambda s: dict(
                    s.execute(
                        select(t.Sku.code, func.sum(t.Reservation.quantity))
                        .join(t.Sku, t.Sku.id == t.Reservation.sku_id)
                        .where(t.Reservation.state == "held")
                        .group_by(t.Sku.code)
                    ).all()
                )
            )
        finally:
            db.dispose()
        quantities = {
            (name, sku.code): sku.quantity
            for name, box in self.sandboxes.items()
            for sku in box.state.skus.values()
        }
        return {"orders": orders, "held": held, "quantities": quantities}

    def problems(self) -> list[str]:
        db = self.database()
        try:
            settings = HubSettings(database_url=self.url)
            return problems(db, self.sandboxes, settings, datetime.now(UTC), oracle=False)
        finally:
            db.dispose()

    def stop(self) -> None:
        for served in self.served.values():
            served.stop()


def build_world(
    url: str,
    seed: Seed,
    *,
    latency: float = 0.01,
    extra_orders: int = 3,
    qps: int = 100,
    partition_every: int = 0,
) -> World:
    """Serve the four sandboxes (seeded alike), place a few more paid orders on every shop
    (the same ones in every world built from the same arguments), configure the hub
    through its CLI and take the catalogue and on-hand counts from Taobao. With
    ``partition_every`` N, every Nth SKU (by code) is partitioned."""
    host = PluginHost()
    served: dict[str, ServedSandbox] = {}
    for number, (name, platform) in enumerate(SHOPS.items()):
        box = host.platform(platform).make_sandbox(
            SandboxConfig(seed=seed, rng_seed=number * 101, latency=latency)
        )
        served[name] = serve_in_thread(box)
    world = World(served, url)
    world.env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATABASE_URL": world.url,
        "HUB_LEASE_SECONDS": str(LEASE_SECONDS),
        # Shared mode unless a test partitions SKUs itself: automatic partitioning sizes its
        # threshold from measured cycle delays, which vary with the machine's load, and these
        # tests compare exact writes (it is tested with an injected clock in test_autopartition.py).
        "HUB_PARTITION_BELOW": "0",
    }
    try:
        for name, platform in SHOPS.items():
            box = served[name].app
            flags = [f"--{k.replace('_', '-')}={v}" for k, v in box.shop_credentials().items()]
            added = world.hub(
                "shops", "add", name, "--platform", platform, *flags, "--base-url", served[name].url,
                "--set", f"qps={qps}",
            )  # fmt: skip
            assert added.exit_code == 0, added.output
        # A few more paid orders on every shop, before the hub reads the listings (an order
        # in the same second as a read is another matter: see test_tokens_and_clocks.py).
        for number, box in enumerate(world.sandboxes.values()):
            rng = random.Random(1000 + number)
            codes = sorted({sku.code for sku in box.state.skus.values() if sku.code})
            for _ in range(extra_orders):
                sku = box.state.skus_by_code(rng.choice(codes))[0]
                box.state.place_order([(sku.sku_id, rng.choice((1, 2)))])
        listed = world.hub("sync", "--stream", "listings", "--json")
        assert listed.exit_code == 0 and json.loads(listed.stdout)["exit_code"] == 0, listed.output
        imported = world.hub("skus", "import-from", "tb", "--with-stock")
        assert imported.exit_code == 0, imported.output
        if partition_every:
            codes = sorted({sku.code for sku in world.sandboxes["tb"].state.skus.values() if sku.code})
            for code in codes[::partition_every]:
                marked = world.hub("skus", "set", code, "--partitioned")
                assert marked.exit_code == 0, marked.output
    except BaseException:
        world.stop()
        raise
    return world


def report_of(proc: subprocess.CompletedProcess | tuple[str, str]) -> dict[str, Any]:
    stdout = proc.stdout if isinstance(proc, subprocess.CompletedProcess) else proc[0]
    return json.loads(stdout)
