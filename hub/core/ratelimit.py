"""Per-shop request pacing: a QPS budget plus a cap on requests in flight.

The pacing is a GCRA token bucket on the injected :class:`~hub.core.clock.Clock`
rather than a library limiter, because library limiters read the event loop's own
clock and could not run on the fake clock our tests use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio

from hub.core.clock import Clock


@dataclass(frozen=True)
class RateLimit:
    """How fast one shop may call its platform.

    ``qps``: sustained calls per second. ``concurrency``: calls in flight at once.
    ``burst``: calls allowed back to back after an idle period (default 1: smooth pacing).
    """

    qps: float
    concurrency: int = 4
    burst: int = 1

    def __post_init__(self) -> None:
        if self.qps <= 0 or self.concurrency < 1 or self.burst < 1:
            raise ValueError(f"invalid rate limit {self}")


class RateLimiter:
    """Paces calls to ``limit`` on ``clock``; ``penalize`` pauses everyone (a platform ban)."""

    def __init__(self, limit: RateLimit, clock: Clock):
        self.limit = limit
        self._clock = clock
        self._interval = 1.0 / limit.qps
        self._tolerance = (limit.burst - 1) * self._interval
        self._tat = clock.monotonic()  # theoretical arrival time of the next call
        self._turn = anyio.Lock()
        self._slots = anyio.CapacityLimiter(limit.concurrency)
        self.waited = 0.0  # total seconds callers spent waiting for their turn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[None]:
        """Hold one request slot, entered no sooner than the QPS budget allows."""
        async with self._slots:
            await self._wait_turn()
            yield

    async def _wait_turn(self) -> None:
        # The lock makes waiters line up in order, so nobody starves under contention.
        async with self._turn:
            now = self._clock.monotonic()
            allowed_at = self._tat - self._tolerance
            if allowed_at > now:
                self.waited += allowed_at - now
                await self._clock.sleep(allowed_at - now)
                now = self._clock.monotonic()
            self._tat = max(self._tat, now) + self._interval

    def penalize(self, seconds: float) -> None:
        """Hold back every call for ``seconds`` (the platform said we are banned that long)."""
        self._tat = max(self._tat, self._clock.monotonic() + seconds + self._tolerance)
