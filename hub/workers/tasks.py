"""The worker's tasks: a (shop, stream) sync, push processing, and the scheduler's tick.

Each job's context carries the process's :class:`~hub.workers.runner.WorkerRuntime`
(``additional_context["hub"]``, set by ``hub worker``). A job that fails records why in
``job_errors`` (``hub jobs list --failed``); the queue retries it with exponential
backoff when the error is retryable (:class:`HubRetry`), and records it failed otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from procrastinate import Blueprint, JobContext, RetryDecision
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Status
from procrastinate.retry import BaseRetryStrategy

from hub.errors import HubError, JobFailed
from hub.push.process import PushProcessor
from hub.secrets import redact
from hub.workers import jobs, scheduler
from hub.workers.runner import Abandoned, WorkerRuntime, verdict

log = logging.getLogger("hub.worker")

#: a worker's heartbeat, and how long one may miss it before its jobs are taken over
HEARTBEAT_SECONDS = 10.0
STALLED_SECONDS = 30.0
#: the scheduler's tick: every 5 seconds (procrastinate's cron with a seconds column)
TICK_CRON = "* * * * * */5"
PRUNE_EVERY = 5  # seconds between ticks: the tick whose time falls in an hour's first ones prunes


class HubRetry(BaseRetryStrategy):
    """Retry what :mod:`hub.errors` calls retryable: after ``base`` seconds, doubling up to
    ``cap``, for ``max_attempts`` attempts in all; an abandoned job (its worker was
    stopping) at once. Anything else fails at the first attempt."""

    def __init__(self, max_attempts: int = 6, base: float = 5.0, cap: float = 300.0):
        self.max_attempts, self.base, self.cap = max_attempts, base, cap

    def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
        if isinstance(exception, Abandoned):
            return RetryDecision(retry_in={"seconds": 0})
        if not (isinstance(exception, HubError) and exception.retryable):
            return None
        if job.attempts + 1 >= self.max_attempts:
            return None
        return RetryDecision(retry_in={"seconds": min(self.cap, self.base * 2**job.attempts)})


RETRY = HubRetry()


def _hub(context: JobContext) -> WorkerRuntime:
    return context.additional_context["hub"]


async def _recorded(context: JobContext, work: Any) -> Any:
    """Run ``work()``; on failure keep why (for ``hub jobs list``) and re-raise for the
    retry policy. A success clears an earlier attempt's reason."""
    hub = _hub(context)
    db, clock = hub.runtime.db, hub.runtime.clock
    job_id = int(context.job.id or 0)
    try:
        result = await work()
    except HubError as exc:
        reason, retryable, code = redact(str(exc)), exc.retryable, exc.exit_code
        await db.run(
            lambda s: jobs.record_error(
                s, job_id, reason, retryable=retryable, exit_code=code, now=clock.now()
            )
        )
        raise
    except Exception as exc:  # a bug: recorded, not retried
        reason = f"internal error: {type(exc).__name__}: {redact(str(exc))}"
        await db.run(
            lambda s: jobs.record_error(s, job_id, reason, retryable=False, exit_code=1, now=clock.now())
        )
        raise
    await db.run(lambda s: jobs.clear_error(s, job_id))
    return result


async def run_stream(context: JobContext, shop: str, stream: str) -> dict[str, Any]:
    """Sync ``shop``'s ``stream`` (the job of :func:`hub.workers.enqueue.enqueue_stream`)."""

    async def work() -> dict[str, Any]:
        report = await _hub(context).run_stream(shop, stream)
        failure = verdict(report)
        if failure is not None:
            raise failure
        return {
            "fetched": sum(r.fetched for r in report.results),
            "stored": sum(r.stored for r in report.results),
            "pushed": sum(r.pushed for r in report.results),
            "calls": report.calls,
        }

    return await _recorded(context, work)


async def process_pushes(context: JobContext) -> dict[str, Any]:
    """Process the pending push inbox: fetch the announced orders, push only their SKUs."""
    hub = _hub(context)

    async def work() -> dict[str, Any]:
        processor = PushProcessor.open(hub.runtime, hub.app.settings)
        try:
            result = await processor.run_once()
        finally:
            await processor.aclose()
        if result.waiting:  # a sync holds the stock lease: again shortly
            raise JobFailed("another process holds the push lease", retryable=True)
        return {"events": result.events, "pushed": result.pushed, "failed": result.failed}

    return await _recorded(context, work)


async def tick(context: JobContext, timestamp: int) -> dict[str, Any]:
    """Enqueue the due streams (:mod:`hub.workers.scheduler`), and put back in the queue
    the jobs of workers that stopped sending heartbeats (killed, or their machine lost)."""
    hub = _hub(context)
    manager = context.app.job_manager
    # Stalled jobs first: put back, each holds its stream's place in the queue again, so
    # the schedule below does not enqueue a twin of it.
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_SECONDS)
    for job in stalled:
        log.warning(
            "job %s (%s) was left running by a worker that stopped: queued again", job.id, job.task_name
        )
        try:
            await manager.retry_job(job)
        except UniqueViolation:  # a job for the same stream is already waiting: it does the work
            await manager.finish_job(job, status=Status.ABORTED, delete_job=False)
    now = hub.runtime.clock.now()
    done = await hub.runtime.db.run(lambda s: scheduler.enqueue_due(s, now, hub.app.settings))
    if timestamp % 3600 < PRUNE_EVERY:  # once an hour: forget what finished days ago
        await hub.runtime.db.run(jobs.prune)
    return {"enqueued": len(done.streams), "waiting": done.already_waiting, "stalled": len(stalled)}


def blueprint() -> Blueprint:
    """The tasks, registered on a new blueprint (an app takes its blueprint's tasks over,
    so each app gets its own): ``hub:run_stream``, ``hub:process_pushes`` and the periodic
    ``hub:tick``."""
    bp = Blueprint()
    bp.task(name="run_stream", pass_context=True, queue="sync", retry=RETRY)(run_stream)
    bp.task(name="process_pushes", pass_context=True, queue="push", retry=RETRY)(process_pushes)
    ticker = bp.task(name="tick", pass_context=True, queue="scheduler", queueing_lock="tick", priority=10)
    bp.periodic(cron=TICK_CRON)(ticker(tick))
    return bp
