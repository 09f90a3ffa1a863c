"""Drift: listings whose platform quantity differs from the hub's model (`hub stock drift`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.core.stock import anchors
from hub.core.stock.picture import load_picture
from hub.core.stock.push import READ_CHUNK
from hub.platform import ShopContext
from hub.plugins import PluginHost
from hub.storage.db import Database


@dataclass
class Drift:
    shop: str
    sku: str
    platform_sku_id: str
    expected: int
    actual: int

    @property
    def difference(self) -> int:
        return self.actual - self.expected


async def check_drift(
    host: PluginHost, db: Database, shop: ShopContext, shop_id: int, *, repair: bool, settings: Any
) -> list[Drift]:
    """Compare each linked listing's platform quantity with the hub's model of it.
    With ``repair`` the models are re-anchored to what the platform shows, so the next
    stock push corrects the platform from the truth."""
    picture = await db.run(
        lambda s: load_picture(
            s,
            shop.clock.now(),
            safety_default=settings.safety_stock,
            partition_below=settings.partition_below,
            sales_window=timedelta(minutes=settings.sales_window_minutes),
        )
    )
    mine = [x for x in picture.listings if x.shop_id == shop_id]
    actual: dict[str, tuple[int, datetime]] = {}
    for start in range(0, len(mine), READ_CHUNK):
        for level in await shop.client.fetch_stock([x.ref for x in mine[start : start + READ_CHUNK]]):
            actual[level.platform_sku_id] = (level.quantity, shop.client.platform_time(level.observed_at))
    drifts = [
        Drift(
            shop.name,
            picture.skus[x.sku_id].code,
            x.ref.platform_sku_id,
            x.model,
            actual[x.ref.platform_sku_id][0],
        )
        for x in mine
        if x.ref.platform_sku_id in actual and actual[x.ref.platform_sku_id][0] != x.model
    ]
    if repair and actual:
        ids = {x.ref.platform_sku_id: x.id for x in mine}
        await db.run(lambda s: anchors.store_levels(s, actual, ids))
    return drifts
