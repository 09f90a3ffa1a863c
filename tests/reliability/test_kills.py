"""Processes killed with SIGKILL where test_crash.py does not kill them: during a bulk apply
that pushes (`hub stock import --apply --push`, `hub price import --apply --push`),
during a promotion push (`hub promo create --push`), and repeatedly during `hub sync
--watch` while buyers race on partitioned SKUs; and per-shop processes (`hub sync --shop
X`, one per shop) running at once while buyers race. Afterwards cron's `hub sync` reruns
and the world converges: the file applied in full, the same platform quantities and
prices as an uninterrupted run, every order stored once, no partitioned SKU sold beyond
its on-hand count.

Worlds are the four sandboxes served over HTTP (served.py); kills come as a seeded request
number (counted over all four platforms) arrives — a point in the work, not a time."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hub.settings import HubSettings
from hub.simulator import Seed
from hub.simulator.state import SandboxError
from hub.storage import tables as t
from tests.reliability.served import LEASE_SECONDS, World, build_world, world_seed
from tests.reliability.support import problems, sqlite_url
from tests.reliability.test_crash import rerun_until_done

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seed() -> Seed:
    return world_seed(3)


def codes_of(world: World) -> list[str]:
    return sorted({sku.code for sku in world.sandboxes["tb"].state.skus.values() if sku.code})


def prices(world: World) -> dict[tuple[str, str], int]:
    return {
        (name, sku.code): sku.price
        for name, box in world.sandboxes.items()
        for sku in box.state.skus.values()
        if sku.code
    }


def on_hand(world: World) -> dict[str, int]:
    db = world.database()
    try:
        return db.run_sync(
            lambda s: {
                code: int(q)
                for code, q in s.execute(
                    select(t.Sku.code, t.StockOnHand.quantity).join(t.Sku, t.Sku.id == t.StockOnHand.sku_id)
                )
            }
        )
    finally:
        db.dispose()


def shared(world: World) -> World:
    """Automatic partitioning off: it decides from measured cycle times (real time), so
    two worlds could split a scarce SKU differently; SKUs marked partitioned stay so."""
    world.env["HUB_PARTITION_BELOW"] = "0"
    return world


def world_problems(world: World) -> list[str]:
    """``World.problems`` judged with the settings the processes ran with. A killed run's
    lease on a stream no later run needed (a shop with no price to push) is still listed,
    as dead: the operator's `hub leases release --all-dead` clears it first."""
    released = world.run("leases", "release", "--all-dead")
    assert released.returncode == 0, released.stderr
    db = world.database()
    try:
        settings = HubSettings(database_url=world.url, partition_below=0)
        return problems(db, world.sandboxes, settings, datetime.now(UTC), oracle=False)
    finally:
        db.dispose()


def killed_at(world: World, number: int, *args: str) -> subprocess.Popen:
    """`hub ARGS…` started and killed as the ``number``-th request reaches a platform."""
    proc = world.start(*args)
    world.on_request_number(number, lambda: proc.send_signal(signal.SIGKILL))
    try:
        proc.communicate(timeout=90)
    finally:
        world.clear_hooks()
    assert proc.returncode == -signal.SIGKILL, f"ended before the kill ({proc.returncode})"
    return proc


def uninterrupted_then_killed(
    tmp: Path, seed: Seed, prepare: Callable[[World], list[str]], kill_seeds: tuple[int, ...]
) -> None:
    """Run ``hub ARGS…`` (``prepare`` writes its input and returns ARGS) uninterrupted in
    one world, then in a fresh world per seed killed at a seeded share of its requests;
    after cron's reruns every killed world equals the uninterrupted one."""
    reference = shared(build_world(sqlite_url(tmp / "uninterrupted"), seed))
    try:
        args = prepare(reference)
        requests = reference.on_request_number(0, lambda: None)
        done = reference.run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        total = requests()
        assert total > 2, "the command must push"
        rerun_until_done(reference)
        expected = {**reference.outcome(), "prices": prices(reference), "on_hand": on_hand(reference)}
    finally:
        reference.stop()
    for kill_seed in kill_seeds:
        world = shared(build_world(sqlite_url(tmp / f"killed-{kill_seed}"), seed))
        try:
            args = prepare(world)
            number = max(1, round(random.Random(kill_seed).uniform(0.1, 0.9) * total))
            killed_at(world, number, *args)
            assert on_hand(world) == expected["on_hand"], "the apply is all-or-nothing (here: all)"
            time.sleep(LEASE_SECONDS)  # the killed run's leases expire, its writes in flight go stale
            rerun_until_done(world)
            assert world_problems(world) == [], kill_seed
            outcome = {**world.outcome(), "prices": prices(world), "on_hand": on_hand(world)}
            for key, value in expected.items():
                assert outcome[key] == value, (kill_seed, number, key)
        finally:
            world.stop()


def test_a_stock_import_killed_while_it_pushes(seed: Seed, tmp_path: Path) -> None:
    def prepare(world: World) -> list[str]:
        rows = [f"{code},{40 + n % 7}" for n, code in enumerate(codes_of(world))]
        (Path(world.url.removeprefix("sqlite:///")).parent / "stock.csv").write_text(
            "sku,quantity\n" + "\n".join(rows) + "\n"
        )
        return [
            "stock",
            "import",
            str(Path(world.url.removeprefix("sqlite:///")).parent / "stock.csv"),
            "--apply",
            "--push",
        ]

    uninterrupted_then_killed(tmp_path, seed, prepare, (1,))


