"""Time as a dependency.

The engine, the HTTP client and the sandboxes take a :class:`Clock` instead of calling
``datetime.now`` or sleeping directly, so tests run on a fake clock with no real sleeps.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

import anyio


class Clock(Protocol):
    """What the hub needs of time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for rate limits and durations)."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock advances instead of waiting)."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(max(0.0, seconds))


SYSTEM_CLOCK = SystemClock()
