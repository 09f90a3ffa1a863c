"""Automatic partitioning: which SKUs are too scarce to show in full on every channel.

In shared mode every channel shows the whole sellable quantity, so between a sale and the
next sync that lands on the other channels, they together may sell more than exists. That
is harmless while the sellable units exceed what the channels can sell in that time, and
an oversell otherwise. So, each cycle, a SKU with no explicit setting is partitioned when

    sellable < max(FLOOR_PER_CHANNEL × channels, MARGIN × expected sales before the next sync)

* **expected sales** = Σ over channels of its recent sales velocity × the propagation
  delay. A channel's velocity is the higher of its rate over the sales window
  (``HUB_SALES_WINDOW_MINUTES``) and over a short window of a few delays, so a burst
  (a flash sale, a live stream) counts at once and a quiet hour does not hide it.
* **propagation delay**: how long a sale on one channel takes to reach the others'
  quantities. Measured from the cycles the hub recorded (``sync_runs``): a sale just
  after one cycle's order read is ingested by the next cycle and pushed at its end, so
  the delay is the typical time between cycle starts plus the typical cycle duration.
* the **floor** protects a SKU with no sales history (a new launch, a flash-sale item):
  a few units per channel are always too few to share.

Explicit settings win: a SKU marked ``--partitioned``, its own ``--partition-below``, then
``HUB_PARTITION_BELOW`` (``0`` turns partitioning off for the SKUs it covers).

The decision (:func:`decide`, :func:`expected_sales`, :func:`propagation_delay`) is pure;
:func:`measure` reads what it needs.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.storage import tables as t

MARGIN = 2.0  # velocities are noisy and a burst can double in a cycle: plan for twice the estimate
FLOOR_PER_CHANNEL = 10  # fewer units than this per selling channel are always partitioned
DEFAULT_DELAY = 60.0  # seconds, before two cycles have been measured (the `--watch` default interval)
MAX_DELAY = 3600.0  # a sync that stopped for days says nothing about the next cycle
SHORT_WINDOW_CYCLES = 4  # the short velocity window spans this many delays …
MIN_SHORT_WINDOW = 60.0  # … and at least this many seconds
RECENT_CYCLES = 10  # cycles the delay is measured over
CLOSED = ("cancelled", "refunded")  # orders that sold nothing


@dataclass(frozen=True)
class Mode:
    """A SKU's allocation mode this cycle and the reason, in words a merchant can check."""

    partitioned: bool
    reason: str


@dataclass(frozen=True)
class Measurements:
    """What the automatic decision needs beyond the SKU's own numbers."""

    delay: float  # seconds from a sale on one channel to the others' new quantities
    short_window: float  # seconds of the short velocity window
    long_window: float  # seconds of the sales window
    sold_short: Mapping[tuple[int, int], int]  # (shop id, sku id) -> units in the short window


def propagation_delay(cycles: Sequence[tuple[datetime, datetime]]) -> float:
    """Seconds from a sale to the other channels' new quantities, from recent stock cycles
    ``(started, finished)``: median gap between starts + median duration."""
    done = sorted((s, f) for s, f in cycles if f is not None)[-RECENT_CYCLES:]
    if len(done) < 2:
        return DEFAULT_DELAY
    gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(done)]
    durations = [(f - s).total_seconds() for s, f in done]
    return min(MAX_DELAY, max(0.0, statistics.median(gaps)) + max(0.0, statistics.median(durations)))


def short_window(delay: float, long_window: float) -> float:
    """The short velocity window for ``delay``: a few delays, at least a minute, at most the
    sales window."""
    return min(long_window, max(MIN_SHORT_WINDOW, SHORT_WINDOW_CYCLES * delay))


def velocity(sold_long: int, long_window: float, sold_short: int, short: float) -> float:
    """Units per second: the higher of the rates over the long and the short window."""
    rates = [sold_long / long_window if long_window > 0 else 0.0, sold_short / short if short > 0 else 0.0]
    return max(rates)


def expected_sales(velocities: Sequence[float], delay: float) -> int:
    """Units the channels together could sell before the next sync lands (rounded up)."""
    return math.ceil(sum(velocities) * delay - 1e-9)


def decide(
    sellable: int,
    *,
    channels: int,
    expected: int,
    marked: bool = False,
    own_threshold: int | None = None,
    global_threshold: int | None = None,
) -> Mode:
    """The mode of one SKU. ``channels``: shops listing it; ``expected``: see
    :func:`expected_sales`. Explicit settings (``marked``, the SKU's own threshold, the
    global one) win over the automatic rule."""
    if marked:
        return Mode(True, "partitioned: marked so (hub skus set --partitioned)")
    if own_threshold is not None:
        return _against(sellable, own_threshold, "its --partition-below")
    if global_threshold is not None:
        return _against(sellable, global_threshold, "HUB_PARTITION_BELOW")
    needed = math.ceil(MARGIN * expected)
    floor = FLOOR_PER_CHANNEL * channels
    if needed >= floor and needed > 0:
        why = f"{needed} expected sales before the next sync"
        threshold = needed
    else:
        why = f"{floor}, the floor for {channels} channel{'s' if channels != 1 else ''}"
        threshold = floor
    if sellable < threshold:
        return Mode(True, f"partitioned: {sellable} sellable < {why}")
    return Mode(False, f"shared: {sellable} sellable ≥ {why}")


def _against(sellable: int, threshold: int, source: str) -> Mode:
    if sellable < threshold:
        return Mode(True, f"partitioned: {sellable} sellable < {threshold} ({source})")
    return Mode(False, f"shared: {sellable} sellable ≥ {threshold} ({source})")


# --- reading ---------------------------------------------------------------------------------


def measure(session: Session, now: datetime, sales_window: timedelta) -> Measurements:
    """The propagation delay measured from recorded stock cycles, and recent sales per shop
    and SKU over the short window."""
    cycles = session.execute(
        select(t.SyncRun.started_at, func.max(t.SyncRun.finished_at))
        .where(t.SyncRun.stream == "stock", t.SyncRun.status != "skipped")
        .group_by(t.SyncRun.started_at)
        .order_by(t.SyncRun.started_at.desc())
        .limit(RECENT_CYCLES)
    ).all()
    delay = propagation_delay([(s, f) for s, f in cycles])
    long = sales_window.total_seconds()
    short = short_window(delay, long)
    return Measurements(delay, short, long, sold_since(session, now - timedelta(seconds=short)))


def sold_since(session: Session, since: datetime) -> dict[tuple[int, int], int]:
    """Units of orders (not cancelled or refunded) placed since ``since``, per (shop id, sku id)."""
    return {
        (shop_id, sku_id): int(qty)
        for shop_id, sku_id, qty in session.execute(
            select(t.Order.shop_id, t.OrderLine.sku_id, func.sum(t.OrderLine.quantity))
            .join(t.Order, t.Order.id == t.OrderLine.order_id)
            .where(
                t.OrderLine.sku_id.is_not(None),
                t.Order.created_at_platform >= since,
                t.Order.status.not_in(CLOSED),
            )
            .group_by(t.Order.shop_id, t.OrderLine.sku_id)
        )
    }
