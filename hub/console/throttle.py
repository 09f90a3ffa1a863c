"""Login throttling: too many failed sign-ins for one user from one address lock that pair
out for a while. Kept in memory (one console process); time comes from an injected clock."""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field

from hub.core.clock import Clock


@dataclass
class LoginThrottle:
    clock: Clock
    limit: int = 5  # failures allowed within ``window`` seconds
    window: float = 15 * 60
    _failures: dict[tuple[str, str], deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        times = self._failures[key]
        cutoff = self.clock.monotonic() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        return times

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until ``user`` may try again from ``address`` (0: now)."""
        times = self._recent((user, address))
        if len(times) < self.limit:
            return 0.0
        return max(0.0, times[0] + self.window - self.clock.monotonic())

    def failed(self, user: str, address: str) -> None:
        self._recent((user, address)).append(self.clock.monotonic())

    def succeeded(self, user: str, address: str) -> None:
        self._failures.pop((user, address), None)
