"""Stock alerts (安全库存预警): what a merchant should look at before it costs sales.

Four kinds, each naming the SKU, the shops and the numbers:

* ``safety_stock`` — a counted SKU whose free units (on hand − reserved) are at or
  below its safety stock;
* ``low_cover`` — days of cover (sellable ÷ units sold a day over the last
  ``HUB_ALERT_SALES_DAYS``) below ``HUB_ALERT_COVER_DAYS``;
* ``zero_on_selling_channel`` — a listing showing 0 on a shop that sold the SKU over
  the last ``HUB_ALERT_SALES_DAYS``, while units are sellable (a SKU sold out is a
  ``safety_stock`` alert);
* ``stuck_reservation`` — open orders older than ``HUB_ALERT_STUCK_DAYS`` still holding
  units (never shipped, cancelled or refunded).

:func:`find` computes the alerts that stand now; :func:`refresh` (called by every
``hub sync`` that runs the stock stream) remembers them and returns only the new ones,
which the sync reports and broadcasts (the ``hub_stock_alerts`` hook). An alert that
clears and comes back later is new again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hub.core import autopartition
from hub.core.stock.picture import ListingInfo, Picture, load_picture
from hub.settings import HubSettings
from hub.storage import tables as t

Loader = Callable[[Session, datetime], Picture]  # the stock picture as of a transaction

KINDS = ("safety_stock", "low_cover", "zero_on_selling_channel", "stuck_reservation")
PER_SHOP = frozenset({"zero_on_selling_channel", "stuck_reservation"})  # one alert per shop


@dataclass(frozen=True)
class Alert:
    """One alert: ``numbers`` holds the figures the ``message`` is made of."""

    kind: str
    sku: str
    shops: tuple[str, ...]
    message: str
    numbers: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """Identifies the alert across cycles (its numbers may change while it stands)."""
        where = f":{self.shops[0]}" if self.kind in PER_SHOP else ""
        return f"{self.kind}:{self.sku}{where}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "sku": self.sku,
            "shops": list(self.shops),
            "message": self.message,
            **self.numbers,
        }


def find(
    session: Session, now: datetime, settings: HubSettings, *, load: Loader | None = None
) -> list[Alert]:
    """Every alert that stands now, ordered by SKU and kind. ``load``: how to get the stock
    picture (a sync passes its cached one, see :mod:`hub.core.stock.picture_cache`)."""
    if load is not None:
        picture = load(session, now)
    else:
        picture = load_picture(
            session,
            now,
            safety_default=settings.safety_stock,
            partition_below=settings.partition_below,
            sales_window=timedelta(minutes=settings.sales_window_minutes),
        )
    names: dict[int, str] = dict(session.execute(select(t.Shop.id, t.Shop.name)).all())
    days = settings.alert_sales_days
    sold = autopartition.sold_since(session, now - timedelta(days=days))
    sold_by_sku: dict[int, dict[int, int]] = defaultdict(dict)
    for (shop_id, sku_id), units in sold.items():
        if units > 0:
            sold_by_sku[sku_id][shop_id] = units
    listed: dict[int, list[ListingInfo]] = defaultdict(list)
    primary: set[tuple[int, int]] = set()
    for listing in picture.listings:  # ordered by id: the oldest of a shop is its primary listing
        if (listing.shop_id, listing.sku_id) not in primary:
            primary.add((listing.shop_id, listing.sku_id))
            listed[listing.sku_id].append(listing)
    out: list[Alert] = []
    for sku in picture.skus.values():
        shops = tuple(sorted(names[x.shop_id] for x in listed[sku.id]))
        on_hand = sum(sku.on_hand.values())
        free = on_hand - sku.reserved
        if sku.on_hand and free <= sku.safety:  # a SKU never counted has no level to be under
            out.append(
                Alert(
                    "safety_stock",
                    sku.code,
                    shops,
                    f"{sku.code}: {free} free (on hand {on_hand} − reserved {sku.reserved}) "
                    f"at or below safety stock {sku.safety}",
                    {"on_hand": on_hand, "reserved": sku.reserved, "free": free, "safety": sku.safety},
                )
            )
        by_shop = sold_by_sku.get(sku.id, {})
        daily = sum(by_shop.values()) / days
        if daily > 0 and sku.sellable / daily < settings.alert_cover_days:
            cover = sku.sellable / daily
            out.append(
                Alert(
                    "low_cover",
                    sku.code,
                    tuple(sorted(names[s] for s in by_shop)),
                    f"{sku.code}: {cover:.1f} days of cover ({sku.sellable} sellable ÷ {daily:.1f} sold "
                    f"a day over {days:g} days) < {settings.alert_cover_days:g}",
                    {
                        "sellable": sku.sellable,
                        "daily_sales": round(daily, 2),
                        "days_of_cover": round(cover, 2),
                        "threshold_days": settings.alert_cover_days,
                    },
                )
            )
        for listing in listed[sku.id]:
            units = by_shop.get(listing.shop_id, 0)
            if listing.model == 0 and units and sku.sellable > 0:
                shop = names[listing.shop_id]
                out.append(
                    Alert(
                        "zero_on_selling_channel",
                        sku.code,
                        (shop,),
                        f"{sku.code} shows 0 on {shop}, which sold {units} over the last {days:g} days, "
                        f"while {sku.sellable} are sellable",
                        {"sold": units, "days": days, "sellable": sku.sellable, "shown": 0},
                    )
                )
    out += _stuck(session, now, settings, names)
    return sorted(out, key=lambda a: (a.sku, KINDS.index(a.kind), a.shops))


def _stuck(session: Session, now: datetime, settings: HubSettings, names: dict[int, str]) -> list[Alert]:
    days = settings.alert_stuck_days
    rows = session.execute(
        select(
            t.Sku.code,
            t.Order.shop_id,
            func.count(func.distinct(t.Order.id)),
            func.sum(t.Reservation.quantity),
            func.min(t.Order.created_at_platform),
        )
        .join(t.OrderLine, t.OrderLine.id == t.Reservation.order_line_id)
        .join(t.Order, t.Order.id == t.OrderLine.order_id)
        .join(t.Sku, t.Sku.id == t.Reservation.sku_id)
        .where(t.Reservation.state == "held", t.Order.created_at_platform < now - timedelta(days=days))
        .group_by(t.Sku.code, t.Order.shop_id)
    )
    return [
        Alert(
            "stuck_reservation",
            code,
            (names[shop_id],),
            f"{code}: {orders} open order{'s' if orders != 1 else ''} on {names[shop_id]} older than "
            f"{days:g} days hold {units} units (oldest placed {oldest:%Y-%m-%d})",
            {"orders": orders, "units": int(units), "oldest": oldest.isoformat(), "days": days},
        )
        for code, shop_id, orders, units, oldest in rows
    ]


def refresh(
    session: Session, now: datetime, settings: HubSettings, *, load: Loader | None = None
) -> list[Alert]:
    """Remember the alerts that stand now and return the new ones (cleared ones are forgotten)."""
    current = {a.key: a for a in find(session, now, settings, load=load)}
    known = set(session.scalars(select(t.StockAlert.key)))
    gone = known - set(current)
    if gone:
        session.execute(delete(t.StockAlert).where(t.StockAlert.key.in_(gone)))
    new = [a for key, a in current.items() if key not in known]
    session.add_all(
        t.StockAlert(key=a.key, kind=a.kind, sku_code=a.sku, message=a.message, raised_at=now) for a in new
    )
    return new
