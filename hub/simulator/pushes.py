"""What a sandbox announces by push: every status an order takes, once.

A platform sandbox turns :meth:`OrderFeed.new` into its own messages — signed HTTP
pushes to a URL (:class:`PushSender`, Douyin and WeChat) or a message channel consumed
by the client (Taobao TMC).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from hub.models import OrderStatus
from hub.simulator.state import OrderState, ShopState

log = logging.getLogger("hub.sandbox.push")


@dataclass(frozen=True)
class OrderChange:
    """The ``seq``-th status of an order's history (0: placed)."""

    order: OrderState
    status: OrderStatus
    seq: int

    @property
    def key(self) -> str:
        return f"{self.order.order_id}-{self.seq}"


class OrderFeed:
    """Order changes not announced yet. Starts at the state as it is when created (the
    seed's orders are not announced)."""

    def __init__(self, state: ShopState):
        self.state = state
        self._seen: dict[str, int] = {}
        self._version = -1
        self.new()

    def new(self) -> list[OrderChange]:
        with self.state.lock:
            if self._version == self.state.orders_version:
                return []
            self._version = self.state.orders_version
            out = []
            for order in self.state.orders.values():
                start = self._seen.get(order.order_id, 0)
                for seq in range(start, len(order.history)):
                    out.append(OrderChange(order, order.history[seq][1], seq))
                self._seen[order.order_id] = len(order.history)
            return out


@dataclass
class PushSender:
    """Delivers a sandbox's pushes to ``url`` the way platforms do: each request is built
    by ``build(change)`` (signed or encrypted with the shop's credentials) and sent again,
    up to ``attempts`` times in all, until the receiver answers with ``accepted(response)``.

    ``pump()`` sends what is new once (tests call it); ``start()`` runs it in a thread
    every ``interval`` seconds (``hub sandbox serve --push-to``)."""

    feed: OrderFeed
    url: str
    build: Callable[[OrderChange], httpx.Request]
    accepted: Callable[[httpx.Response], bool]
    attempts: int = 5
    interval: float = 0.05
    client: httpx.Client | None = None
    delivered: int = 0
    failed: int = 0

    def __post_init__(self) -> None:
        self._pending: list[tuple[OrderChange, int]] = []
        self._stop = threading.Event()

    def pump(self) -> int:
        """Send new changes and retry failed ones once; how many were accepted."""
        self._pending.extend((change, 0) for change in self.feed.new())
        client = self.client or httpx.Client(timeout=5)
        retry: list[tuple[OrderChange, int]] = []
        ok = 0
        try:
            for change, tried in self._pending:
                try:
                    response = client.send(self.build(change))
                    good = self.accepted(response)
                except httpx.HTTPError:
                    good = False
                if good:
                    ok += 1
                elif tried + 1 < self.attempts:
                    retry.append((change, tried + 1))  # redelivered on the next pump
                else:
                    self.failed += 1
                    log.warning("push of %s given up after %d attempts", change.key, self.attempts)
        finally:
            if self.client is None:
                client.close()
        self._pending = retry
        self.delivered += ok
        return ok

    def start(self) -> threading.Thread:
        def run() -> None:
            while not self._stop.wait(self.interval):
                self.pump()

        thread = threading.Thread(target=run, name="sandbox-push", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
