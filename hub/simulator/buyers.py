"""Simulated buyers: paid orders on sandbox shops, refused when the platform shows 0.

Buyers act on the platform's own idea of stock, as real buyers do, so they oversell
exactly when the hub let the channels show more than the merchant has.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio

from hub.models import AfterSaleType
from hub.simulator.app import SandboxApp
from hub.simulator.state import SandboxError


@dataclass
class Buyers:
    """Buyers on several channels (channel name -> sandbox)."""

    channels: Mapping[str, SandboxApp]
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    attempts: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    units: Counter[str] = field(default_factory=Counter)  # units bought per channel
    #: share of buyers who, instead of buying, open an after-sale case on an earlier order of
    #: the channel: a refund if nothing shipped yet, else a return (0: never)
    after_sale_rate: float = 0.0
    after_sales: Counter[str] = field(default_factory=Counter)  # cases opened per channel

    def buy(self, channel: str, code: str, quantity: int = 1) -> bool:
        """One buyer on ``channel`` orders ``quantity`` of master code ``code`` and pays."""
        app = self.channels[channel]
        self.attempts[channel] += 1
        with app.lock:
            candidates = [s for s in app.state.skus_by_code(code) if app.state.items[s.item_id].on_sale]
            if not candidates:
                self.refused[channel] += 1
                return False
            try:
                app.state.place_order(
                    [(candidates[0].sku_id, quantity)], buyer=f"buyer{self.rng.randrange(10**6)}"
                )
            except SandboxError:
                self.refused[channel] += 1
                return False
        self.accepted[channel] += 1
        self.units[channel] += quantity
        return True

    def after_sale(self, channel: str) -> bool:
        """One buyer on ``channel`` opens a case on a random earlier order that has none:
        a refund before shipment, or a return of shipped goods (the sandbox marks it
        received later, on its clock). False when there is no such order."""
        app = self.channels[channel]
        with app.lock:
            state = app.state
            if not state.sales:
                return False
            order = state.orders[self.rng.choice(state.sales).order_id]
            taken = any(c.order_id == order.order_id for c in state.after_sales.cases.values())
            if taken or order.status.is_closed_unshipped:
                return False
            shipped = any(line.shipped for line in order.lines)
            kind = AfterSaleType.RETURN_REFUND if shipped else AfterSaleType.REFUND_ONLY
            state.after_sales.open(
                order.order_id, kind, line_id=next(x.line_id for x in order.lines if x.shipped or not shipped)
            )
        self.after_sales[channel] += 1
        return True

    def burst(self, codes: Sequence[str], attempts: int, weights: Mapping[str, float] | None = None) -> None:
        """``attempts`` buyers, each on a channel picked by ``weights`` (default: evenly)."""
        names = list(self.channels)
        shares = [float((weights or {}).get(n, 1.0)) for n in names]
        for _ in range(attempts):
            self.buy(self.rng.choices(names, shares)[0], self.rng.choice(list(codes)))

    def race_requests(
        self, codes: Sequence[str], chance: float, weights: Mapping[str, float] | None = None
    ) -> None:
        """From now on, as any request reaches any of the channels, a buyer acts with
        probability ``chance`` — so purchases land between the hub's reads and writes,
        where real races happen. :meth:`stop_racing` ends it."""

        def maybe_buy() -> None:
            if self.rng.random() < chance:
                self.burst(codes, 1, weights)

        for app in self.channels.values():
            app.on_request = maybe_buy

    def stop_racing(self) -> None:
        for app in self.channels.values():
            app.on_request = None

    @property
    def units_bought(self) -> int:
        return sum(self.units.values())

    async def run(
        self,
        codes: Sequence[str],
        *,
        seconds: float,
        rate: float,
        weights: Mapping[str, float] | None = None,
        stop: anyio.Event | None = None,
    ) -> None:
        """Buy for ``seconds`` of the first channel's clock at about ``rate`` attempts per
        second in total, spread over channels by ``weights`` (default: evenly)."""
        names = list(self.channels)
        shares = [float((weights or {}).get(n, 1.0)) for n in names]
        clock = next(iter(self.channels.values())).clock
        end = clock.monotonic() + seconds
        while clock.monotonic() < end and not (stop and stop.is_set()):
            channel = self.rng.choices(names, shares)[0]
            if self.after_sale_rate and self.rng.random() < self.after_sale_rate:
                self.after_sale(channel)
            else:
                self.buy(channel, self.rng.choice(list(codes)))
            await clock.sleep(self.rng.expovariate(rate))
