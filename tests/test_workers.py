"""`hub worker` on procrastinate: jobs in the hub's PostgreSQL database.

Every test but the SQLite refusal runs on PostgreSQL only (the queue lives there). Workers
run in-process here (several of them, each with its own runtime as a process would have);
tests/test_workers_processes.py runs real worker processes (SIGTERM, SIGKILL)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import anyio
import pytest
from click.testing import CliRunner
from procrastinate.periodic import PeriodicDeferrer
from procrastinate.worker import Worker
from sqlalchemy import select, text

from hub.app import App
from hub.cli import cli
from hub.core.ratelimit import RateLimit, RateLimiter
from hub.settings import HubSettings
from hub.simulator.lab import Lab
from hub.storage import tables as t
from hub.storage.db import Database
from hub.testing import FakeClock
from hub.workers import enqueue, scheduler
from hub.workers.app import create_app
from hub.workers.ratelimit_pg import HEADROOM, SharedRateLimiter
from hub.workers.runner import WorkerRuntime
from tests.conftest import fake_host
from tests.test_engine import SHARED, SHOPS, seed

pytestmark = pytest.mark.anyio


@pytest.fixture
def pg_url(hub_backend: str, hub_db_url: str) -> str:
    if hub_backend != "postgres":
        pytest.skip("worker jobs live in PostgreSQL")
    return hub_db_url


@pytest.fixture
def lab(pg_url: str, fake_clock: FakeClock) -> Iterator[Lab]:
    lab = Lab.create(
        pg_url, shops=SHOPS, seed=seed(), clock=fake_clock, host_factory=fake_host, settings=SHARED
    )
    lab.import_catalogue(on_hand=20, codes=["CUP", "LID"])
    yield lab
    lab.close()


def jobs(db: Database) -> list[dict[str, Any]]:
    query = text(
        "SELECT id, task_name, args, status::text AS status, attempts, lock"
        " FROM procrastinate_jobs ORDER BY id"
    )
    return db.run_sync(lambda s: [dict(r._mapping) for r in s.execute(query)])


async def drain(app: App, *, workers: int = 1, concurrency: int = 2) -> list[WorkerRuntime]:
    """Run ``workers`` workers (each with its own runtime, as separate processes would
    have) until no job is waiting; their periodic tick is left out (tests drive it)."""
    runtimes = [WorkerRuntime.start(app) for _ in range(workers)]

    due = text(
        "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        " AND (scheduled_at IS NULL OR scheduled_at <= now())"
    )

    async def one(hub: WorkerRuntime) -> None:
        queue_app: Any = create_app(app.settings.database_url)
        queue_app.periodic_registry.periodic_tasks.clear()
        async with queue_app.open_async():
            # A worker that finds only jobs whose lock another holds stops (wait=False):
            # start it again while any is due or running.
            for _ in range(100):
                worker = Worker(
                    queue_app,
                    wait=False,
                    concurrency=concurrency,
                    install_signal_handlers=False,
                    listen_notify=False,
                    additional_context={"hub": hub},
                )
                await worker.run()
                if not await app.db.run(lambda s: s.scalar(due)):
                    return
                await anyio.sleep(0.01)

    async with anyio.create_task_group() as group:
        for hub in runtimes:
            group.start_soon(one, hub)
    return runtimes


# --- enqueueing -----------------------------------------------------------------------------


def test_a_job_commits_with_its_change_and_a_rolled_back_change_enqueues_nothing(pg_url: str) -> None:
    db = Database(pg_url)
    try:
        lease = t.Lease(name="change", holder="me", expires_at=FakeClock().now())

        with pytest.raises(RuntimeError), db.transaction() as s:
            s.add(lease)
            assert enqueue.enqueue_stream(s, "a", "orders") is not None
            raise RuntimeError("the change fails after its job was enqueued")
        assert jobs(db) == [] and db.run_sync(lambda s: s.scalars(select(t.Lease)).all()) == []

        def change(s: Any) -> tuple[int | None, int | None]:
            s.add(t.Lease(name="change", holder="me", expires_at=FakeClock().now()))
            return enqueue.enqueue_stream(s, "a", "orders"), enqueue.enqueue_stream(s, "a", "orders")

        first, twin = db.run_sync(change)
        # One job waits per stream (its queueing lock); the twin is not an error, and the
        # change it came with is kept.
        assert first is not None and twin is None
        assert [(j["task_name"], j["args"], j["status"]) for j in jobs(db)] == [
            ("hub:run_stream", {"shop": "a", "stream": "orders"}, "todo")
        ]
        assert db.run_sync(lambda s: s.scalars(select(t.Lease.name)).all()) == ["change"]
    finally:
        db.dispose()


def test_two_schedulers_do_not_double_enqueue(lab: Lab, fake_clock: FakeClock) -> None:
    db, settings = lab.app.db, lab.app.settings
    first = db.run_sync(lambda s: scheduler.enqueue_due(s, fake_clock.now(), settings))
    assert sorted(first.streams) == sorted((shop, stream) for shop in SHOPS for stream in scheduler.STREAMS)
    # The same instant again: nothing is due (and a tick a moment later neither).
    again = db.run_sync(lambda s: scheduler.enqueue_due(s, fake_clock.now() + timedelta(seconds=5), settings))
    assert again.streams == [] and again.already_waiting == 0

    # Two ticks at once, an interval later: the first holds the due rows, the second skips
    # them; neither enqueues a stream the other did.
    db.run_sync(lambda s: s.execute(text("DELETE FROM procrastinate_jobs")))
    later = fake_clock.now() + timedelta(seconds=settings.worker_interval_seconds)
    one, two = db.sessions(), db.sessions()
    try:
        with one.begin(), two.begin():
            a = scheduler.enqueue_due(one, later, settings)
            b = scheduler.enqueue_due(two, later, settings)
    finally:
        one.close()
        two.close()
    due = [x for x, span in scheduler.intervals(settings).items() if span <= later - fake_clock.now()]
    assert "listings" not in due  # hourly
    assert sorted(a.streams) == sorted((shop, stream) for shop in SHOPS for stream in due)
    assert b.streams == []
    names = Counter((j["args"]["shop"], j["args"]["stream"]) for j in jobs(db))
    assert set(names.values()) == {1} and len(names) == len(a.streams)


async def test_the_periodic_tick_is_deferred_once_however_many_workers_run(pg_url: str) -> None:
    apps: list[Any] = [create_app(pg_url) for _ in range(3)]  # three machines
    timestamp = 1_800_000_000
    for queue_app in apps:
        async with queue_app.open_async():
            (task,) = queue_app.periodic_registry.periodic_tasks.values()
            await PeriodicDeferrer(registry=queue_app.periodic_registry).defer_jobs([(task, timestamp)])
    db = Database(pg_url)
    try:
        assert [(j["task_name"], j["args"]) for j in jobs(db)] == [("hub:tick", {"timestamp": timestamp})]
    finally:
        db.dispose()


# --- running ----------------------------------------------------------------------------------


async def test_a_worker_runs_the_streams_a_tick_enqueued(lab: Lab, fake_clock: FakeClock) -> None:
    settings = lab.app.settings
    lab.app.db.run_sync(lambda s: scheduler.enqueue_due(s, fake_clock.now(), settings))
    await drain(lab.app, concurrency=4)
    statuses = Counter(j["status"] for j in jobs(lab.app.db))
    assert statuses == {"succeeded": len(SHOPS) * len(scheduler.STREAMS)}
    # The streams ran side by side, so a shop's stock may have run before its listings
    # were linked: its next stock job (an interval on) shows them, as `hub sync` would.
    fake_clock.advance(settings.worker_interval_seconds)
    lab.app.db.run_sync(lambda s: scheduler.enqueue_due(s, fake_clock.now(), settings))
    await drain(lab.app, concurrency=4)
    assert lab.shown("CUP") == {"a": 20, "b": 20, "c": 20}


async def test_two_workers_never_run_one_shops_stream_at_once(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    running: Counter[tuple[str, str]] = Counter()
    peak: Counter[tuple[str, str]] = Counter()
    overall = {"now": 0, "peak": 0}
    original = WorkerRuntime.run_stream

    async def watched(self: WorkerRuntime, shop: str, stream: str) -> Any:
        key = (shop, stream)
        running[key] += 1
        overall["now"] += 1
        peak[key] = max(peak[key], running[key])
        overall["peak"] = max(overall["peak"], overall["now"])
        try:
            await anyio.sleep(0.05)  # real time: the other worker polls the queue meanwhile
            return await original(self, shop, stream)
        finally:
            running[key] -= 1
            overall["now"] -= 1

    monkeypatch.setattr(WorkerRuntime, "run_stream", watched)

    def enqueue_all(s: Any) -> None:
        for _ in range(3):  # three jobs for a's orders: one lock, no queueing lock
            lock = enqueue.stream_lock("a", "orders")
            args = {"shop": "a", "stream": "orders"}
            enqueue.defer(s, enqueue.RUN_STREAM, args, queue="sync", lock=lock)
        for shop in ("b", "c"):
            enqueue.enqueue_stream(s, shop, "orders")

    lab.app.db.run_sync(enqueue_all)
    await drain(lab.app, workers=2, concurrency=3)
    errors = lab.app.db.run_sync(lambda s: [(e.job_id, e.error) for e in s.scalars(select(t.JobError))])
    assert Counter(j["status"] for j in jobs(lab.app.db)) == {"succeeded": 5}, errors
    assert peak[("a", "orders")] == 1  # never two at once…
    assert overall["peak"] >= 2  # …while the workers did run jobs side by side


# --- failures, retries, `hub jobs` ---------------------------------------------------------------


def hub(app: App, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), obj=app, catch_exceptions=False)
    return result.exit_code, result.output


async def test_failures_are_retried_or_recorded_with_their_reason(lab: Lab) -> None:
    import json

    # A transient platform failure (every call a 502) is retried later; a shop that is no
    # longer configured fails for good, with why.
    lab.sandboxes["a"].faults.set_rate("server_error", 1.0)
    lab.app.db.run_sync(
        lambda s: (enqueue.enqueue_stream(s, "a", "orders"), enqueue.enqueue_stream(s, "gone", "orders"))
    )
    await drain(lab.app)
    by_shop = {j["args"]["shop"]: j for j in jobs(lab.app.db)}
    assert by_shop["a"]["status"] == "todo" and by_shop["a"]["attempts"] == 1  # retried, with backoff
    assert by_shop["gone"]["status"] == "failed"

    code, output = hub(lab.app, "jobs", "list", "--failed", "--json")
    (failed,) = json.loads(output)
    assert code == 0 and failed["id"] == by_shop["gone"]["id"]
    assert failed["error"] == "unknown shop 'gone'; see `hub shops list`"
    code, output = hub(lab.app, "jobs", "list", "--json")
    listed = {row["args"]["shop"]: row for row in json.loads(output)}
    assert "502" in listed["a"]["error"] or "server" in listed["a"]["error"].lower(), listed["a"]
    code, output = hub(lab.app, "jobs", "list")
    assert code == 0 and "unknown shop 'gone'" in output

    # Retry: a bad id is one line and exit 2, and changes nothing.
    for bad in ("999999", str(by_shop["a"]["id"])):
        code, output = hub(lab.app, "jobs", "retry", bad)
        assert code == 2 and len(output.strip().splitlines()) == 1, output
    code, output = hub(lab.app, "jobs", "retry", "--all-failed", "--json")
    assert code == 0 and json.loads(output) == {"queued": [by_shop["gone"]["id"]]}
    assert {j["args"]["shop"]: j["status"] for j in jobs(lab.app.db)} == {"a": "todo", "gone": "todo"}


# --- the shared rate limit ----------------------------------------------------------------------


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-process"])
async def test_a_shops_rate_limit_holds_across_workers(lab: Lab, fake_clock: FakeClock, shared: bool) -> None:
    """Two workers (two runtimes) call one shop at once; the sandbox counts the calls in
    each second of the (fake) clock. Shared through the database, they stay within the
    shop's QPS (one more at most: two calls in flight can land in one instant of a fake
    clock); each with a limiter of its own, they go well over it (the test can fail)."""
    qps = 5

    def declare(s: Any) -> None:
        row = s.scalars(select(t.Shop).where(t.Shop.name == "a")).one()
        row.options = {**row.options, "qps": qps, "concurrency": 1}

    lab.app.db.run_sync(declare)
    seen: list[float] = []
    box = lab.sandboxes["a"]
    box.on_request = lambda: seen.append(box.clock.now().timestamp())
    runtimes = [WorkerRuntime.start(lab.app) for _ in range(2)]
    if not shared:
        for hub_ in runtimes:
            hub_.runtime.limiter_for = None
    shop = lab.app.db.run_sync(lambda s: s.scalars(select(t.Shop).where(t.Shop.name == "a")).one())

    async def calls(hub_: WorkerRuntime) -> None:
        ctx = hub_.runtime.open(shop)
        try:
            assert isinstance(ctx.client.limiter, RateLimiter)
            for _ in range(20):
                await ctx.client.check()
        finally:
            await ctx.client.aclose()

    async with anyio.create_task_group() as group:
        for hub_ in runtimes:
            group.start_soon(calls, hub_)
    per_second = Counter(int(at) for at in seen)
    assert len(seen) == 40
    if shared:
        assert max(per_second.values()) <= qps + 1, per_second
    else:
        assert max(per_second.values()) >= 2 * qps - 1, per_second


async def test_a_slot_is_taken_at_the_time_the_bucket_is_locked(
    lab: Lab, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that queues for a shop's bucket behind another transaction reserves from
    the time it gets the lock, not from when it asked: with the time read before queueing,
    an idle bucket handed it a slot already past, and the next call, reserved right after,
    left at the same instant (two calls where the QPS allows one)."""
    db = lab.app.db
    first, second = (SharedRateLimiter(RateLimit(qps=10), fake_clock, db, "k") for _ in range(2))
    async with first.acquire():
        pass
    asked = anyio.Event()
    run = db.run
    reservations = 0

    async def noting_run(fn: Any) -> Any:
        nonlocal reservations
        reservations += 1
        asked.set()
        return await run(fn)

    departures: list[float] = []

    async def call(limiter: SharedRateLimiter) -> None:
        async with limiter.acquire():
            departures.append(fake_clock.now().timestamp())

    with db.engine.connect() as other:
        other.execute(text("SELECT tat FROM rate_buckets WHERE shop = 'k' FOR UPDATE"))
        monkeypatch.setattr(db, "run", noting_run)
        async with anyio.create_task_group() as group:
            group.start_soon(call, second)
            await asked.wait()
            fake_clock.advance(5)  # the other transaction holds the bucket this long
            other.commit()
        monkeypatch.setattr(db, "run", run)
    await call(first)
    assert departures[1] - departures[0] >= 1 / (10 * HEADROOM) - 1e-6, departures
    assert reservations == 1  # its slot was a good one: nothing given up


