"""Reports (报表): orders per day, handling time, per-channel figures, a stock summary.

One source for `hub report` and the console, so both always show the same numbers.

Definitions (README "Reports" says the same):

* A *channel* is a platform (taobao, jd, douyin, wechat…); a merchant may have several shops
  on one channel. ``shop`` narrows a report to one shop.
* An order *counts* once paid: every status but ``pending_payment`` and ``cancelled``.
  Refunded orders still count (they were sales); GMV is the sum of their totals, in fen.
* Days are Asia/Shanghai calendar days of the order's creation time; a period is the
  half-open interval ``[since, until)``.
* Handling time runs from payment (``paid_at``) to the first update that reported the order
  shipped (``shipped_at``), for orders paid in the period. p50/p90 are nearest-rank
  percentiles: the ``ceil(p/100 * n)``-th smallest value.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import aftersales
from hub.core import health as health_mod
from hub.core.shops import get_shop
from hub.errors import InputError
from hub.models import OrderStatus
from hub.storage import tables as t
from hub.units import CN_TZ, fen_to_yuan, utc

NOT_COUNTED = (OrderStatus.PENDING_PAYMENT.value, OrderStatus.CANCELLED.value)
REPORTS = ("orders", "handling", "channels", "returns", "stock")


@dataclass(frozen=True)
class Period:
    """The half-open interval ``[since, until)``, aware UTC."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.until <= self.since:
            raise InputError(f"the period ends ({self.until.isoformat()}) before it starts")

    def days(self) -> list[date]:
        """The Asia/Shanghai days the period touches, oldest first."""
        first = cn_day(self.since)
        last = cn_day(self.until - timedelta(microseconds=1))
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def cn_day(dt: datetime) -> date:
    """The Asia/Shanghai calendar day of an aware datetime."""
    return utc(dt).astimezone(CN_TZ).date()


def day_start(day: date) -> datetime:
    """Midnight of an Asia/Shanghai day, as aware UTC."""
    return utc(datetime.combine(day, time(), tzinfo=CN_TZ))


def last_days(now: datetime, days: int = 30) -> Period:
    """The ``days`` Asia/Shanghai days up to and including today (today up to now)."""
    today = cn_day(now)
    return Period(day_start(today - timedelta(days=days - 1)), day_start(today + timedelta(days=1)))


def today(now: datetime) -> Period:
    return last_days(now, 1)


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{option} {text!r}: expected a date like 2026-11-11") from None


def period_from(now: datetime, since: str | None, until: str | None, *, days: int = 30) -> Period:
    """``--since``/``--until`` as Asia/Shanghai dates, both included; by default the last
    ``days`` days up to today."""
    default = last_days(now, days)
    start = day_start(parse_day(since, "--since")) if since else default.since
    end = day_start(parse_day(until, "--until") + timedelta(days=1)) if until else default.until
    if end <= start:
        raise InputError(f"--until {until} is before --since {since}")
    return Period(start, end)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


