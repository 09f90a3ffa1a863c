"""``hub worker``: run sync jobs from the PostgreSQL queue, on as many machines as needed."""

from __future__ import annotations

import signal
from collections.abc import Sequence

import anyio
import click

from hub.app import App
from hub.cli.app import run_async, verbosity_options
from hub.cli.output import info
from hub.workers.app import QUEUES, create_app, require_postgres


@click.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=4,
    show_default=True,
    help="Jobs this worker runs at once (they wait on the network, not the CPU).",
)
@click.option(
    "--queue",
    "queues",
    multiple=True,
    type=click.Choice(QUEUES),
    help="Only these queues (repeatable; default all): scheduler (the periodic tick), "
    "push (processing received pushes), sync (the (shop, stream) syncs).",
)
@click.option("--until-idle", is_flag=True, help="Exit once no job is waiting (a one-off catch-up).")
@verbosity_options
@click.pass_obj
def worker(app: App, concurrency: int, queues: Sequence[str], until_idle: bool) -> int:
    """Run sync jobs from the queue in the hub's PostgreSQL database, until stopped.

    \b
    Each job is one shop's stream (listings, orders, stock, prices, promotions), run as
    `hub sync --shop SHOP --stream STREAM` runs it. Start one worker per machine or more:
    - no two workers run one shop's stream at once (a lock per shop and stream);
    - the scheduler tick runs once every 5 s across all workers (the database keeps
      it single) and enqueues the streams that are due: every HUB_WORKER_INTERVAL_SECONDS
      (listings: HUB_LISTINGS_INTERVAL_MINUTES);
    - transient errors are retried with backoff; others fail with the platform's reason
      (`hub jobs list --failed`, `hub jobs retry`);
    - a shop's rate limit holds across all workers together (shared in the database);
    - a worker that dies: its job is taken over once its heartbeats stop (30 s).

    SIGTERM or Ctrl-C once: take no new job, let the running ones stop starting new work,
    exit 0 (an unfinished job is queued again); twice: cut the calls in flight off now.
    Needs PostgreSQL (HUB_DATABASE_URL) at the newest schema (`hub db upgrade`).
    """
    require_postgres(app.settings.database_url)
    queue_app = create_app(app.settings.database_url)  # one line if procrastinate is missing
    from procrastinate.worker import Worker

    from hub.workers.runner import WorkerRuntime
    from hub.workers.tasks import HEARTBEAT_SECONDS, STALLED_SECONDS

    app.database()  # schema checked: one line if it is missing or behind
    hub = WorkerRuntime.start(app)
    runner = Worker(
        queue_app,  # type: ignore[arg-type]
        queues=list(queues) or None,
        concurrency=concurrency,
        wait=not until_idle,
        install_signal_handlers=False,  # ours below: they also reach the running syncs
        additional_context={"hub": hub},
        update_heartbeat_interval=HEARTBEAT_SECONDS,
        stalled_worker_timeout=STALLED_SECONDS,
    )

    async def stop_on_signals() -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                if not hub.stopping:
                    info("stopping: no new job; running jobs start no new work (again to stop now)")
                    hub.request_stop()
                    runner.stop()
                else:
                    info("stopping now")
                    hub.abort()
                    return

    async def main() -> int:
        async with queue_app.open_async(), anyio.create_task_group() as group:  # type: ignore[attr-defined]
            group.start_soon(stop_on_signals)
            where = ", ".join(queues) or "all queues"
            info(f"worker running on {where} with concurrency {concurrency}; SIGTERM or Ctrl-C to stop")
            await runner.run()
            group.cancel_scope.cancel()
        return 0

    return run_async(main)
