"""`hub sync` as a process, stopped by SIGTERM (or Ctrl-C) part way: once — it starts no
new work, finishes what is in flight and says so; twice — it stops at once. Either way it
releases its leases (the next run is not skipped) and the next run converges."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from hub.storage import tables as t
from tests.reliability.served import World, build_world, world_seed

pytestmark = pytest.mark.slow


@pytest.fixture
def world(hub_db_url: str) -> Iterator[World]:
    world = build_world(hub_db_url, world_seed(5), latency=0.02, partition_every=3)
    yield world
    world.stop()


def leases_and_runs(world: World) -> tuple[list[str], list[str]]:
    db = world.database()
    try:
        return db.run_sync(
            lambda s: (
                list(s.scalars(select(t.Lease.name))),
                list(s.scalars(select(t.SyncRun.status).where(t.SyncRun.stream == "cycle"))),
            )
        )
    finally:
        db.dispose()


@pytest.mark.parametrize("signals", [1, 2], ids=["once", "twice"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signalled_sync_releases_its_leases_and_the_next_run_converges(
    world: World, signals: int, signum: int
) -> None:
    proc = world.start("sync", "--json")
    sent: list[int] = []
    lock = threading.Lock()
    seen = [0]

    def send() -> None:
        """At the 6th request, before it is answered (the hub waits for it): the signal,
        and for "twice" a second one once the first was surely taken on its own."""
        with lock:
            seen[0] += 1
            if seen[0] != 6:
                return
        for number in range(signals):
            if number:
                time.sleep(0.3)  # the platform is slow to answer; signals a moment apart
            sent.append(number)
            proc.send_signal(signum)

    for box in world.sandboxes.values():
        box.on_request = send
    try:
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        world.clear_hooks()
    assert len(sent) == signals
    assert proc.returncode in (0, 1), stderr  # never a traceback, never killed by the signal
    assert "Traceback" not in stderr
    report = json.loads(stdout)
    assert report["interrupted"] is True
    assert "stopping" in stderr
    if signals == 2:
        assert "stopping now" in stderr and report["exit_code"] == 1
        assert any(r["stream"] == "cycle" and "cut off" in r["error"] for r in report["results"])
    held, runs = leases_and_runs(world)
    assert held == [], "a stopped run releases its leases"
    assert runs[-1] == "interrupted"

    again = world.run("sync", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert not [r for r in json.loads(again.stdout)["results"] if r["skipped"] and "lease" in r["skipped"]]
    follow = world.run("sync", "--json")  # cron's next run: everything in place
    assert follow.returncode == 0, follow.stdout + follow.stderr
    assert world.problems() == []
