"""`hub sync` killed with SIGKILL at random points, then rerun as cron would: the result
equals that of an uninterrupted run — no order lost or doubled, the same reservations,
the same platform quantities (no stock change applied twice).

Each world is the four sandboxes served over real HTTP (real clock, a little latency)
and a hub database configured through the CLI; ``hub sync`` runs as a subprocess. The
kill comes as a seeded random request (counted over all four platforms) reaches a
platform, before it is answered: a point in the run's progress, not a time, so it lands
while the run works however fast the machine is."""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.simulator import Seed
from hub.storage import tables as t
from tests.reliability.served import LEASE_SECONDS, World, build_world, report_of, world_seed
from tests.reliability.support import STOCK_WRITE_CALLS

pytestmark = pytest.mark.slow

# Seeded kill points at 14%, 30%, 57% and 86% of an uninterrupted first run's requests:
# while orders are read and stored, between phases, while stock writes are in flight,
# and near the end.
KILL_SEEDS = (1, 7, 5, 2)


@pytest.fixture(scope="module")
def seed() -> Seed:
    return world_seed()


@pytest.fixture(scope="module")
def uninterrupted(seed: Seed, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The outcome of two uninterrupted runs (a first one, then cron's next), and how many
    requests the first one sent. Made once, on SQLite: the outcome is the same on every
    backend, so the killed runs on both backends are held to it."""
    world = build_world(f"sqlite:///{tmp_path_factory.mktemp('uninterrupted') / 'hub.db'}", seed)
    try:
        requests = world.on_request_number(0, lambda: None)
        for run in range(2):
            done = world.run("sync", "--json")
            assert done.returncode == 0, done.stdout + done.stderr
            if run == 0:
                first_run_requests = requests()
        assert not world.problems()
        return {**world.outcome(), "first_run_requests": first_run_requests}
    finally:
        world.stop()


@pytest.fixture
def world(seed: Seed, hub_db_url: str) -> Iterator[World]:
    world = build_world(hub_db_url, seed)
    yield world
    world.stop()


def rerun_until_done(world: World, runs: int = 2) -> list[dict[str, Any]]:
    """Cron: run again until ``runs`` runs completed without a failure or a stream
    skipped for a lease (a killed run's leases expire after LEASE_SECONDS)."""
    reports = []
    for _ in range(runs + 3):
        done = world.run("sync", "--json")
        report = report_of(done)
        skipped = [r for r in report["results"] if r["skipped"] and "lease" in r["skipped"]]
        if done.returncode == 0 and not skipped:
            reports.append(report)
            if len(reports) == runs:
                return reports
        else:
            time.sleep(LEASE_SECONDS / 2)
    raise AssertionError(f"reruns did not complete: {done.returncode} {done.stdout} {done.stderr}")


def left_behind(world: World) -> dict[str, Any]:
    """What a killed run left: stored orders, outbox entries by state, leases."""
    db = world.database()
    try:
        return db.run_sync(
            lambda s: {
                "orders": s.scalar(select(func.count()).select_from(t.Order)),
                "outbox": dict(
                    s.execute(select(t.OutboxEntry.state, func.count()).group_by(t.OutboxEntry.state)).all()
                ),
                "leases": sorted(s.scalars(select(t.Lease.name))),
            }
        )
    finally:
        db.dispose()


def assert_equals_uninterrupted(world: World, uninterrupted: dict[str, Any], killed: dict[str, Any]) -> None:
    time.sleep(LEASE_SECONDS)  # the killed run's leases expire
    rerun_until_done(world)
    assert world.problems() == [], killed
    outcome = world.outcome()
    assert outcome["orders"] == uninterrupted["orders"], killed
    assert outcome["held"] == uninterrupted["held"], killed
    differing = {
        key: (shown, uninterrupted["quantities"].get(key))
        for key, shown in outcome["quantities"].items()
        if shown != uninterrupted["quantities"].get(key)
    }
    assert not differing, f"(shop, sku): (after the kill, uninterrupted) {differing}; killed: {killed}"


@pytest.mark.parametrize("kill_seed", KILL_SEEDS)
def test_a_run_killed_at_a_random_point_then_rerun_equals_an_uninterrupted_run(
    world: World, uninterrupted: dict[str, Any], kill_seed: int
) -> None:
    total = uninterrupted["first_run_requests"]
    number = max(1, round(random.Random(kill_seed).uniform(0.02, 0.9) * total))
    proc = world.start("sync", "--json")
    world.on_request_number(number, lambda: proc.send_signal(signal.SIGKILL))
    try:
        proc.communicate(timeout=90)
    finally:
        world.clear_hooks()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill ({proc.returncode})"
    assert_equals_uninterrupted(world, uninterrupted, left_behind(world))


def test_a_run_killed_just_after_a_platform_applied_a_stock_write(
    world: World, uninterrupted: dict[str, Any]
) -> None:
    """The worst moment: a platform has applied a write whose answer the hub never
    records (the entry stays "sending"). The rerun must re-read, not resend it."""
    proc = world.start("sync", "--json")
    boxes = world.sandboxes
    fired: list[bool] = []

    def kill_after_first_write() -> None:
        applied = sum(box.calls[c] for box in boxes.values() for c in STOCK_WRITE_CALLS[box.platform])
        if applied and not fired:
            fired.append(True)
            proc.send_signal(signal.SIGKILL)

    for box in boxes.values():
        box.on_request = kill_after_first_write
    try:
        proc.communicate(timeout=90)
    finally:
        world.clear_hooks()
    assert fired and proc.returncode == -signal.SIGKILL, proc.returncode
    killed = left_behind(world)
    assert killed["outbox"].get("sending"), killed
    assert_equals_uninterrupted(world, uninterrupted, killed)


def test_after_a_kill_9_the_next_run_goes_on_at_once_and_records_the_crash(world: World) -> None:
    """The killed process's leases name its pid on this machine, which is gone: the next
    run takes them over at once (no wait for the heartbeat to lapse), and the killed
    run's row in the table of runs is marked crashed."""
    long_leases = {"HUB_LEASE_SECONDS": "300"}  # the heartbeat would not lapse for minutes
    proc = world.start("sync", "--json", env=long_leases)
    world.on_request_number(12, lambda: proc.send_signal(signal.SIGKILL))
    try:
        proc.communicate(timeout=90)
    finally:
        world.clear_hooks()
    assert proc.returncode == -signal.SIGKILL
    listed = world.run("leases", "list", "--json", env=long_leases)
    assert listed.returncode == 0, listed.stderr
    held = json.loads(listed.stdout)
    assert held and {lease["state"] for lease in held} == {"dead"}, held
    again = world.run("sync", "--json", env=long_leases)
    report = report_of(again)
    assert again.returncode == 0, again.stdout + again.stderr
    assert not [r for r in report["results"] if r["skipped"] and "lease" in r["skipped"]]
    db = world.database()
    try:
        runs = db.run_sync(
            lambda s: s.execute(select(t.SyncRun.status).where(t.SyncRun.stream == "cycle")).scalars().all()
        )
    finally:
        db.dispose()
    assert runs.count("crashed") == 1 and runs[-1] == "ok", runs