def test_a_price_import_killed_while_it_pushes(seed: Seed, tmp_path: Path) -> None:
    def prepare(world: World) -> list[str]:
        box = world.sandboxes["tb"]
        rows = []
        for code in codes_of(world):
            price = box.state.skus_by_code(code)[0].price
            rows.append(f"{code},{price * 105 // 10000}.{price * 105 // 100 % 100:02d}")  # +5 %
        (Path(world.url.removeprefix("sqlite:///")).parent / "prices.csv").write_text(
            "sku,price\n" + "\n".join(rows) + "\n"
        )
        return [
            "price",
            "import",
            str(Path(world.url.removeprefix("sqlite:///")).parent / "prices.csv"),
            "--apply",
            "--push",
        ]

    uninterrupted_then_killed(tmp_path, seed, prepare, (2,))


def test_a_promotion_push_killed_then_synced(seed: Seed, tmp_path: Path) -> None:
    """Killed during `hub promo create --push` (its promotion is stored first); the next
    `hub sync` runs start it everywhere, once, as an uninterrupted push does."""

    def prepare(world: World) -> list[str]:
        start = datetime.now(UTC).replace(microsecond=0)
        end = start + timedelta(hours=2)
        skus = [arg for code in codes_of(world)[:8] for arg in ("--sku", code)]
        skus += [arg for shop in world.sandboxes for arg in ("--shop", shop)]
        return [
            "promo", "create", "--name", "flash", "--kind", "percent_discount", "--percent-off", "10",
            *skus, "--start", start.isoformat(), "--end", end.isoformat(), "--push", "--json",
        ]  # fmt: skip

    uninterrupted_then_killed(tmp_path, seed, prepare, (1,))


# --- buyers racing on partitioned SKUs --------------------------------------------------------


def race_buyers(world: World, codes: list[str], every: int, rng_seed: int) -> list[int]:
    """As every ``every``-th request reaches a platform, a buyer buys one unit of a seeded
    partitioned SKU on a seeded shop (if it shows any). Returns [units bought]."""
    rng = random.Random(rng_seed)
    boxes = list(world.sandboxes.values())
    bought = [0]
    seen = [0]

    def hook() -> None:
        seen[0] += 1
        if seen[0] % every:
            return
        box, code = rng.choice(boxes), rng.choice(codes)
        try:
            box.state.order_code(code, 1)
            bought[0] += 1
        except SandboxError:
            pass  # shows none: the buyer goes away

    for box in world.sandboxes.values():
        box.on_request = hook  # served sandboxes answer under their lock: one at a time
    return bought


def partitioned_codes(world: World) -> list[str]:
    db = world.database()
    try:
        return db.run_sync(lambda s: sorted(s.scalars(select(t.Sku.code).where(t.Sku.partitioned))))
    finally:
        db.dispose()


def units_sold(world: World, codes: list[str]) -> dict[str, int]:
    return {c: sum(b.state.units_sold(c) for b in world.sandboxes.values()) for c in codes}


def oversold(world: World, before: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Partitioned SKUs the platforms sold more units of since the hub's count (when
    ``before`` were sold) than that count: {code: (units sold since, on hand)}."""
    counted, now = on_hand(world), units_sold(world, list(before))
    return {c: (now[c] - before[c], counted[c]) for c in before if now[c] - before[c] > counted[c]}


def test_repeated_kills_during_watch_while_buyers_race(seed: Seed, tmp_path: Path) -> None:
    world = shared(build_world(sqlite_url(tmp_path), seed, partition_every=2))
    try:
        codes = partitioned_codes(world)
        assert codes
        before = units_sold(world, codes)
        first = world.run("sync", "--json")  # every unit handed out once
        assert first.returncode == 0, first.stdout + first.stderr
        rng = random.Random(20)
        for round_ in range(4):
            bought = race_buyers(world, codes, every=5, rng_seed=round_)
            proc = world.start("sync", "--watch", "--interval", "0")
            number = rng.randrange(10, 120)  # within the first cycles
            hook = world.sandboxes["tb"].on_request
            counter = [0]

            def counting(
                hook: Any = hook, proc: subprocess.Popen = proc, number: int = number, counter: list = counter
            ) -> None:
                counter[0] += 1
                hook()
                if counter[0] == number:
                    proc.send_signal(signal.SIGKILL)

            for box in world.sandboxes.values():
                box.on_request = counting
            proc.communicate(timeout=90)
            world.clear_hooks()
            assert proc.returncode == -signal.SIGKILL, proc.returncode
            assert not oversold(world, before), (round_, bought, oversold(world, before))
        assert sum(units_sold(world, codes).values()) > sum(before.values()), "buyers bought"
        rerun_until_done(world)
        assert world_problems(world) == []
        assert not oversold(world, before)
    finally:
        world.stop()


def test_per_shop_processes_at_once_while_buyers_race(seed: Seed, tmp_path: Path) -> None:
    world = shared(build_world(sqlite_url(tmp_path), seed, partition_every=2))
    try:
        codes = partitioned_codes(world)
        before = units_sold(world, codes)
        for round_ in range(2):
            race_buyers(world, codes, every=4, rng_seed=100 + round_)
            procs = {shop: world.start("sync", "--shop", shop, "--json") for shop in world.sandboxes}
            outputs = {shop: proc.communicate(timeout=120) for shop, proc in procs.items()}
            world.clear_hooks()
            for shop, proc in procs.items():
                assert proc.returncode in (0, 1), outputs[shop]
                report = json.loads(outputs[shop][0])
                assert all(r["error"] or r["skipped"] for r in report["results"] if r["exit_code"]), report
            assert not oversold(world, before), (round_, oversold(world, before))
        assert sum(units_sold(world, codes).values()) > sum(before.values()), "buyers bought"
        rerun_until_done(world)
        assert world_problems(world) == []
        assert not oversold(world, before)
    finally:
        world.stop()
