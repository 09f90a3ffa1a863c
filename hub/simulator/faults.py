"""Fault injection for sandboxes: what can go wrong between the hub and a platform.

Kinds (each drawn per request, before the platform handles it unless noted):

* ``server_error`` — an HTTP 502 from the gateway, not applied;
* ``timeout`` — no answer, not applied (the client sees a read timeout);
* ``lost_response`` — applied, then the answer is lost (a timeout): the write is in doubt;
* ``reset`` — the connection is reset, not applied;
* ``malformed`` — applied, but the body is cut in half (invalid JSON);
* ``throttle`` — the platform's own throttling answer, not applied.

Use :meth:`Faults.inject` for "the next N requests fail like this" (a throttling
burst) — optionally only requests whose URL or body contains a text, e.g. an API method
name — and :meth:`Faults.set_rate` for random faults at a given share of requests.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from dataclasses import dataclass, field

FAULT_KINDS = ("server_error", "timeout", "lost_response", "reset", "malformed", "throttle")


@dataclass
class Faults:
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    rates: dict[str, float] = field(default_factory=dict)
    injected: Counter[str] = field(default_factory=Counter)
    _queue: deque[tuple[str, str | None]] = field(default_factory=deque)

    def inject(self, kind: str, times: int = 1, when: str | None = None) -> None:
        """The next ``times`` requests fail with ``kind`` (only those whose URL or body
        contains ``when``, if given)."""
        self._check(kind)
        self._queue.extend([(kind, when)] * times)

    def set_rate(self, kind: str, share: float) -> None:
        """From now on a random ``share`` (0..1) of requests fail with ``kind``."""
        self._check(kind)
        if not 0 <= share <= 1:
            raise ValueError(f"fault rate must be within 0..1, got {share}")
        self.rates[kind] = share

    def clear(self) -> None:
        self.rates.clear()
        self._queue.clear()

    def draw(self, request_text: str = "") -> str | None:
        """The fault for a request (described by its URL and body), or None."""
        kind = None
        for index, (queued, when) in enumerate(self._queue):
            if when is None or when in request_text:
                kind = queued
                del self._queue[index]
                break
        if kind is None:
            for name, share in self.rates.items():
                if share and self.rng.random() < share:
                    kind = name
                    break
        if kind:
            self.injected[kind] += 1
        return kind

    @staticmethod
    def _check(kind: str) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; kinds: {', '.join(FAULT_KINDS)}")

    @classmethod
    def parse(cls, spec: str, rng: random.Random | None = None) -> Faults:
        """``"timeout=0.02,throttle=0.05"`` -> Faults with those rates."""
        faults = cls(rng=rng or random.Random(0))
        for part in filter(None, (p.strip() for p in spec.split(","))):
            kind, _, share = part.partition("=")
            faults.set_rate(kind.strip(), float(share or 0.05))
        return faults
