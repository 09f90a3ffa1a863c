"""Real `hub worker` processes (PostgreSQL only): a SIGKILLed worker's job is taken over
by another worker and the end state is what an uninterrupted run leaves; SIGTERM exits 0.

The platforms are sandboxes served over HTTP from this process (30 ms per call, so a job
is still running when its worker is killed); the workers reach them like real platforms.
Waits poll the database with a bounded deadline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select, text

from hub.app import App
from hub.core.engine import SyncEngine
from hub.core.shops import add_shop
from hub.settings import HubSettings
from hub.simulator import SandboxConfig, Seed
from hub.simulator.lab import Lab
from hub.simulator.seed import SeedProduct, SeedSku
from hub.simulator.transport import ServedSandbox, serve_in_thread
from hub.storage import tables as t
from hub.workers import enqueue

pytestmark = pytest.mark.slow
PLATFORMS = {"tb": "taobao", "dy": "douyin"}
HUB = [sys.executable, "-m", "hub"]


def seed() -> Seed:
    """Two SKUs with 40 units shown on every platform (and 40 on hand at the hub)."""
    skus = [SeedSku(code="CUP", price=1000, stock=40), SeedSku(code="LID", price=300, stock=40)]
    return Seed(products=[SeedProduct(title="杯子", skus=skus)])


@pytest.fixture
def world(hub_backend: str, hub_db_url: str) -> Iterator[tuple[App, dict[str, ServedSandbox]]]:
    if hub_backend != "postgres":
        pytest.skip("worker jobs live in PostgreSQL")
    app = App(settings=HubSettings(database_url=hub_db_url, partition_below=0))
    served: dict[str, ServedSandbox] = {}
    try:
        for name, platform in PLATFORMS.items():
            box = app.host.platform(platform).make_sandbox(SandboxConfig(seed=seed(), latency=0.03))
            served[name] = serve_in_thread(box)
            values = {**box.shop_credentials(), "base_url": served[name].url}
            app.db.run_sync(
                lambda s, n=name, p=platform, v=values: add_shop(
                    s, app.host, name=n, platform=p, values=v, now=app.clock.now()
                )
            )
        lab = Lab(app, {n: s.app for n, s in served.items()}, seed())
        lab.import_catalogue(on_hand=40, codes=["CUP", "LID"])
        for box in lab.sandboxes.values():
            for _ in range(3):
                box.state.order_code("CUP", 2)
        yield app, served
    finally:
        for box in served.values():
            box.stop()
        app.close()


def start_worker(url: str, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": url,
        "HUB_PARTITION_BELOW": "0",
        "HUB_WORKER_INTERVAL_SECONDS": "3600",  # the tick enqueues each stream once here
    }
    return subprocess.Popen(
        [*HUB, "worker", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(what: str, ready: Callable[[], bool], seconds: float = 90, worker: Any = None) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline or (worker is not None and worker.poll() is not None):
            said = ""
            if worker is not None:
                worker.kill()
                said = worker.communicate(timeout=30)[1][-3000:]
            raise AssertionError(f"timed out waiting for {what}\n{said}")
        time.sleep(0.05)


def stream_jobs(app: App) -> list[dict[str, Any]]:
    query = text(
        "SELECT id, args, status::text AS status, attempts FROM procrastinate_jobs"
        " WHERE task_name = 'hub:run_stream' ORDER BY id"
    )
    return app.db.run_sync(lambda s: [dict(r._mapping) for r in s.execute(query)])


def test_a_killed_workers_job_is_taken_over_and_the_end_state_is_an_uninterrupted_runs(
    world: tuple[App, dict[str, ServedSandbox]], tmp_path: Path
) -> None:
    app, served = world
    url = app.settings.database_url

    def first(s: Any) -> None:
        for name in PLATFORMS:
            enqueue.enqueue_stream(s, name, "orders")

    app.db.run_sync(first)
    calls_before = sum(sum(box.app.calls.values()) for box in served.values())
    doomed = start_worker(url, "--concurrency", "2", "--queue", "sync")
    try:
        wait_for(
            "the first worker to be mid-job",
            lambda: (
                any(j["status"] == "doing" for j in stream_jobs(app))
                and sum(sum(box.app.calls.values()) for box in served.values()) > calls_before + 2
            ),
        )
    finally:
        doomed.kill()  # SIGKILL: no chance to clean up
        doomed.communicate(timeout=30)
    assert any(j["status"] == "doing" for j in stream_jobs(app))
    # Its heartbeats have stopped; let their age pass without waiting for it.
    app.db.run_sync(
        lambda s: s.execute(
            text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'")
        )
    )

    survivor = start_worker(url, "--concurrency", "4")
    try:
        wait_for(
            "the second worker to finish every job",
            lambda: (
                (rows := stream_jobs(app)) != []
                and all(j["status"] == "succeeded" for j in rows)
                and len(rows) >= len(PLATFORMS) * 5
            ),  # its tick enqueued every stream too
            worker=survivor,
        )
        survivor.send_signal(signal.SIGTERM)
        _, err = survivor.communicate(timeout=60)
    finally:
        if survivor.poll() is None:
            survivor.kill()
    assert survivor.returncode == 0, err
    taken_over = [j for j in stream_jobs(app) if j["attempts"] >= 1]
    assert taken_over, "the killed worker's job was run again"

    # The end state: every order stored once, no write left in doubt, and after the next
    # sync every platform shows what it would have shown had nobody been killed.
    orders = app.db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Order)))
    assert orders == sum(len(box.app.state.orders) for box in served.values())
    open_writes = app.db.run_sync(
        lambda s: s.scalar(
            select(func.count())
            .select_from(t.OutboxEntry)
            .where(t.OutboxEntry.state.in_(["sending", "pending"]))
        )
    )
    assert open_writes == 0
    report = anyio.run(lambda: SyncEngine(app.runtime(), app.settings).run_cycle())
    assert report.exit_code == 0, report.to_dict()
    # (It may still push: a shop's stock job that ran before the other shop's orders were
    # in is corrected by the next stock job, exactly as in a run nobody killed.)
    assert app.db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Order))) == orders
    shown = {n: box.app.state.quantity_of("CUP") for n, box in served.items()}
    assert set(shown.values()) == {40 - 2 * 3 * len(PLATFORMS)}, shown


def test_sigterm_lets_the_worker_stop_cleanly_and_exit_0(world: tuple[App, dict[str, ServedSandbox]]) -> None:
    app, _ = world

    def first(s: Any) -> None:
        for name in PLATFORMS:
            enqueue.enqueue_stream(s, name, "orders")

    app.db.run_sync(first)
    worker = start_worker(app.settings.database_url, "--concurrency", "2", "--queue", "sync")
    try:
        wait_for("a job to be running", lambda: any(j["status"] == "doing" for j in stream_jobs(app)))
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "Traceback" not in err
    # Every job either finished or was put back for another worker: none is left running.
    assert {j["status"] for j in stream_jobs(app)} <= {"succeeded", "todo"}
    assert app.db.run_sync(lambda s: s.scalar(select(func.count()).select_from(t.Lease))) == 0