async def test_a_caller_back_late_for_its_slot_takes_a_new_one(
    lab: Lab, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker whose reservation comes back late (a slow reply, a busy event loop) does
    not leave on the slot that has passed: the next worker, reserving after it, would get
    the slot after that one, which is also past, and both calls would leave at once."""
    db = lab.app.db
    first, second = (SharedRateLimiter(RateLimit(qps=10), fake_clock, db, "k") for _ in range(2))
    interval = 1 / (10 * HEADROOM)
    departures: list[float] = []

    async def call(limiter: SharedRateLimiter) -> None:
        async with limiter.acquire():
            departures.append(fake_clock.now().timestamp())

    await call(first)
    run = db.run

    async def slow_reply(fn: Any) -> Any:
        result = await run(fn)
        monkeypatch.setattr(db, "run", run)  # only this one reply is slow
        fake_clock.advance(3 * interval)
        return result

    monkeypatch.setattr(db, "run", slow_reply)
    await call(second)
    await call(first)
    assert second.missed == 1
    gaps = [b - a for a, b in itertools.pairwise(departures)]
    assert min(gaps) >= interval - 1e-6, departures


def test_hub_worker_on_sqlite_refuses_in_one_line(tmp_path: Any) -> None:
    app = App(settings=HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}"))
    code, output = hub(app, "worker")
    assert code == 2
    assert output.count("\n") == 1 and "needs PostgreSQL" in output
    assert "HUB_DATABASE_URL" in output and "hub sync --watch" in output
    assert not (tmp_path / "hub.db").exists()  # nothing created


# --- pushes (issue 16) -------------------------------------------------------------------------


async def test_with_workers_a_stored_push_commits_with_its_processing_job(
    pg_url: str, fake_clock: FakeClock
) -> None:
    import httpx

    from hub.push.app import PushService, create_app
    from hub.push.process import PushProcessor
    from tests.test_platforms import SHOPS as PLATFORM_SHOPS
    from tests.test_platforms import catalogue
    from tests.test_push import AES_KEY, PUSH_TOKEN, douyin_push, order_message

    lab = Lab.create(
        pg_url,
        shops=PLATFORM_SHOPS,
        seed=catalogue(),
        clock=fake_clock,
        shop_settings={"push_token": PUSH_TOKEN, "push_aes_key": AES_KEY},
        settings={"partition_below": 0, "workers": True},
    )
    try:
        lab.import_catalogue(on_hand=20)
        assert (await lab.sync()).exit_code == 0
        service = PushService(PushProcessor.open(lab.app.runtime(), lab.app.settings))
        transport = httpx.ASGITransport(app=create_app(service, background=False))
        lab.clock.advance(3)
        orders = [lab.sandboxes["dy"].state.order_code("CUP-500", 1) for _ in range(2)]
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as http:
            for number, order in enumerate(orders):
                body, headers = douyin_push(lab, [order_message(f"m{number}", order.order_id)])
                answer = await http.post("/push/dy", content=body, headers=headers)
                assert answer.status_code == 200
        await service.processor.aclose()
        # Both pushes are stored; one processing job waits for them (its queueing lock).
        assert [(j["task_name"], j["status"]) for j in jobs(lab.app.db)] == [("hub:process_pushes", "todo")]
        await drain(lab.app)
        assert [j["status"] for j in jobs(lab.app.db)] == ["succeeded"]
        assert lab.shown("CUP-500") == dict.fromkeys(PLATFORM_SHOPS, 18)
        pending = lab.app.db.run_sync(
            lambda s: s.scalars(select(t.PushInboxEntry).where(t.PushInboxEntry.processed_at.is_(None))).all()
        )
        assert pending == []
    finally:
        lab.close()


# --- the retry policy and the verdict (no database) ---------------------------------------------


def test_retryable_errors_back_off_exponentially_and_others_fail_at_once() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from hub.errors import ConfigError, JobFailed, ServerError
    from hub.workers.runner import Abandoned
    from hub.workers.tasks import HubRetry

    policy = HubRetry(max_attempts=4, base=5, cap=15)

    def wait(exc: BaseException, attempts: int) -> float | None:
        decision = policy.get_retry_decision(exception=exc, job=SimpleNamespace(attempts=attempts))
        if decision is None:
            return None
        assert decision.retry_at is not None
        return round((decision.retry_at - datetime.now(UTC)).total_seconds())

    transient = ServerError("system busy", platform="jd", code=500)
    assert [wait(transient, n) for n in range(4)] == [5, 10, 15, None]  # capped, then given up
    assert wait(JobFailed("lease held", retryable=True), 0) == 5
    assert wait(ConfigError("unknown shop"), 0) is None
    assert wait(JobFailed("refused", retryable=False), 0) is None
    assert wait(RuntimeError("a bug"), 0) is None
    assert wait(Abandoned(), 3) == 0  # a stopping worker's job goes back at once


def test_a_jobs_verdict_follows_its_streams() -> None:
    from datetime import UTC, datetime

    from hub.report import StreamResult, SyncReport
    from hub.workers.runner import Abandoned, verdict

    def report(*results: StreamResult, interrupted: bool = False) -> SyncReport:
        return SyncReport(datetime.now(UTC), results=list(results), interrupted=interrupted)

    assert verdict(report(StreamResult("a", "orders"))) is None
    held = StreamResult("a", "orders", skipped="held by sync@host (pid 7)", exit_code=1)
    assert verdict(report(held)).retryable  # type: ignore[union-attr]
    throttled = StreamResult("a", "orders")
    throttled.fail("[jd] throttled (code 2)", 1, retryable=True)
    assert verdict(report(throttled)).retryable  # type: ignore[union-attr]
    refused = StreamResult("a", "orders")
    refused.fail("[jd] invalid token (code 19)", 2)
    failure = verdict(report(throttled, refused))
    assert failure is not None and not failure.retryable and failure.exit_code == 2
    assert "a orders: [jd] invalid token (code 19)" in failure.reason
    assert isinstance(verdict(report(interrupted=True)), Abandoned)


def test_hub_jobs_on_sqlite_is_one_line(tmp_path: Any) -> None:
    from hub.storage import migrate

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    db = Database(url)
    migrate.upgrade(db)
    db.dispose()
    app = App(settings=HubSettings(database_url=url))
    for args in (["jobs", "list"], ["jobs", "retry", "--all-failed"]):
        code, output = hub(app, *args)
        assert code == 2 and output.count("\n") == 1 and "PostgreSQL" in output, output
    app.close()


def test_with_workers_a_stock_change_commits_with_its_push_jobs(lab: Lab) -> None:
    app = lab.app
    app.settings = app.settings.model_copy(update={"workers": True})
    code, output = hub(app, "stock", "set", "NOPE", "5")  # refused: nothing changes, nothing queued
    assert code == 2 and jobs(app.db) == []
    code, output = hub(app, "stock", "set", "CUP", "7")
    assert code == 0, output
    queued = [(j["task_name"], j["args"]["shop"], j["args"]["stream"], j["status"]) for j in jobs(app.db)]
    assert queued == [("hub:run_stream", shop, "stock", "todo") for shop in sorted(SHOPS)]
    code, output = hub(app, "stock", "set", "LID", "3")  # the jobs already waiting will push it
    assert code == 0 and len(jobs(app.db)) == len(SHOPS)


def test_jobs_that_finished_days_ago_are_pruned_and_failed_ones_kept(pg_url: str) -> None:
    from hub.workers import jobs as jobs_mod

    db = Database(pg_url)
    try:
        ids = db.run_sync(lambda s: [enqueue.enqueue_stream(s, shop, "orders") for shop in ("a", "b", "c")])
        finish = text(
            "UPDATE procrastinate_jobs SET status = CAST(:status AS procrastinate_job_status) WHERE id = :id"
        )
        db.run_sync(lambda s: s.execute(finish, {"status": "succeeded", "id": ids[0]}))
        db.run_sync(lambda s: s.execute(finish, {"status": "failed", "id": ids[1]}))
        now = FakeClock().now()
        db.run_sync(
            lambda s: jobs_mod.record_error(s, ids[1], "refused", retryable=False, exit_code=2, now=now)
        )
        assert db.run_sync(jobs_mod.prune) == 0  # nothing is old yet
        age = text("UPDATE procrastinate_events SET at = now() - interval '4 days'")
        db.run_sync(lambda s: s.execute(age))
        assert db.run_sync(jobs_mod.prune) == 1
        assert [(j["id"], j["status"]) for j in jobs(db)] == [(ids[1], "failed"), (ids[2], "todo")]
        assert db.run_sync(lambda s: s.scalars(select(t.JobError.job_id)).all()) == [ids[1]]
    finally:
        db.dispose()
