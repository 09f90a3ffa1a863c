"""What one worker process holds for its jobs, and how a job's sync is judged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hub.core.engine import SyncEngine
from hub.core.shops import ShopRuntime
from hub.errors import JobFailed
from hub.report import SyncReport
from hub.workers.ratelimit_pg import shared_limiters

if TYPE_CHECKING:
    from hub.app import App


class Abandoned(JobFailed):
    """The worker was stopping (SIGTERM) before the job was done: it is put back in the
    queue at once, for this or another worker to run (what was done is kept: the stream
    is idempotent)."""

    def __init__(self) -> None:
        super().__init__("abandoned: the worker was stopping; the job is queued again", retryable=True)


@dataclass
class WorkerRuntime:
    """The hub a worker's jobs run on: one :class:`ShopRuntime` for the process (circuit
    breakers outlive a job; every shop's rate limiter is shared with the other workers
    through the database) and the syncs running now, so a stop request reaches them."""

    app: App
    runtime: ShopRuntime
    running: list[SyncEngine] = field(default_factory=list)
    stopping: bool = False

    @classmethod
    def start(cls, app: App) -> WorkerRuntime:
        runtime = app.runtime()
        runtime.limiter_for = shared_limiters(runtime.db, runtime.clock)
        return cls(app, runtime)

    async def run_stream(self, shop: str, stream: str) -> SyncReport:
        """Run ``shop``'s ``stream`` as ``hub sync --shop SHOP --stream STREAM`` does."""
        engine = SyncEngine(self.runtime, self.app.settings)
        if self.stopping:
            engine.request_stop()
        self.running.append(engine)
        try:
            return await engine.run_cycle([shop], [stream])
        finally:
            self.running.remove(engine)

    def request_stop(self) -> None:
        """Start nothing new in the running syncs; what is in flight finishes."""
        self.stopping = True
        for engine in self.running:
            engine.request_stop()

    def abort(self) -> None:
        """Cut the running syncs' calls off now (their writes are re-read, never resent)."""
        self.stopping = True
        for engine in self.running:
            engine.abort()


def verdict(report: SyncReport) -> JobFailed | None:
    """Why a job's sync did not succeed (None: it did). Retryable when the worker was
    stopping, when another process holds the stream's lease, or when every error is of a
    retryable class (:mod:`hub.errors`); otherwise the failure is final, with the
    platform's reason."""
    if report.interrupted:
        return Abandoned()
    bad = [r for r in report.results if r.exit_code]
    if not bad:
        return None
    reason = "; ".join(f"{r.shop} {r.stream}: {r.error or r.skipped}" for r in bad)
    retryable = all(r.retryable or (r.skipped is not None and r.error is None) for r in bad)
    return JobFailed(reason, retryable=retryable, exit_code=max(r.exit_code for r in bad))
