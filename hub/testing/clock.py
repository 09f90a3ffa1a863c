"""A clock for tests: time moves only when someone sleeps or calls :meth:`advance`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio

DEFAULT_START = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)


class FakeClock:
    """Implements :class:`hub.core.clock.Clock`. ``sleep`` advances the clock at once
    (and yields to other tasks), so code that waits costs no real time."""

    def __init__(self, start: datetime = DEFAULT_START):
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._mono = 1000.0
        self.slept = 0.0  # total seconds requested through sleep()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._now += timedelta(seconds=seconds)
        self._mono += seconds

    async def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept += seconds
            self.advance(seconds)
        await anyio.sleep(0)
