"""A per-shop circuit breaker: a platform that is down fails fast and slows nobody else.

Every shop's client has its own :class:`CircuitBreaker` (kept across the cycles of one
``hub sync --watch`` process). It counts *connection* failures in a row — the request
never got an answer: refused, reset, timed out. After ``threshold`` of them the circuit
**opens**: every call of that shop fails at once with :class:`~hub.errors.CircuitOpen`,
without touching the network or waiting for a retry. After ``cooldown`` seconds it is
**half-open**: one call goes out as a probe while the others still fail fast; an answer
(any answer, even an error from the platform) closes it, another connection failure
opens it again for twice as long (up to ``max_cooldown``).

Answers that are the platform's own errors (throttling, a refused request, an HTTP 5xx
from its gateway) are not connection failures: the platform is up, and the retry policy
deals with them.

The state lives in the process's memory; every change bumps :attr:`CircuitBreaker.version`
so the engine can persist the changed ones (:mod:`hub.core.health`) for the console and
``hub shops list`` to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.core.clock import Clock
from hub.errors import CircuitOpen


@dataclass(frozen=True)
class BreakerPolicy:
    """When a shop's circuit opens (``threshold`` connection failures in a row) and how
    long it stays open before a probe (``cooldown`` seconds, doubling up to
    ``max_cooldown`` while probes fail)."""

    threshold: int = 5
    cooldown: float = 30.0
    max_cooldown: float = 300.0

    def __post_init__(self) -> None:
        if self.threshold < 1 or self.cooldown <= 0 or self.max_cooldown < self.cooldown:
            raise ValueError(f"invalid circuit breaker policy {self}")


@dataclass
class CircuitBreaker:
    """The circuit of one shop (see the module docstring). Times are the clock's
    monotonic seconds."""

    shop: str
    clock: Clock
    policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    state: str = "closed"  # "closed", "open" or "half_open"
    failures: int = 0  # connection failures in a row
    opened_at: float | None = None
    cooldown: float = 0.0
    last_error: str | None = None
    #: when it last opened, on the wall clock (for people; ``opened_at`` is monotonic)
    opened_wall: datetime | None = None
    #: bumped by every change of state or failure count, and by the first outcome seen
    version: int = 0
    #: the version last persisted (see :mod:`hub.core.health`)
    recorded: int = 0
    _probing: bool = field(default=False, repr=False)

    def before_call(self) -> None:
        """Raise :class:`CircuitOpen` unless a call may go out now."""
        if self.state == "closed":
            return
        now = self.clock.monotonic()
        assert self.opened_at is not None
        if self.state == "open" and now >= self.opened_at + self.cooldown:
            self.state, self._probing = "half_open", False
            self.version += 1
        if self.state == "half_open" and not self._probing:
            self._probing = True  # this call is the probe
            return
        raise CircuitOpen(
            f"circuit open after {self.failures} connection failures in a row "
            f"(last: {self.last_error}); calls fail fast, next probe in {self.retry_in():.0f} s",
            platform="",
            operation="",
        )

    def succeeded(self) -> None:
        """The platform answered: the connection works."""
        if self.state != "closed" or self.failures or not self.version:
            self.version += 1
        self.state, self.failures, self.opened_at, self.cooldown = "closed", 0, None, 0.0
        self._probing = False

    def failed(self, error: str) -> None:
        """A connection failure (no answer)."""
        self.failures += 1
        self.last_error = error
        self.version += 1
        if self.state == "half_open":
            self._open(min(self.policy.max_cooldown, max(self.cooldown, self.policy.cooldown) * 2))
        elif self.state == "closed" and self.failures >= self.policy.threshold:
            self._open(self.policy.cooldown)

    def abandoned(self) -> None:
        """A call ended with no outcome (cancelled): a probe may go out again."""
        self._probing = False

    def _open(self, cooldown: float) -> None:
        self.state, self.opened_at, self.cooldown = "open", self.clock.monotonic(), cooldown
        self.opened_wall = self.clock.now()
        self._probing = False

    def retry_in(self) -> float:
        """Seconds until the next probe may go out (0 when closed)."""
        if self.state == "closed" or self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown - self.clock.monotonic())

    def snapshot(self) -> dict[str, Any]:
        """The state as shown in a sync report (``circuits`` in ``--json``)."""
        return {
            "state": self.state,
            "failures": self.failures,
            "retry_in": round(self.retry_in(), 1),
            "last_error": self.last_error,
        }
