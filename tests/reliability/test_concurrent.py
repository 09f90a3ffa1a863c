"""Two `hub sync` processes started together on the same shops and database do the work
once (invariant 7): one of them finds the leases held and skips that work (exit code 1,
saying so), or waits a moment for a shop's stock and plans after the other; every order
is stored once, and every stock change reaches a platform once.
Per-shop `hub sync --shop X` processes push their shops' stock at the same time."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from hub.storage import tables as t
from tests.reliability.served import World, build_world, world_seed
from tests.reliability.support import STOCK_WRITE_CALLS


@pytest.fixture
def world(hub_db_url: str) -> Iterator[World]:
    world = build_world(hub_db_url, world_seed(11), latency=0.02, partition_every=3)
    yield world
    world.stop()


def _orders(world: World) -> int:
    db = world.database()
    try:
        return db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Order)))
    finally:
        db.dispose()


@contextmanager
def _overlapping(world: World) -> Iterator[None]:
    """Make two runs started together overlap, however late the second one starts (on a
    busy machine one could finish before the other began): the first platform call, made
    under its run's lease, is answered only once two runs hold leases."""
    db = world.database()
    both = threading.Event()
    lock = threading.Lock()
    calls = [0]

    def hook() -> None:
        with lock:  # served sandboxes answer in threads
            calls[0] += 1
            first = calls[0] == 1
        if first:
            both.wait(timeout=60)
        elif not both.is_set() and db.run_sync(lambda s: len(set(s.scalars(select(t.Lease.holder))))) >= 2:
            both.set()

    for box in world.sandboxes.values():
        box.on_request = hook
    try:
        yield
    finally:
        world.clear_hooks()
        db.dispose()


def test_two_concurrent_syncs_do_the_work_once(world: World) -> None:
    before = _orders(world)  # `skus import-from tb --with-stock` read tb's orders already
    with _overlapping(world):
        procs = [world.start("sync", "--json") for _ in range(2)]
        outputs = [proc.communicate(timeout=120) for proc in procs]
    reports = [json.loads(stdout) for stdout, _ in outputs]
    results = [r for report in reports for r in report["results"]]

    skipped = [(r["shop"], r["stream"]) for r in results if r["skipped"] and "lease" in r["skipped"]]
    assert skipped, "one run must have found work leased by the other"
    # A stream skipped for a lease is reported, never a silent 0; nothing else failed.
    for proc, report, (_, stderr) in zip(procs, reports, outputs, strict=True):
        mine = [r for r in report["results"] if r["skipped"] and "lease" in r["skipped"]]
        assert proc.returncode == report["exit_code"] == (1 if mine else 0), (report, stderr)
        assert all(r["exit_code"] == 1 for r in mine)
        assert all(r["exit_code"] == 0 for r in report["results"] if not r["skipped"]), report
    # Each shop's stock was pushed by one of the two, or by both in turn: a run waits a
    # moment for a stock lease the other holds (its writes are made once: see below).
    stock = [(r["shop"], bool(r["skipped"])) for r in results if r["stream"] == "stock"]
    assert {shop for shop, skip in stock if not skip} == set(world.sandboxes), stock

    db = world.database()
    try:
        orders = db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Order)))
        entries = db.run_sync(
            lambda s: s.execute(
                select(t.Shop.name, t.OutboxEntry.target, t.OutboxEntry.state, t.OutboxEntry.payload)
                .join(t.Shop, t.Shop.id == t.OutboxEntry.shop_id)
                .where(t.OutboxEntry.kind == "stock")
            ).all()
        )
    finally:
        db.dispose()
    # Every order was stored by exactly one of the two runs.
    assert sum(r["stored"] for r in results if r["stream"] == "orders") == orders - before > 0
    # Every stock change was recorded and made once: no listing was given the same figure
    # twice (a run that planned after the other may take the next step, a JD listing
    # drained to 0 refilled, say), all done, and no more platform writes than entries
    # (Taobao batches several SKUs of an item).
    per_change = Counter((shop, target, payload["quantity"]) for shop, target, _, payload in entries)
    assert entries and max(per_change.values()) == 1, per_change.most_common(3)
    assert {state for _, _, state, _ in entries} == {"done"}
    assert sum(r["pushed"] for r in results if r["stream"] == "stock") == len(entries)
    for shop, box in world.sandboxes.items():
        writes = sum(box.calls[c] for c in STOCK_WRITE_CALLS[box.platform])
        made = sum(1 for s, *_ in entries if s == shop)
        assert writes == made if box.platform != "taobao" else 0 < writes <= made, (shop, writes, made)

    # Cron's next run finds the world consistent (the run that skipped the allocation may
    # have stored orders the other's stock plan had not seen yet: they are pushed now).
    again = world.run("sync", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert world.problems() == []


def test_per_shop_processes_push_stock_in_parallel(world: World) -> None:
    procs = {shop: world.start("sync", "--shop", shop, "--json") for shop in world.sandboxes}
    outputs = {shop: proc.communicate(timeout=120) for shop, proc in procs.items()}
    for shop, proc in procs.items():
        assert proc.returncode == 0, outputs[shop]
        report = json.loads(outputs[shop][0])
        stock = [r for r in report["results"] if r["stream"] == "stock"]
        assert [(r["shop"], r["skipped"]) for r in stock] == [(shop, None)], report
    again = world.run("sync", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert world.problems() == []