# --- reports --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A report column: ``kind`` is text, int, money (fen), hours (seconds, shown as hours)
    or percent (a number of percent, one decimal)."""

    key: str
    header: str
    kind: str = "text"


@dataclass
class Report:
    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def cell(self, row: dict[str, Any], column: Column) -> str:
        """A value as people read it: money in yuan, durations in hours, '-' for none."""
        value = row.get(column.key)
        if value is None:
            return "-"
        if column.kind == "money":
            return fen_to_yuan(value)
        if column.kind == "hours":
            return f"{value / 3600:.1f}"
        if column.kind == "percent":
            return f"{value:.1f}%"
        return str(value)

    def table(self) -> list[list[str]]:
        return [[self.cell(row, c) for c in self.columns] for row in self.rows]


def _shop_ids(session: Session, shop: str | None) -> dict[int, tuple[str, str]]:
    """Shop id -> (name, channel), all shops or the one named."""
    if shop:
        row = get_shop(session, shop)
        return {row.id: (row.name, row.platform)}
    return {i: (n, p) for i, n, p in session.execute(select(t.Shop.id, t.Shop.name, t.Shop.platform))}


def _counted_orders(session: Session, shops: dict[int, tuple[str, str]], period: Period) -> Iterable[Any]:
    return session.execute(
        select(t.Order.shop_id, t.Order.created_at_platform, t.Order.total, t.Order.status).where(
            t.Order.shop_id.in_(shops),
            t.Order.created_at_platform >= period.since,
            t.Order.created_at_platform < period.until,
            t.Order.status.not_in(NOT_COUNTED),
        )
    )


def _counted_lines(session: Session, shops: dict[int, tuple[str, str]], period: Period) -> Iterable[Any]:
    """(shop id, SKU id or None, quantity) of every line of the orders that count."""
    return session.execute(
        select(t.Order.shop_id, t.OrderLine.sku_id, t.OrderLine.quantity)
        .join(t.OrderLine, t.OrderLine.order_id == t.Order.id)
        .where(
            t.Order.shop_id.in_(shops),
            t.Order.created_at_platform >= period.since,
            t.Order.created_at_platform < period.until,
            t.Order.status.not_in(NOT_COUNTED),
        )
    )


def orders_by_day(session: Session, period: Period, shop: str | None = None) -> Report:
    """Paid orders and GMV per Asia/Shanghai day and channel, every day of the period
    (days without orders show 0) for each channel that has a shop."""
    shops = _shop_ids(session, shop)
    counts: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0])
    for shop_id, created, total, _ in _counted_orders(session, shops, period):
        cell = counts[(cn_day(created), shops[shop_id][1])]
        cell[0] += 1
        cell[1] += total
    channels = sorted({channel for _, channel in shops.values()})
    rows = [
        {
            "day": day.isoformat(),
            "channel": channel,
            "orders": counts[(day, channel)][0],
            "gmv": counts[(day, channel)][1],
        }
        for day in period.days()
        for channel in channels
    ]
    return Report(
        "orders",
        "Orders per day",
        [
            Column("day", "day"),
            Column("channel", "channel"),
            Column("orders", "orders", "int"),
            Column("gmv", "GMV (yuan)", "money"),
        ],
        rows,
    )


def _handling_seconds(
    session: Session, shops: dict[int, tuple[str, str]], period: Period
) -> dict[str, list[float]]:
    rows = session.execute(
        select(t.Order.shop_id, t.Order.paid_at, t.Order.shipped_at).where(
            t.Order.shop_id.in_(shops),
            t.Order.paid_at >= period.since,
            t.Order.paid_at < period.until,
            t.Order.shipped_at.is_not(None),
        )
    )
    by_channel: dict[str, list[float]] = defaultdict(list)
    for shop_id, paid, shipped in rows:
        by_channel[shops[shop_id][1]].append(max(0.0, (shipped - paid).total_seconds()))
    return by_channel


def handling(session: Session, period: Period, shop: str | None = None) -> Report:
    """Handling time paid → shipped per channel: how many shipped, p50 and p90."""
    shops = _shop_ids(session, shop)
    by_channel = _handling_seconds(session, shops, period)
    rows = [
        {
            "channel": channel,
            "shipped": len(by_channel[channel]),
            "p50_seconds": percentile(by_channel[channel], 50),
            "p90_seconds": percentile(by_channel[channel], 90),
        }
        for channel in sorted({c for _, c in shops.values()})
    ]
    return Report(
        "handling",
        "Handling time, paid → shipped",
        [
            Column("channel", "channel"),
            Column("shipped", "shipped", "int"),
            Column("p50_seconds", "p50 (hours)", "hours"),
            Column("p90_seconds", "p90 (hours)", "hours"),
        ],
        rows,
    )


def channels(session: Session, period: Period, shop: str | None = None) -> Report:
    """Per channel: shops, paid orders, GMV, units, average order value, refunded orders,
    orders still awaiting shipment, and handling p50/p90."""
    shops = _shop_ids(session, shop)
    names = sorted({c for _, c in shops.values()})
    figures = {c: {"orders": 0, "gmv": 0, "refunded": 0, "awaiting": 0} for c in names}
    for shop_id, _, total, status in _counted_orders(session, shops, period):
        row = figures[shops[shop_id][1]]
        row["orders"] += 1
        row["gmv"] += total
        row["refunded"] += status == OrderStatus.REFUNDED.value
        row["awaiting"] += status == OrderStatus.AWAITING_SHIPMENT.value
    units: dict[str, int] = defaultdict(int)
    for shop_id, _, quantity in _counted_lines(session, shops, period):
        units[shops[shop_id][1]] += quantity
    handled = _handling_seconds(session, shops, period)
    rows = []
    for channel in names:
        f = figures[channel]
        rows.append(
            {
                "channel": channel,
                "shops": sum(1 for _, c in shops.values() if c == channel),
                "orders": f["orders"],
                "gmv": f["gmv"],
                "units": units[channel],
                "average_order": f["gmv"] // f["orders"] if f["orders"] else None,
                "refunded": f["refunded"],
                "awaiting_shipment": f["awaiting"],
                "p50_seconds": percentile(handled[channel], 50),
                "p90_seconds": percentile(handled[channel], 90),
            }
        )
    return Report(
        "channels",
        "Channels",
        [
            Column("channel", "channel"),
            Column("shops", "shops", "int"),
            Column("orders", "orders", "int"),
            Column("gmv", "GMV (yuan)", "money"),
            Column("units", "units", "int"),
            Column("average_order", "avg order (yuan)", "money"),
            Column("refunded", "refunded", "int"),
            Column("awaiting_shipment", "awaiting shipment", "int"),
            Column("p50_seconds", "p50 (hours)", "hours"),
            Column("p90_seconds", "p90 (hours)", "hours"),
        ],
        rows,
    )


def returns(session: Session, period: Period, shop: str | None = None) -> Report:
    """Return rate per SKU and channel: units in return and exchange cases opened in the
    period (not rejected or withdrawn) per 100 units sold in it (paid orders created in
    the period), highest first. Only linked SKUs count; a rate needs sales."""
    shops = _shop_ids(session, shop)
    sold: dict[tuple[str, int], int] = defaultdict(int)
    for shop_id, sku_id, quantity in _counted_lines(session, shops, period):
        if sku_id is not None:
            sold[(shops[shop_id][1], sku_id)] += quantity
    returned: dict[tuple[str, int], int] = defaultdict(int)
    for (shop_id, sku_id), units in aftersales.returned_units(
        session, list(shops), period.since, period.until
    ).items():
        returned[(shops[shop_id][1], sku_id)] += units
    keys = set(sold) | set(returned)
    codes = dict(
        session.execute(select(t.Sku.id, t.Sku.code).where(t.Sku.id.in_({k[1] for k in keys}))).all()
    )
    rows = [
        {
            "channel": channel,
            "sku": codes.get(sku_id, str(sku_id)),
            "sold": sold[(channel, sku_id)],
            "returned": returned[(channel, sku_id)],
            "return_rate": round(100 * returned[(channel, sku_id)] / sold[(channel, sku_id)], 1)
            if sold[(channel, sku_id)]
            else None,
        }
        for channel, sku_id in keys
    ]
    rows.sort(key=lambda r: (-(r["return_rate"] or 0), r["channel"], r["sku"]))
    return Report(
        "returns",
        "Return rate per SKU and channel",
        [
            Column("channel", "channel"),
            Column("sku", "sku"),
            Column("sold", "sold", "int"),
            Column("returned", "returned", "int"),
            Column("return_rate", "return rate", "percent"),
        ],
        rows,
    )


def stock(sku_rows: Sequence[dict[str, Any]]) -> Report:
    """Stock per SKU with a 安全库存预警 flag: ``low`` when nothing is sellable beyond the
    safety stock while units remain, ``out`` when none is left after reservations.

    ``sku_rows`` come from :func:`hub.core.stock.show.sku_rows` (the rows `hub stock show` prints)."""
    rows = []
    for r in sku_rows:
        free = r["on_hand"] - r["reserved"]
        alert = "out" if free <= 0 else ("low" if r["sellable"] <= 0 else "")
        rows.append(
            {
                "sku": r["sku"],
                "title": r.get("title", ""),
                "on_hand": r["on_hand"],
                "reserved": r["reserved"],
                "safety": r["safety"],
                "sellable": r["sellable"],
                "mode": r["mode"],
                "alert": alert,
            }
        )
    return Report(
        "stock",
        "Stock",
        [
            Column("sku", "商家编码"),
            Column("title", "title"),
            Column("on_hand", "on hand", "int"),
            Column("reserved", "reserved", "int"),
            Column("safety", "safety", "int"),
            Column("sellable", "sellable", "int"),
            Column("mode", "mode"),
            Column("alert", "alert"),
        ],
        rows,
    )


def alerts(report: Report) -> list[dict[str, Any]]:
    """The SKUs of a stock report that need attention."""
    return [r for r in report.rows if r["alert"]]


def circuit_of(recorded: dict[str, Any] | None) -> dict[str, Any]:
    """The circuit fields of a shop's health from its recorded row (closed when none)."""
    recorded = recorded or {}
    return {
        "circuit": recorded.get("state", "closed"),
        "circuit_opened_at": recorded.get("opened_at"),
        "consecutive_failures": recorded.get("consecutive_failures", 0),
        "last_failure": recorded.get("last_failure"),
    }


