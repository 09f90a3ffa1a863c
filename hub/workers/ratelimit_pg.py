"""A shop's rate limit shared by every worker process, through the database.

Each shop has one row in ``rate_buckets`` holding ``tat``, the theoretical arrival time
of its next call (GCRA, the same algorithm as :mod:`hub.core.ratelimit`, in seconds since
the epoch on the hub's clock). A call reserves its slot in one short transaction: it locks
the row (``SELECT … FOR UPDATE``), reads the clock only then, and moves ``tat`` to
``max(tat, now) + 1/qps``. The row lock serialises the reservations of every process, so
the slots handed out across all workers together are evenly spaced, and each caller waits
(outside any transaction) until its slot. The clock is read under the lock because a
caller may queue for it behind other workers: with a time read before queueing, an idle
bucket would hand out a slot already in the past, and that call, leaving late, would
land closer to the next one than the spacing allows. For the same reason a caller that
comes back for its slot late (a slow reply, a busy event loop) by more than
:data:`LATE_SHARE` of the spacing gives the slot up and reserves a new one: only the calls
that left within that much of their slots share a platform second.

The slots are spaced for :data:`HEADROOM` of the declared QPS: calls leave on time but
reach the platform with some network jitter, and at exactly the declared rate two of them
would now and then land in one platform second. The cap on calls in flight
(``concurrency``) stays per process. Worker machines must keep their clocks in sync
(NTP), as the slots are wall-clock times.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.core.clock import Clock
from hub.core.ratelimit import RateLimit, RateLimiter
from hub.storage import tables as t
from hub.storage.db import Database, insert_or_ignore

#: share of a shop's declared QPS the workers use together (see the module docstring)
HEADROOM = 0.9
#: how late, as a share of the spacing, a caller may still use its slot (see the module)
LATE_SHARE = 0.5


def reserve(
    session: Session, key: str, now: Callable[[], float], interval: float, floor: float = 0.0
) -> float:
    """Reserve the next call slot of bucket ``key``, no earlier than ``floor`` and than
    ``now()`` read once the bucket is locked; returns the slot, in seconds since the epoch."""
    insert_or_ignore(session, t.RateBucket.__table__, {"shop": key, "tat": 0.0})
    bucket = t.RateBucket
    row = select(bucket).where(bucket.shop == key).with_for_update()
    tat = session.execute(row).scalar_one().tat
    slot = max(tat, now(), floor)
    session.execute(update(bucket).where(bucket.shop == key).values(tat=slot + interval))
    return slot


class SharedRateLimiter(RateLimiter):
    """A :class:`RateLimiter` whose QPS budget lives in the database (see the module)."""

    def __init__(self, limit: RateLimit, clock: Clock, db: Database, key: str):
        super().__init__(limit, clock)
        self._interval = 1.0 / (limit.qps * HEADROOM)
        self._tolerance = (limit.burst - 1) * self._interval
        self._db = db
        self._key = key
        self._floor = 0.0  # a ban the platform asked for, applied with the next reservation
        self.missed = 0  # slots given up because the caller came back for them too late

    async def _wait_turn(self) -> None:
        while True:
            slot = await self._db.run(self._reserve)
            allowed_at = slot - self._tolerance
            now = self._now()
            if allowed_at > now:
                self.waited += allowed_at - now
                await self._clock.sleep(allowed_at - now)
                now = self._now()
            if now - allowed_at <= self._interval * LATE_SHARE:
                return
            # Back too late (a slow reply, a busy event loop): leaving now would land this
            # call too close to the next slot, which another worker may already be using.
            self.missed += 1

    def _reserve(self, session: Session) -> float:
        return reserve(session, self._key, self._now, self._interval, self._floor)

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def penalize(self, seconds: float) -> None:
        """Hold back every call of every worker for ``seconds`` (from the next reservation)."""
        self._floor = max(self._floor, self._now() + seconds + self._tolerance)


def shared_limiters(db: Database, clock: Clock) -> Callable[[str, RateLimit], RateLimiter]:
    """A ``ShopRuntime.limiter_for`` that paces each shop through its row in ``db``."""
    return lambda shop, limit: SharedRateLimiter(limit, clock, db, shop)