def sync_health(session: Session) -> list[dict[str, Any]]:
    """Per shop, from the sync runs: the last successful run, failed runs since then, and the
    last failure's error; and its circuit breaker as last recorded (:mod:`hub.core.health`):
    ``circuit`` (closed, open or half_open), ``circuit_opened_at``, ``consecutive_failures``,
    ``last_failure``."""
    names = dict(session.execute(select(t.Shop.id, t.Shop.name)).all())
    circuits = health_mod.circuits(session)
    health = {
        shop_id: {
            "shop": name,
            "last_success": None,
            "failures": 0,
            "last_error": None,
            "last_run": None,
            **circuit_of(circuits.get(name)),
        }
        for shop_id, name in names.items()
    }
    runs = session.execute(
        select(t.SyncRun.shop_id, t.SyncRun.status, t.SyncRun.started_at, t.SyncRun.finished_at)
        .add_columns(t.SyncRun.error)
        .where(t.SyncRun.shop_id.is_not(None))
        .order_by(t.SyncRun.started_at, t.SyncRun.id)
    )
    for shop_id, status, started, finished, error in runs:
        row = health[shop_id]
        row["last_run"] = started
        if status == "ok":
            row["last_success"], row["failures"], row["last_error"] = finished or started, 0, None
        elif status == "failed":
            row["failures"] += 1
            row["last_error"] = error
    return sorted(health.values(), key=lambda r: r["shop"])


def failed_writes(session: Session, limit: int = 50) -> tuple[int, list[dict[str, Any]]]:
    """Outbox writes that failed for good: how many, and the latest ``limit`` of them."""
    query = (
        select(t.OutboxEntry, t.Shop.name)
        .join(t.Shop, t.Shop.id == t.OutboxEntry.shop_id)
        .where(t.OutboxEntry.state == "failed")
    )
    total = len(session.execute(query.with_only_columns(t.OutboxEntry.id)).all())
    rows = [
        {
            "id": e.id,
            "shop": name,
            "kind": e.kind,
            "target": e.target,
            "attempts": e.attempts,
            "error": e.last_error,
            "at": e.updated_at,
        }
        for e, name in session.execute(query.order_by(t.OutboxEntry.updated_at.desc()).limit(limit))
    ]
    return total, rows
